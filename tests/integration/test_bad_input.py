"""Bad input never stops the stream and is never lost: each bad message ends
in DIR/dead_letter.jsonl with where it came from and why, is counted, and
the counts of the good records stay exactly those of the clean sample."""
import base64
import json
import os
import subprocess

import pytest

from conftest import RADIO, ROOT, SAMPLE, read_jsonl, run
import expected
from test_pipeline import check_results

RAISING = os.path.join(ROOT, "tests", "integration", "raising_pipeline.lua")

BAD = {
    "garbage": b"\x00\x01garbage{{{",
    "not_object_array": b"[1, 2, 3]",
    "not_object_string": b'"just a string"',
    "not_object_number": b"42",
    "truncated": b'{"crime_id": "1", "original_crime_type_name": ',
    "non_utf8": b'{"crime_id": "\xff\xfe", "call_date_time": "2018-12-31T23:57:00.000"}',
    "big": b'{"crime_id": "big", "padding": "' + b"x" * (2 * 1024 * 1024) + b'"}',
    "bad_time": b'{"crime_id": "t1", "original_crime_type_name": "X", '
                b'"call_date_time": "not a time", "disposition": "HAN"}',
}


def produce_files(broker, topic, tmp_path, payloads):
    """kcat sends each file as one message, byte for byte (empty ones too)."""
    files = []
    for i, p in enumerate(payloads):
        f = tmp_path / ("m%05d" % i)
        f.write_bytes(p)
        files.append(str(f))
    subprocess.run(["kcat", "-P", "-b", broker.bootstrap, "-t", topic, "-p", "0",
                    "-X", "message.max.bytes=16000000", *files], check=True, timeout=120)


@pytest.mark.parametrize("parallelism", [1, 2])
def test_bad_messages_are_dead_lettered_and_good_counts_unchanged(broker, tmp_path, parallelism):
    sample = expected.load(SAMPLE)
    poison = sample[100]["crime_id"]
    topic = broker.create_topic(partitions=1)
    good = [json.dumps(r).encode() for r in sample]
    # Bad messages interleaved with good ones ...
    msgs = good[:50] + list(BAD.values()) + good[50:]
    produce_files(broker, topic, tmp_path, msgs)
    # ... and an empty message (kcat skips empty files; produce --raw sends empty lines).
    run(["produce", "-", "--raw", "--topic", topic, "--bootstrap", broker.bootstrap],
        input="\n")
    out = tmp_path / "out"
    p = run([RAISING, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
             "--set", "output=jsonl:" + str(out), "--set", "poison=" + poison,
             "--trigger", "available-now", "--progress", str(tmp_path / "p.jsonl"),
             "--parallelism", str(parallelism)], timeout=180)

    dead = read_jsonl(out / "dead_letter.jsonl")
    by_error = {}
    for d in dead:
        assert d["topic"] == topic and d["partition"] == 0 and isinstance(d["offset"], int)
        by_error.setdefault(d["error"], []).append(d)
    errors = [d["error"] for d in dead]
    # One entry per bad message (the poisoned record once per query).
    assert len(dead) == len(BAD) + 1 + 2, errors
    offsets = {d["offset"] for d in dead if d["query"] is None}
    assert len(offsets) == len(BAD) + 1 - 1  # bad_time is decoded fine: the query rejects it

    def entry(substr):
        hits = [d for d in dead if substr in d["error"]]
        assert hits, (substr, errors)
        return hits[0]

    assert entry("not a JSON object")["value"] in ("[1, 2, 3]", '"just a string"', "42")
    assert len([e for e in errors if "not a JSON object" in e]) == 3
    assert entry("empty message")["value"] == ""
    assert "invalid JSON" in entry("invalid JSON")["error"]
    big = entry("record too large")
    assert len(big["value"]) == len(BAD["big"])
    utf = [d for d in dead if "value_base64" in d]
    decoded = sorted(base64.b64decode(d["value_base64"]) for d in utf)
    assert BAD["non_utf8"] in decoded and BAD["garbage"] in decoded
    bad_time = [d for d in dead if "invalid timestamp" in d["error"]]
    assert len(bad_time) == 1 and bad_time[0]["query"] == "crime_type_counts"
    raised = [d for d in dead if "map raised" in d["error"]]
    assert {d["query"] for d in raised} == {"crime_type_counts", "disposition_counts"}
    assert all("refusing crime_id" in d["error"] and "raising_pipeline.lua:" in d["error"]
               for d in raised)
    assert all(json.loads(d["value"])["crime_id"] == poison for d in raised)

    # Good records: exactly the clean sample's counts, less the poisoned record;
    # the bad_time record counts for dispositions (it has no window to fail).
    good_records = [r for r in sample if r["crime_id"] != poison]
    crimes = last_by_key_counts(out / "crime_type_counts.jsonl")
    assert crimes == dict(expected.crime_type_counts(good_records))
    disp = {r["disposition"]: (r["description"], r["count"])
            for r in read_jsonl(out / "disposition_counts.jsonl")}
    want = expected.disposition_counts(good_records + [{"disposition": "HAN"}],
                                       expected.load(RADIO))
    assert disp == want

    reports = read_jsonl(tmp_path / "p.jsonl")
    invalid = {r["name"]: sum(x["numInvalidRows"] for x in reports if x["name"] == r["name"])
               for r in reports}
    # 8 undecodable/empty/too-large messages count for both queries; the bad
    # time only for the windowed query; the poisoned record for both.
    assert invalid == {"crime_type_counts": 7 + 1 + 1 + 1, "disposition_counts": 7 + 1 + 1}
    assert "invalid" in p.stderr


def last_by_key_counts(path):
    rows = {}
    for r in read_jsonl(path):
        rows[(r["window"]["start"], r["window"]["end"], r["original_crime_type_name"])] = r["count"]
    return rows


def test_clean_run_after_bad_input_is_unaffected(broker, tmp_path):
    """The clean sample on its own still gives the documented figures."""
    topic = broker.create_topic(partitions=2)
    run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    out = tmp_path / "out"
    run([os.path.join(ROOT, "scripts", "pipeline.lua"), "--set", "bootstrap=" + broker.bootstrap,
         "--set", "topic=" + topic, "--set", "output=jsonl:" + str(out), "--trigger", "available-now"])
    check_results(out, expected.load(SAMPLE))
