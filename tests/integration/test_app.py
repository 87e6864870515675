"""Members of one job (issue 12, first slice): every luastream started with
the same --app ID is a member of consumer group ID; the group assigns the
input partitions (cooperative-sticky) and each batch is one Kafka
transaction holding its output and its consumed offsets (exactly-once v2).

A 12-partition topic of 30,000 generated calls is read by a per-record job
(a `where` in C, a `map` in Lua, a Kafka sink: tests/integration/app_forward.lua).
What a read_committed reader sees of the output must be exactly the
expected rows, each once: with three members, with one of them killed
(kill -9) and restarted mid-run, and with one member alone (the same rows).
Two app ids on one topic are two jobs, each seeing every record. An
aggregating query runs in two stages (test_app_aggregate.py).

On the session's single broker, and the kill test once more on the
three-broker cluster (scripts/kafka.sh start --brokers 3). About 60 s on
one broker on the 2-core machine, most of it the kill test's wait for the
killed member's session (6 s) and open transaction (10 s) to expire, plus
the three-broker test. Waits are bounded only so that a hang fails."""
import collections
import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import BIN, ROOT, Cluster, run
from apphelp import app_id, stop

SCRIPT = os.path.join(ROOT, "tests", "integration", "app_forward.lua")
GEN = os.path.join(ROOT, "scripts", "gen_calls.py")
COUNT = 30000
BOUND = 150  # seconds before a wait gives up


def produce_calls(broker, folder):
    """A 12-partition topic of COUNT generated calls: (topic, the expected
    rows as a Counter of JSON texts)."""
    path = folder / "calls.jsonl"
    subprocess.run(["python3", GEN, "--count", str(COUNT), "--seed", "12", "--format", "ndjson",
                    "--out", str(path)], check=True, capture_output=True, timeout=120)
    topic = broker.create_topic(partitions=12)
    run(["produce", str(path), "--topic", topic, "--bootstrap", broker.bootstrap,
         "--key", "crime_id", "--quiet"])
    want = collections.Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["disposition"] != "ND":
                want[json.dumps({"disposition": r["disposition"], "id": r["crime_id"],
                                 "type": r["original_crime_type_name"]}, sort_keys=True)] += 1
    assert 0 < sum(want.values()) < COUNT
    return topic, want


@pytest.fixture(scope="module")
def calls(broker, tmp_path_factory):
    return produce_calls(broker, tmp_path_factory.mktemp("app"))


def committed_rows(broker, topic):
    """The values a read_committed reader sees, as a Counter of JSON texts."""
    p = subprocess.run(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q",
                        "-X", "isolation.level=read_committed", "-f", "%s\n"],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0 and "Unknown topic" in p.stderr:
        return collections.Counter()
    assert p.returncode == 0, p.stderr
    return collections.Counter(json.dumps(json.loads(v), sort_keys=True)
                               for v in p.stdout.splitlines() if v)


def args(broker, topic, app, out, *more):
    return [SCRIPT, "--app", app, "--set", "bootstrap=" + broker.bootstrap, "--set",
            "topic=" + topic, "--set", "output=" + out, *more]


