#!/usr/bin/env python3
"""bench/scaleout.py - the driver of bench/scaleout.sh (which starts the broker): scale-out of
tests/integration/app_counts.lua over 1, 2, 3 members of one job, and the cost of a rebalance
after kill -9 of one of 3 members. Stdlib only; kcat and build/luastream from this tree.

When is a run's output complete? `luastream status --app ID --json` (Kafka's admin API) is
polled about once a second: complete = the group's committed offsets of the input topic sum to
N, and every partition of the group (input and repartition topics) has lag 0 with no unknown
lag. A member commits its consumed offsets in the same transaction as its sink rows,
repartition records and changelog records, so at that moment every row is in the sink,
committed. The time reported is the end of the first poll that saw it (an upper bound; the
resolution is the poll interval plus the poll's own duration, shown in the report). The output
is then checked, not timed: the last row per (window, original_crime_type_name) of the sink,
read read_committed, must equal that of one run without --app (`--trigger available-now`).
"""
import argparse
import datetime
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "luastream")
SCRIPT = os.path.join(ROOT, "tests", "integration", "app_counts.lua")
KEYS = ["window", "original_crime_type_name"]
TICK = os.sysconf("SC_CLK_TCK")
RESTORE_RE = re.compile(r"app (\S+): restored (\d+) state partitions? from (\d+) changelog records in (\d+) ms")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def machine_busy():
    """CPU seconds the whole machine spent not idle since boot."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / TICK


def proc_cpu(pid):
    """user + sys seconds of a live process (all its threads), or None."""
    try:
        s = open("/proc/%d/stat" % pid).read()
    except OSError:
        return None
    f = s[s.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / TICK


def data(n):
    path = os.path.join(ROOT, "bench", "work", "calls-asc-%d-seed42.ndjson" % n)
    if not os.path.exists(path):
        raw = path + ".raw"
        subprocess.run(["python3", os.path.join(ROOT, "scripts", "gen_calls.py"), "--count", str(n),
                        "--seed", "42", "--format", "ndjson", "--out", raw], check=True,
                       stdout=subprocess.DEVNULL)
        with open(path + ".tmp", "w") as out:
            subprocess.run(["tac", raw], check=True, stdout=out)
        os.remove(raw)
        os.rename(path + ".tmp", path)
    return path


class Bench:
    def __init__(self, a):
        self.a = a
        self.boot = a.bootstrap
        self.work = a.work
        self.broker_pid = int(open(os.path.join(a.kafka_data, "kafka.pid")).read().split()[0])

    def topic(self, n):
        name = "scaleout.calls.%d.%s" % (n, uuid.uuid4().hex[:6])
        subprocess.run([os.path.join(ROOT, "scripts", "kafka.sh"), "create-topic", name, "12"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t = time.time()
        subprocess.run([BIN, "produce", data(n), "--topic", name, "--bootstrap", self.boot,
                        "--key", "crime_id", "--quiet"], check=True)
        log("produced %d calls into %s (12 partitions) in %.1f s" % (n, name, time.time() - t))
        return name

    def args(self, topic, out):
        return [BIN, SCRIPT, "--set", "bootstrap=" + self.boot, "--set", "topic=" + topic,
                "--set", "output=kafka:" + out, "--quiet"]

    def last_rows(self, topic):
        p = subprocess.run(["kcat", "-C", "-b", self.boot, "-t", topic, "-e", "-q",
                            "-X", "isolation.level=read_committed", "-f", "%s\n"],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise SystemExit("kcat %s: %s" % (topic, p.stderr[-500:]))
        last, n = {}, 0
        for v in p.stdout.splitlines():
            if v:
                r = json.loads(v)
                last[json.dumps([r.get(k) for k in KEYS])] = r
                n += 1
        return last, n

    def reference(self, topic, n):
        """One run without --app, available-now: the expected rows, and a baseline."""
        out = "scaleout.ref." + uuid.uuid4().hex[:6]
        err = open(os.path.join(self.work, "ref-%d.stderr" % n), "w")
        b0 = self.broker_cpu()
        t = time.time()
        p = subprocess.Popen(self.args(topic, out) + ["--trigger", "available-now"],
                             stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.time() - t
        if status != 0:
            raise SystemExit("the reference run failed: see %s" % err.name)
        rows, _ = self.last_rows(out + ".counts")
        return {"rows": rows, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
                "broker_cpu": self.broker_cpu() - b0, "groups": len(rows)}

    def broker_cpu(self):
        return proc_cpu(self.broker_pid) or 0.0

    def status(self, app):
        t = time.time()
        p = subprocess.run([BIN, "status", "--app", app, "--bootstrap", self.boot, "--json"],
                           capture_output=True, text=True, timeout=60)
        took = time.time() - t
        if p.returncode != 0:
            return {"ok": False, "took": took, "t": time.time()}
        d = json.loads(p.stdout)
        g = next((g for g in d["groups"] if g["group"] == app), None)
        if g is None:
            return {"ok": False, "took": took, "t": time.time()}
        parts = [dict(q, member=m["member_id"]) for m in g["members"] for q in m["partitions"]]
        parts += [dict(q, member=None) for q in g.get("unassigned", [])]
        return {"ok": True, "took": took, "t": time.time(), "state": g["state"],
                "members": [m["member_id"] for m in g["members"]], "parts": parts,
                "lag": g["totals"]["lag"], "unknown": g["totals"]["unknown_lag"]}

    def committed(self, st, topic, only=None):
        return sum(q["committed"] or 0 for q in st["parts"] if q["topic"] == topic
                   and (only is None or q["partition"] in only))

    def complete(self, st, topic, n):
        return (st["ok"] and st["unknown"] == 0 and st["lag"] == 0
                and self.committed(st, topic) == n)

    def start(self, k, topic, app, out, tag):
        procs = []
        for i in range(k):
            err = os.path.join(self.work, "%s-m%d.stderr" % (tag, i))
            prog = os.path.join(self.work, "%s-m%d.progress.jsonl" % (tag, i))
            p = subprocess.Popen(self.args(topic, out) + [
                "--app", app, "--trigger", self.a.trigger,
                "--set", "max_records_per_trigger=%d" % self.a.max_per_trigger,
                "--progress", prog], stdout=subprocess.DEVNULL, stderr=open(err, "w"), cwd=ROOT,
                start_new_session=True)
            procs.append({"p": p, "err": err, "prog": prog, "cpu": 0.0})
        return procs

    def sample(self, procs):
        for m in procs:
            c = proc_cpu(m["p"].pid)
            if c is not None and m["p"].poll() is None:
                m["cpu"] = c

    def stop(self, procs):
        for m in procs:
            if m["p"].poll() is None:
                os.kill(m["p"].pid, signal.SIGTERM)
        for m in procs:
            try:
                m["p"].wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.kill(m["p"].pid, signal.SIGKILL)
                m["p"].wait()

    def input_read(self, procs, topic):
        """Input records each member read: the progress reports of all members in time order,
        each batch credited with how far it moved each input partition past the furthest
        offset any report had reached (exactly once: offsets only move forward)."""
        reps = []
        for i, m in enumerate(procs):
            if os.path.exists(m["prog"]):
                for line in open(m["prog"]):
                    r = json.loads(line)
                    for s in r["sources"]:
                        reps.append((r["timestamp"], i, (s.get("endOffset") or {}).get(topic) or {}))
        reps.sort(key=lambda x: (x[0], x[1]))
        high, read = {}, [0] * len(procs)
        for _, i, end in reps:
            for p, v in end.items():
                if v > high.get(p, 0):
                    read[i] += v - high.get(p, 0)
                    high[p] = v
        return read

    def poll_until(self, app, topic, n, procs, t0, on_poll=None, bound=None):
        bound = bound or self.a.bound
        polls = []
        while True:
            st = self.status(app)
            self.sample(procs)
            st["rel"] = st["t"] - t0
            polls.append(st)
            if on_poll:
                on_poll(st)
            if self.complete(st, topic, n):
                return st, polls
            for m in procs:
                if m["p"].poll() is not None and not m.get("killed"):
                    raise SystemExit("a member exited with %s: %s" % (
                        m["p"].returncode, open(m["err"]).read()[-2000:]))
            if st["rel"] > bound:
                raise SystemExit("not complete after %d s (app %s); last status %s" % (
                    bound, app, {k: st.get(k) for k in ("state", "lag", "unknown")}))
            time.sleep(self.a.poll)

    def verify(self, out, want):
        got, nrows = self.last_rows(out + ".counts")
        bad = [k for k in want if got.get(k) != want[k]]
        extra = [k for k in got if k not in want]
        ok = not bad and not extra
        return ok, nrows, "exact" if ok else "MISMATCH: %d of %d keys differ, %d extra; e.g. %s" % (
            len(bad), len(want), len(extra), (bad + extra)[:2])

    def scale_run(self, k, topic, n, ref):
        app = "scaleout-%d-%s" % (k, uuid.uuid4().hex[:6])
        out = "scaleout.out." + app
        load0 = loadavg()
        busy0, b0 = machine_busy(), self.broker_cpu()
        t0 = time.time()
        procs = self.start(k, topic, app, out, "k%d" % k)
        st, polls = self.poll_until(app, topic, n, procs, t0)
        wall = st["rel"]
        busy, bcpu = machine_busy() - busy0, self.broker_cpu() - b0
        load1 = loadavg()
        self.stop(procs)
        ok, nrows, verdict = self.verify(out, ref["rows"])
        members = [{"cpu": m["cpu"], "read": r} for m, r in zip(procs, self.input_read(procs, topic))]
        restores = [rs for m in procs for rs in RESTORE_RE.findall(open(m["err"]).read())]
        log("%d member(s): complete at %.1f s, %s" % (k, wall, verdict))
        return {"k": k, "app": app, "wall": wall, "rate": n / wall, "members": members,
                "cpu": sum(m["cpu"] for m in members), "broker_cpu": bcpu,
                "others_cpu": max(0.0, busy - bcpu - sum(m["cpu"] for m in members)),
                "busy": busy, "load": (load0, load1), "ok": ok, "verdict": verdict,
                "sink_rows": nrows, "poll": max(p["took"] for p in polls),
                "restores": restores}

    def kill_run(self, topic, n, ref):
        app = "scaleout-kill-%s" % uuid.uuid4().hex[:6]
        out = "scaleout.out." + app
        load0 = loadavg()
        t0 = time.time()
        procs = self.start(3, topic, app, out, "kill")
        ev = {"kill": None}

        def on_poll(st):
            if ev["kill"] is not None or not st["ok"]:
                return
            done = self.committed(st, topic)
            rep = sum(q["committed"] or 0 for q in st["parts"] if q["topic"].endswith("-repartition"))
            # kill once stage 2 has state to lose: the input is kill_at read and the repartition
            # topics' committed offsets (partial groups merged into state) reach a quarter of that
            if done >= self.a.kill_at * n and rep >= done / 4 and len(st["members"]) == 3:
                # the member owning the most repartition (state) partitions, so that a restore
                # has something to read
                own = {}
                for q in st["parts"]:
                    if q["member"] and q["topic"].endswith("-repartition"):
                        own[q["member"]] = own.get(q["member"], 0) + 1
                victim_id = max(own, key=own.get) if own else st["members"][0]
                # which process is it? its progress reports carry its member id
                idx = 0
                for i, m in enumerate(procs):
                    try:
                        lines = open(m["prog"]).read().splitlines()
                    except OSError:
                        continue
                    if lines and json.loads(lines[-1]).get("member", {}).get("memberId") == victim_id:
                        idx = i
                victim = procs[idx]
                for m in procs:
                    m["mark"] = os.path.getsize(m["err"])
                os.kill(victim["p"].pid, signal.SIGKILL)
                states = [q["partition"] for q in st["parts"]
                          if q["member"] == victim_id and q["topic"].endswith("-repartition")]
                ev["changelog_at_kill"] = self.offsets("%s-counts-changelog" % app, states)
                victim["killed"] = True
                ev.update(kill=time.time() - t0, victim=idx, victim_id=victim_id,
                          done_at_kill=done, pre_polls=[p for p in polls_ref if p["ok"]],
                          inputs=[q["partition"] for q in st["parts"]
                                  if q["member"] == victim_id and q["topic"] == topic],
                          states=own.get(victim_id, 0))
                ev["committed_inputs"] = self.committed(st, topic, ev["inputs"])
                log("killed member %d (%s) at %.1f s, %d of %d records committed, it owned %d input "
                    "and %d state partitions" % (idx, victim_id, ev["kill"], done, n,
                                                 len(ev["inputs"]), ev["states"]))
            elif ev["kill"] is not None:
                pass

        polls_ref = []

        def on_poll_all(st):
            polls_ref.append(st)
            on_poll(st)
            if ev["kill"] is None or not st["ok"] or st["rel"] <= ev["kill"]:
                return
            if "rebalanced" not in ev and ev["victim_id"] not in st["members"] \
                    and st["state"] == "Stable" and all(q["member"] for q in st["parts"]):
                ev["rebalanced"] = st["rel"]
            if "resumed" not in ev and self.committed(st, topic, ev["inputs"]) > ev["committed_inputs"]:
                ev["resumed"] = st["rel"]

        st, polls = self.poll_until(app, topic, n, procs, t0, on_poll_all, bound=self.a.bound * 2)
        wall = st["rel"]
        load1 = loadavg()
        self.stop(procs)
        ok, nrows, verdict = self.verify(out, ref["rows"])
        if ev["kill"] is None:
            log("kill run: complete at %.1f s before the kill point (--kill-at): no rebalance measured" % wall)
            return None
        # rates of committed input records: before the kill (from the first poll that saw any
        # committed offset), and after the victim's partitions resumed
        pre = [p for p in ev["pre_polls"] if self.committed(p, topic) > 0]
        pre_rate = None
        if len(pre) >= 2:
            pre_rate = (self.committed(pre[-1], topic) - self.committed(pre[0], topic)) / (
                pre[-1]["rel"] - pre[0]["rel"])
        resumed = next((p for p in polls if p["ok"] and p["rel"] >= ev.get("resumed", 1e9)), None)
        post_rate = None
        if resumed and wall > resumed["rel"]:
            post_rate = (n - self.committed(resumed, topic)) / (wall - resumed["rel"])
        remaining = n - ev["done_at_kill"]
        restores = []
        for i, m in enumerate(procs):
            if i == ev["victim"]:
                continue
            text = open(m["err"]).read()[m["mark"]:]
            restores += [dict(member=i, parts=int(a), records=int(r), ms=int(ms))
                         for _, a, r, ms in RESTORE_RE.findall(text)]
        chg = self.changelog(app)
        log("kill run: complete at %.1f s, %s" % (wall, verdict))
        return {"app": app, "n": n, "wall": wall, "ev": ev, "pre_rate": pre_rate,
                "post_rate": post_rate, "remaining": remaining, "restores": restores,
                "changelog": chg, "ok": ok, "verdict": verdict, "load": (load0, load1),
                "extra": None}

    def offsets(self, topic, parts):
        """Offsets (end - start, transaction markers included) of these partitions, now."""
        if not parts:
            return 0
        vals = {}
        for which in ("-1", "-2"):  # end, start: one query each (kcat keeps one per partition)
            q = []
            for p in parts:
                q += ["-t", "%s:%d:%s" % (topic, p, which)]
            out = subprocess.run(["kcat", "-Q", "-b", self.boot] + q, capture_output=True,
                                 text=True, timeout=60).stdout
            for m in re.finditer(r"\[(\d+)\] offset (-?\d+)", out):
                vals.setdefault(int(m.group(1)), []).append(int(m.group(2)))
        return sum(max(v) - min(v) for v in vals.values())

    def changelog(self, app):
        """The average record (key + value bytes) of the job's changelog topic, from its first
        100,000 records, and the topic's size in the broker's data directory."""
        topic = "%s-counts-changelog" % app
        p = subprocess.run(["kcat", "-C", "-b", self.boot, "-t", topic, "-e", "-q", "-c", "100000",
                            "-X", "isolation.level=read_committed", "-f", "%K %S\n"],
                           capture_output=True, text=True, timeout=600)
        recs = byts = 0
        for line in p.stdout.splitlines():
            k, s = line.split()
            recs += 1
            byts += max(0, int(k)) + max(0, int(s))
        disk = 0
        for d in glob.glob(os.path.join(self.a.kafka_data, "data", topic + "-*")):
            for f in os.listdir(d):
                if f.endswith(".log"):
                    disk += os.path.getsize(os.path.join(d, f))
        return {"records": recs, "bytes": byts, "disk": disk}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--n", type=int, default=300000)
    ap.add_argument("--kafka-data", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--members", default="1,2,3")
    ap.add_argument("--big-factor", type=float, default=2)
    ap.add_argument("--trigger", default="1 second")
    ap.add_argument("--max-per-trigger", type=int, default=100000)
    ap.add_argument("--kill-at", type=float, default=0.3,
                    help="fraction of the input committed (and a quarter as many repartition records)")
    ap.add_argument("--poll", type=float, default=0.5, help="seconds between status polls")
    ap.add_argument("--bound", type=float, default=300, help="seconds before a run gives up")
    ap.add_argument("--no-kill", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each member count")
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "results"))
    a = ap.parse_args()
    b = Bench(a)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    topic = b.topic(a.n)
    ref = b.reference(topic, a.n)
    log("reference (no --app, available-now): %.1f s, %d groups" % (ref["wall"], ref["groups"]))
    # rounds of 1, 2, 3 members in turn, so that a passing load touches each alike; the table
    # shows, per member count, the run with the median completion time
    every = []
    for _ in range(a.rounds):
        every += [b.scale_run(int(k), topic, a.n, ref) for k in a.members.split(",")]
    runs = []
    for k in a.members.split(","):
        mine = sorted((r for r in every if r["k"] == int(k)), key=lambda r: r["wall"])
        med = dict(mine[(len(mine) - 1) // 2])
        med["all"] = [r["wall"] for r in every if r["k"] == int(k)]
        med["all_cpu"] = [r["cpu"] for r in every if r["k"] == int(k)]
        runs.append(med)
    kill = None
    if not a.no_kill:
        nbig = int(a.n * a.big_factor)
        tbig = b.topic(nbig)
        refbig = b.reference(tbig, nbig)
        log("reference on %d: %.1f s" % (nbig, refbig["wall"]))
        kill = b.kill_run(tbig, nbig, refbig)
        three = next((r for r in runs if r["k"] == 3), None)
        if three and kill:  # what 3 members would take on this topic without a kill, at the sweep's rate
            kill["extra"] = kill["wall"] - nbig / three["rate"]
    text = report(a, runs, ref, kill, started, load_start)
    print(text)
    os.makedirs(a.results, exist_ok=True)
    path = os.path.join(a.results, "scaleout-%s.txt" % started.strftime("%Y-%m-%d"))
    with open(path, "w") as f:
        f.write(text + "\n")
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump({"runs": every, "kill": kill, "ref": {k: v for k, v in ref.items() if k != "rows"}},
                  f, indent=1, default=str)
    log("written %s" % path)
    if not all(r["ok"] for r in every) or (kill and not kill["ok"]):
        sys.exit(1)


def report(a, runs, ref, kill, started, load_start):
    cpu = open("/proc/cpuinfo").read()
    model = re.search(r"model name\s*:\s*(.*)", cpu)
    L = []
    L.append("bench/scaleout.sh  %s  N = %d calls, 12 partitions, ascending event time" % (
        started.strftime("%Y-%m-%d %H:%M UTC"), a.n))
    L.append("job: tests/integration/app_counts.lua (update mode, 10/5-minute windows x crime type, "
             "count+sum+min+HLL, Kafka sink), trigger %r, max_records_per_trigger %d, "
             "8 state partitions" % (a.trigger, a.max_per_trigger))
    L.append("machine: %s, %d cores (members, broker and the driver share them); load average "
             "at start %s, at the end %s" % (model.group(1) if model else "?", os.cpu_count(),
                                              load_start, loadavg()))
    L.append("complete = committed input offsets sum to N and the group's lag (input + "
             "repartition) is 0, from `luastream status` polled every %.1f s (a poll took up to "
             "%.1f s): times are upper bounds by about that much" % (
                 a.poll, max(r["poll"] for r in runs)))
    L.append("")
    L.append("reference, one process without --app (available-now, one batch): %.1f s, %.0f "
             "records/s, %.1f CPU s, %.0f records per CPU-s; broker %.1f CPU s" % (
                 ref["wall"], a.n / ref["wall"], ref["cpu"], a.n / ref["cpu"], ref["broker_cpu"]))
    L.append("")
    L.append("each member count ran %d times (rounds of %s in turn); the row is the run with the "
             "median completion time" % (a.rounds, a.members))
    L.append("")
    L.append("| members | complete s | records/s | vs 1 | CPU s per member | CPU s total | "
             "records per CPU-s (job) | per member: input read / CPU-s | broker CPU s | others' CPU s | load avg start→end | output |")
    L.append("| ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: | ---: | --- | --- |")
    base = runs[0]["rate"]
    for r in runs:
        L.append("| %d | %.1f | %.0f | %.2f | %s | %.1f | %.0f | %s | %.1f | %.1f | %s → %s | %s |" % (
            r["k"], r["wall"], r["rate"], r["rate"] / base,
            ", ".join("%.1f" % m["cpu"] for m in r["members"]), r["cpu"], a.n / r["cpu"],
            ", ".join("%d/%.1f=%.0f" % (m["read"], m["cpu"], m["read"] / m["cpu"] if m["cpu"] else 0)
                      for m in r["members"]),
            r["broker_cpu"], r["others_cpu"], r["load"][0].split()[0], r["load"][1].split()[0],
            r["verdict"] + ", %d rows" % r["sink_rows"]))
    L.append("")
    for r in runs:
        L.append("%d member(s), every run: complete s %s; members' CPU s %s" % (
            r["k"], ", ".join("%.1f" % w for w in r["all"]), ", ".join("%.1f" % c for c in r["all_cpu"])))
    if kill:
        ev, c = kill["ev"], kill["changelog"]
        L.append("")
        L.append("Rebalance: 3 members on %d calls, member %d killed (kill -9) at %.1f s with %d "
                 "records committed; it owned %d input and %d state partitions. load avg %s → %s" % (
                     kill["n"], ev["victim"], ev["kill"], ev["done_at_kill"], len(ev["inputs"]),
                     ev["states"], kill["load"][0].split()[0], kill["load"][1].split()[0]))
        def since(k):
            return "%.1f s" % (ev[k] - ev["kill"]) if k in ev else "n/a"
        L.append("| kill → group stable without it | kill → its input partitions commit again | "
                 "kill → output complete | input rate before kill | extra time vs "
                 "no kill (3 members' median rate of the sweep) | output |")
        L.append("| ---: | ---: | ---: | ---: | ---: | --- |")
        L.append("| %s | %s | %.1f s | %s | %s | %s |" % (
            since("rebalanced"), since("resumed"), kill["wall"] - ev["kill"],
            "%.0f rec/s" % kill["pre_rate"] if kill["pre_rate"] else "n/a",
            "%.1f s" % kill["extra"] if kill["extra"] is not None else "n/a", kill["verdict"]))
        avg = c["bytes"] / c["records"] if c["records"] else 0
        L.append("")
        L.append("changelog at the end: %.1f MB on the broker's disk (log segments); a record's key + "
                 "value average %.0f bytes (its first %d records)" % (c["disk"] / 1e6, avg, c["records"]))
        L.append("the killed member's state partitions held %d changelog offsets (end - start, "
                 "transaction markers included) when it was killed; the survivors restored %d records"
                 % (ev.get("changelog_at_kill", 0), sum(r["records"] for r in kill["restores"])))
        if kill["restores"]:
            L.append("| survivor | state partitions restored | changelog records | MB (x avg record) | ms | ms per MB | MB/s |")
            L.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for rs in kill["restores"]:
                mb = rs["records"] * avg / 1e6
                L.append("| %d | %d | %d | %.1f | %d | %s | %s |" % (
                    rs["member"], rs["parts"], rs["records"], mb, rs["ms"],
                    "%.0f" % (rs["ms"] / mb) if mb else "n/a",
                    "%.1f" % (mb / (rs["ms"] / 1000)) if rs["ms"] else "n/a"))
        else:
            L.append("no restore logged by the survivors after the kill")
    return "\n".join(L)


if __name__ == "__main__":
    main()
