"""Recovery against a real broker: kill -9 at random moments, SIGTERM,
broker outages, incompatible or corrupt checkpoints. Each run's final
results (the last row per group key) must equal an uninterrupted run's."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import BIN, ROOT, SAMPLE, Broker, read_jsonl, run
import expected
from test_pipeline import PIPELINE, check_results, window_key


def last_rows(out):
    crimes, disp = {}, {}
    for r in read_jsonl(os.path.join(out, "crime_type_counts.jsonl")):
        crimes[window_key(r)] = r["count"]
    for r in read_jsonl(os.path.join(out, "disposition_counts.jsonl")):
        disp[r["disposition"]] = (r["description"], r["count"])
    return crimes, disp


def pipeline_args(broker, topic, out, ckpt, *extra):
    return [BIN, PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
            "--set", "output=jsonl:" + str(out), "--checkpoint", str(ckpt), *extra]


@pytest.fixture(scope="module")
def big_topic(broker, tmp_path_factory):
    """The real sample plus 60,000 generated calls, in 3 partitions."""
    tmp = tmp_path_factory.mktemp("big")
    gen = tmp / "gen.json"
    subprocess.run(["python3", os.path.join(ROOT, "scripts", "gen_calls.py"), "--count", "60000",
                    "--seed", "7", "--out", str(gen)], check=True, capture_output=True)
    topic = broker.create_topic(partitions=3)
    run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    run(["produce", str(gen), "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    records = expected.load(SAMPLE) + expected.load(str(gen))
    return topic, records


def test_kill_9_at_random_moments_gives_the_uninterrupted_results(broker, big_topic, tmp_path):
    topic, records = big_topic
    ref = tmp_path / "ref"
    run(pipeline_args(broker, topic, ref, tmp_path / "ref-ckpt", "--trigger", "available-now",
                      "--set", "max_records_per_trigger=4000", "--quiet")[1:])
    want = last_rows(ref)
    assert sum(want[0].values()) == 2 * len(records)

    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    rnd = random.Random(20181231)
    kills = 0
    for attempt in range(40):
        p = subprocess.Popen(pipeline_args(broker, topic, out, ckpt, "--trigger", "available-now",
                                           "--set", "max_records_per_trigger=400", "--quiet"),
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rnd.uniform(0.1, 0.5))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
            if kills >= 12:
                break
        else:
            assert p.returncode == 0, p.stderr.read()
            break
    assert kills >= 10, "the run finished before 10 kills; make it longer"
    # the last restart runs to the end
    final = run(pipeline_args(broker, topic, out, ckpt, "--trigger", "available-now",
                              "--set", "max_records_per_trigger=1000", "--quiet")[1:])
    assert final.returncode == 0
    got = last_rows(out)
    assert got == want
    # no half-written line is left anywhere in the output
    for name in ("crime_type_counts.jsonl", "disposition_counts.jsonl", "dead_letter.jsonl"):
        with open(out / name, encoding="utf-8") as f:
            for line in f:
                json.loads(line)


def test_sigterm_finishes_the_batch_and_a_restart_continues(broker, big_topic, tmp_path):
    topic, records = big_topic
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    p = subprocess.Popen(pipeline_args(broker, topic, out, ckpt, "--trigger", "available-now",
                                       "--set", "max_records_per_trigger=3000",
                                       "--progress", str(tmp_path / "p.jsonl")),
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.8)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    done = {r["batchId"] for r in read_jsonl(tmp_path / "p.jsonl")}
    commits = sorted(int(n) for n in os.listdir(ckpt / "commits"))
    assert commits and commits[-1] == max(done)  # the batch in progress was committed
    run(pipeline_args(broker, topic, out, ckpt, "--trigger", "available-now", "--quiet")[1:])
    crimes, disp = last_rows(out)
    assert crimes == dict(expected.crime_type_counts(records))


def test_checkpoint_from_another_script_is_refused(broker, tmp_path):
    topic = broker.create_topic()
    run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet", "--max", "100"])
    ckpt = tmp_path / "ckpt"
    run(pipeline_args(broker, topic, tmp_path / "o", ckpt, "--trigger", "available-now", "--quiet")[1:])
    other = tmp_path / "other.lua"
    with open(PIPELINE) as f:
        other.write_text(f.read().replace('"10 minutes", "5 minutes"', '"15 minutes", "5 minutes"'))
    p = run([str(other), "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
             "--checkpoint", str(ckpt), "--trigger", "available-now"], check=False)
    assert p.returncode == 2
    assert str(ckpt / "metadata") in p.stderr and "crime_type_counts" in p.stderr


def test_corrupt_snapshot_is_named_never_a_silent_restart(broker, tmp_path):
    topic = broker.create_topic()
    run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet", "--max", "500"])
    ckpt = tmp_path / "ckpt"
    args = pipeline_args(broker, topic, tmp_path / "o", ckpt, "--trigger", "available-now", "--quiet")[1:]
    run(args)
    snaps = sorted((ckpt / "state" / "crime_type_counts").iterdir())
    data = snaps[-1].read_bytes()
    snaps[-1].write_bytes(data[: len(data) // 2])
    p = run(args, check=False)
    assert p.returncode == 2 and str(snaps[-1]) in p.stderr and "truncated" in p.stderr
    commit = sorted((ckpt / "commits").iterdir())[-1]
    commit.write_text('{"batchId": 0, "sources": [')
    p = run(args, check=False)
    assert p.returncode == 2 and str(commit) in p.stderr


def test_unwritable_checkpoint_directory_is_a_clear_error(broker, tmp_path):
    topic = broker.create_topic()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    p = run(pipeline_args(broker, topic, tmp_path / "o", blocker / "ckpt", "--trigger",
                          "available-now")[1:], check=False)
    assert p.returncode == 2 and "cannot create directory" in p.stderr


def test_broker_outage_of_30_seconds_loses_nothing(tmp_path):
    """A broker of its own, stopped for 30 s in the middle of a streaming run."""
    b = Broker(str(tmp_path))
    b.sh("start")
    try:
        topic = b.create_topic(partitions=2)
        recs = expected.load(SAMPLE)
        first, second = tmp_path / "a.json", tmp_path / "b.json"
        first.write_text(json.dumps(recs[:3400]))
        second.write_text(json.dumps(recs[3400:]))
        out = tmp_path / "out"
        run(["produce", str(first), "--topic", topic, "--bootstrap", b.bootstrap, "--quiet"])
        p = subprocess.Popen(pipeline_args(b, topic, out, tmp_path / "ckpt", "--trigger", "300ms",
                                           "--progress", str(tmp_path / "p.jsonl")),
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def consumed():
            if not os.path.exists(tmp_path / "p.jsonl"):
                return 0
            return sum(r["numInputRows"] for r in read_jsonl(tmp_path / "p.jsonl")
                       if r["name"] == "crime_type_counts")

        deadline = time.time() + 30
        while consumed() < 3400 and time.time() < deadline:
            time.sleep(0.2)
        assert consumed() == 3400
        b.sh("stop")
        time.sleep(30)
        assert p.poll() is None, "luastream must wait for the broker, not exit"
        b.sh("start")
        run(["produce", str(second), "--topic", topic, "--bootstrap", b.bootstrap, "--quiet"],
            timeout=120)
        deadline = time.time() + 90
        while consumed() < len(recs) and time.time() < deadline:
            time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0
        assert consumed() == len(recs)
        assert "kafka" in err.lower()  # the outage was reported
        check_results(out, recs)
    finally:
        b.sh("stop")


def read_committed(broker, topic):
    """(batch header, key, value) of every committed message, via kcat."""
    p = subprocess.run(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q",
                        "-X", "isolation.level=read_committed", "-f", "%h\t%k\t%s\n"],
                       capture_output=True, text=True, timeout=120, check=True)
    out = []
    for line in p.stdout.splitlines():
        h, k, v = line.split("\t", 2)
        out.append((int(h.split("=", 1)[1]), k, json.loads(v)))
    return out


def test_kafka_sink_is_exactly_once_across_crashes(broker, tmp_path):
    """Crashes right after a batch's transaction committed, before the
    checkpoint's commit record, and kill -9 anywhere: read_committed readers
    see every batch's rows exactly once."""
    topic = broker.create_topic(partitions=2)
    recs = expected.load(SAMPLE)
    run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    prefix = "eo" + os.urandom(3).hex()
    ckpt = tmp_path / "ckpt"
    args = [PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
            "--set", "output=kafka:" + prefix, "--checkpoint", str(ckpt),
            "--trigger", "available-now", "--set", "max_records_per_trigger=700", "--quiet"]
    for crash in (1, 4):
        p = run(args, check=False, env=dict(os.environ, LUASTREAM_TEST_CRASH_AFTER_SINK=str(crash)))
        assert p.returncode == 137, p.stderr
    rnd = random.Random(5)
    for _ in range(4):
        proc = subprocess.Popen([BIN, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.3, 1.5))
        proc.kill()
        proc.wait()
    run(args)
    rows = read_committed(broker, prefix + ".disposition_counts")
    batches = {}
    for b, k, v in rows:
        batches.setdefault(b, []).append(k)
    assert sorted(batches) == list(range(10))  # 6,802 records / 700 per batch
    for b, keys in batches.items():
        assert len(keys) == len(set(keys)), "batch %d written more than once" % b
    last = {}
    for b, k, v in sorted(rows, key=lambda r: r[0]):
        last[v["disposition"]] = (v["description"], v["count"])
    assert last == expected.disposition_counts(recs, expected.load(os.path.join(ROOT, "data", "radio_code.json")))


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def test_slow_sink_slows_consumption_instead_of_growing_memory(broker, big_topic, tmp_path):
    """A sink taking ~0.5 s per batch: reading waits for it (librdkafka's
    prefetch is bounded), so memory stays flat while 66,802 records pass."""
    topic, records = big_topic
    s = tmp_path / "slow.lua"
    s.write_text('local ls = require "luastream"\n'
                 'ls.query "slow" {\n'
                 '  from = ls.kafka_source { topic = "%s", bootstrap = "%s", max_records_per_trigger = 2000 },\n'
                 '  group_by = { "disposition" }, aggregate = { ls.count() }, trigger = "100ms",\n'
                 '  sink = ls.console_sink { num_rows = 100, format = function(row)\n'
                 '    local t = os.clock() + 0.02; while os.clock() < t do end\n'
                 '    return row.disposition .. " " .. row.count end } }\n' % (topic, broker.bootstrap))
    p = subprocess.Popen([BIN, str(s), "--progress", str(tmp_path / "p.jsonl"), "--quiet"],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak, seen = 0.0, 0
    deadline = time.time() + 180
    while time.time() < deadline:
        time.sleep(0.5)
        peak = max(peak, rss_mib(p.pid))
        if os.path.exists(tmp_path / "p.jsonl"):
            seen = sum(r["numInputRows"] for r in read_jsonl(tmp_path / "p.jsonl"))
        if seen >= len(records):
            break
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    assert seen == len(records)
    reps = read_jsonl(tmp_path / "p.jsonl")
    assert len(reps) >= 30 and max(r["numInputRows"] for r in reps) <= 2000
    assert peak < 200, "RSS grew to %.0f MiB behind a slow sink" % peak


def test_full_output_is_a_clear_error_and_a_later_run_resumes(broker, tmp_path):
    """Writes fail (a 300 kB file-size limit stands in for a full disk): the
    run stops with a clear error, the checkpoint stays consistent, and a run
    with room finishes with exactly the right results."""
    import resource
    topic = broker.create_topic(partitions=2)
    run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    args = pipeline_args(broker, topic, out, ckpt, "--trigger", "available-now",
                         "--set", "max_records_per_trigger=1500", "--quiet")

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (300000, 300000))

    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120,
                       preexec_fn=small_files)
    assert p.returncode == 1, p.stderr
    assert "write failed" in p.stderr or "cannot write" in p.stderr
    assert os.listdir(ckpt / "commits")  # some batches were committed before
    run(args[1:])
    check_results(out, expected.load(SAMPLE))
    for name in ("crime_type_counts.jsonl", "disposition_counts.jsonl"):
        for line in open(out / name, encoding="utf-8"):
            json.loads(line)