def member(broker, topic, app, out, log, per_trigger=300):
    """A streaming member (200 ms trigger, a few hundred records a batch so
    that the run lasts long enough to kill one mid-run)."""
    return subprocess.Popen([BIN, *args(broker, topic, app, out, "--trigger", "200ms", "--set",
                                        "max_records_per_trigger=%d" % per_trigger)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(log, "w"))


def wait_rows(broker, out, n, procs):
    until = time.time() + BOUND
    got = collections.Counter()
    while time.time() < until:
        got = committed_rows(broker, out)
        if sum(got.values()) >= n:
            return got
        for p in procs:
            assert p.poll() is None, "a member exited with %s" % p.returncode
        time.sleep(1)
    raise AssertionError("only %d of %d rows after %d s" % (sum(got.values()), n, BOUND))


def test_three_members_write_exactly_what_one_instance_writes(broker, calls, tmp_path):
    topic, want = calls
    n = sum(want.values())
    # one member alone, available-now: as a run without --app
    single = "app.single." + uuid.uuid4().hex[:6]
    run(args(broker, topic, app_id("single"), single, "--trigger", "available-now", "--quiet"),
        timeout=BOUND)
    assert committed_rows(broker, single) == want
    # and as today without --app (a checkpoint makes its sink exactly once)
    plain = "app.plain." + uuid.uuid4().hex[:6]
    run([SCRIPT, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic, "--set",
         "output=" + plain, "--trigger", "available-now", "--quiet", "--checkpoint",
         str(tmp_path / "ck")], timeout=BOUND)
    assert committed_rows(broker, plain) == want
    # three members of one job: one first, two more once it is writing, so
    # that the group takes partitions from it (cooperative: while it reads)
    out = "app.three." + uuid.uuid4().hex[:6]
    app = app_id("three")
    logs = [tmp_path / ("m%d.log" % i) for i in range(3)]
    procs = [member(broker, topic, app, out, logs[0])]
    try:
        wait_rows(broker, out, n // 10, procs)
        procs += [member(broker, topic, app, out, logs[i]) for i in (1, 2)]
        got = wait_rows(broker, out, n, procs)
        time.sleep(1)  # a duplicate would come now
        got = committed_rows(broker, out)
    finally:
        stop(procs)
    assert got == want
    # the group shared the partitions: more than one member wrote batches
    busy = [l for l in logs if "rows in" in l.read_text()]
    assert len(busy) >= 2, [l.read_text()[-2000:] for l in logs]
    for l in logs:
        assert "assigned" in l.read_text()
    assert "revoked 8 partitions" in logs[0].read_text(), logs[0].read_text()[-3000:]


def kill_and_restart_one_of_three(broker, topic, want, tmp_path):
    n = sum(want.values())
    out = "app.kill." + uuid.uuid4().hex[:6]
    app = app_id("kill")
    procs = [member(broker, topic, app, out, tmp_path / ("m%d.log" % i)) for i in range(3)]
    try:
        wait_rows(broker, out, n // 4, procs)
        procs[1].kill()  # kill -9, a transaction likely open
        assert procs[1].wait(timeout=30) == -signal.SIGKILL
        procs[1] = member(broker, topic, app, out, tmp_path / "m1-restarted.log")
        got = wait_rows(broker, out, n, procs)
        time.sleep(2)
        got = committed_rows(broker, out)
    finally:
        stop([p for p in procs if p.returncode is None])
    dup = {k: c for k, c in got.items() if c > want.get(k, 0)}
    assert not dup, list(dup.items())[:5]
    assert got == want


def test_a_member_killed_and_restarted_loses_and_doubles_nothing(broker, calls, tmp_path):
    topic, want = calls
    kill_and_restart_one_of_three(broker, topic, want, tmp_path)


def test_on_three_brokers_a_member_killed_and_restarted_loses_and_doubles_nothing(tmp_path):
    """The same on the three-broker cluster (replication factor 3 for the
    input, the output, the group's offsets and the transaction state): the
    one test of this file that pays for three brokers (about 60 s more)."""
    c = Cluster(str(tmp_path))
    assert c.start() == c.bootstrap
    try:
        topic, want = produce_calls(c, tmp_path)
        kill_and_restart_one_of_three(c, topic, want, tmp_path)
    finally:
        c.sh("stop")


def test_an_aborted_batch_is_read_again_from_the_committed_offsets(broker, calls):
    """What a member does when its transaction must abort (fenced by a
    rebalance, refused by a broker), forced on batch 2: the transaction
    aborts, the source goes back to the group's committed offsets and the
    batch's records are read again: exact, once."""
    topic, want = calls
    out = "app.abort." + uuid.uuid4().hex[:6]
    p = run(args(broker, topic, app_id("abort"), out, "--trigger", "available-now", "--set",
                 "max_records_per_trigger=3000", "--quiet"), timeout=BOUND,
            env=dict(os.environ, LUASTREAM_TEST_ABORT_BATCH="2"))
    assert "batch 2 aborted (LUASTREAM_TEST_ABORT_BATCH): its records will be read again" in p.stderr
    assert committed_rows(broker, out) == want


def test_two_app_ids_on_one_topic_are_two_jobs(broker, calls, tmp_path):
    topic, want = calls
    outs = ["app.two%d.%s" % (i, uuid.uuid4().hex[:6]) for i in range(2)]
    procs = [subprocess.Popen([BIN, *args(broker, topic, app_id("two%d" % i), outs[i],
                                          "--trigger", "available-now", "--quiet")],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=BOUND)
        assert p.returncode == 0, err
    for o in outs:
        assert committed_rows(broker, o) == want


def test_what_a_member_of_a_job_cannot_do_yet_is_refused(broker, calls, tmp_path):
    topic, _ = calls
    bs = ["--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic]
    # an aggregation sorted for the console (order_by): no member holds the
    # whole result (aggregations themselves run: test_app_aggregate.py)
    p = run(["scripts/pipeline.lua", "--app", "agg", *bs], check=False, timeout=60)
    assert p.returncode == 2, p.stderr
    assert "order_by and limit with app id agg: each member holds only its state partitions" in p.stderr
    assert "pipeline.lua:" in p.stderr  # at the query's line
    # an aggregation with a bounded trigger: a member could stop before the
    # partial groups the others send it arrive
    p = run(["scripts/pipeline.lua", "--app", "agg", *bs, "--set", "output=kafka:agg.out",
             "--trigger", "available-now"], check=False, timeout=60)
    assert p.returncode != 0, p.stderr
    assert "need a processing-time trigger" in p.stderr, p.stderr
    # (a checkpoint is a member's state cache: test_app_restore.py) standbys
    # without an app id: nothing to stand by for
    p = run([SCRIPT, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
             "--standbys", "1"], check=False)
    assert p.returncode == 2, p.stderr
    assert "--standbys 1 without an app id" in p.stderr and "--app ID" in p.stderr, p.stderr
    # bad ids, on the command line and in the script
    p = run([SCRIPT, "--app", "a/b"], check=False)
    assert p.returncode == 2
    assert p.stderr.startswith('luastream: --app "a/b": character 2 (/) is not one of')
    bad = tmp_path / "bad.lua"
    bad.write_text('local ls = require "luastream"\n\nls.app "job 1"\n')
    p = run(["bad.lua"], check=False, cwd=tmp_path)
    assert p.returncode == 2
    assert 'bad.lua:3: ls.app "job 1": character 4 (" ") is not one of' in p.stderr, p.stderr
    # a per-record query's jsonl sink: its rows have no state partition to
    # keep a file by (an aggregation's writes DIR/<query>/part-<p>.jsonl:
    # test_app_files.py); the Kafka sink is named as the alternative
    js = tmp_path / "js.lua"
    js.write_text('local ls = require "luastream"\nls.app "js"\n'
                  'local s = ls.kafka_source { topic = ls.param("topic", "t"), '
                  'bootstrap = ls.param("bootstrap", "b") }\n'
                  'ls.query "q" { from = s, sink = ls.jsonl_sink("%s") }\n' % (tmp_path / "o"))
    p = run(["js.lua", *bs], check=False, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert "a jsonl sink for a per-record query with app id js" in p.stderr, p.stderr
    assert "use a Kafka sink" in p.stderr and "part-<p>.jsonl" in p.stderr, p.stderr
    assert "js.lua:4:" in p.stderr
    assert not (tmp_path / "o").exists()
    # explain shows the group and the transactions, having connected to nothing
    p = run(["explain", SCRIPT, "--app", "shown", "--json"])
    plan = json.loads(p.stdout)
    assert plan["sources"][0]["group_id"] == "shown"
    assert plan["queries"][0]["sink"]["exactly_once"] is True
    assert plan["queries"][0]["sink"]["transactional_id"].startswith("shown-")


def test_a_batch_longer_than_half_the_transaction_timeout_ends_early(broker, calls, tmp_path):
    """A member's batch must commit within its transaction timeout (10 s):
    one that would read longer (no max_records_per_trigger, a slow map)
    ends its reading at half of it, says so once, and the next batch reads
    on: exact, once. Without this the broker aborts the transaction and
    fences the member (a fatal error)."""
    topic, want = calls
    slow = tmp_path / "slow.lua"
    with open(SCRIPT) as f:  # about 0.4 ms of CPU a record: 30,000 records take 12 s
        slow.write_text(f.read().replace(
            "map = function(r, meta)\n",
            "map = function(r, meta)\n"
            "    local t0 = os.clock(); while os.clock() - t0 < 0.0004 do end\n"))
    out = "app.slow." + uuid.uuid4().hex[:6]
    p = run([str(slow), "--app", app_id("slow"), "--set", "bootstrap=" + broker.bootstrap,
             "--set", "topic=" + topic, "--set", "output=" + out,
             "--trigger", "available-now"], timeout=BOUND)
    assert p.stderr.count("half the transaction timeout: it ends there") == 1, p.stderr[-3000:]
    assert committed_rows(broker, out) == want
