"""`luastream test`: a script checked over files, without Kafka: the README's
worked example, differences reported as a readable diff (exit 1), inputs
bound to sources by name, batches with the watermark advancing between
them, mistakes as usage errors (exit 2), and the installed binary doing
the same (make install). Also the signal fixes: Ctrl-C while a broker is
unreachable, and mid-batch (the batch is finished, never committed short)."""
import json
import os
import re
import signal
import subprocess
import time

from conftest import BIN, ROOT, read_jsonl, run

FIXTURE = os.path.join(ROOT, "tests", "examples", "pipeline")


def script(tmp_path, text, name="job.lua"):
    path = tmp_path / name
    path.write_text("local ls = require 'luastream'\n" + text)
    return str(path)


def test_readme_worked_example_passes_and_a_change_fails_with_a_diff(tmp_path):
    p = run(["test", "scripts/pipeline.lua", "--input", FIXTURE + "/calls.jsonl",
             "--expect", FIXTURE + "/expected"])
    assert "ok   disposition_counts: 6 rows" in p.stdout
    assert "ok   dead letters: 2 rows" in p.stdout
    # the same script with one count off: exit 1, the two rows shown
    changed = tmp_path / "expected"
    changed.mkdir()
    for f in os.listdir(FIXTURE + "/expected"):
        text = open(os.path.join(FIXTURE, "expected", f)).read()
        (changed / f).write_text(text.replace('"count":3,"description":"Handled"',
                                              '"count":4,"description":"Handled"'))
    p = run(["test", "scripts/pipeline.lua", "--input", FIXTURE + "/calls.jsonl",
             "--expect", str(changed)], check=False)
    assert p.returncode == 1
    assert "FAIL disposition_counts: 2 rows differ" in p.stdout
    assert '  - {"count":4,"description":"Handled","disposition":"HAN"}' in p.stdout
    assert '  + {"count":3,"description":"Handled","disposition":"HAN"}' in p.stdout


def test_output_dir_and_stdout_hold_the_same_sorted_rows(tmp_path):
    out = tmp_path / "out"
    run(["test", "scripts/pipeline.lua", "--input", FIXTURE + "/calls.jsonl", "--output", str(out)])
    assert sorted(os.listdir(out)) == ["crime_type_counts.jsonl", "dead_letter.jsonl",
                                       "disposition_counts.jsonl"]
    p = run(["test", "scripts/pipeline.lua", "--input", FIXTURE + "/calls.jsonl"])
    printed = [l for l in p.stdout.splitlines() if not l.startswith("#")]
    files = []
    for f in ["crime_type_counts.jsonl", "disposition_counts.jsonl", "dead_letter.jsonl"]:
        lines = (out / f).read_text().splitlines()
        assert lines == sorted(lines, key=lambda l: l) or f == "crime_type_counts.jsonl"
        files += lines
    assert printed == files
    # hand-written expectations may order keys and write numbers as they like
    exp = tmp_path / "exp"
    exp.mkdir()
    for f in os.listdir(out):
        rows = [json.loads(l) for l in (out / f).read_text().splitlines()]
        rows.reverse()
        (exp / f).write_text("".join(json.dumps(dict(reversed(list(r.items())))) + "\n"
                                     for r in rows).replace('"count": 1,', '"count": 1.0,'))
    run(["test", "scripts/pipeline.lua", "--input", FIXTURE + "/calls.jsonl", "--expect", str(exp)])


def test_batches_move_the_watermark_between_them(tmp_path):
    """Update mode with a watermark: with one batch every record counts; in
    batches of 2 the record that comes after the watermark passed its
    window is late (Spark judges it by the previous batch's watermark)."""
    path = script(tmp_path, """
local src = ls.kafka_source { topic = "events" }
ls.query "per_window" {
  from = src, watermark = { "t", "5 minutes" },
  group_by = { ls.window("t", "10 minutes") }, aggregate = { ls.count() },
  output_mode = "append", sink = ls.output("console"),
}
""")
    data = tmp_path / "events.jsonl"
    data.write_text("".join(json.dumps({"t": t}) + "\n" for t in [
        "2024-01-01T10:01:00", "2024-01-01T10:30:00",   # batch 0: watermark 10:25 after it
        "2024-01-01T10:40:00", "2024-01-01T10:02:00",   # batch 1: judged by batch 0's (none)
        "2024-01-01T10:41:00", "2024-01-01T10:03:00",   # batch 2: 10:03 is late (wm 10:25)
    ]))
    one = run(["test", path, "--input", str(data)]).stdout
    assert '"count":3,"window":{"end":"2024-01-01T10:10:00.000Z"' in one
    batched = run(["test", path, "--input", "events=" + str(data), "--batch-size", "2"]).stdout
    assert '"count":2,"window":{"end":"2024-01-01T10:10:00.000Z"' in batched
    # append mode emits a window once the watermark passes its end: at the
    # end (watermark 10:36) 10:30-10:40 and 10:40-10:50 are still open
    assert batched.startswith("# per_window: 1 row\n")


