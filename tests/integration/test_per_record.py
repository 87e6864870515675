"""Per-record queries against a real broker: filter and forward, a topic
split by a function with keys and headers, a map's explode, Kafka metadata
as columns and as the map's second argument, identical outputs with
--parallelism, and exactly-once output to Kafka across kill -9."""
import json
import os
import random
import subprocess
import time

import pytest

from conftest import BIN, ROOT, SAMPLE, read_jsonl, run
import expected


def script(tmp_path, text, name="job.lua"):
    path = tmp_path / name
    path.write_text("local ls = require 'luastream'\n" + text)
    return str(path)


def consume(broker, topic, fmt="%s", committed=False):
    args = ["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q", "-f", fmt + "\n"]
    if committed:
        args[2:2] = ["-X", "isolation.level=read_committed"]
    p = subprocess.run(args, capture_output=True, timeout=120, check=True)
    return p.stdout.decode().splitlines()


@pytest.fixture(scope="module")
def sample():
    return expected.load(SAMPLE)


@pytest.fixture(scope="module")
def sample_topic(broker):
    topic = broker.create_topic(partitions=3)
    run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    return topic


def test_filter_and_forward_keeps_the_records_bytes(broker, sample_topic, sample, tmp_path):
    out = "han" + os.urandom(3).hex()
    path = script(tmp_path, """
local src = ls.kafka_source { topic = ls.param("topic", "t"), bootstrap = ls.param("bootstrap", "x") }
ls.query "han" {
  from = src,
  where = { disposition = "HAN" },
  sink = ls.kafka_sink { topic = ls.param("out", "o"), key = "crime_id" },
}
""")
    run([path, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + sample_topic,
         "--set", "out=" + out, "--trigger", "available-now", "--quiet"])
    lines = consume(broker, out, "%k\t%s")
    want = [r for r in sample if r["disposition"] == "HAN"]
    assert len(lines) == len(want) == 1932
    got = {}
    for line in lines:
        k, v = line.split("\t", 1)
        rec = json.loads(v)
        assert rec["crime_id"] == k
        got[k] = rec
    assert got == {r["crime_id"]: r for r in want}  # the records as produced, whole


def test_a_script_splits_a_topic_with_keys_and_headers(broker, sample_topic, sample, tmp_path):
    prefix = "split" + os.urandom(3).hex()
    path = script(tmp_path, """
local src = ls.kafka_source { topic = ls.param("topic", "t"), bootstrap = ls.param("bootstrap", "x") }
local prefix = ls.param("prefix", "p")
ls.query "split" {
  from = src,
  where = { disposition = { "in", { "HAN", "GOA", "CIT" } } },
  map = function(r, meta)
    return { id = r.crime_id, type = r.original_crime_type_name, partition = meta.partition,
             _key = r.crime_id, _headers = { disposition = r.disposition } }
  end,
  sink = ls.kafka_sink { topic = function(row) return prefix .. "." .. row._headers.disposition end,
                         headers = { origin = "luastream" } },
}
""")
    run([path, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + sample_topic,
         "--set", "prefix=" + prefix, "--trigger", "available-now", "--quiet"])
    for d in ("HAN", "GOA", "CIT"):
        lines = consume(broker, prefix + "." + d, "%k\t%h\t%s")
        want = {r["crime_id"]: r for r in sample if r["disposition"] == d}
        assert len(lines) == len(want)
        for line in lines:
            k, h, v = line.split("\t", 2)
            row = json.loads(v)
            assert set(row) == {"id", "type", "partition"}  # routing keys are not in the row
            assert row["id"] == k and row["type"] == want[k]["original_crime_type_name"]
            assert sorted(h.split(",")) == ["disposition=" + d, "origin=luastream"]


def test_explode_and_metadata_columns(broker, sample_topic, sample, tmp_path):
    path = script(tmp_path, """
local src = ls.kafka_source { topic = ls.param("topic", "t"), bootstrap = ls.param("bootstrap", "x") }
local out = ls.output(ls.param("output", "console"))
ls.query "words" {
  from = src,
  where = { disposition = "CIT" },
  map = function(r)
    local rows = {}
    for w in r.original_crime_type_name:gmatch("%a+") do rows[#rows + 1] = { id = r.crime_id, word = w:lower() } end
    return rows
  end,
  sink = out,
}
ls.query "per_partition" {
  from = src,
  group_by = { "@topic", "@partition" },
  aggregate = { ls.count(), ls.min("@offset"), ls.max("@offset"), ls.max("@timestamp") },
  sink = out,
}
""")
    run([path, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + sample_topic,
         "--set", "output=jsonl:" + str(tmp_path), "--trigger", "available-now", "--quiet"])
    words = read_jsonl(tmp_path / "words.jsonl")
    want = [(r["crime_id"], w.lower()) for r in sample if r["disposition"] == "CIT"
            for w in __import__("re").findall(r"[A-Za-z]+", r["original_crime_type_name"])]
    assert sorted((w["id"], w["word"]) for w in words) == sorted(want)
    parts = read_jsonl(tmp_path / "per_partition.jsonl")
    # One row per partition that holds records: the producer's sticky partitioner (keyless
    # messages) may leave one of the three empty, so their number is not fixed; every record
    # is counted once, in the partition whose offsets it has.
    assert 1 <= len(parts) <= 3 and len({p["@partition"] for p in parts}) == len(parts)
    assert sum(p["count"] for p in parts) == 6802
    for p in parts:
        assert p["@topic"] == sample_topic and p["min(@offset)"] == 0
        assert p["max(@offset)"] == p["count"] - 1
        assert p["max(@timestamp)"].endswith("Z")


