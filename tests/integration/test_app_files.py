"""File sinks of a job's aggregations (issue 12): under --app a jsonl sink
writes DIR/<query>/part-<p>.jsonl, one file per state partition, appended by
whichever member owns the partition (src/io/ls_sink_parts.h). Each part's
committed length travels in the partition's changelog, in the batch's
transaction; a member that comes to own a partition cuts its file back to it,
so the rows of a batch that did not commit (an aborted transaction, a member
killed with kill -9) are dropped.

The reference is one instance without --app writing DIR/counts.jsonl (one
batch, nothing late): the last row per (window, key) of the union of the part
files must equal its rows exactly. 30,000 generated calls in ascending event
time on 12 partitions (test_app_aggregate.py's generator and query)."""
import json
import os
import random
import re
import signal
import subprocess
import time
import uuid

import pytest

from conftest import BIN, ROOT, run
from apphelp import CT_KEYS, COUNTS, app_id, ascending_calls, produce, stop

BOUND = 300  # seconds before a wait gives up


def counts_args(broker, topic, out, *more):
    return [COUNTS, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
            "--set", "output=jsonl:" + str(out), *more]


def last_rows_of(paths):
    """The last row per key over the files (a key lives in one part file:
    the file's last line for it is its row); and the rows read."""
    last, n = {}, 0
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # a batch being written
                r = json.loads(line)
                last[json.dumps([r.get(k) for k in CT_KEYS])] = r
                n += 1
    return last, n


def parts(folder):
    return sorted(str(folder / f) for f in os.listdir(folder) if f.startswith("part-"))


def member(args, app, log, env=None):
    return subprocess.Popen([BIN, *args, "--app", app], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=open(log, "w"), env=dict(os.environ, **(env or {})))


def wait_files_equal(folder, want, procs, logs):
    until = time.time() + BOUND
    while True:
        got, n = last_rows_of(parts(folder)) if folder.exists() else ({}, 0)
        if got == want:
            return n
        for p, l in zip(procs, logs):
            assert p.poll() is None, "a member exited with %s: %s" % (
                p.returncode, open(l).read()[-3000:])
        if time.time() > until:
            bad = [k for k in want if got.get(k) != want[k]][:3]
            raise AssertionError("%d of %d keys equal; e.g. %s" % (
                len(want) - len([k for k in want if got.get(k) != want[k]]), len(want),
                [(k, got.get(k), want[k]) for k in bad]))
        time.sleep(2)


