"""Session windows (ls.session_window) against a real broker: a checkpointed run that is
crashed after a sink wrote (before its commit), killed with -9 at random moments and
restarted gives exactly the sessions of one uninterrupted run with the same batches; so does
--parallelism 2; progress reports count sessions as state rows; Spark's refusals stop the
script at start with its line."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import BIN, ROOT, read_jsonl, run

SCRIPT = """
local ls = require "luastream"
local src = ls.kafka_source { topic = ls.param("topic", "t"), bootstrap = ls.param("bootstrap", "x"),
                       starting_offsets = "earliest",
                       max_records_per_trigger = ls.param("max_records_per_trigger", 0) }
ls.query "sessions" {
  from = src,
  watermark = { "ts", "30 minutes" },
  group_by = { ls.session_window("ts", "10 minutes"), "user" },
  aggregate = { ls.count(), ls.sum("v"), ls.min("page"), ls.max("v"), ls.avg("v") },
  output_mode = "append",
  sink = ls.output(ls.param("output", "console")),
}
"""


def records(n=3000, seed=11):
    """Clicks of 7 users over about 20 hours, mostly in order with some out-of-order and late
    ones: sessions that grow, merge through bridging records, close and get emitted."""
    rnd = random.Random(seed)
    t = 1546300800  # 2019-01-01T00:00:00Z
    out = []
    for i in range(n):
        t += rnd.choice((5, 20, 60, 240, 420, 900))
        ts = t - (rnd.choice((0, 0, 0, 300, 900, 3000)) if rnd.random() < 0.2 else 0)
        out.append({"user": "u%d" % rnd.randrange(7), "page": "p%03d" % rnd.randrange(200),
                    "v": rnd.randrange(-50, 1000),
                    "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))})
    # at the end, clicks of the first minute: whatever partitions they land in, the watermark
    # is hours past them by then (too late, dropped and counted)
    out += [{"user": "u%d" % u, "page": "late", "v": 1, "ts": "2019-01-01T00:01:00Z"}
            for u in range(7)]
    return out


@pytest.fixture(scope="module")
def topic(broker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sessions")
    path = tmp / "clicks.ndjson"
    with open(path, "w") as f:
        for r in records():
            f.write(json.dumps(r) + "\n")
    name = broker.create_topic(partitions=3)
    run(["produce", str(path), "--topic", name, "--bootstrap", broker.bootstrap, "--quiet"])
    script = tmp / "sessions.lua"
    script.write_text(SCRIPT)
    return name, str(script)


def args(broker, topic, script, out, ckpt, *extra):
    return [script, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
            "--set", "output=jsonl:" + str(out), "--set", "max_records_per_trigger=250",
            "--checkpoint", str(ckpt), "--trigger", "available-now", "--quiet", *extra]


def rows(out):
    return sorted(json.dumps(r, sort_keys=True) for r in read_jsonl(os.path.join(out, "sessions.jsonl")))


@pytest.fixture(scope="module")
def reference(broker, topic, tmp_path_factory):
    name, script = topic
    tmp = tmp_path_factory.mktemp("ref")
    run(args(broker, name, script, tmp / "out", tmp / "ckpt", "--progress", str(tmp / "p.jsonl")))
    got = rows(tmp / "out")
    assert len(got) > 50
    return got, read_jsonl(tmp / "p.jsonl")


def test_crash_and_kill_9_restarts_give_the_sessions_of_one_run(broker, topic, reference, tmp_path):
    name, script = topic
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    a = args(broker, name, script, out, ckpt)
    for crash in (2, 5):  # after the sink wrote batch N, before its commit
        p = run(a, check=False, env=dict(os.environ, LUASTREAM_TEST_CRASH_AFTER_SINK=str(crash)))
        assert p.returncode == 137, p.stderr
    rnd = random.Random(3)
    for _ in range(4):
        proc = subprocess.Popen([BIN, *a], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run(a)
    assert rows(out) == reference[0]


def test_parallel_workers_give_the_same_sessions(broker, topic, reference, tmp_path):
    name, script = topic
    run(args(broker, name, script, tmp_path / "out", tmp_path / "ckpt", "--parallelism", "2"))
    assert rows(tmp_path / "out") == reference[0]


def test_progress_counts_sessions_as_state_rows(reference):
    got, reports = reference
    assert len(reports) > 12  # 3,007 records / 250 per batch, and a no-data batch
    emitted = sum(r["sink"]["numOutputRows"] for r in reports)
    assert emitted == len(got)
    ops = [r["stateOperators"][0] for r in reports]
    assert all(o["numRowsTotal"] >= 0 for o in ops)
    assert ops[-1]["numRowsTotal"] > 0  # sessions still open at the end stay in state
    assert any(o["numRowsRemoved"] > 0 for o in ops)
    assert sum(o["numRowsDroppedByWatermark"] for o in ops) > 0  # some clicks were too late
    # every record is counted once: in a session emitted, still open, or dropped as late
    assert sum(json.loads(r)["count"] for r in got) <= 3000
    assert not any(json.loads(r)["min(page)"] == "late" for r in got)


def test_update_mode_is_refused_at_the_scripts_line(broker, tmp_path):
    script = tmp_path / "bad.lua"
    script.write_text(SCRIPT.replace('output_mode = "append"', 'output_mode = "update"'))
    p = run([str(script), "--set", "bootstrap=" + broker.bootstrap, "--trigger", "once"], check=False)
    assert p.returncode != 0
    assert "bad.lua:" in p.stderr and 'output_mode "update" is not supported with a session window' in p.stderr


def test_a_checkpoint_of_another_gap_or_a_window_is_refused(broker, topic, tmp_path):
    """The checkpoint's query signature holds the session window and its gap: resuming with
    another gap, or with a window instead, is refused (exit 2, naming the metadata file)."""
    name, script = topic
    ckpt = tmp_path / "ckpt"
    run(args(broker, name, script, tmp_path / "out", ckpt))
    for change in (('"10 minutes"),', '"15 minutes"),'),
                   ('ls.session_window("ts", "10 minutes")', 'ls.window("ts", "10 minutes")')):
        other = tmp_path / "other.lua"
        other.write_text(SCRIPT.replace(*change))
        assert other.read_text() != SCRIPT
        p = run(args(broker, name, str(other), tmp_path / "out2", ckpt), check=False)
        assert p.returncode == 2, p.stderr
        assert str(ckpt / "metadata") in p.stderr and "sessions" in p.stderr
