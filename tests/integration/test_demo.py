"""scripts/demo.sh, the main job, end to end: a newcomer's first command starts a broker,
replays generated calls at a steady rate while scripts/pipeline.lua runs with a
processing-time trigger, prints the web UI's address first, a progress line per batch
with both rates, ends by itself once the pipeline has caught up, prints a summary and
leaves nothing running. The final counts are checked against an independent computation
over the same generated records; --compare-triggers gives one row per trigger; Ctrl-C
(SIGINT) stops it cleanly with a summary."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import KAFKA_SH, RADIO, ROOT, free_port, last_by_key, read_jsonl
import expected

DEMO = os.path.join(ROOT, "scripts", "demo.sh")
GEN = os.path.join(ROOT, "scripts", "gen_calls.py")
PROGRESS_LINE = re.compile(r"^\[(crime_type_counts|disposition_counts)\] batch (\d+): (\d+) rows in \d+ ms "
                           r"\((\d+) rows/s in, (\d+) rows/s processed\).*state (\d+) rows", re.M)


def generated(tmp, count):
    """The records the demo replays, generated here on their own (seed 42, as the demo)."""
    path = os.path.join(str(tmp), "calls.json")
    subprocess.run([sys.executable, GEN, "--count", str(count), "--seed", "42", "--out", path],
                   check=True, capture_output=True)
    return expected.load(path)


def demo_env(base, tmp, **extra):
    env = dict(base, DEMO_DIR=os.path.join(str(tmp), "demo"))
    env.pop("OUTPUT", None)
    env.update(extra)
    return env


def processes_naming(text):
    """Pids of live processes whose command line contains text."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if text.encode() in f.read():
                    out.append(int(pid))
        except OSError:
            pass
    return out


def run_topic(stderr):
    m = re.search(r"^   run (\S+), files in (\S+)$", stderr, re.M)
    assert m, stderr[-3000:]
    return "police.calls." + m.group(1), m.group(2)


def batches(stderr, query="crime_type_counts"):
    """[(batch, rows, rows/s in, rows/s processed, state rows)] of one query's progress lines."""
    return [tuple(int(x) for x in m[1:]) for m in PROGRESS_LINE.findall(stderr) if m[0] == query]


def topics(bootstrap):
    out = subprocess.run(["kcat", "-L", "-b", bootstrap, "-m", "5"], capture_output=True, text=True).stdout
    return re.findall(r'topic "([^"]+)"', out)


def gone(bootstrap, text):
    """True once no topic naming text is listed (a deletion takes a moment to show)."""
    for _ in range(20):
        if not [t for t in topics(bootstrap) if text in t]:
            return True
        time.sleep(0.5)
    return False


