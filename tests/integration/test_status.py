"""Seeing a job (issue 12): `luastream status --app ID` lists the members
of the job's consumer group from Kafka's admin API (member id, client id,
host, assigned partitions; per partition the committed offset, the end
offset and the lag), and each member's progress reports, /api/queries and
/metrics carry its member id, owned partitions, lag and rebalances.

Two members of a per-record job (tests/integration/app_forward.lua, a Kafka
sink) on a 4-partition topic of 2,000 generated calls, on the session's
single broker; then the job stopped with records left to read, the job's
other groups ("ID-*"), and the mistakes. About 40 s on the 2-core machine
(the unreachable-broker case waits its 10 s bound)."""
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid

import pytest

from conftest import BIN, ROOT, free_port, run

SCRIPT = os.path.join(ROOT, "tests", "integration", "app_forward.lua")
GEN = os.path.join(ROOT, "scripts", "gen_calls.py")
COUNT = 2000
BOUND = 120  # seconds before a wait gives up


def gen(path, count, seed):
    subprocess.run(["python3", GEN, "--count", str(count), "--seed", str(seed), "--format",
                    "ndjson", "--out", str(path)], check=True, capture_output=True, timeout=60)


def produce(broker, topic, path):
    run(["produce", str(path), "--topic", topic, "--bootstrap", broker.bootstrap, "--key",
         "crime_id", "--quiet"])


@pytest.fixture(scope="module")
def calls(broker, tmp_path_factory):
    """A 4-partition topic of COUNT calls, and a file of 100 more."""
    d = tmp_path_factory.mktemp("status")
    gen(d / "calls.jsonl", COUNT, 21)
    gen(d / "more.jsonl", 100, 22)
    topic = broker.create_topic(partitions=4)
    produce(broker, topic, d / "calls.jsonl")
    return topic, d / "more.jsonl"


def app_id(what):
    return "st-%s-%s" % (what, uuid.uuid4().hex[:8])


def job_args(broker, topic, app, out, *more):
    return [SCRIPT, "--app", app, "--set", "bootstrap=" + broker.bootstrap, "--set",
            "topic=" + topic, "--set", "output=" + out, *more]


def status(broker, app, *more, check=True):
    return run(["status", "--app", app, "--bootstrap", broker.bootstrap, *more], check=check,
               timeout=60)


def status_json(broker, app):
    p = status(broker, app, "--json")
    assert p.stdout.count("\n") == 1, p.stdout  # one JSON object, one line
    return json.loads(p.stdout)


def wait_for(broker, app, ok, what):
    """Polls status --json until ok(report) holds; the last report."""
    until = time.time() + BOUND
    last = None
    while time.time() < until:
        p = status(broker, app, "--json", check=False)
        if p.returncode == 0:
            last = json.loads(p.stdout)
            if ok(last):
                return last
        time.sleep(1)
    raise AssertionError("%s: not within %d s; last report: %s" % (what, BOUND, last))


def owned(member):
    return sorted((p["topic"], p["partition"]) for p in member["partitions"])


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.read().decode()


def last_progress(path):
    with open(path, encoding="utf-8") as f:
        lines = [l for l in f if l.strip()]
    assert lines, "no progress report in %s" % path
    return json.loads(lines[-1])


def test_status_lists_members_partitions_and_lag(broker, calls, tmp_path):
    topic, more = calls
    app = app_id("two")
    out = "st.out." + uuid.uuid4().hex[:6]
    ports = [free_port(), free_port()]
    progress = [tmp_path / ("p%d.jsonl" % i) for i in range(2)]
    logs = [tmp_path / ("m%d.log" % i) for i in range(2)]
    procs = [subprocess.Popen([BIN, *job_args(broker, topic, app, out, "--trigger", "200ms",
                                              "--set", "max_records_per_trigger=400",
                                              "--ui", "127.0.0.1:%d" % ports[i],
                                              "--progress", str(progress[i]))],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(logs[i], "w"))
             for i in range(2)]
    try:
        def settled(r):
            g = r["groups"][0]
            return (g["state"] == "Stable" and len(g["members"]) == 2
                    and all(m["partitions"] for m in g["members"])
                    and g["totals"]["partitions"] == 4 and g["totals"]["lag"] == 0
                    and g["totals"]["unknown_lag"] == 0)
        wait_for(broker, app, settled, "two members sharing 4 partitions, all read")
        # more records once the assignment is final: each member runs a batch
        # with what it owns now, so its last report shows it
        produce(broker, topic, more)
        r = wait_for(broker, app, lambda r: settled(r) and
                     sum(p["end"] for m in r["groups"][0]["members"] for p in m["partitions"])
                     == COUNT + 100, "the 100 more records read")
        for p in procs:
            assert p.poll() is None, "a member exited with %s" % p.returncode

        assert r["app"] == app and r["bootstrap"] == broker.bootstrap
        g = r["groups"][0]
        assert g["group"] == app and g["job_group"] is True
        assert g["assignor"] == "cooperative-sticky"
        assert g["coordinator"]["port"] == broker.port
        assert g["unassigned"] == []
        members = {m["member_id"]: m for m in g["members"]}
        assert len(members) == 2
        parts = [tp for m in g["members"] for tp in owned(m)]
        assert sorted(parts) == [(topic, i) for i in range(4)]  # each partition once
        for m in g["members"]:
            assert m["client_id"] and m["host"] and m["lag"] == 0
            for p in m["partitions"]:
                assert p["committed"] == p["end"] and p["lag"] == 0 and p["end"] > 0
        assert len(r["groups"]) == 1  # no other group named <app>-*

        # the table
        text = status(broker, app).stdout
        head = text.splitlines()[0]
        assert head == "job %s: consumer group %s, Stable, 2 members, 4 partitions, lag 0" % (app, app), text
        assert "assignor cooperative-sticky" in text
        assert "MEMBER" in text and "COMMITTED" in text and "LAG" in text
        for mid in members:
            assert mid in text
        assert text.count(topic) == 4
        assert text.rstrip().splitlines()[-1].split() == ["total", "0"]

        # each member's progress report, /api/queries, /metrics and log line
        for i in range(2):
            rep = last_progress(progress[i])["member"]
            assert rep["app"] == app
            mid = rep["memberId"]
            assert mid in members, (mid, list(members))
            assert owned(rep) == owned(members[mid])
            assert rep["lag"] == 0 and rep["rebalances"] >= 1
            api = json.loads(get(ports[i], "/api/queries"))
            assert api[0]["lastProgress"]["member"]["memberId"] == mid
            metrics = get(ports[i], "/metrics")
            assert 'luastream_rebalances_total{app="%s"} ' % app in metrics
            assert 'luastream_owned_partitions{app="%s"} %d\n' % (app, len(rep["partitions"])) in metrics
            for t, p in owned(rep):
                assert 'luastream_consumer_lag{app="%s",topic="%s",partition="%d"} 0\n' % (app, t, p) in metrics
            assert metrics.count("luastream_consumer_lag{") == len(rep["partitions"])
            assert "; member %s owns %s[" % (mid, topic) in logs[i].read_text()
            assert "function owned(m)" in get(ports[i], "/")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            assert p.wait(timeout=60) == 0

    # stopped, with records left to read: no members, the lag is what is left
    produce(broker, topic, more)
    r = wait_for(broker, app, lambda r: r["groups"][0]["state"] == "Empty", "the group empty")
    g = r["groups"][0]
    assert g["members"] == [] and len(g["unassigned"]) == 4
    assert g["totals"] == {"members": 0, "partitions": 4, "lag": 100, "unknown_lag": 0}
    text = status(broker, app).stdout
    assert text.splitlines()[0] == "job %s: consumer group %s, Empty, 0 members, 4 partitions, lag 100" % (app, app)
    assert "no member is running" in text and "(no member)" in text
    assert text.rstrip().splitlines()[-1].split() == ["total", "100"]


