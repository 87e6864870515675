"""luastream produce / consume against the real broker: arrays (compact and
pretty), NDJSON, keys, rate limiting, malformed files (everything before the
error is sent, then a positioned error and a non-zero exit)."""
import json
import re
import signal
import subprocess
import time

import pytest

from conftest import BIN, run


def consume_all(broker, topic, *extra):
    p = run(["consume", "--topic", topic, "--bootstrap", broker.bootstrap, "--from-beginning",
             "--to-end", *extra])
    return p.stdout.splitlines()


def test_pretty_array_and_keys(broker, tmp_path):
    topic = broker.create_topic()
    recs = [{"id": str(i), "v": i, "s": "a,b]}\"{["} for i in range(5)]
    f = tmp_path / "pretty.json"
    f.write_text(json.dumps(recs, indent=2))
    p = run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap, "--key", "id"])
    assert "5 records sent, 5 delivered, 0 errors" in p.stderr
    lines = consume_all(broker, topic, "--meta")
    assert len(lines) == 5
    for i, line in enumerate(lines):
        where, key, value = line.split("\t", 2)
        assert key == str(i)
        assert json.loads(value) == recs[i]


def test_ndjson_and_stdin(broker, tmp_path):
    topic = broker.create_topic()
    text = "".join(json.dumps({"n": i}) + "\n" for i in range(100))
    p = run(["produce", "-", "--topic", topic, "--bootstrap", broker.bootstrap], input=text)
    assert "100 records sent" in p.stderr
    assert [json.loads(x)["n"] for x in consume_all(broker, topic)] == list(range(100))


def test_malformed_file_sends_what_came_before(broker, tmp_path):
    topic = broker.create_topic()
    f = tmp_path / "bad.json"
    f.write_text('[{"a": 1},\n {"a": 2},\n {"a": 3},\n {"a": 4,, "b": 5},\n {"a": 6}]')
    p = run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap], check=False)
    assert p.returncode == 1
    assert "malformed record 4" in p.stderr and "line 4" in p.stderr
    assert "3 records before it were sent" in p.stderr
    assert [json.loads(x)["a"] for x in consume_all(broker, topic)] == [1, 2, 3]


def test_unclosed_array_is_reported_with_position(broker, tmp_path):
    topic = broker.create_topic()
    f = tmp_path / "cut.json"
    f.write_text('[{"a": 1}, {"a": 2}')
    p = run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap], check=False)
    assert p.returncode == 1 and "not closed" in p.stderr and "byte 19" in p.stderr
    assert len(consume_all(broker, topic)) == 2


def test_rate_limit(broker, tmp_path):
    topic = broker.create_topic()
    f = tmp_path / "r.json"
    f.write_text(json.dumps([{"i": i} for i in range(40)]))
    start = time.time()
    run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap, "--rate", "20"])
    assert time.time() - start >= 1.5  # 40 records at 20/s take about 2 s
    assert len(consume_all(broker, topic)) == 40


def test_consume_max(broker, tmp_path):
    topic = broker.create_topic()
    f = tmp_path / "m.json"
    f.write_text(json.dumps([{"i": i} for i in range(30)]))
    run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap])
    assert len(consume_all(broker, topic, "--max", "7")) == 7


def test_error_position_is_the_offending_token(broker, tmp_path):
    """A bad token on line 6803 was reported at line 6803, column 1 (the
    record's start) or, at the end of the file, line 6804."""
    topic = broker.create_topic()
    f = tmp_path / "calls.ndjson"
    lines = [json.dumps({"n": i}) for i in range(6802)] + ['{"n": 6802, "ok": tru}']
    f.write_text("\n".join(lines) + "\n")
    p = run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"],
            check=False)
    assert p.returncode == 1
    col = lines[-1].index("tru") + 1
    assert "malformed record 6803 at line 6803, column %d" % col in p.stderr, p.stderr
    assert "6802 records before it were sent" in p.stderr
    # pretty-printed: the token inside a record spread over lines
    f = tmp_path / "pretty.json"
    f.write_text('[\n  {"a": 1},\n  {\n    "b": [1,\n          2 3]\n  }\n]\n')
    p = run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap], check=False)
    assert p.returncode == 1 and "malformed record 2 at line 5, column 13" in p.stderr, p.stderr
    # cut off at the end of the file: where the record and its string began
    f = tmp_path / "cut.ndjson"
    f.write_text('{"a": 1}\n{"a": "no end')
    p = run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap], check=False)
    assert p.returncode == 1
    assert ("the record that starts at line 2, column 1 is cut off: its string opened at line 2, "
            "column 7 is never closed" in p.stderr), p.stderr
    # a missing closing quote: found at the end of its line, not of the file
    f = tmp_path / "quote.ndjson"
    f.write_text('{"a":"x}\n{"b":1}\n{"c":2}\n{"d":3}\n')
    p = run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap], check=False)
    assert p.returncode == 1
    assert ("a line break inside the string opened at line 1, column 6 (a missing closing "
            "quote?) at byte 8 (line 1, column 9)" in p.stderr), p.stderr


