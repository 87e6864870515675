"""Helpers shared by the tests of aggregations run by a job's members
(test_app_aggregate.py on the session's broker, test_cluster_brokers.py on
three brokers): generated calls in ascending event time, producing them
keyed by call id, starting members, and comparing the last row per key a
read_committed reader sees against a single instance's rows.

Every wait is bounded only so that a hang fails (BOUND seconds); nothing
asserts how long anything took."""
import json
import os
import signal
import subprocess
import time
import uuid

from conftest import BIN, ROOT, run

COUNTS = os.path.join(ROOT, "tests", "integration", "app_counts.lua")
PIPELINE = os.path.join(ROOT, "scripts", "pipeline.lua")
GEN = os.path.join(ROOT, "scripts", "gen_calls.py")
RADIO = os.path.join(os.path.dirname(ROOT), "shared", "data", "radio_code.json")
BOUND = 300  # seconds before a wait gives up

CT_KEYS = ["window", "original_crime_type_name"]
DISP_KEYS = ["disposition", "description"]


def ascending_calls(folder, count, seed, days=45):
    """count generated calls over days days, oldest first, as an ndjson file."""
    raw = folder / ("raw-%d.jsonl" % count)
    subprocess.run(["python3", GEN, "--count", str(count), "--seed", str(seed), "--days",
                    str(days), "--format", "ndjson", "--out", str(raw)], check=True,
                   capture_output=True, timeout=300)
    lines = raw.read_text().splitlines()
    path = folder / ("calls-%d.jsonl" % count)
    path.write_text("\n".join(reversed(lines)) + "\n")
    return path


def produce(broker, path, topic, *more):
    run(["produce", str(path), "--topic", topic, "--bootstrap", broker.bootstrap, "--key",
         "crime_id", "--quiet", *more], timeout=BOUND)


def committed_rows(broker, topic):
    """The rows (decoded JSON values) a read_committed reader sees of topic,
    partition by partition in offset order; [] when there is no such topic."""
    p = subprocess.run(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q",
                        "-X", "isolation.level=read_committed", "-f", "%s\n"],
                       capture_output=True, text=True, timeout=BOUND)
    if p.returncode != 0 and "Unknown topic" in p.stderr:
        return []
    assert p.returncode == 0, p.stderr
    return [json.loads(v) for v in p.stdout.splitlines() if v]


def row_key(row, keys):
    return json.dumps([row.get(k) for k in keys])


def last_rows(broker, topic, keys):
    """The last row per key (a list of column names) of what a read_committed
    reader sees of topic, as {key: row}; and how many rows it read."""
    rows = committed_rows(broker, topic)
    return {row_key(r, keys): r for r in rows}, len(rows)


def radio_path():
    return RADIO if os.path.exists(RADIO) else os.path.join(ROOT, "data", "radio_code.json")


def pipeline_args(broker, topic, out):
    return [PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
            "--set", "output=kafka:" + out, "--set", "radio=" + radio_path()]


def counts_args(broker, topic, out, *more):
    return [COUNTS, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
            "--set", "output=kafka:" + out, *more]


def member(args, app, log, *more, env=None):
    return subprocess.Popen([BIN, *args, "--app", app, *more], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=env)


def wait_equal(broker, outputs, procs, logs):
    """Waits until every (topic, keys, expected) in outputs has exactly the
    expected last rows; returns the rows read per topic."""
    until = time.time() + BOUND
    while True:
        diff = None
        read = {}
        for topic, keys, want in outputs:
            got, n = last_rows(broker, topic, keys)
            read[topic] = n
            if got != want:
                extra = [k for k in got if k not in want or got[k] != want[k]][:3]
                diff = "%s: %d of %d keys equal; e.g. %s" % (
                    topic, sum(1 for k in want if got.get(k) == want[k]), len(want),
                    [(k, got.get(k), want.get(k)) for k in extra])
                break
        if diff is None:
            return read
        for p, l in zip(procs, logs):
            assert p.poll() is None, "a member exited with %s: %s" % (
                p.returncode, open(l).read()[-3000:])
        if time.time() > until:
            raise AssertionError(diff)
        time.sleep(3)


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        assert p.wait(timeout=90) == 0


def app_id(what):
    return "%s-%s" % (what, uuid.uuid4().hex[:8])
