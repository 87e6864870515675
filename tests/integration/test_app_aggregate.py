"""Aggregations run by the members of one job (issue 12): stage 1 on the
member that reads a record, partial groups through <app>-<query>-repartition,
stage 2 on the member that owns the state partition, every change in the
compacted <app>-<query>-changelog, one transaction per batch (ls_shuffle.h).

The reference is one instance without --app on the same topic (one batch,
nothing late): the last row per (window, key) of a job's read_committed Kafka
output must equal the instance's rows exactly. A count that was folded twice
or lost would show there. Input: generated calls in ascending event time on
12 partitions (keyed by call id), so that with the 60-minute watermark
nothing is late however batches fall (the job's watermark rule is the
least of the input partitions' stamps: README "Running on several machines").

Sizes: 300,000 calls for the complete-mode seed job and the update-mode
query (issue 12's size); the fault tests (kill -9 five times, scaling while
producing) use 60,000 so that CI stays within its budget. Every wait is
bounded only so that a hang fails."""
import json
import os
import random
import re
import signal
import subprocess
import time
import urllib.request
import uuid

import pytest

from conftest import BIN, ROOT, free_port, run
from apphelp import (BOUND, CT_KEYS, DISP_KEYS, PIPELINE, app_id, ascending_calls, counts_args,
                     last_rows, member, pipeline_args, produce, stop, wait_equal)


def earliest_offsets(broker, topic):
    """{partition: log start offset} of topic, from Kafka's own tool."""
    jars = os.path.join(os.environ.get("KAFKA_JARS", os.path.join(ROOT, ".run", "kafka-jars")), "*")
    d = subprocess.run(["java", "-cp", jars, "org.apache.kafka.tools.GetOffsetShell",
                        "--bootstrap-server", broker.bootstrap, "--topic", topic, "--time", "-2"],
                       capture_output=True, text=True, timeout=120)
    assert d.returncode == 0, d.stderr
    rows = [l.rsplit(":", 2) for l in d.stdout.splitlines() if l.startswith(topic + ":")]
    return {int(r[1]): int(r[2]) for r in rows}


@pytest.fixture(scope="module")
def big(broker, tmp_path_factory):
    """300,000 calls on 12 partitions, and the single instance's results of
    the seed job and of the update-mode query."""
    folder = tmp_path_factory.mktemp("agg")
    path = ascending_calls(folder, 300000, 7)
    topic = broker.create_topic(partitions=12)
    produce(broker, path, topic)
    ref = "agg.ref." + uuid.uuid4().hex[:6]
    run([*pipeline_args(broker, topic, ref), "--trigger", "available-now", "--quiet"],
        timeout=BOUND)
    run([*counts_args(broker, topic, ref), "--trigger", "available-now", "--quiet"],
        timeout=BOUND)
    want = {"ct": last_rows(broker, ref + ".crime_type_counts", CT_KEYS)[0],
            "disp": last_rows(broker, ref + ".disposition_counts", DISP_KEYS)[0],
            "counts": last_rows(broker, ref + ".counts", CT_KEYS)[0]}
    assert len(want["ct"]) > 100000 and len(want["disp"]) > 10 and len(want["counts"]) > 100000
    return topic, want


def test_three_members_run_the_seed_job_in_complete_mode_as_one_instance(broker, big, tmp_path):
    topic, want = big
    out = "agg.seed." + uuid.uuid4().hex[:6]
    app = app_id("seed")
    logs = [tmp_path / ("m%d.log" % i) for i in range(3)]
    port = free_port()
    procs = [member(pipeline_args(broker, topic, out), app, logs[i], "--trigger", "5 seconds",
                    *(["--ui", "127.0.0.1:%d" % port] if i == 0 else []))
             for i in range(3)]
    try:
        wait_equal(broker, [(out + ".crime_type_counts", CT_KEYS, want["ct"]),
                            (out + ".disposition_counts", DISP_KEYS, want["disp"])], procs, logs)
        # a member's metrics: the state partitions it owns and rebuilt
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
            metrics = r.read().decode()
        owned = re.search(r'luastream_state_partitions_owned\{app="%s"\} (\d+)' % app, metrics)
        restores = re.search(r'luastream_state_restores_total\{app="%s"\} (\d+)' % app, metrics)
        assert owned and restores, metrics[-2000:]
        assert int(restores.group(1)) >= int(owned.group(1))  # each owned one was rebuilt
        assert 'luastream_restore_seconds_total{app="%s"}' % app in metrics
    finally:
        stop(procs)
    text = [l.read_text() for l in logs]
    assert sum("restored" in t for t in text) >= 2, text[0][-2000:]
    assert "created topic %s-crime_type_counts-repartition" % app in "".join(text)