def test_status_shows_the_jobs_other_groups(broker, calls):
    """Groups named "<app>-..." (the job's internal groups, once issue 12
    adds them) are shown after the job's own, the same way; "<app>x" is
    another job's."""
    topic, _ = calls
    app = app_id("other")
    for a in (app, app + "-q-repartition"):
        run(job_args(broker, topic, a, "st.o." + uuid.uuid4().hex[:6], "--trigger",
                     "available-now", "--quiet"), timeout=BOUND)
    r = status_json(broker, app)
    assert [g["group"] for g in r["groups"]] == [app, app + "-q-repartition"]
    assert [g["job_group"] for g in r["groups"]] == [True, False]
    for g in r["groups"]:
        assert g["state"] == "Empty" and g["members"] == []
        assert g["totals"]["partitions"] == 4 and g["totals"]["unknown_lag"] == 0
    text = status(broker, app).stdout
    assert "\ngroup %s-q-repartition (name starts with %s-), Empty, 0 members, 4 partitions" % (app, app) in text
    # the internal group alone is a job of its own name, without the other
    r = status_json(broker, app + "-q-repartition")
    assert [g["group"] for g in r["groups"]] == [app + "-q-repartition"]


def test_status_errors_are_clear(broker):
    missing = app_id("missing")
    p = status(broker, missing, check=False)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.startswith("luastream: status: no consumer group %s on %s: no member of job %s "
                               "has run against this cluster" % (missing, broker.bootstrap, missing)), p.stderr
    assert "check --app and --bootstrap" in p.stderr or "did you mean" in p.stderr
    p = status(broker, missing, "--json", check=False)
    assert p.returncode == 1 and p.stdout == ""


@pytest.mark.parametrize("args,code,msg", [
    (["status", "--app", "a/b"], 2, 'luastream: --app "a/b": character 2 (/) is not one of a-z A-Z 0-9 . _ -'),
    (["status", "--app", "x" * 201], 2, "an app id has 1 to 200 characters, got 201"),
    (["status", "--app", ".."], 2, "is not allowed as an app id"),
    (["status", "--app", "x", "--bogus"], 2, "luastream: unknown option --bogus"),
    (["status", "--app", "x", "--jsn"], 2, "unknown option --jsn; did you mean --json?"),
    (["status", "--app", "x", "--topic", "t"], 2, "--topic is an option of produce and consume, not of status"),
    (["status", "--app", "x", "--trigger", "1s"], 2, "--trigger is an option of a script run, not of status"),
    (["status", "--app", "x", "--json", "--json"], 2, "--json is given twice"),
    (["status"], 2, "status needs --app ID"),
    (["status", "extra", "--app", "x"], 2, 'unexpected argument "extra" after status'),
    (["statsu", "--app", "x"], 2, "no script or command statsu; did you mean status?"),
    (["status", "--app", "x", "--kafka", "no.such.property=1"], 2,
     "luastream: status: kafka property no.such.property"),
])
def test_status_usage_errors(args, code, msg):
    p = run(args, check=False, timeout=30)
    assert p.returncode == code, (p.returncode, p.stderr)
    assert msg in p.stderr, p.stderr
    assert p.stdout == ""


def test_status_unreachable_broker():
    port = free_port()  # nothing listens there
    p = run(["status", "--app", "x", "--bootstrap", "127.0.0.1:%d" % port], check=False, timeout=60)
    assert p.returncode == 2, p.stderr
    assert ("luastream: status: cannot reach Kafka at 127.0.0.1:%d within 10.0 s" % port) in p.stderr
    assert "check --bootstrap" in p.stderr