def test_unwritable_output_directory_is_a_clear_error(broker, tmp_path):
    topic = broker.create_topic()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    p = run([PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
             "--set", "output=jsonl:" + str(blocker / "out"), "--trigger", "available-now"],
            check=False)
    assert p.returncode == 2 and "cannot create directory" in p.stderr


def test_consumer_group_offsets_show_the_lag(broker, tmp_path):
    """After a checkpointed run, Kafka's own tool sees the group at the end."""
    topic = broker.create_topic(partitions=2)
    run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    s = tmp_path / "g.lua"
    with open(PIPELINE) as f:
        s.write_text(f.read().replace('starting_offsets = "earliest",',
                                      'starting_offsets = "earliest", group_id = "lag-test",'))
    run([str(s), "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
         "--set", "output=jsonl:" + str(tmp_path / "o"), "--checkpoint", str(tmp_path / "ck"),
         "--trigger", "available-now", "--quiet"])
    jars = os.path.join(os.environ.get("KAFKA_JARS", os.path.join(ROOT, ".run", "kafka-jars")), "*")
    d = subprocess.run(["java", "-cp", jars, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                        "--bootstrap-server", broker.bootstrap, "--describe", "--group", "lag-test"],
                       capture_output=True, text=True, timeout=120)
    rows = [l.split() for l in d.stdout.splitlines() if l.startswith("lag-test")]
    assert len(rows) == 2, d.stdout + d.stderr
    assert sum(int(r[3]) for r in rows) == 6802   # CURRENT-OFFSET
    assert all(r[5] == "0" for r in rows)          # LAG