def test_three_members_and_another_job_run_an_update_mode_window_query(broker, big, tmp_path):
    """Three members started one after the other (the group moves state
    partitions to the newcomers, which rebuild them from the changelog), and
    a second app id on the same topic at the same time: a job of its own,
    sharing no state with the first (each result exact)."""
    topic, want = big
    outs = ["agg.upd." + uuid.uuid4().hex[:6] for _ in range(2)]
    apps = [app_id("upd"), app_id("other")]
    logs = [tmp_path / ("m%d.log" % i) for i in range(4)]
    cap = ["--trigger", "300ms", "--set", "max_records_per_trigger=20000"]
    progress = [tmp_path / ("p%d.jsonl" % i) for i in range(4)]
    procs = [member(counts_args(broker, topic, outs[0]), apps[0], logs[0], *cap,
                    "--progress", str(progress[0])),
             member(counts_args(broker, topic, outs[1]), apps[1], logs[1], *cap)]
    try:
        time.sleep(4)
        for i in (2, 3):
            procs.append(member(counts_args(broker, topic, outs[0]), apps[0], logs[i], *cap,
                                "--progress", str(progress[i])))
            time.sleep(2)
        wait_equal(broker, [(outs[0] + ".counts", CT_KEYS, want["counts"]),
                            (outs[1] + ".counts", CT_KEYS, want["counts"])], procs, logs)
    finally:
        stop(procs)
    first = [logs[i].read_text() for i in (0, 2, 3)]
    assert sum("rows in" in t for t in first) == 3
    # the repartition records read and committed were deleted (ls_purge.h):
    # every member purges what it committed when it stops
    start = earliest_offsets(broker, apps[0] + "-counts-repartition")
    assert len(start) == 8 and all(o > 0 for o in start.values()), start
    # the state partitions moved: at least two members rebuilt some (the
    # assignor need not give every member a state partition)
    assert sum("app %s: restored" % apps[0] in t for t in first) >= 2, first[0][-2000:]
    # ... and said so in their progress reports: each batch's restore, its time
    reports = [json.loads(l) for i in (0, 2, 3) for l in progress[i].read_text().splitlines()]
    assert reports and all("restoreState" in r["durationMs"] for r in reports)
    restored = [r["member"]["stateRestore"] for r in reports
                if r["member"]["stateRestore"]["partitions"] > 0]
    assert len(restored) >= 2 and all(x["changelogRecords"] >= 0 for x in restored), restored
    assert sum("restored" in t and "changelog records, " in t for t in first) >= 2


@pytest.fixture(scope="module")
def small(broker, tmp_path_factory):
    folder = tmp_path_factory.mktemp("aggsmall")
    path = ascending_calls(folder, 60000, 8)
    topic = broker.create_topic(partitions=12)
    produce(broker, path, topic)
    ref = "agg.sref." + uuid.uuid4().hex[:6]
    run([*counts_args(broker, topic, ref), "--trigger", "available-now", "--quiet"],
        timeout=BOUND)
    return topic, path, last_rows(broker, ref + ".counts", CT_KEYS)[0]


def test_a_member_killed_five_times_loses_and_doubles_nothing(broker, small, tmp_path):
    """kill -9 one of three members at a random moment, five times in a row,
    each time restarting it: the state partitions it held move, are rebuilt
    from the changelog, and its open transaction is aborted (its partial
    groups, changelog records and output with it)."""
    topic, _, want = small
    out = "agg.kill." + uuid.uuid4().hex[:6]
    app = app_id("kill")
    cap = ["--trigger", "200ms", "--set", "max_records_per_trigger=600"]
    logs = [tmp_path / ("m%d.log" % i) for i in range(3)]
    procs = [member(counts_args(broker, topic, out), app, logs[i], *cap) for i in range(3)]
    rnd = random.Random(12)
    try:
        for k in range(5):
            time.sleep(rnd.uniform(2, 6))
            i = rnd.randrange(3)
            procs[i].kill()
            assert procs[i].wait(timeout=30) == -signal.SIGKILL
            logs[i] = tmp_path / ("m%d-%d.log" % (i, k))
            procs[i] = member(counts_args(broker, topic, out), app, logs[i], *cap)
        wait_equal(broker, [(out + ".counts", CT_KEYS, want)], procs, logs)
    finally:
        stop(procs)


def test_scaling_one_to_three_to_two_while_producing(broker, small, tmp_path):
    topic0, path, want = small
    topic = broker.create_topic(partitions=12)
    out = "agg.scale." + uuid.uuid4().hex[:6]
    app = app_id("scale")
    cap = ["--trigger", "300ms", "--set", "max_records_per_trigger=3000"]
    logs = [tmp_path / ("m%d.log" % i) for i in range(3)]
    procs = [member(counts_args(broker, topic, out), app, logs[0], *cap)]
    producer = subprocess.Popen([BIN, "produce", str(path), "--topic", topic, "--bootstrap",
                                 broker.bootstrap, "--key", "crime_id", "--quiet", "--rate",
                                 "4000"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
    try:
        time.sleep(3)
        procs += [member(counts_args(broker, topic, out), app, logs[i], *cap) for i in (1, 2)]
        time.sleep(5)
        procs[1].send_signal(signal.SIGTERM)  # 3 -> 2: it leaves the group cleanly
        assert procs[1].wait(timeout=90) == 0, logs[1].read_text()[-3000:]
        assert producer.wait(timeout=BOUND) == 0
        live = [procs[0], procs[2]]
        wait_equal(broker, [(out + ".counts", CT_KEYS, want)], live, [logs[0], logs[2]])
    finally:
        if producer.poll() is None:
            producer.kill()
        stop([p for p in procs if p.returncode is None])
    assert "revoked" in logs[1].read_text()


def test_explain_names_the_job_topics():
    """explain (nothing connected) says where an aggregation's stages go."""
    p = run(["explain", PIPELINE, "--app", "seedjob", "--set", "output=kafka:o"])
    assert ("stages           2: partial groups of each batch through topic "
            "seedjob-crime_type_counts-repartition, state partitions in compacted topic "
            "seedjob-crime_type_counts-changelog (16 partitions each") in p.stdout, p.stdout