def test_per_record_outputs_are_the_same_with_workers(broker, sample_topic, tmp_path):
    path = script(tmp_path, """
local src = ls.kafka_source { topic = ls.param("topic", "t"), bootstrap = ls.param("bootstrap", "x"),
                       max_records_per_trigger = 1000 }
ls.query "mapped" {
  from = src,
  map = function(r) if r.disposition ~= "HAN" then return { id = r.crime_id, d = r.disposition } end end,
  sink = ls.output(ls.param("output", "console")),
}
""")
    outs = []
    for par in ("1", "2", "3"):
        o = tmp_path / ("p" + par)
        run([path, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + sample_topic,
             "--set", "output=jsonl:" + str(o), "--trigger", "available-now", "--quiet",
             "--parallelism", par])
        outs.append((o / "mapped.jsonl").read_bytes())
    assert outs[0].count(b"\n") == 6802 - 1932
    assert outs[1] == outs[0] and outs[2] == outs[0]


def test_per_record_kafka_output_is_exactly_once_across_kill_9(broker, tmp_path):
    """kill -9 at random moments, then a run to the end: a read_committed reader sees every
    input record exactly once in the output topics (a map routes them to two topics)."""
    topic = broker.create_topic(partitions=3)
    recs = [{"id": i, "v": i % 7} for i in range(30000)]
    data = tmp_path / "in.ndjson"
    data.write_text("".join(json.dumps(r) + "\n" for r in recs))
    run(["produce", str(data), "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    prefix = "eo" + os.urandom(3).hex()
    path = script(tmp_path, """
local src = ls.kafka_source { topic = ls.param("topic", "t"), bootstrap = ls.param("bootstrap", "x"),
                       max_records_per_trigger = 1500 }
local prefix = ls.param("prefix", "p")
ls.query "route" {
  from = src,
  map = function(r) return { id = r.id, _topic = prefix .. (r.v % 2 == 0 and ".even" or ".odd") } end,
  sink = ls.kafka_sink { topic = prefix .. ".unused", key = "id" },
}
""")
    args = [path, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
            "--set", "prefix=" + prefix, "--checkpoint", str(tmp_path / "ckpt"),
            "--trigger", "available-now", "--quiet"]
    p = run(args, check=False, env=dict(os.environ, LUASTREAM_TEST_CRASH_AFTER_SINK="2"))
    assert p.returncode == 137, p.stderr
    rnd = random.Random(11)
    for _ in range(5):
        proc = subprocess.Popen([BIN, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.2, 1.2))
        proc.kill()
        proc.wait()
    run(args)
    ids = []
    for suffix in (".even", ".odd"):
        ids += [int(json.loads(v)["id"]) for v in consume(broker, prefix + suffix, committed=True)]
    assert len(ids) == len(set(ids)), "a record was written twice"
    assert sorted(ids) == list(range(30000))


def test_hostile_rows_never_crash_the_engine(broker, tmp_path):
    """A map's rows with raising metamethods, functions, cycles, bad routing values: each
    such record is a dead letter with the reason; the others go out."""
    topic = broker.create_topic()
    data = tmp_path / "in.ndjson"
    data.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(8)))
    run(["produce", str(data), "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    path = script(tmp_path, """
local src = ls.kafka_source { topic = ls.param("topic", "t"), bootstrap = ls.param("bootstrap", "x") }
local boom = { __index = function() error("boom") end, __newindex = function() error("boom") end }
ls.query "rows" {
  from = src,
  map = function(r)
    if r.i == 0 then return setmetatable({ ok = 0 }, boom) end      -- raw reads: fine
    if r.i == 1 then return { f = print } end                       -- not JSON
    if r.i == 2 then local t = {} t.t = t return t end             -- a cycle
    if r.i == 3 then return { _topic = 5 } end                      -- a bad topic
    if r.i == 4 then return { _headers = { a = {} } } end           -- a bad header
    if r.i == 5 then return { _key = {} } end                       -- a bad key
    if r.i == 6 then return { { ok = 6 }, 7 } end                   -- a list with a non-row
    return { ok = r.i }
  end,
  sink = ls.output(ls.param("output", "console")),
}
""")
    run([path, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
         "--set", "output=jsonl:" + str(tmp_path), "--trigger", "available-now", "--quiet"])
    assert [r["ok"] for r in read_jsonl(tmp_path / "rows.jsonl")] == [0, 6, 7]
    dead = read_jsonl(tmp_path / "dead_letter.jsonl")
    reasons = [d["error"] for d in dead]
    assert len(dead) == 6, reasons
    for want in ("cannot be written as JSON", "nested deeper", "_topic must be a string",
                 "_headers: each header", "_key must be a string", "item 2 is a number"):
        assert any(want in r for r in reasons), (want, reasons)
