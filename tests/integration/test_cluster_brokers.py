"""A three-broker cluster (scripts/kafka.sh start --brokers 3, on free ports
in a temporary folder): one broker is stopped for 20 s in the middle of a
streaming run of scripts/pipeline.lua (checkpointed, writing to Kafka in
transactions) and started again; the job must go on reading and committing
while the broker is down, never exit, and end with the exact results,
each batch's rows committed once.

Issue 12 asks for a 30 s outage; 20 s keeps this test (75-90 s in all on
the project's 2-core machine, most of it the brokers' start, the outage and
the stop) within CI's time and is
still more than twice the controller's session timeout for a broker
(broker.session.timeout.ms, 9 s), longer than any of librdkafka's retry
back-offs and than the time the partitions' leadership takes to move (done
at once by the stopped broker's controlled shutdown). The broker stopped is
the transaction coordinator of the crime_type_counts sink, so the outage
moves the coordinator of an open-ended series of transactions as well as
the leadership of about a third of the input partitions. The input is the
real sample, produced in three parts: before the outage, during it (to the
two brokers left: replication factor 3 with min.insync.replicas 2 accepts
acks=all writes) and after the broker is back.

The second test stops a broker for the full 30 s under three members of a
job running an aggregation (--app: repartition and changelog topics, one
transaction per batch; its own docstring says how); about 2 minutes.

The waits below are bounded only so that a hang fails instead of blocking
CI; nothing asserts how long anything took."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from conftest import BIN, KAFKA_SH, RADIO, ROOT, SAMPLE, Cluster, read_jsonl, run
from apphelp import (CT_KEYS, app_id, ascending_calls, committed_rows, counts_args, last_rows,
                     member, produce, row_key, stop, wait_equal)
import expected
from test_pipeline import PIPELINE, window_key
from test_recovery import read_committed

OUTAGE = 20     # seconds the broker stays down
BOUND = 180     # seconds before a wait gives up (a hang, not a slow machine)


def java_string_hash(s):
    """String.hashCode() of an ASCII string, as Kafka uses it."""
    h = 0
    for c in s:
        h = (31 * h + ord(c)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h


def leaders(cluster, topic):
    """{partition: (leader, replicas, in-sync replicas)} as kcat sees them."""
    out = subprocess.run(["kcat", "-L", "-b", cluster.bootstrap, "-t", topic, "-m", "10"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    got = {}
    for line in out.splitlines():
        f = line.replace(",", " ").split()
        if f[:1] == ["partition"] and "leader" in f:
            reps = f[f.index("replicas:") + 1:f.index("isrs:")]
            isrs = f[f.index("isrs:") + 1:]
            got[int(f[1])] = (int(f[3]), sorted(map(int, reps)), sorted(int(x) for x in isrs
                                                                       if x.isdigit()))
    return got


def coordinator(cluster, internal_topic, key):
    """The broker leading the partition of an internal topic that holds key
    (Kafka: abs(key.hashCode()) % the topic's partitions, 10 here for both
    __transaction_state and __consumer_offsets)."""
    h = java_string_hash(key)
    part = (0 if h == -(1 << 31) else abs(h)) % 10
    return leaders(cluster, internal_topic)[part][0]


def transaction_coordinator(cluster, transactional_id):
    return coordinator(cluster, "__transaction_state", transactional_id)


def group_coordinator(cluster, group):
    return coordinator(cluster, "__consumer_offsets", group)


def topic_descriptions(cluster, pattern):
    """{topic: (replication factor, {config: value} of the topic's own
    settings)} for the topics matching a regular expression, from Kafka's
    kafka-topics tool (the jars scripts/kafka.sh runs the brokers from)."""
    jars = os.path.join(os.environ.get("KAFKA_JARS", os.path.join(ROOT, ".run", "kafka-jars")), "*")
    d = subprocess.run(["java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                        jars, "org.apache.kafka.tools.TopicCommand", "--bootstrap-server",
                        cluster.bootstrap, "--describe", "--topic", pattern],
                       capture_output=True, text=True, timeout=120)
    assert d.returncode == 0, d.stdout + d.stderr
    got = {}
    for line in d.stdout.splitlines():
        name = re.match(r"Topic:\s*(\S+)\s+TopicId:", line)
        if name:
            rf = re.search(r"ReplicationFactor:\s*(\d+)", line)
            conf = re.search(r"Configs:\s*(\S*)", line)
            assert rf and conf, line
            got[name.group(1)] = (int(rf.group(1)), dict(kv.split("=", 1) for kv in
                                                         conf.group(1).split(",") if kv))
    return got


def test_one_broker_stopped_mid_run_the_job_continues_with_exact_results(tmp_path):
    c = Cluster(str(tmp_path))
    assert c.start() == c.bootstrap
    try:
        assert c.sh("status").stdout == "running\n"
        topic = c.create_topic(partitions=6)           # replication factor 3
        parts = leaders(c, topic)
        assert sorted(parts) == list(range(6))
        assert all(r == [1, 2, 3] and i == [1, 2, 3] for _, r, i in parts.values())

        recs = expected.load(SAMPLE)
        pieces = [recs[:3000], recs[3000:5000], recs[5000:]]
        files = []
        for n, piece in enumerate(pieces):
            f = tmp_path / ("part%d.json" % n)
            f.write_text(json.dumps(piece))
            files.append(str(f))

        def produce_file(f):
            run(["produce", f, "--topic", topic, "--bootstrap", c.bootstrap, "--quiet"],
                timeout=BOUND)

        produce_file(files[0])
        prefix = "cl" + os.urandom(3).hex()
        ckpt, progress, err = tmp_path / "ckpt", tmp_path / "p.jsonl", tmp_path / "stderr.txt"
        args = [PIPELINE, "--set", "bootstrap=" + c.bootstrap, "--set", "topic=" + topic,
                "--set", "output=kafka:" + prefix, "--checkpoint", str(ckpt),
                "--trigger", "300ms", "--set", "max_records_per_trigger=500"]
        sinks = {q["name"]: q["sink"] for q in
                 json.loads(run(["explain", *args, "--json"]).stdout)["queries"]}
        args += ["--progress", str(progress)]
        tid = sinks["crime_type_counts"]["transactional_id"]
        assert tid and sinks["disposition_counts"]["transactional_id"]

        with open(err, "w") as errf:
            p = subprocess.Popen([BIN, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errf)
        try:
            def consumed():
                if not progress.exists():
                    return 0
                return sum(r["numInputRows"] for r in read_jsonl(progress)
                           if r["name"] == "crime_type_counts")

            def wait_for(n, what):
                deadline = time.monotonic() + BOUND
                while consumed() < n:
                    assert p.poll() is None, "luastream exited %s %s:\n%s" % (
                        p.returncode, what, err.read_text()[-4000:])
                    assert time.monotonic() < deadline, "luastream read %d of %d records %s " \
                        "(gave up after %d s):\n%s" % (consumed(), n, what, BOUND,
                                                       err.read_text()[-4000:])
                    time.sleep(0.2)

            wait_for(3000, "before the outage")
            victim = transaction_coordinator(c, tid)
            c.stop_broker(victim)
            stopped = time.monotonic()
            st = subprocess.run([KAFKA_SH, "status"], env=c.env, capture_output=True,
                                text=True, timeout=60)
            assert st.returncode == 3 and st.stdout == "degraded\n", st
            assert "broker %d: stopped" % victim in st.stderr
            produce_file(files[1])                           # to the two brokers left
            wait_for(5000, "while broker %d was down" % victim)
            assert consumed() == 5000
            time.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
            assert p.poll() is None, "luastream must wait for the broker, not exit"
            c.start_broker(victim)
            produce_file(files[2])
            wait_for(len(recs), "after broker %d came back" % victim)
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=BOUND) == 0, err.read_text()[-4000:]
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert consumed() == len(recs)                  # every record read once

        # read_committed: every batch's rows once, and the last row per group key
        # equals the independent computation over all the records
        crimes = read_committed(c, prefix + ".crime_type_counts")
        disp = read_committed(c, prefix + ".disposition_counts")
        for rows in (crimes, disp):
            per_batch = {}
            for b, k, _ in rows:
                per_batch.setdefault(b, []).append(k)
            for b, keys in per_batch.items():
                assert len(keys) == len(set(keys)), "batch %d committed more than once" % b
        last = {}
        for _, _, v in sorted(crimes, key=lambda r: r[0]):
            last[window_key(v)] = v["count"]
        assert last == dict(expected.crime_type_counts(recs))
        last = {}
        for _, _, v in sorted(disp, key=lambda r: r[0]):
            last[v["disposition"]] = (v["description"], v["count"])
        assert last == expected.disposition_counts(recs, expected.load(RADIO))
        # the output topics were created with the cluster's replication factor
        assert all(r == [1, 2, 3] for _, r, _ in leaders(c, prefix + ".crime_type_counts").values())
    finally:
        c.sh("stop")


AGG_OUTAGE = 30  # seconds the broker stays down under the aggregating members
# generated calls over two days (about 3,000 to the watermark's delay, 6 hours here), in
# three parts: before the members start, during the outage and after it; the last two at
# a rate, so that no partition gets more than a few seconds of producing ahead of another
AGG_CALLS, AGG_CUTS, AGG_RATES = 20000, (0, 10000, 14000, 20000), (None, 250, 600)
AGG_DELAY = ["--set", "delay=6 hours"]


def test_one_broker_stopped_30s_under_aggregating_members_the_job_continues_exactly(tmp_path):
    """Three members of one job run an update-mode window aggregation
    (tests/integration/app_counts.lua: stage 1, <app>-counts-repartition,
    stage 2, the compacted <app>-counts-changelog, one transaction per batch)
    on a 12-partition topic of generated calls. The broker stopped for 30 s
    while they process is the job's group coordinator (the coordinator of
    the transactions' offsets, of every member's heartbeats and rebalances)
    and leads about a third of every topic's partitions; calls are produced
    before, during (to the two brokers left) and after the outage, and one
    member is replaced during it (the group rebalances, state partitions
    are rebuilt from their changelogs, a member starts). No member
    may exit, and a read_committed reader of the output must see exactly a
    single instance's last row per (window, type), each group's count only
    growing (a batch committed twice would repeat a row). The job's topics
    are replicated as the cluster's own: replication factor 3,
    min.insync.replicas 2.

    The input is produced in event-time order; what a member reads of it is
    stamped per input partition, a partition read to its end with the
    member's greatest event time (README, "The watermark rule"): parts sent
    in one burst could reach some partitions hours of event time before
    others, and what the others get then is late, outage or not (a broker
    that comes back, a member replaced: a partition may lag a second or two
    behind the others). Hence the rates, the dense event times and the
    6-hour delay: nothing is late, whatever the outage does to the batches."""
    c = Cluster(str(tmp_path))
    assert c.start() == c.bootstrap
    procs, logs = [], []
    try:
        lines = ascending_calls(tmp_path, AGG_CALLS, 31, days=2).read_text().splitlines()
        parts = []
        for n in range(3):
            f = tmp_path / ("part%d.jsonl" % n)
            f.write_text("\n".join(lines[AGG_CUTS[n]:AGG_CUTS[n + 1]]) + "\n")
            parts.append(f)

        def send(n):
            produce(c, parts[n], topic, *(["--rate", str(AGG_RATES[n])] if AGG_RATES[n] else []))

        topic = c.create_topic(partitions=12)
        send(0)
        app, out = app_id("outage"), "agg.outage." + uuid.uuid4().hex[:6]
        env = dict(os.environ, LUASTREAM_DEBUG_SHUFFLE="1")
        cap = ["--trigger", "300ms", "--set", "max_records_per_trigger=800", *AGG_DELAY]
        logs = [tmp_path / ("m%d.log" % i) for i in range(3)]
        procs = [member(counts_args(c, topic, out), app, logs[i], *cap, env=env)
                 for i in range(3)]

        def alive(what):
            for p, l in zip(procs, logs):
                assert p.poll() is None, "a member exited %s (%s): %s" % (
                    what, p.returncode, l.read_text()[-4000:])

        # the members are processing: some output has committed, not all of it
        until = time.monotonic() + BOUND
        while last_rows(c, out + ".counts", CT_KEYS)[1] == 0:
            alive("before the outage")
            assert time.monotonic() < until, "no output after %d s: %s" % (
                BOUND, logs[0].read_text()[-4000:])
            time.sleep(0.5)
        victim = group_coordinator(c, app)
        c.stop_broker(victim)
        stopped = time.monotonic()
        # while it is down, a member is replaced: it leaves (its last batch
        # commits), and a new one starts (metadata, the job's topics, its
        # transactions) and joins; the group moves state partitions, which
        # their new owners rebuild from the changelogs
        seen = [len(l.read_text()) for l in logs]
        procs[2].send_signal(signal.SIGTERM)
        assert procs[2].wait(timeout=BOUND) == 0, logs[2].read_text()[-4000:]
        logs.append(tmp_path / "m3.log")
        procs[2] = member(counts_args(c, topic, out), app, logs[3], *cap, env=env)
        logs[2], logs[3] = logs[3], logs[2]   # logs[i] is procs[i]'s; the last, the one gone
        seen.append(seen[2])
        seen[2] = 0
        send(1)  # to the two brokers left, for 16 s
        while time.monotonic() - stopped < AGG_OUTAGE:
            alive("while broker %d was down" % victim)
            time.sleep(1)
        c.start_broker(victim)
        alive("when broker %d came back" % victim)
        send(2)
        # the reference: one instance without --app over the whole topic
        ref = "agg.outref." + uuid.uuid4().hex[:6]
        run([*counts_args(c, topic, ref, *AGG_DELAY), "--trigger", "available-now", "--quiet"],
            timeout=BOUND)
        want = last_rows(c, ref + ".counts", CT_KEYS)[0]
        assert len(want) > 1000
        wait_equal(c, [(out + ".counts", CT_KEYS, want)], procs, logs[:3])
        time.sleep(2)  # a duplicate would come now
        rows = committed_rows(c, out + ".counts")
        stop(procs)
        # the job's topics, created by the first member: replicated as the cluster's own
        topics = topic_descriptions(c, re.escape(app) + "-counts-.*")
        assert sorted(topics) == [app + "-counts-changelog", app + "-counts-repartition"], topics
        for name, policy in (("repartition", "delete"), ("changelog", "compact")):
            rf, conf = topics["%s-counts-%s" % (app, name)]
            assert (rf, conf.get("min.insync.replicas"), conf.get("cleanup.policy")) == \
                (3, "2", policy), (name, rf, conf)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        try:
            c.sh("stop")
        except Exception as e:  # never hide the test result behind a stop failure
            print("kafka stop failed:", e)
    counts = {}
    for r in rows:
        k = row_key(r, CT_KEYS)
        assert r["count"] > counts.get(k, 0), "%s repeated or went back: %s" % (k, r)
        counts[k] = r["count"]
    assert {k: r for k, r in ((row_key(r, CT_KEYS), r) for r in rows)} == want
    text = [l.read_text() for l in logs]
    assert "created topic %s-counts-repartition" % app in "".join(text)
    assert all("rows in" in t for t in text), text[0][-3000:]
    # state partitions were rebuilt from the changelogs while the broker was down or after
    assert any("app %s: restored" % app in t[n:] for t, n in zip(text, seen)), text[2][-3000:]


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose not installed")
def test_compose_cluster_profile_has_three_replicating_brokers_and_scalable_luastream():
    """docker-compose.yml's profile "cluster" (no Docker engine here: the
    resolved configuration is checked)."""
    yaml = pytest.importorskip("yaml")
    p = subprocess.run(["docker-compose", "-f", os.path.join(ROOT, "docker-compose.yml"),
                        "--profile", "cluster", "config"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    svc = yaml.safe_load(p.stdout)["services"]
    brokers = [svc["kafka-%d" % i] for i in (1, 2, 3)]
    voters = "1@kafka-1:29093,2@kafka-2:29093,3@kafka-3:29093"
    for i, b in enumerate(brokers, 1):
        env = {k: str(v) for k, v in b["environment"].items()}
        assert b["profiles"] == ["cluster"]
        assert env["KAFKA_NODE_ID"] == str(i) and env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        for k in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_DEFAULT_REPLICATION_FACTOR",
                  "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
            assert env[k] == "3", k
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert env["KAFKA_ADVERTISED_LISTENERS"].startswith("PLAINTEXT://kafka-%d:29092," % i)
    assert len({b["environment"]["CLUSTER_ID"] for b in brokers}) == 1
    # every luastream service can run in several copies: no fixed host port, no container
    # name, and the topic is seeded by a one-shot service before any copy starts
    for name, bootstrap in (("luastream", "kafka:29092"),
                            ("luastream-cluster", "kafka-1:29092,kafka-2:29092,kafka-3:29092")):
        s = svc[name]
        assert "container_name" not in s
        for port in s["ports"]:   # a range of 3 host ports: "127.0.0.1:4040-4042:4040/tcp"
            m = re.match(r"127\.0\.0\.1:(\d+)-(\d+):4040", str(port))
            assert m and int(m.group(2)) - int(m.group(1)) + 1 >= 3, (name, port)
        assert s["environment"]["KAFKA_BOOTSTRAP"] == bootstrap
        assert str(s["environment"]["LUASTREAM_SEED"]) == "0"
        seed = svc[name.replace("luastream", "luastream-seed")]
        assert s["depends_on"] == {name.replace("luastream", "luastream-seed"):
                                   {"condition": "service_completed_successfully"}}
        assert seed["environment"]["KAFKA_BOOTSTRAP"] == bootstrap
        assert "LUASTREAM_SEED" not in seed["environment"]
    assert set(svc["luastream-seed-cluster"]["depends_on"]) == {"kafka-1", "kafka-2", "kafka-3"}
    assert "profiles" not in svc["kafka"] and "profiles" not in svc["luastream"]