def test_a_file_without_records_is_an_error(broker, tmp_path):
    topic = broker.create_topic()
    for name, text in [("empty.json", ""), ("blank.json", " \n\n"), ("none.json", "[ ]\n")]:
        f = tmp_path / name
        f.write_text(text)
        p = run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap],
                check=False)
        assert p.returncode == 1, (name, p.stderr)
        assert "%s has no records" % f in p.stderr and "nothing was sent" in p.stderr
        assert "0 records sent" not in p.stderr
    p = run(["produce", "-", "--raw", "--topic", topic, "--bootstrap", broker.bootstrap],
            input="", check=False)
    assert p.returncode == 1 and "has no records (no lines)" in p.stderr


def test_null_or_missing_key_is_reported_and_an_object_key_is_an_error(broker, tmp_path):
    topic = broker.create_topic()
    f = tmp_path / "keys.json"
    f.write_text('{"id": "a", "v": 1}\n{"id": null, "v": 2}\n{"v": 3}\n{"id": 7, "v": 4}\n'
                 '{"id": true, "v": 5}\n')
    p = run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap, "--key", "id"])
    assert p.stderr.count('key field "id" is null or missing') == 1
    assert "record 2 (line 2, column 1)" in p.stderr
    assert "5 records sent, 5 delivered, 0 errors, 2 without a key (field id null or missing)" in p.stderr
    keys = [line.split("\t")[1] for line in consume_all(broker, topic, "--meta")]
    assert keys == ["a", "", "", "7", "true"]
    f = tmp_path / "objkey.json"
    f.write_text('{"id": "a"}\n{"id": {"x": 1}}\n{"id": "c"}\n')
    topic = broker.create_topic()
    p = run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap, "--key", "id"],
            check=False)
    assert p.returncode == 1
    assert 'record 2 at line 2, column 1 (byte 12): key field "id" holds an object or an array' in p.stderr
    assert len(consume_all(broker, topic)) == 1


def test_raw_with_key_is_refused(broker, tmp_path):
    f = tmp_path / "r.txt"
    f.write_text("a\nb\n")
    p = run(["produce", str(f), "--topic", "t", "--raw", "--key", "id"], check=False)
    assert p.returncode == 2 and "--key does not apply with --raw" in p.stderr


def test_too_long_topic_is_a_clear_error(broker, tmp_path):
    f = tmp_path / "one.json"
    f.write_text('{"a": 1}\n')
    long_topic = "x" * 600
    p = run(["produce", str(f), "--topic", long_topic, "--bootstrap", broker.bootstrap], check=False)
    assert p.returncode == 2 and "(600 characters) is not a valid Kafka topic name" in p.stderr
    # consume crashed here (rc 139)
    p = run(["consume", "--topic", long_topic, "--bootstrap", broker.bootstrap, "--from-beginning",
             "--to-end"], check=False)
    assert p.returncode == 2 and "(600 characters) is not a valid Kafka topic name" in p.stderr
    p = run(["consume", "--topic", "bad topic!", "--bootstrap", broker.bootstrap], check=False)
    assert p.returncode == 2 and "is not a valid Kafka topic name" in p.stderr


@pytest.mark.parametrize("sig,code,name", [(signal.SIGINT, 130, "SIGINT"),
                                            (signal.SIGTERM, 143, "SIGTERM")])
def test_signal_stops_produce_at_once_with_a_summary(broker, tmp_path, sig, code, name):
    topic = broker.create_topic()
    f = tmp_path / "many.json"
    f.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(100000)))
    p = subprocess.Popen([BIN, "produce", str(f), "--topic", topic, "--bootstrap",
                          broker.bootstrap, "--rate", "500"], stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    t0 = time.time()
    p.send_signal(sig)
    _, err = p.communicate(timeout=30)
    assert time.time() - t0 < 12          # in-flight deliveries get a bounded wait
    assert p.returncode == code, err
    m = re.search(r"stopped by %s: (\d+) records sent, (\d+) delivered, 0 errors" % name, err)
    assert m, err
    sent, delivered = int(m.group(1)), int(m.group(2))
    assert 500 <= sent < 100000 and delivered == sent
    assert len(consume_all(broker, topic)) == sent


def test_signal_stops_produce_waiting_on_stdin(broker):
    """A producer blocked reading a pipe stops too."""
    p = subprocess.Popen([BIN, "produce", "-", "--topic", broker.create_topic(), "--bootstrap",
                          broker.bootstrap], stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    p.stdin.write('{"a": 1}\n')
    p.stdin.flush()
    time.sleep(2)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=20)
    assert p.returncode == 143, err
    assert "stopped by SIGTERM: 1 records sent, 1 delivered, 0 errors" in err
