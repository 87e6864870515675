"""File sources (ls.file_source) end to end: files present at start and files
arriving while the job runs, each read once; every format; dead letters
naming the file and line; max_files_per_trigger in the progress reports;
exactly the same output after kill -9 at random moments with a
checkpoint. No broker needed: a file source and a file sink."""
import json
import os
import random
import signal
import subprocess
import time

from conftest import BIN, ROOT, read_jsonl, run


def script(tmp_path, text, name="job.lua"):
    path = tmp_path / name
    path.write_text("local ls = require 'luastream'\n" + text)
    return str(path)


def drop(folder, name, records):
    """Writes a file beside the landing folder, then moves it in (atomic, as
    file sources expect)."""
    tmp = folder.parent / (".part-" + name)
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
    os.rename(tmp, folder / name)


def rows_so_far(path):
    """Complete lines written so far (the job is still running)."""
    if not path.exists():
        return 0
    return path.read_text().count("\n")


def test_formats_dead_letters_and_metadata(tmp_path):
    land = tmp_path / "in"
    land.mkdir()
    (land / "a.json").write_text('[\n {"k": "x", "n": 1},\n {"k": "y", "n": 2},\n 7\n]\n')
    (land / "b.ndjson").write_text('{"k": "x", "n": 3}\n\nnot json\n{"k": "z", "n": 4}\n')
    (land / "c.log").write_text("first line\nsecond \"quoted\" line\n")
    (land / ".hidden.json").write_text('[{"k": "hidden"}]')
    out = tmp_path / "out"
    path = script(tmp_path, """
local docs = ls.file_source { path = "%s/*.json" }
local lines = ls.file_source { path = "%s/*.ndjson" }
local logs = ls.file_source { path = "%s/*.log" }
ls.query "sums" { from = docs, group_by = { "k" }, aggregate = { ls.sum("n") },
                  output_mode = "complete", sink = ls.jsonl_sink("%s") }
ls.query "recs" { from = lines, map = function(r, meta)
                    return { k = r.k, file = meta.file:match("[^/]+$"), line = meta.line } end,
                  sink = ls.jsonl_sink("%s") }
ls.query "logs" { from = logs, sink = ls.jsonl_sink("%s") }
""" % (land, land, land, out, out, out))
    run([path, "--trigger", "available-now", "--quiet"])
    assert sorted((r["k"], r["sum(n)"]) for r in read_jsonl(out / "sums.jsonl")) == \
        [("x", 1.0), ("y", 2.0)]
    assert read_jsonl(out / "recs.jsonl") == [
        {"k": "x", "file": "b.ndjson", "line": 1}, {"k": "z", "file": "b.ndjson", "line": 4}]
    assert read_jsonl(out / "logs.jsonl") == [
        {"value": "first line"}, {"value": 'second "quoted" line'}]
    dead = read_jsonl(out / "dead_letter.jsonl")
    assert [(os.path.basename(d["file"]), d["line"]) for d in dead] == [("a.json", 4), ("b.ndjson", 3)]
    assert all("topic" not in d for d in dead)
    assert dead[0]["error"] == "not a JSON object" and dead[1]["value"] == "not json"


def test_new_files_are_read_once_as_they_arrive(tmp_path):
    land = tmp_path / "landing"
    land.mkdir()
    drop(land, "f0.ndjson", [{"i": 0}, {"i": 1}])
    out, progress = tmp_path / "out", tmp_path / "progress.jsonl"
    path = script(tmp_path, """
local f = ls.file_source { path = "%s", format = "ndjson", polling = "100ms", max_files_per_trigger = 1 }
ls.query "rows" { from = f, sink = ls.jsonl_sink("%s") }
""" % (land, out))
    p = subprocess.Popen([BIN, path, "--trigger", "200ms", "--progress", str(progress), "--quiet"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for n in range(1, 4):
            time.sleep(0.3)
            drop(land, "f%d.ndjson" % n, [{"i": 2 * n}, {"i": 2 * n + 1}])
        # a file that grows after it was read is not read again (Spark's rule)
        deadline = time.time() + 20
        while time.time() < deadline and rows_so_far(out / "rows.jsonl") < 8:
            time.sleep(0.1)
        with open(land / "f0.ndjson", "a") as f:
            f.write('{"i": 99}\n')
        time.sleep(1)
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
    assert p.returncode == 0, p.stderr.read().decode()
    assert sorted(r["i"] for r in read_jsonl(out / "rows.jsonl")) == list(range(8))
    reports = [json.loads(l) for l in open(progress)]
    for r in reports:
        assert r["sources"][0]["description"] == "FileStreamSource[%s]" % land
        assert len(r["sources"][0]["endOffset"]) <= 1  # max_files_per_trigger
    assert sum(r["numInputRows"] for r in reports) == 8


def test_exactly_once_across_kill_9(tmp_path):
    """Files arrive while the job is killed at random moments and restarted
    from its checkpoint: every record is in the output exactly once and the
    counts equal one uninterrupted run's."""
    land = tmp_path / "landing"
    land.mkdir()
    out, ck = tmp_path / "out", tmp_path / "ck"
    path = script(tmp_path, """
local f = ls.file_source { path = "%s/*.ndjson", polling = "50ms", max_records_per_trigger = 7 }
ls.query "rows" { from = f, map = function(r) return { i = r.i } end, sink = ls.jsonl_sink("%s") }
ls.query "counts" { from = f, group_by = { "g" }, aggregate = { ls.count(), ls.sum("i") },
                    output_mode = "update", sink = ls.jsonl_sink("%s") }
""" % (land, out, out))
    rng = random.Random(7)
    n = 0
    for f in range(12):
        drop(land, "f%02d.ndjson" % f, [{"i": n + k, "g": (n + k) % 3} for k in range(10)])
        n += 10
        p = subprocess.Popen([BIN, path, "--trigger", "50ms", "--checkpoint", str(ck), "--quiet"],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.05, 0.4))
        p.kill()
        p.wait()
    run([path, "--trigger", "available-now", "--checkpoint", str(ck), "--quiet"])
    assert sorted(r["i"] for r in read_jsonl(out / "rows.jsonl")) == list(range(n))
    last = {}
    for r in read_jsonl(out / "counts.jsonl"):
        last[r["g"]] = r
    for g in range(3):
        members = [i for i in range(n) if i % 3 == g]
        assert last[g]["count"] == len(members) and last[g]["sum(i)"] == float(sum(members))


def test_unreadable_and_vanishing_files_are_reported(tmp_path):
    land = tmp_path / "landing"
    land.mkdir()
    drop(land, "ok.ndjson", [{"i": 1}])
    bad = land / "locked.ndjson"
    bad.write_text('{"i": 2}\n')
    bad.chmod(0)
    out = tmp_path / "out"
    path = script(tmp_path, 'ls.query "rows" { from = ls.file_source { path = "%s" , format = "ndjson" }, '
                            'sink = ls.jsonl_sink("%s") }' % (land, out))
    p = run([path, "--trigger", "available-now", "--quiet"])
    if os.geteuid() != 0:  # root reads anything
        assert "locked.ndjson" in p.stderr and "skipped" in p.stderr
        assert [r["i"] for r in read_jsonl(out / "rows.jsonl")] == [1]