def test_the_main_job_streams_ends_by_itself_and_counts_exactly(tmp_path):
    """A broker of its own (the demo starts it and must stop it), 3,000 calls at 1,000
    records/s, trigger 2 seconds (so the replay's end and the last batch seldom meet: a demo
    that stopped the pipeline before it caught up would miss records), rows written as JSON
    lines."""
    port, cport = free_port(), free_port()
    while cport == port:
        cport = free_port()
    kafka = dict(os.environ, KAFKA_PORT=str(port), KAFKA_CONTROLLER_PORT=str(cport),
                 KAFKA_DATA=str(tmp_path / "kafka"))
    out = tmp_path / "out"
    env = demo_env(kafka, tmp_path, DEMO_RATE="1000", DEMO_TRIGGER="2 seconds", OUTPUT="jsonl:%s" % out)
    t0 = time.monotonic()
    try:
        p = subprocess.run([DEMO, "3000"], env=env, capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL, cwd=str(tmp_path))
    finally:
        status = subprocess.run([KAFKA_SH, "status"], env=kafka, capture_output=True, text=True)
        if status.returncode == 0:
            subprocess.run([KAFKA_SH, "stop"], env=kafka, capture_output=True, timeout=120)
    err = p.stderr
    assert p.returncode == 0, err[-4000:]
    assert time.monotonic() - t0 < 150, "the demo did not end by itself in time"

    # The web UI's address comes first, before any set-up step, and is the one luastream serves.
    ui = re.search(r"web UI: (http://127\.0\.0\.1:(\d+)/)", err)
    assert ui and err.index(ui.group(0)) < err.index("== dependencies"), err[:2000]
    assert "luastream: web UI on %s" % ui.group(1) in err

    # The producer replayed at the rate and logged its progress; the pipeline ran batch after
    # batch with both rates, counts growing, every record read.
    assert "luastream produce: done: 3000 records sent, 3000 delivered, 0 errors" in err
    b = batches(err)
    assert len(b) >= 2, err[-4000:]
    assert [x[0] for x in b] == list(range(len(b)))
    assert sum(x[1] for x in b) == 3000
    assert all(x[4] >= 0 for x in b) and any(x[3] > 0 for x in b) and any(x[2] > 0 for x in b)
    states = [x[4] for x in b]
    assert states == sorted(states) and states[0] < states[-1]
    assert len(batches(err, "disposition_counts")) == len(b)

    # The summary, after the last batch.
    summary = err[err.index("== summary: the replay is done and the pipeline has caught up"):]
    assert "records     3000 in %d batches" % len(b) in summary, summary
    assert re.search(r"input +\d+ rows/s on average", summary)
    assert re.search(r"processed +\d+ rows/s on average \(processedRowsPerSecond\); batch duration \d+ ms", summary)
    topic, run_dir = run_topic(err)
    progress = os.path.join(str(tmp_path), run_dir, "progress.jsonl")
    assert "progress    %s" % os.path.join(run_dir, "progress.jsonl") in summary
    assert "%s/crime_type_counts.jsonl" % out in summary
    assert "broker stopped" in summary
    reports = read_jsonl(progress)
    assert {r["batchId"] for r in reports} == set(range(len(b)))

    # The final counts against an independent computation over the same generated records.
    records = generated(tmp_path, 3000)
    crimes = last_by_key(read_jsonl(out / "crime_type_counts.jsonl"),
                         lambda r: (r["window"]["start"], r["window"]["end"], r["original_crime_type_name"]))
    assert {k: r["count"] for k, r in crimes.items()} == dict(expected.crime_type_counts(records))
    disp = last_by_key(read_jsonl(out / "disposition_counts.jsonl"), lambda r: r["disposition"])
    assert {k: (r["description"], r["count"]) for k, r in disp.items()} == \
        expected.disposition_counts(records, expected.load(RADIO))

    # Nothing left running: the broker it started is stopped, no program of the run is alive.
    assert status.stdout.strip() == "stopped", "the demo left its broker running"
    assert processes_naming(topic) == []


def console_batches(text, query):
    """{batch: [row cells]} of one query's console tables."""
    out = {}
    for m in re.finditer(r"^Batch: (\d+) \(%s\)\n-+\n\+[-+]+\+\n\|.*\|\n\+[-+]+\+\n((?:\|.*\|\n)*)" % query,
                         text, re.M):
        out[int(m.group(1))] = [[c.strip() for c in line.strip("|").split("|")]
                                for line in m.group(2).splitlines()]
    return out


def table_rows(stdout):
    rows = []
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 6 and cells[1].isdigit():
            rows.append(cells)
    return rows


