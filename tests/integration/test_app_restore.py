"""Restores that do not read a state partition's whole changelog (issue 12):
a member's checkpoint directory as a cache of its state partitions
(ls_state_cache.h), and standbys (--standbys N) that keep a warm copy of
partitions another member owns (ls_shuffle.h).

Each test checks the job's results exactly (the last row per (window, key)
of its read_committed output against one instance without --app on the same
input, as test_app_aggregate.py does) and, from the member's /metrics, how
many changelog records the restore read. 30,000 generated calls on 12
partitions, in two halves: the second is produced after the restart, so that
the restored state is what the results are built on."""
import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid

from conftest import BIN, ROOT, free_port, run
from apphelp import (BOUND, CT_KEYS, app_id, ascending_calls, counts_args,
                     last_rows, member, produce, stop, wait_equal)


def halves(folder, count, seed):
    path = ascending_calls(folder, count, seed)
    lines = path.read_text().splitlines()
    a, b = folder / "first.jsonl", folder / "second.jsonl"
    a.write_text("\n".join(lines[:count * 2 // 3]) + "\n")
    b.write_text("\n".join(lines[count * 2 // 3:]) + "\n")
    return a, b


def reference(broker, topic):
    ref = "rst.ref." + uuid.uuid4().hex[:6]
    run([*counts_args(broker, topic, ref), "--trigger", "available-now", "--quiet"],
        timeout=BOUND)
    return last_rows(broker, ref + ".counts", CT_KEYS)[0]


def metric(port, name, app):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        text = r.read().decode()
    m = re.search(r'%s\{app="%s"\} ([0-9.e+]+)' % (name, re.escape(app)), text)
    assert m, "%s not in /metrics:\n%s" % (name, text[-3000:])
    return float(m.group(1))


def changelog_records(broker, topic):
    """Records a read_committed reader sees in topic (every partition)."""
    p = subprocess.run(["kcat", "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q",
                        "-X", "isolation.level=read_committed", "-f", "%o\n"],
                       capture_output=True, text=True, timeout=BOUND)
    assert p.returncode == 0, p.stderr
    return len(p.stdout.split())


def cache_run(broker, tmp_path, spoil=None, kill=False):
    """One member with --checkpoint runs over the first part and stops (kill:
    is killed with kill -9 instead); spoil (if given) is applied to its
    cache; it restarts on the same directory, the second part is produced,
    and its results must be exact. Returns the second run's log, its metrics
    and the changelog's record count."""
    first, second = halves(tmp_path, 30000, 21)
    topic = broker.create_topic(partitions=12)
    out = "rst.cache." + uuid.uuid4().hex[:6]
    app = app_id("cache")
    ckpt = tmp_path / "ckpt"
    cap = ["--trigger", "300ms", "--set", "max_records_per_trigger=4000", "--checkpoint", str(ckpt)]
    produce(broker, first, topic)
    want = reference(broker, topic)
    log1 = tmp_path / "m1.log"
    procs = [member(counts_args(broker, topic, out), app, log1, *cap)]
    try:
        wait_equal(broker, [(out + ".counts", CT_KEYS, want)], procs, [log1])
        if kill:
            procs[0].kill()
            assert procs[0].wait(timeout=30) == -signal.SIGKILL
    finally:
        stop([p for p in procs if p.poll() is None])
    files = sorted(os.listdir(ckpt / "state-cache"))
    assert files == sorted("counts.%d" % p for p in range(8)), files
    if spoil:
        spoil(ckpt / "state-cache")
    produce(broker, second, topic)
    want = reference(broker, topic)
    port = free_port()
    log2 = tmp_path / "m2.log"
    procs = [member(counts_args(broker, topic, out), app, log2, *cap,
                    "--ui", "127.0.0.1:%d" % port)]
    try:
        wait_equal(broker, [(out + ".counts", CT_KEYS, want)], procs, [log2])
        figures = {k: metric(port, "luastream_" + k, app) for k in (
            "state_partitions_owned", "state_restores_total", "restored_records_total",
            "restored_from_cache_total")}
    finally:
        stop(procs)
    return log2.read_text(), figures, changelog_records(broker, app + "-counts-changelog")


def test_a_member_restarted_on_its_checkpoint_restores_from_its_cache(broker, tmp_path):
    text, f, changelog = cache_run(broker, tmp_path)
    assert f["state_partitions_owned"] == 8 and f["state_restores_total"] == 8, f
    assert f["restored_from_cache_total"] == 8, (f, text[-3000:])
    # the snapshots were saved at the run's end: next to nothing is read
    assert f["restored_records_total"] * 4 < changelog, (f, changelog)
    assert "8 from the state cache" in text, text[-3000:]
    assert "warning" not in text, text[-3000:]


def test_a_member_killed_restores_from_its_last_periodic_snapshots(broker, tmp_path):
    """kill -9: no snapshot at the run's end, those of the last save (at most
    one every 5 s, after a committed batch) stand for an earlier offset, and
    the restore reads the changelog from there: exact all the same."""
    text, f, changelog = cache_run(broker, tmp_path, kill=True)
    assert f["state_restores_total"] == 8 and f["restored_from_cache_total"] == 8, (f, text[-3000:])
    assert f["restored_records_total"] < changelog, (f, changelog)
    assert "warning" not in text, text[-3000:]


def test_a_spoiled_cache_falls_back_to_the_whole_changelog(broker, tmp_path):
    def spoil(folder):
        with open(folder / "counts.0", "r+b") as f:  # one byte flipped
            f.seek(40)
            b = f.read(1)
            f.seek(40)
            f.write(bytes([b[0] ^ 0x55]))
        with open(folder / "counts.1", "r+b") as f:  # cut short
            f.truncate(os.path.getsize(folder / "counts.1") // 2)
        (folder / "counts.2").write_bytes(b"LSSC not a snapshot")

    text, f, changelog = cache_run(broker, tmp_path, spoil)
    assert f["state_restores_total"] == 8, f
    assert f["restored_from_cache_total"] == 5, (f, text[-3000:])
    assert f["restored_records_total"] > 0, f
    for p in (0, 1, 2):
        assert re.search(r"warning: app \S+: state cache \S+counts\.%d not used: .*state "
                         r"partition %d of query counts is restored from its whole changelog"
                         % (p, p), text), text[-3000:]
    assert "checksum" in text


def wait_metric(port, name, app, ok, procs, logs):
    until = time.time() + BOUND
    while True:
        try:
            v = metric(port, name, app)
        except AssertionError:  # not reported yet
            v = None
        if v is not None and ok(v):
            return v
        for p, l in zip(procs, logs):
            assert p.poll() is None, open(l).read()[-3000:]
        assert time.time() < until, "%s stayed %s" % (name, v)
        time.sleep(1)


def test_with_a_standby_a_killed_members_partitions_restore_from_the_copy(broker, tmp_path):
    """Two members with --standbys 1: each keeps a copy of the other's state
    partitions. The one that owns the most state partitions is killed (the
    group may give one member all of them: it balances partitions over all
    topics, not per topic): the survivor takes them and reads next to
    nothing of their changelogs; the results are exact."""
    first, second = halves(tmp_path, 30000, 22)
    topic = broker.create_topic(partitions=12)
    out = "rst.standby." + uuid.uuid4().hex[:6]
    app = app_id("standby")
    cap = ["--trigger", "300ms", "--set", "max_records_per_trigger=4000", "--standbys", "1"]
    produce(broker, first, topic)
    want = reference(broker, topic)
    ports = [free_port(), free_port()]
    logs = [tmp_path / "m0.log", tmp_path / "m1.log"]
    procs = [member(counts_args(broker, topic, out), app, logs[i], *cap,
                    "--ui", "127.0.0.1:%d" % ports[i]) for i in range(2)]
    try:
        wait_equal(broker, [(out + ".counts", CT_KEYS, want)], procs, logs)
        # every state partition owned, each member holding a copy of the
        # other's, caught up
        until = time.time() + BOUND
        while True:
            try:
                f = [{k: metric(ports[i], "luastream_" + k, app) for k in (
                    "state_partitions_owned", "standby_partitions", "standby_lag_records")}
                    for i in range(2)]
            except AssertionError:  # not reported yet
                f = None
            owned = [f[i]["state_partitions_owned"] for i in range(2)] if f else [0, 0]
            if f and (sum(owned) == 8 and
                      all(f[i]["standby_partitions"] == owned[1 - i] and
                          f[i]["standby_lag_records"] == 0 for i in range(2))):
                break
            for p, l in zip(procs, logs):
                assert p.poll() is None, open(l).read()[-3000:]
            assert time.time() < until, f
            time.sleep(1)
        victim = 0 if owned[0] >= owned[1] else 1
        survivor = 1 - victim
        read0 = metric(ports[survivor], "luastream_restored_records_total", app)
        taken0 = metric(ports[survivor], "luastream_restored_from_standby_total", app)
        procs[victim].kill()
        assert procs[victim].wait(timeout=30) == -signal.SIGKILL
        produce(broker, second, topic)
        want = reference(broker, topic)
        alive, alive_log = procs[survivor:survivor + 1], logs[survivor:survivor + 1]
        wait_equal(broker, [(out + ".counts", CT_KEYS, want)], alive, alive_log)
        wait_metric(ports[survivor], "luastream_state_partitions_owned", app, lambda v: v == 8,
                    alive, alive_log)
        taken = metric(ports[survivor], "luastream_restored_from_standby_total", app) - taken0
        read = metric(ports[survivor], "luastream_restored_records_total", app) - read0
        standby = metric(ports[survivor], "luastream_standby_partitions", app)
    finally:
        stop([p for p in procs if p.poll() is None])
    changelog = changelog_records(broker, app + "-counts-changelog")
    text = logs[survivor].read_text()
    assert taken == owned[victim], (taken, owned, text[-3000:])
    assert read * 4 < changelog, (read, changelog, text[-3000:])
    assert standby == 0  # nobody left to stand by for
    assert "from standby copies" in text, text[-3000:]