def test_default_consumer_group_is_the_jobs_own(broker, tmp_path):
    """Without group_id, a checkpointed job commits under luastream.<script>.<hash of its
    checkpoint directory>: two jobs on two checkpoints are two groups, and a second run
    on the first checkpoint uses the first's."""
    topic = broker.create_topic()
    run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet", "--max", "100"])

    def job(ck):
        run([PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
             "--set", "output=jsonl:" + str(tmp_path / "o"), "--checkpoint", str(ck),
             "--trigger", "available-now", "--quiet"])

    def groups():
        jars = os.path.join(os.environ.get("KAFKA_JARS", os.path.join(ROOT, ".run", "kafka-jars")), "*")
        d = subprocess.run(["java", "-cp", jars, "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                            "--bootstrap-server", broker.bootstrap, "--list"],
                           capture_output=True, text=True, timeout=120)
        return set(d.stdout.split())

    before = groups()
    job(tmp_path / "ck1")
    job(tmp_path / "ck2")
    job(tmp_path / "ck1")
    new = groups() - before
    assert len(new) == 2, new
    assert all(g.startswith("luastream.pipeline.") and len(g) == len("luastream.pipeline.") + 8
               for g in new), new
    assert "luastream" not in groups()  # the old shared default


@pytest.mark.parametrize("sink", ["jsonl", "kafka"])
def test_a_second_run_on_the_same_checkpoint_is_refused(broker, tmp_path, sink):
    """Two runs on one checkpoint directory used to corrupt it. The second
    is refused at start (within 5 s, naming the directory and the first
    run's pid) and touches nothing: the first run's results stay exact (for
    the Kafka sink: its transactional producer is not fenced)."""
    topic = broker.create_topic(partitions=2)
    recs = expected.load(SAMPLE)
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(recs[:3000]))
    second.write_text(json.dumps(recs[3000:]))
    run(["produce", str(first), "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    out, ckpt, progress = tmp_path / "out", tmp_path / "ckpt", tmp_path / "p.jsonl"
    prefix = "lk" + os.urandom(3).hex()
    output = "jsonl:" + str(out) if sink == "jsonl" else "kafka:" + prefix

    def args(*extra):
        return [PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
                "--set", "output=" + output, "--checkpoint", str(ckpt), *extra]

    p = subprocess.Popen([BIN, *args("--trigger", "300ms", "--progress", str(progress))], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def consumed():
        if not os.path.exists(progress):
            return 0
        return sum(r["numInputRows"] for r in read_jsonl(progress) if r["name"] == "crime_type_counts")

    deadline = time.time() + 60
    while consumed() < 3000 and time.time() < deadline:
        time.sleep(0.2)
    assert consumed() == 3000
    t0 = time.time()
    second_run = run(args("--trigger", "available-now"), check=False, timeout=30)
    assert time.time() - t0 < 5
    assert second_run.returncode == 2, second_run.stderr
    assert ("checkpoint directory %s is in use by another luastream run (pid %d)" % (ckpt, p.pid)
            in second_run.stderr), second_run.stderr
    run(["produce", str(second), "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    deadline = time.time() + 60
    while consumed() < len(recs) and time.time() < deadline:
        time.sleep(0.2)
    assert p.poll() is None, p.stderr.read()
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert consumed() == len(recs)
    radio = expected.load(os.path.join(ROOT, "data", "radio_code.json"))
    if sink == "jsonl":
        check_results(out, recs)
    else:
        last = {}
        for b, k, v in sorted(read_committed(broker, prefix + ".disposition_counts"), key=lambda r: r[0]):
            last[v["disposition"]] = (v["description"], v["count"])
        assert last == expected.disposition_counts(recs, radio)
    # the lock went with the run: a restart is accepted
    run(args("--trigger", "available-now", "--quiet"))