def test_sources_are_named_by_topic_or_number(tmp_path):
    path = script(tmp_path, """
local a = ls.kafka_source { topic = "a" }
local b = ls.kafka_source { topics = { "b1", "b2" } }
ls.query "qa" { from = a, sink = ls.output("console") }
ls.query "qb" { from = b, map = function(r, m) return { x = r.x, topic = m.topic } end,
                sink = ls.output("console") }
""")
    fa, fb = tmp_path / "a.jsonl", tmp_path / "b.kafka.jsonl"
    fa.write_text('{"x": 1}\n')
    fb.write_text('{"value": {"x": 2}, "topic": "b2", "key": "k"}\n')
    p = run(["test", path, "--input", "a=" + str(fa), "--input", "2=" + str(fb)])
    assert '# qa: 1 row\n{"x":1}' in p.stdout
    assert '{"topic":"b2","x":2}' in p.stdout
    p = run(["test", path, "--input", str(fa)], check=False)
    assert p.returncode == 2 and "the script has several sources" in p.stderr
    assert "1 = KafkaV2[Subscribe[a]], 2 = KafkaV2[Subscribe[b1,b2]]" in p.stderr
    p = run(["test", path, "--input", "c=" + str(fa)], check=False)
    assert p.returncode == 2 and "no source is named c" in p.stderr


def test_mistakes_are_usage_errors(tmp_path):
    bad = tmp_path / "m.kafka.jsonl"
    bad.write_text('{"value": 1}\n{"valeu": 2}\n')
    for args, msg in [
        (["test", "scripts/pipeline.lua"], "test needs at least one --input"),
        (["test", "scripts/pipeline.lua", "--input", "nope.jsonl"], "No such file"),
        (["test", "scripts/pipeline.lua", "--input", str(bad)], ':2: unknown member "valeu"'),
        (["test", "scripts/pipeline.lua", "--input", "x", "--batch-size", "0"], "--batch-size"),
        (["test", "scripts/pipeline.lua", "--input", "x", "--trigger", "once"],
         "--trigger is an option of a script run, not of test"),
        (["test"], "test needs a SCRIPT"),
    ]:
        p = run(args, check=False)
        assert p.returncode == 2, (args, p.stderr)
        assert msg in p.stderr, (args, p.stderr)


def test_no_network_and_no_checkpoint(tmp_path):
    """A Kafka sink, an unreachable bootstrap and a checkpoint in the script:
    test touches none of them."""
    ck = tmp_path / "ck"
    path = script(tmp_path, """
ls.checkpoint("%s")
local src = ls.kafka_source { topic = "t", bootstrap = "192.0.2.1:9092" }
ls.query "fwd" { from = src, where = { ok = true }, sink = ls.kafka_sink { prefix = "out", key = "id" } }
""" % ck)
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "ok": true}\n{"id": "b", "ok": false}\n')
    t0 = time.time()
    p = run(["test", path, "--input", str(data)], timeout=20)
    assert time.time() - t0 < 5
    assert p.stdout.splitlines()[:2] == ["# fwd: 1 row",
                                         '{"_key":"a","_topic":"out.fwd","id":"a","ok":true}']
    assert not ck.exists()


def test_installed_binary_runs_the_tests(tmp_path):
    dest = tmp_path / "dest"
    subprocess.run(["make", "-s", "install", "DESTDIR=" + str(dest), "PREFIX=/usr/local"],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    installed = dest / "usr" / "local"
    binary = str(installed / "bin" / "luastream")
    scripts = installed / "share" / "luastream" / "scripts"
    assert (scripts / "pipeline.lua").exists() and (scripts / "split_by_disposition.lua").exists()
    env = {k: v for k, v in os.environ.items() if k != "LUASTREAM_LUA_PATH"}
    p = subprocess.run([binary, "test", str(scripts / "pipeline.lua"), "--input",
                        FIXTURE + "/calls.jsonl", "--expect", FIXTURE + "/expected"],
                       cwd=str(installed / "share" / "luastream"), env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (dest / "usr" / "local" / "share" / "man" / "man1" / "luastream.1").exists() or \
        list(dest.rglob("luastream.1"))


def test_ctrl_c_while_kafka_is_unreachable_ends_at_once(tmp_path):
    for args in (["scripts/pipeline.lua", "--set", "bootstrap=127.0.0.1:1"],
                 ["produce", FIXTURE + "/calls.jsonl", "--topic", "t", "--bootstrap", "127.0.0.1:1"],
                 ["consume", "--topic", "t", "--bootstrap", "127.0.0.1:1"]):
        p = subprocess.Popen([BIN, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.0)
        t0 = time.time()
        p.send_signal(signal.SIGINT)
        p.wait(timeout=10)
        assert time.time() - t0 < 2, args
        assert p.returncode == 130, (args, p.returncode)
        assert b"interrupted" in p.stderr.read()


def test_ctrl_c_mid_batch_finishes_the_batch(broker, tmp_path):
    """SIGINT while a slow batch is read: the batch is read to its planned
    end and committed whole (its commit holds the offsets its plan held)."""
    topic = broker.create_topic(partitions=2)
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(4000)))
    run(["produce", str(data), "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    ck = tmp_path / "ck"
    path = script(tmp_path, """
local src = ls.kafka_source { topic = "%s", bootstrap = "%s", max_records_per_trigger = 3000 }
ls.query "slow" { from = src, map = function(r) local x = 0; for k = 1, 20000 do x = x + k end
                    return { i = r.i } end, sink = ls.jsonl_sink("%s") }
""" % (topic, broker.bootstrap, tmp_path / "out"))
    p = subprocess.Popen([BIN, path, "--checkpoint", str(ck), "--trigger", "1 second", "--quiet"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline and not (ck / "offsets" / "0").exists():
        time.sleep(0.02)
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)
    assert p.returncode == 0, p.stderr.read()
    planned = json.load(open(ck / "offsets" / "0"))["sources"]
    committed = json.load(open(ck / "commits" / "0"))["sources"]
    assert planned == committed
    # Spark's rate limit floors each partition's share: 2999 or 3000 of the cap
    assert len(read_jsonl(tmp_path / "out" / "slow.jsonl")) == sum(o for _, _, o in planned[0])