@pytest.fixture(scope="module")
def calls(broker, tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    path = ascending_calls(folder, 30000, 9)
    topic = broker.create_topic(partitions=12)
    produce(broker, path, topic)
    ref = folder / "ref"
    run([*counts_args(broker, topic, ref), "--trigger", "available-now", "--quiet"],
        timeout=BOUND)
    want, _ = last_rows_of([str(ref / "counts.jsonl")])
    assert len(want) > 5000
    return topic, want


def test_three_members_write_part_files_whose_union_is_the_instances_output(
        broker, calls, tmp_path):
    """Three members on one shared directory, one of them killed with kill -9
    at a random moment and restarted: DIR/counts/part-<p>.jsonl, p < 8 (the
    query's partitions), whose last rows per key are the single instance's."""
    topic, want = calls
    out = tmp_path / "shared"
    app = app_id("files")
    cap = ["--trigger", "300ms", "--set", "max_records_per_trigger=1500"]
    logs = [tmp_path / ("m%d.log" % i) for i in range(3)]
    procs = [member(counts_args(broker, topic, out, *cap), app, logs[i]) for i in range(3)]
    rnd = random.Random(5)
    try:
        time.sleep(rnd.uniform(3, 6))
        procs[1].kill()
        assert procs[1].wait(timeout=30) == -signal.SIGKILL
        logs[1] = tmp_path / "m1-again.log"
        procs[1] = member(counts_args(broker, topic, out, *cap), app, logs[1])
        wait_files_equal(out / "counts", want, procs, logs)
    finally:
        stop(procs)
    names = sorted(os.listdir(out / "counts"))
    assert "_id" in names
    assert all(re.fullmatch(r"part-[0-7]\.jsonl", n) for n in names if n != "_id"), names
    assert len(names) > 4, names  # the rows spread over the state partitions
    assert (out / "counts" / "_id").read_text().split()[2] == app
    # no stray file beside the query's folder (dead letters, if any, go to DIR)
    assert set(os.listdir(out)) <= {"counts", "dead_letter.jsonl"}, os.listdir(out)
    # stopped cleanly, the files still hold exactly the result
    assert last_rows_of(parts(out / "counts"))[0] == want


def test_an_aborted_batch_is_cut_from_the_part_files(broker, calls, tmp_path):
    """One member whose batch 2 aborts after its rows reached the files (as a
    broker refusing the commit would): it rebuilds its state partitions and
    cuts each part file back to the length its changelog committed, then
    reads the batch again: exact, and the cut is logged. A second member on
    the same directory with another app id is refused."""
    topic, want = calls
    out = tmp_path / "one"
    app = app_id("cut")
    log = tmp_path / "m.log"
    cap = ["--trigger", "300ms", "--set", "max_records_per_trigger=4000"]
    p = member(counts_args(broker, topic, out, *cap), app, log,
               env={"LUASTREAM_TEST_ABORT_BATCH": "2"})
    try:
        wait_files_equal(out / "counts", want, [p], [log])
        other = run([*counts_args(broker, topic, out), "--app", app_id("other")], check=False,
                    timeout=60)
        assert other.returncode != 0
        assert "holds the output of app %s" % app in other.stderr, other.stderr
    finally:
        stop([p])
    text = log.read_text()
    assert "LUASTREAM_TEST_ABORT_BATCH" in text, text[-3000:]
    assert re.search(r"part-\d\.jsonl: cut back from \d+ to \d+ bytes", text), text[-3000:]


def test_a_directory_per_machine_holds_what_its_members_committed(broker, calls, tmp_path):
    """Two members with directories of their own (as on two machines without
    a shared filesystem): member B starts first, A joins (partitions move
    from B to A), then B stops (the rest move to A). Each partition moved at
    most once, from B to A, so B's files then A's, last row per key, are the
    result; A notes that partitions were also written elsewhere."""
    topic, want = calls
    dirs = [tmp_path / "machine-a", tmp_path / "machine-b"]
    app = app_id("dirs")
    cap = ["--trigger", "300ms", "--set", "max_records_per_trigger=1000"]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    b = member(counts_args(broker, topic, dirs[1], *cap), app, logs[1])
    procs = [b]
    try:
        until = time.time() + BOUND
        while not (dirs[1] / "counts").exists() or \
                sum(os.path.getsize(f) for f in parts(dirs[1] / "counts")) < 20000:
            assert b.poll() is None and time.time() < until, logs[1].read_text()[-3000:]
            time.sleep(0.5)
        a = member(counts_args(broker, topic, dirs[0], *cap), app, logs[0])
        procs.append(a)
        time.sleep(4)
        stop([b])
        procs = [a]
        until = time.time() + BOUND
        while True:
            ordered = parts(dirs[1] / "counts") + parts(dirs[0] / "counts")
            got, _ = last_rows_of(ordered)
            if got == want:
                break
            assert a.poll() is None, logs[0].read_text()[-3000:]
            assert time.time() < until, "%d of %d keys equal" % (
                sum(1 for k in want if got.get(k) == want[k]), len(want))
            time.sleep(2)
    finally:
        stop([p for p in procs if p.returncode is None])
    ids = [(d / "counts" / "_id").read_text().split()[1] for d in dirs]
    assert ids[0] != ids[1]  # a directory each: lengths committed per directory
    assert "also written to a file sink directory other than" in logs[0].read_text()


def test_explain_names_the_part_files():
    p = run(["explain", COUNTS, "--app", "f", "--set", "output=jsonl:out"])
    assert ("JSON lines appended to out/counts/part-<p>.jsonl, one file per state partition"
            in p.stdout), p.stdout
    p = run(["explain", COUNTS, "--app", "f", "--set", "output=jsonl:out", "--json"])
    sink = json.loads(p.stdout)["queries"][0]["sink"]
    assert sink["path"] == "out/counts/part-<p>.jsonl" and sink["per_partition"] is True
    assert sink["exactly_once"] is True


def test_a_member_restored_from_its_state_cache_keeps_the_part_files(broker, calls, tmp_path):
    """A member with a checkpoint directory (its state cache) stopped midway
    and started again restores its state partitions from the cache's
    snapshots, which carry each part file's committed length: the files are
    kept and appended to (a snapshot without the length would cut them back
    to nothing, losing the rows of the first run): exact."""
    topic, want = calls
    out = tmp_path / "cached"
    app = app_id("fcache")
    args = counts_args(broker, topic, out, "--trigger", "300ms", "--checkpoint",
                       str(tmp_path / "ck"), "--set", "max_records_per_trigger=1000")
    logs = [tmp_path / "first.log", tmp_path / "again.log"]
    p = member(args, app, logs[0])
    cache = tmp_path / "ck" / "state-cache"
    try:
        until = time.time() + BOUND  # the first snapshots saved (every 5 s at most)
        while not (cache.exists() and len(os.listdir(cache)) >= 8):
            assert p.poll() is None and time.time() < until, logs[0].read_text()[-3000:]
            time.sleep(0.5)
    finally:
        stop([p])
    first, _ = last_rows_of(parts(out / "counts"))
    assert 0 < len(first) < len(want)  # stopped midway
    p = member(args, app, logs[1])
    try:
        wait_files_equal(out / "counts", want, [p], logs[1:])
    finally:
        stop([p])
    text = logs[1].read_text()
    assert "8 from the state cache" in text, text[-3000:]
    assert not re.search(r"cut back from \d+ to 0 bytes", text), text[-3000:]
