"""Hot reload against a real broker: `--watch` and SIGHUP take a new version
of the script between batches, keeping the state; a change the state
cannot survive, or a script that does not load, is refused with the
reason and the running script goes on."""
import json
import os
import signal
import subprocess
import time

from conftest import BIN, ROOT, read_jsonl, run

SCRIPT = """local ls = require 'luastream'
local src = ls.kafka_source { topic = "%(topic)s", bootstrap = "%(bootstrap)s" }
ls.query "tagged" { from = src, map = function(r) return { k = r.k, tag = "%(tag)s" } end,
                    sink = ls.jsonl_sink("%(out)s") }
ls.query "counts" { from = src, group_by = { %(groups)s }, aggregate = { ls.count() },
                    output_mode = "update", sink = ls.jsonl_sink("%(out)s") }
"""


def lines(path):
    return path.read_text().count("\n") if path.exists() else 0


def wait_for(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


class Job:
    def __init__(self, broker, tmp_path, extra=()):
        self.broker, self.tmp = broker, tmp_path
        self.topic = broker.create_topic(partitions=2)
        self.out = tmp_path / "out"
        self.script = tmp_path / "job.lua"
        self.vars = dict(topic=self.topic, bootstrap=broker.bootstrap, out=self.out, tag="v1",
                         groups='"k"')
        self.write()
        self.stderr = open(tmp_path / "stderr.txt", "w+")
        self.p = subprocess.Popen([BIN, str(self.script), "--trigger", "300ms", *extra],
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.stderr)

    def write(self, **kw):
        self.vars.update(kw)
        # a new file renamed over the old one, as editors save
        tmp = self.tmp / "job.lua.new"
        tmp.write_text(SCRIPT % self.vars)
        os.replace(tmp, self.script)

    def produce(self, n, key="a"):
        data = self.tmp / "d.jsonl"
        data.write_text("".join(json.dumps({"k": key}) + "\n" for _ in range(n)))
        run(["produce", str(data), "--topic", self.topic, "--bootstrap", self.broker.bootstrap,
             "--quiet"])

    def log(self):
        self.stderr.flush()
        return (self.tmp / "stderr.txt").read_text()

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        self.p.wait(timeout=30)
        assert self.p.returncode == 0, self.log()


def test_watch_edit_a_map_keeps_the_counts(broker, tmp_path):
    job = Job(broker, tmp_path, ["--watch"])
    try:
        job.produce(3)
        assert wait_for(lambda: lines(job.out / "tagged.jsonl") == 3)
        job.write(tag="v2")
        assert wait_for(lambda: "reloaded" in job.log()), job.log()
        job.produce(2)
        assert wait_for(lambda: lines(job.out / "tagged.jsonl") == 5)
        # a change the state cannot survive: refused, the running script goes on
        job.write(groups='"k", "x"')
        assert wait_for(lambda: "refused" in job.log()), job.log()
        assert "query counts: group by k became group by k, x" in job.log()
        # a script that does not load: refused with its file:line
        job.script.write_text(job.script.read_text() + "\nthis is not lua\n")
        assert wait_for(lambda: job.log().count("refused") >= 2), job.log()
        assert "job.lua:8: syntax error" in job.log()
        job.produce(1)
        assert wait_for(lambda: lines(job.out / "tagged.jsonl") == 6)
    finally:
        job.stop()
    tags = [r["tag"] for r in read_jsonl(job.out / "tagged.jsonl")]
    assert tags == ["v1"] * 3 + ["v2"] * 3
    counts = [r["count"] for r in read_jsonl(job.out / "counts.jsonl")]
    assert counts[-1] == 6 and counts == sorted(counts)


def test_sighup_reloads_with_a_checkpoint_and_parallelism(broker, tmp_path):
    ck = tmp_path / "ck"
    job = Job(broker, tmp_path, ["--checkpoint", str(ck), "--parallelism", "2"])
    try:
        job.produce(4)
        assert wait_for(lambda: lines(job.out / "tagged.jsonl") == 4)
        job.write(tag="v2")  # no --watch: nothing happens until SIGHUP
        time.sleep(1)
        assert "reloaded" not in job.log()
        job.p.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reloaded" in job.log()), job.log()
        job.produce(2)
        assert wait_for(lambda: lines(job.out / "tagged.jsonl") == 6)
    finally:
        job.stop()
    # the checkpoint holds the state the reload kept: a restart goes on from it
    job.produce(1)
    run([str(job.script), "--checkpoint", str(ck), "--trigger", "available-now", "--quiet"])
    assert [r["tag"] for r in read_jsonl(job.out / "tagged.jsonl")] == ["v1"] * 4 + ["v2"] * 3
    assert read_jsonl(job.out / "counts.jsonl")[-1]["count"] == 7