def test_compare_triggers_gives_one_row_per_trigger(broker, tmp_path):
    """On a broker that is already running (the suite's): the demo must leave it running.
    Each run's console shows the busiest first; the table's means are those of the runs'
    progress reports."""
    env = demo_env(broker.env, tmp_path, DEMO_RATE="4000")
    p = subprocess.run([DEMO, "--compare-triggers", "500 milliseconds, 1 second", "2000"], env=env,
                       capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr[-4000:]
    rows = table_rows(p.stdout)
    assert [r[0] for r in rows] == ["500 milliseconds", "1 second"], p.stdout
    assert "mean inputRowsPerSecond" in p.stdout and "mean processedRowsPerSecond" in p.stdout
    assert "mean batch duration" in p.stdout
    run_dir = re.search(r"^   run \S+, files in (\S+)$", p.stderr, re.M).group(1)
    records = generated(tmp_path, 2000)
    crime_top = sorted(expected.crime_type_counts(records).values(), reverse=True)[:20]
    disp = expected.disposition_counts(records, expected.load(RADIO))
    disp_top = sorted(((n, d) for d, (_, n) in disp.items()), key=lambda x: (-x[0], x[1]))[:20]
    for i, row in enumerate(rows, 1):
        reports = read_jsonl(os.path.join(ROOT, run_dir, "t%d" % i, "progress.jsonl"))
        first = {}
        for r in reports:
            first.setdefault(r["batchId"], r)
        bs = [first[k] for k in sorted(first)]
        assert int(row[1]) == len(bs) >= 1
        assert int(row[2]) == sum(r["numInputRows"] for r in bs) == 2000
        mean = lambda xs: sum(xs) / len(xs) if xs else 0.0
        assert float(row[3]) == pytest.approx(mean([r["inputRowsPerSecond"] for r in bs[1:]]), abs=0.06)
        assert float(row[4]) == pytest.approx(mean([r["processedRowsPerSecond"] for r in bs]), abs=0.06)
        assert float(row[5]) == pytest.approx(mean([r["durationMs"]["triggerExecution"] for r in bs]), abs=0.06)
        # The console of the run: the last batch's tables, busiest first, are the top 20 of
        # the independent computation.
        with open(os.path.join(ROOT, run_dir, "t%d" % i, "console.txt"), encoding="utf-8") as f:
            console = f.read()
        crimes = console_batches(console, "crime_type_counts")
        last = crimes[max(crimes)]
        assert [int(c[2]) for c in last] == crime_top, console[-3000:]
        disps = console_batches(console, "disposition_counts")
        assert [(int(c[2]), c[0]) for c in disps[max(disps)]] == disp_top
    with open(os.path.join(ROOT, run_dir, "compare.json")) as f:
        assert [r["trigger"] for r in json.load(f)] == ["500 milliseconds", "1 second"]
    assert "already running before the demo: left running" in p.stderr
    assert broker.sh("status").stdout.strip() == "running"
    run_id = os.path.basename(run_dir)
    assert gone(broker.bootstrap, run_id), "the runs' topics were not deleted"


def test_ctrl_c_stops_everything_with_a_summary(broker, tmp_path):
    """SIGINT in the middle of the replay: the producer and the pipeline stop, the summary
    of what was processed is printed, exit 130, nothing of the run left."""
    env = demo_env(broker.env, tmp_path, DEMO_RATE="1000", DEMO_TRIGGER="1 second")
    # Ctrl-C at a terminal signals the whole foreground process group: the demo's shell
    # and whatever it runs in the foreground at that moment (sleep, python). Signalling the
    # shell alone is not what a person does, and bash may then ignore it when its
    # foreground child exits normally (wait-and-cooperative-exit).
    # A runner started in the background (nohup ... &) hands SIGINT down ignored, and a shell
    # cannot trap a signal ignored at its entry: give the demo the disposition a terminal gives.
    p = subprocess.Popen([DEMO, "50000"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, stdin=subprocess.DEVNULL, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    second_batch = threading.Event()

    def read():
        for line in p.stderr:
            lines.append(line)
            if line.startswith("[crime_type_counts] batch 1:"):
                second_batch.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert second_batch.wait(180), "".join(lines)[-3000:]
        os.killpg(p.pid, signal.SIGINT)
        assert p.wait(90) == 130, "".join(lines)[-3000:]
    finally:
        if p.poll() is None:
            p.kill()
    reader.join(10)
    err = "".join(lines)
    assert "== SIGINT: stopping" in err
    assert re.search(r"luastream produce: stopped by SIGINT: \d+ records sent", err), err[-3000:]
    summary = err[err.index("stopped before the end"):]
    n = sum(x[1] for x in batches(err))
    assert 0 < n < 50000
    assert "records     %d in %d batches" % (n, len(batches(err))) in summary, summary
    topic, _ = run_topic(err)
    assert processes_naming(topic) == []
    assert gone(broker.bootstrap, topic)
    assert broker.sh("status").stdout.strip() == "running"
