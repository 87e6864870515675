"""luastream produce / consume against the real broker: arrays (compact and
pretty), NDJSON, keys, rate limiting, malformed files (everything before the
error is sent, then a positioned error and a non-zero exit)."""
import json
import time

from conftest import run


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
