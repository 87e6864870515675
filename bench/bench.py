#!/usr/bin/env python3
"""bench/bench.py - the luastream benchmark driver (run it through bench/run.sh).

Starts a private Kafka broker (scripts/kafka.sh on its own port and data folder), generates N
call records, produces them into a fresh 4-partition topic, then measures on that topic:
  kcat       the read limit: kcat -C ... -e -o beginning -q > /dev/null
  luastream  scripts/pipeline.lua, trigger available-now, jsonl output
  Spark      bench/spark/pipeline.py (PySpark Structured Streaming), the same two queries,
             trigger availableNow, tuned by a small search over its knobs
checks that Spark's final counts equal luastream's, sweeps luastream's knobs, measures
filter and forward (kcat | kcat and kcat | grep | kcat against luastream's per-record
query bench/filter.lua writing to a topic; every output topic counted and checked),
measures end-to-end latency at steady produce rates, and writes bench/results/{results.md,
results.json,*.png}. --only PART,... runs some parts (--only filter merges its section into
the existing results). Only the Python standard library, plus matplotlib for the charts.
Every process it starts runs in its own session and is ended by its id; the broker is
stopped on exit, also after an error or a signal.
"""
import argparse
import datetime as dt
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LUASTREAM = os.path.join(REPO, "build", "luastream")
PIPELINE_LUA = os.path.join(REPO, "scripts", "pipeline.lua")
KAFKA_SH = os.path.join(REPO, "scripts", "kafka.sh")
GEN = os.path.join(REPO, "scripts", "gen_calls.py")
RADIO = os.path.join(REPO, "data", "radio_code.json")
SPARK_JOB = os.path.join(HERE, "spark", "pipeline.py")
FILTER_LUA = os.path.join(HERE, "filter.lua")
GNU_TIME = "/usr/bin/time"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")

LIVE = {}          # pid -> Popen of every session we started and have not reaped
LOG = None         # bench/work/bench.log


def log(msg):
    line = "[%s] %s" % (time.strftime("%H:%M:%S"), msg)
    print(line, file=sys.stderr, flush=True)
    if LOG:
        with open(LOG, "a") as f:
            f.write(line + "\n")


class BenchError(Exception):
    pass


# ------------------------------------------------------------------ processes

def spawn(cmd, stdout=None, stderr=None, stdin=None, env=None, cwd=REPO):
    """Starts cmd in a new session (its own process group) and remembers it for cleanup."""
    p = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, stdin=stdin, env=env, cwd=cwd,
                         start_new_session=True)
    LIVE[p.pid] = p
    return p


def reap(p):
    LIVE.pop(p.pid, None)


def end_group(p, grace=10.0):
    """SIGTERM to the process group we started (by its id), then SIGKILL after `grace`."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # Stragglers of the group (e.g. a JVM whose launcher has exited).
    for pid in session_pids(p.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
    reap(p)


def read_stat(pid):
    """(ppid, session, utime+stime ticks, rss bytes) of a process, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            s = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = s[s.rfind(")") + 2:].split()
    try:
        return (int(rest[1]), int(rest[3]), int(rest[11]) + int(rest[12]), int(rest[21]) * PAGE)
    except (IndexError, ValueError):
        return None


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return None


def session_pids(sid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(int(name))
            if st and st[1] == sid:
                out.append(int(name))
    return out


def parse_gnu_time(path):
    r = {}
    try:
        text = open(path).read()
    except OSError:
        return r
    pats = {"user": r"User time \(seconds\): ([\d.]+)", "sys": r"System time \(seconds\): ([\d.]+)",
            "maxrss_kb": r"Maximum resident set size \(kbytes\): (\d+)",
            "exit": r"Exit status: (\d+)"}
    for k, pat in pats.items():
        m = re.search(pat, text)
        if m:
            r[k] = float(m.group(1))
    return r


def measure(cmd, name, outdir, timeout, stdout_path=None, env=None, stop_when=None,
            poll=0.1):
    """Runs cmd under GNU time -v in its own session while sampling /proc for the whole
    process tree (the session). Returns wall, CPU (user+sys), peak RSS of the tree (sum over
    its processes) and of the largest single process, exit code.
    stop_when(): polled; when true the command (not GNU time) gets SIGTERM."""
    os.makedirs(outdir, exist_ok=True)
    tfile = os.path.join(outdir, name + ".time")
    errf = open(os.path.join(outdir, name + ".stderr"), "w")
    outf = open(stdout_path, "w") if stdout_path else subprocess.DEVNULL
    full = [GNU_TIME, "-v", "-o", tfile] + cmd
    with open(os.path.join(outdir, name + ".cmd"), "w") as f:
        f.write(" ".join(cmd) + "\n")
    t0 = time.monotonic()
    p = spawn(full, stdout=outf, stderr=errf, env=env)
    cpu = {}
    peak_tree = 0
    peak_single = 0
    stopped = False
    timed_out = False
    try:
        while True:
            procs = {}
            for pid in session_pids(p.pid):
                st = read_stat(pid)
                if not st or pid == p.pid:      # GNU time itself is not part of the workload
                    continue
                cpu[pid] = max(cpu.get(pid, 0), st[2])
                procs[pid] = (st[0], st[3], cmdline(pid))
            total = 0
            for pid, (ppid, rss, cl) in procs.items():
                # A child forked (vfork/posix_spawn) but not yet exec'd shares its parent's
                # memory and shows the parent's RSS: the JVM does this to run shell commands.
                if ppid in procs and procs[ppid][2] == cl:
                    continue
                total += rss
                peak_single = max(peak_single, rss)
            peak_tree = max(peak_tree, total)
            if p.poll() is not None:
                break
            if time.monotonic() - t0 > timeout:
                log("%s: timed out after %.0f s; stopping it" % (name, timeout))
                timed_out = True
                end_group(p)
                break
            if stop_when and not stopped and stop_when():
                stopped = True
                for pid in session_pids(p.pid):
                    st = read_stat(pid)
                    if st and st[0] == p.pid:
                        os.kill(pid, signal.SIGTERM)
            time.sleep(poll)
        rc = p.wait()
    finally:
        if p.poll() is None:
            end_group(p)
        reap(p)
        errf.close()
        if stdout_path:
            outf.close()
    wall = time.monotonic() - t0
    g = parse_gnu_time(tfile)
    gnu_cpu = g.get("user", 0.0) + g.get("sys", 0.0)
    tree_cpu = sum(cpu.values()) / TICK
    res = {
        "wall_s": wall,
        "cpu_s": max(gnu_cpu, tree_cpu),
        "user_s": g.get("user"), "sys_s": g.get("sys"),
        "cpu_gnu_time_s": gnu_cpu, "cpu_proc_tree_s": tree_cpu,
        "peak_rss_tree_mib": peak_tree / 2**20,
        "peak_rss_single_mib": max(peak_single, g.get("maxrss_kb", 0) * 1024) / 2**20,
        "maxrss_gnu_time_mib": g.get("maxrss_kb", 0) / 1024,
        "exit": int(g.get("exit", rc if rc is not None else -1)),
        "timed_out": timed_out,
        "stopped": stopped,
    }
    return res


def run(cmd, env=None, check=True, capture=True, timeout=None):
    r = subprocess.run(cmd, env=env, cwd=REPO, text=True, timeout=timeout,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None)
    if check and r.returncode != 0:
        raise BenchError("%s failed (exit %d): %s" % (" ".join(cmd), r.returncode,
                                                       (r.stderr or "")[-2000:]))
    return r


# ------------------------------------------------------------------ Kafka

class Broker:
    def __init__(self, port, data):
        self.port = port
        self.data = data
        self.env = dict(os.environ, KAFKA_PORT=str(port), KAFKA_DATA=data)
        self.bootstrap = "127.0.0.1:%d" % port
        self.started = False

    def start(self):
        run([KAFKA_SH, "stop"], env=self.env, check=False)   # a leftover of an earlier run
        shutil.rmtree(self.data, ignore_errors=True)
        self.started = True
        run([KAFKA_SH, "start"], env=self.env, timeout=300)

    def stop(self):
        if self.started:
            run([KAFKA_SH, "stop"], env=self.env, check=False, timeout=120)
            self.started = False
            # The topics' data goes (the next run starts from an empty broker anyway; the
            # filter part's output topics reach about 20 GB at N = 2,000,000); logs stay.
            if run([KAFKA_SH, "status"], env=self.env, check=False).returncode == 1:
                shutil.rmtree(os.path.join(self.data, "data"), ignore_errors=True)

    def pid(self):
        """The broker's process id (scripts/kafka.sh's pid file), or None."""
        try:
            with open(os.path.join(self.data, "kafka.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if read_stat(pid) else None

    def create_topic(self, name, partitions=4):
        run([KAFKA_SH, "create-topic", name, str(partitions)], env=self.env, timeout=120)


def produce_summary(text):
    m = re.search(r"(\d+) records sent, (\d+) delivered, (\d+) errors, ([\d.]+) s, (\d+) records/s",
                  text or "")
    if not m:
        return None
    return {"sent": int(m.group(1)), "delivered": int(m.group(2)), "errors": int(m.group(3)),
            "seconds": float(m.group(4)), "rate": int(m.group(5))}


# ------------------------------------------------------------------ luastream outputs

def read_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass   # a line being written
    except OSError:
        pass
    return out


def progress_summary(reports, query=None):
    """Totals over the batches of one query (the first one named in the file by default)."""
    if not reports:
        return None
    if query is None:
        query = reports[0].get("name")
    rs = [r for r in reports if r.get("name") == query]
    rows = sum(r.get("numInputRows", 0) for r in rs)
    ms = sum(r.get("durationMs", {}).get("triggerExecution", 0) for r in rs)
    return {
        "query": query, "batches": len(rs), "numInputRows": rows,
        "numInvalidRows": sum(r.get("numInvalidRows", 0) for r in rs),
        "triggerExecution_ms": ms,
        # rows over the time spent inside batches: the engine's own processing rate
        "processedRowsPerSecond": rows / (ms / 1000.0) if ms else None,
        "per_batch_processedRowsPerSecond": [r.get("processedRowsPerSecond") for r in rs],
    }


def rows_seen(progress_path, query="crime_type_counts"):
    return sum(r.get("numInputRows", 0) for r in read_jsonl(progress_path)
               if r.get("name") == query)


def weighted_median(pairs):
    pairs = sorted((v, w) for v, w in pairs if v is not None and w > 0)
    total = sum(w for _, w in pairs)
    if not total:
        return None
    acc = 0
    for v, w in pairs:
        acc += w
        if acc >= total / 2.0:
            return v
    return pairs[-1][0]


def aggregate_latency(batches):
    """batches: dicts with numInputRows and p50/p99/max (ms). p50 = weighted median (by rows)
    of the per-batch p50s, p99 = the largest per-batch p99, max = the largest max."""
    bs = [b for b in batches if b.get("p50") is not None and b.get("numInputRows", 0) > 0]
    if not bs:
        return None
    return {
        "batches": len(bs),
        "rows": sum(b["numInputRows"] for b in bs),
        "p50_ms": weighted_median([(b["p50"], b["numInputRows"]) for b in bs]),
        "p99_ms": max(b["p99"] for b in bs),
        "max_ms": max(b["max"] for b in bs),
        "mean_batch_p50_ms": statistics.fmean(b["p50"] for b in bs),
    }


def luastream_latency_batches(reports):
    out = []
    for r in reports:
        lat = r.get("latencyMs")
        if isinstance(lat, dict) and lat.get("p50") is not None:
            out.append({"numInputRows": r.get("numInputRows", 0), "p50": lat.get("p50"),
                        "p99": lat.get("p99", lat.get("p50")),
                        "max": lat.get("max", lat.get("p99", lat.get("p50"))),
                        "query": r.get("name")})
    return out


# ------------------------------------------------------------------ result comparison

def epoch(ts):
    if ts is None:
        return None
    if isinstance(ts, (int, float)):
        return float(ts)
    d = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return d.timestamp()


def crime_key(row):
    w = row.get("window") or {}
    return (epoch(w.get("start")), epoch(w.get("end")), row.get("original_crime_type_name"))


def load_results(rows):
    crime, disp = {}, {}
    for r in rows["crime_type_counts"]:
        crime[crime_key(r)] = r.get("count")
    for r in rows["disposition_counts"]:
        disp[r.get("disposition")] = (r.get("description"), r.get("count"))
    return crime, disp


def luastream_rows(outdir):
    return {q: read_jsonl(os.path.join(outdir, q + ".jsonl"))
            for q in ("crime_type_counts", "disposition_counts")}


def spark_rows(outdir):
    res = {}
    for q in ("crime_type_counts", "disposition_counts"):
        rows = []
        for part in sorted(glob.glob(os.path.join(outdir, q, "latest", "part-*"))):
            rows.extend(read_jsonl(part))
        res[q] = rows
    return res


def fmt_key(k):
    if isinstance(k, tuple) and len(k) == 3 and k[0] is not None:
        return "[%s, %s) %r" % (dt.datetime.fromtimestamp(k[0], dt.timezone.utc).strftime("%Y-%m-%dT%H:%M"),
                                dt.datetime.fromtimestamp(k[1], dt.timezone.utc).strftime("%H:%M"), k[2])
    return repr(k)


def compare(lua_out, spark_out, n):
    la, ld = load_results(luastream_rows(lua_out))
    sa, sd = load_results(spark_rows(spark_out))
    problems = []
    for label, a, b in (("crime_type_counts", la, sa), ("disposition_counts", ld, sd)):
        only_l = [k for k in a if k not in b]
        only_s = [k for k in b if k not in a]
        diff = [k for k in a if k in b and a[k] != b[k]]
        for k in only_l[:5]:
            problems.append("%s: only in luastream: %s = %r" % (label, fmt_key(k), a[k]))
        for k in only_s[:5]:
            problems.append("%s: only in Spark: %s = %r" % (label, fmt_key(k), b[k]))
        for k in diff[:5]:
            problems.append("%s: %s luastream %r, Spark %r" % (label, fmt_key(k), a[k], b[k]))
        if only_l or only_s or diff:
            problems.append("%s: %d keys only in luastream, %d only in Spark, %d differ"
                            % (label, len(only_l), len(only_s), len(diff)))
    summary = {
        "crime_type_counts": {"groups_luastream": len(la), "groups_spark": len(sa),
                              "sum_luastream": sum(v or 0 for v in la.values()),
                              "sum_spark": sum(v or 0 for v in sa.values())},
        "disposition_counts": {"groups_luastream": len(ld), "groups_spark": len(sd),
                               "sum_luastream": sum(v[1] or 0 for v in ld.values()),
                               "sum_spark": sum(v[1] or 0 for v in sd.values()),
                               "without_description": sum(1 for v in ld.values() if v[0] is None)},
    }
    # Every record falls into size/slide = 2 windows and exactly one disposition.
    if summary["disposition_counts"]["sum_luastream"] != n:
        problems.append("disposition counts of luastream sum to %d, expected N = %d"
                        % (summary["disposition_counts"]["sum_luastream"], n))
    if summary["crime_type_counts"]["sum_luastream"] != 2 * n:
        problems.append("window counts of luastream sum to %d, expected 2N = %d"
                        % (summary["crime_type_counts"]["sum_luastream"], 2 * n))
    return {"ok": not problems, "problems": problems, "summary": summary}


# ------------------------------------------------------------------ filter and forward

# What each filter run's output must hold, computed from the generated file (the produced
# messages are its lines, byte for byte). Every record is a JSON object of 14 string fields.
FILTER_IN = ("HAN", "GOA", "CIT")
FILTER_GREP = b'"disposition":"HAN"'


def digest64(b):
    return int.from_bytes(hashlib.blake2b(b, digest_size=8).digest(), "little")


class Multiset:
    """An order-independent fingerprint of a multiset of byte strings: count and the sum of
    64-bit hashes (mod 2^64). Equal multisets give equal fingerprints."""
    def __init__(self):
        self.count = 0
        self.sum = 0

    def add(self, b):
        self.count += 1
        self.sum = (self.sum + digest64(b)) & 0xFFFFFFFFFFFFFFFF

    def as_dict(self):
        return {"count": self.count, "digest": "%016x" % self.sum}


def as_number(v):
    """A where comparison's view of a value against a number (Spark's implicit cast of a
    string to double; not a number: no match), or None."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def filter_predicates(crime_id_gt):
    """The bench's filters as Python functions of a decoded record, with luastream's `where`
    semantics (ls_where.c: null never matches a comparison, strings compare by bytes, a
    string against a number is cast to double)."""
    def multi(r):
        d = r.get("disposition")
        cid = as_number(r.get("crime_id"))
        at = r.get("address_type")
        return (isinstance(d, str) and d in FILTER_IN and cid is not None and cid > crime_id_gt
                and isinstance(at, str) and at != "Intersection"
                and r.get("common_location") is not None)
    return {
        "all": lambda r: True,
        "han": lambda r: r.get("disposition") == "HAN",
        "multi": multi,
    }


def median_crime_id(path):
    ids = []
    with open(path, "rb") as f:
        for line in f:
            v = as_number(json.loads(line).get("crime_id"))
            if v is not None:
                ids.append(v)
    ids.sort()
    return int(ids[len(ids) // 2]) if ids else 0


def filter_expectations(path, cache_path):
    """Per filter: the count and fingerprint of the matching lines (their bytes), plus for
    "han" the fingerprint of their crime_id values (a Lua map re-encodes the record, so its
    output is checked by ids), and "grep": the lines that contain "disposition":"HAN" as text.
    Cached beside the data file."""
    st = os.stat(path)
    key = {"file": os.path.basename(path), "bytes": st.st_size, "mtime": int(st.st_mtime), "v": 1}
    try:
        c = json.load(open(cache_path))
        if c.get("key") == key:
            return c
    except (OSError, ValueError):
        pass
    gt = median_crime_id(path)
    preds = filter_predicates(gt)
    sets = {k: Multiset() for k in list(preds) + ["grep"]}
    han_ids = Multiset()
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if not line:
                continue
            r = json.loads(line)
            for k, fn in preds.items():
                if fn(r):
                    sets[k].add(line)
            if FILTER_GREP in line:
                sets["grep"].add(line)
            if preds["han"](r):
                han_ids.add(str(r.get("crime_id")).encode())
    out = {"key": key, "crime_id_gt": gt, "expected": {k: v.as_dict() for k, v in sets.items()},
           "han_ids": han_ids.as_dict()}
    tmp = cache_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.rename(tmp, cache_path)
    return out


def machine_busy_s():
    """CPU seconds the whole machine has spent busy (all cores; /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / TICK


def proc_cpu_s(pid):
    st = read_stat(pid) if pid else None
    return st[2] / TICK if st else None


# ------------------------------------------------------------------ the benchmark

class Bench:
    def __init__(self, a):
        self.a = a
        self.n = a.n
        self.work = os.path.abspath(a.work)
        self.results_dir = os.path.abspath(a.results)
        self.runs = os.path.join(self.work, "runs")
        self.broker = Broker(a.kafka_port, os.path.join(self.work, "kafka"))
        self.res = {"n": self.n, "phases": {}, "errors": []}
        self.data_file = None
        self.topic = "calls.bench"
        self.jars = ",".join(sorted(glob.glob(os.path.join(a.spark_jars, "*.jar")))) if a.spark_jars else ""

    # -- helpers
    def phase(self, name, fn):
        log("== %s" % name)
        t0 = time.monotonic()
        try:
            return fn()
        except BenchError as e:
            log("%s failed: %s" % (name, e))
            self.res["errors"].append("%s: %s" % (name, e))
            return None
        finally:
            self.res["phases"][name] = round(time.monotonic() - t0, 1)
            log("== %s took %.1f s" % (name, self.res["phases"][name]))

    def luastream_cmd(self, topic, outdir, trigger, partitions=None, parallelism=None):
        cmd = [LUASTREAM, PIPELINE_LUA, "--set", "bootstrap=" + self.broker.bootstrap,
               "--set", "topic=" + topic, "--set", "output=jsonl:" + outdir,
               "--trigger", trigger, "--quiet", "--progress", os.path.join(outdir, "progress.jsonl")]
        if partitions:
            cmd += ["--partitions", str(partitions)]
        if parallelism:
            cmd += ["--parallelism", str(parallelism)]
        return cmd

    def spark_cmd(self, topic, outdir, trigger, cfg, latency=False):
        cmd = [sys.executable, SPARK_JOB, "--bootstrap", self.broker.bootstrap, "--topic", topic,
               "--out", outdir, "--radio", RADIO, "--jars", self.jars, "--trigger", trigger,
               "--shuffle-partitions", str(cfg["shuffle_partitions"]),
               "--default-parallelism", str(cfg["default_parallelism"]),
               "--max-offsets", str(cfg["max_offsets"]),
               "--conf", "spark.ui.showConsoleProgress=false"]
        if self.a.spark_driver_memory:
            cmd += ["--driver-memory", self.a.spark_driver_memory]
        if latency:
            # Fair scheduling lets the small latency jobs run beside the aggregations' jobs
            # instead of queueing behind them (FIFO, Spark's default).
            cmd += ["--latency", "--conf", "spark.scheduler.mode=FAIR"]
        return cmd

    def drop_outputs(self, d):
        """Result rows of runs that are not compared (complete mode rewrites every group each
        batch, so they reach gigabytes at large N); progress and logs stay."""
        if self.a.keep_outputs:
            return
        for q in ("crime_type_counts", "disposition_counts"):
            path = os.path.join(d, q + ".jsonl")
            if os.path.exists(path):
                os.remove(path)
            shutil.rmtree(os.path.join(d, q), ignore_errors=True)
        shutil.rmtree(os.path.join(d, "checkpoint"), ignore_errors=True)

    def fresh_dir(self, *parts):
        d = os.path.join(self.runs, *parts)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    # -- phases
    def setup(self):
        os.makedirs(self.work, exist_ok=True)
        shutil.rmtree(self.runs, ignore_errors=True)
        os.makedirs(self.runs)
        self.res["machine"] = machine_info()
        self.res["versions"] = versions(self.a)
        self.res["settings"] = {k: v for k, v in vars(self.a).items()}

    def generate(self):
        path = os.path.join(self.work, "calls-%d-seed%d.ndjson" % (self.n, self.a.seed))
        if not os.path.exists(path):
            tmp = path + ".tmp"
            run([sys.executable, GEN, "--count", str(self.n), "--seed", str(self.a.seed),
                 "--format", "ndjson", "--out", tmp], timeout=3600)
            os.rename(tmp, path)
        self.data_file = path
        size = os.path.getsize(path)
        self.res["data"] = {"file": os.path.relpath(path, REPO), "bytes": size,
                            "avg_record_bytes": round(size / max(self.n, 1), 1)}

    def start_broker(self):
        self.broker.start()
        self.broker.create_topic(self.topic, 4)
        return True

    def produce(self):
        r = run([LUASTREAM, "produce", self.data_file, "--topic", self.topic,
                 "--bootstrap", self.broker.bootstrap, "--quiet"], timeout=3600)
        s = produce_summary(r.stderr + r.stdout)
        self.res["produce"] = s
        if not s or s["delivered"] != self.n:
            raise BenchError("produce did not deliver %d records: %s" % (self.n, (r.stderr or "").strip()))

    def kcat(self):
        best = None
        runs = []
        for i in range(self.a.repeat):
            d = self.fresh_dir("kcat", str(i))
            m = measure(["kcat", "-C", "-b", self.broker.bootstrap, "-t", self.topic, "-e",
                         "-o", "beginning", "-q"], "kcat", d, timeout=3600)
            if m["exit"] != 0:
                raise BenchError("kcat exited with %d" % m["exit"])
            m["rate"] = self.n / m["wall_s"]
            runs.append(m)
            if best is None or m["rate"] > best["rate"]:
                best = m
        self.res["kcat"] = dict(best, runs=[r["rate"] for r in runs])

    def luastream(self):
        best = None
        runs = []
        for i in range(self.a.repeat):
            d = self.fresh_dir("luastream", str(i))
            m = measure(self.luastream_cmd(self.topic, d, "available-now"), "luastream", d,
                        timeout=3600)
            if m["exit"] != 0:
                raise BenchError("luastream exited with %d (see %s)" % (m["exit"], d))
            prog = progress_summary(read_jsonl(os.path.join(d, "progress.jsonl")), "crime_type_counts")
            m["progress"] = prog
            if not prog or prog["numInputRows"] != self.n:
                raise BenchError("luastream read %s rows, expected %d"
                                 % (prog and prog["numInputRows"], self.n))
            m["rate"] = self.n / m["wall_s"]
            m["outdir"] = d
            runs.append(m)
            if best is None or m["rate"] > best["rate"]:
                best = m
        self.res["luastream"] = dict(best, runs=[r["rate"] for r in runs])

    def spark_run(self, cfg, tag):
        d = self.fresh_dir("spark", tag)
        m = measure(self.spark_cmd(self.topic, d, "available-now", cfg), "spark", d,
                    timeout=self.a.spark_timeout)
        m["config"] = dict(cfg)
        m["outdir"] = d
        if not self.a.keep_outputs:
            shutil.rmtree(os.path.join(d, "checkpoint"), ignore_errors=True)
        try:
            t = json.load(open(os.path.join(d, "timings.json")))
        except (OSError, ValueError):
            t = {}
        m["timings"] = t
        if m["exit"] != 0 or "error" in t:
            m["failed"] = t.get("error") or "exit %d (see %s/spark.stderr)" % (m["exit"], d)
            log("spark %s failed: %s" % (tag, m["failed"][:300]))
            return m
        m["rate"] = self.n / m["wall_s"]
        if t.get("queries_started") and t.get("queries_done"):
            m["query_s"] = t["queries_done"] - t["queries_started"]
            m["startup_s"] = t["queries_started"] - t["process_start"]
            m["query_rate"] = self.n / m["query_s"] if m["query_s"] > 0 else None
        m["q2_plan"] = t.get("q2_plan")
        log("spark %s: %.1f s wall, %.0f records/s (queries %.1f s), peak RSS %.0f MiB"
            % (tag, m["wall_s"], m["rate"], m.get("query_s", 0), m["peak_rss_tree_mib"]))
        return m

    def spark(self):
        """Coordinate search: each knob in turn, the others held at their best so far."""
        a = self.a
        grid = [("shuffle_partitions", a.spark_shuffle), ("max_offsets", a.spark_max_offsets),
                ("default_parallelism", a.spark_parallelism)]
        best_cfg = {"shuffle_partitions": a.spark_shuffle[0], "max_offsets": a.spark_max_offsets[0],
                    "default_parallelism": a.spark_parallelism[0]}
        tried = {}

        def key(c):
            return (c["shuffle_partitions"], c["max_offsets"], c["default_parallelism"])

        for knob, values in grid:
            for v in values:
                cfg = dict(best_cfg, **{knob: v})
                if key(cfg) in tried:
                    continue
                tag = "sp%d-mo%d-dp%d" % key(cfg)
                tried[key(cfg)] = self.spark_run(cfg, tag)
            ok = [m for m in tried.values() if "rate" in m]
            if ok:
                best_cfg = dict(max(ok, key=lambda m: m["rate"])["config"])
        ok = [m for m in tried.values() if "rate" in m]
        self.res["spark_sweep"] = [{"config": m["config"], "wall_s": m["wall_s"],
                                    "rate": m.get("rate"), "query_s": m.get("query_s"),
                                    "query_rate": m.get("query_rate"),
                                    "peak_rss_tree_mib": m["peak_rss_tree_mib"],
                                    "cpu_s": m["cpu_s"], "failed": m.get("failed")}
                                   for m in tried.values()]
        if not ok:
            raise BenchError("every Spark run failed")
        best = max(ok, key=lambda m: m["rate"])
        self.res["spark"] = best

    def verify(self):
        if "spark" not in self.res or "luastream" not in self.res:
            raise BenchError("nothing to compare (a run failed)")
        v = compare(self.res["luastream"]["outdir"], self.res["spark"]["outdir"], self.n)
        self.res["verify"] = v
        if v["ok"]:
            log("verify: OK (%d window groups, %d dispositions)"
                % (v["summary"]["crime_type_counts"]["groups_luastream"],
                   v["summary"]["disposition_counts"]["groups_luastream"]))
        else:
            log("verify: MISMATCH")
            for p in v["problems"]:
                log("  " + p)

    def sweep(self):
        help_text = run([LUASTREAM, "--help"], check=False).stdout or ""
        has_par = "--parallelism" in help_text
        pars = self.a.sweep_parallelism if has_par else [None]
        rows = []
        for trig in self.a.sweep_triggers:
            for par in pars:
                for parts in self.a.sweep_partitions:
                    tag = "%s-p%s-k%d" % (trig.replace(" ", ""), par or "na", parts)
                    d = self.fresh_dir("sweep", tag)
                    prog_path = os.path.join(d, "progress.jsonl")
                    stop = None
                    if trig != "available-now":
                        stop = (lambda pp=prog_path: rows_seen(pp) >= self.n)
                    m = measure(self.luastream_cmd(self.topic, d, trig, parts, par), "luastream", d,
                                timeout=self.a.sweep_timeout, stop_when=stop)
                    prog = progress_summary(read_jsonl(prog_path), "crime_type_counts")
                    self.drop_outputs(d)
                    row = {"trigger": trig, "parallelism": par, "partitions": parts,
                           "exit": m["exit"], "wall_s": m["wall_s"], "cpu_s": m["cpu_s"],
                           "peak_rss_tree_mib": m["peak_rss_tree_mib"],
                           "rows": prog and prog["numInputRows"],
                           "batches": prog and prog["batches"],
                           "processedRowsPerSecond": prog and prog["processedRowsPerSecond"],
                           "wall_rate": (prog["numInputRows"] / m["wall_s"]) if prog else None}
                    if not prog or prog["numInputRows"] != self.n or m["exit"] != 0:
                        row["problem"] = "exit %s, %s rows" % (m["exit"], prog and prog["numInputRows"])
                    log("sweep %s: %s rows/s processed, %.0f rows/s wall"
                        % (tag, row["processedRowsPerSecond"] and "%.0f" % row["processedRowsPerSecond"],
                           row["wall_rate"] or 0))
                    rows.append(row)
        self.res["sweep"] = {"parallelism_supported": has_par, "rows": rows}

    # -- latency
    def feed(self, proc):
        try:
            while True:
                with open(self.data_file, "rb") as f:
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        proc.stdin.write(chunk)
        except (BrokenPipeError, ValueError, OSError):
            pass
        finally:
            try:
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass

    def produce_steady(self, topic, rate, count, outdir):
        errp = os.path.join(outdir, "produce.stderr")
        with open(errp, "w") as err:
            p = spawn([LUASTREAM, "produce", "-", "--topic", topic, "--bootstrap",
                       self.broker.bootstrap, "--rate", str(rate), "--max", str(count), "--quiet"],
                      stdin=subprocess.PIPE, stdout=err, stderr=err)
        th = threading.Thread(target=self.feed, args=(p,), daemon=True)
        t0 = time.monotonic()
        th.start()
        try:
            p.wait(timeout=count / rate * 3 + 60)
        except subprocess.TimeoutExpired:
            log("producer did not finish in time; stopping it")
        end_group(p)
        th.join(timeout=10)
        s = produce_summary(open(errp).read()) or {}
        s["wall_s"] = time.monotonic() - t0
        s["target_rate"] = rate
        return s

    def wait_for(self, cond, timeout, what):
        """Seconds until cond() held (at least 0.001), or 0 after `timeout`."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if cond():
                return max(time.monotonic() - t0, 0.001)
            time.sleep(0.1)
        log("gave up waiting for %s after %.0f s" % (what, timeout))
        return 0

    def latency_luastream(self, rate):
        topic = "lat.luastream.%d" % rate
        self.broker.create_topic(topic, 4)
        d = self.fresh_dir("latency", "luastream-%d" % rate)
        prog = os.path.join(d, "progress.jsonl")
        with open(os.path.join(d, "luastream.stderr"), "w") as err:
            p = spawn(self.luastream_cmd(topic, d, self.a.latency_trigger), stdout=err, stderr=err)
        try:
            time.sleep(self.a.latency_warmup)
            if p.poll() is not None:
                raise BenchError("luastream exited early with %d (see %s)" % (p.returncode, d))
            count = int(rate * self.a.latency_seconds)
            prod = self.produce_steady(topic, rate, count, d)
            delivered = prod.get("delivered", count)
            caught = self.wait_for(lambda: rows_seen(prog) >= delivered, self.a.latency_drain,
                                   "luastream to catch up")
        finally:
            end_group(p, grace=30)
        self.drop_outputs(d)
        reports = read_jsonl(prog)
        batches = luastream_latency_batches(reports)
        r = {"engine": "luastream", "rate": rate, "trigger": self.a.latency_trigger,
             "drain_limit_s": self.a.latency_drain, "produce": prod,
             "rows_processed": rows_seen(prog), "caught_up": bool(caught),
             "drain_s": caught or None,
             "batches_total": len([x for x in reports if x.get("name") == "crime_type_counts"]),
             "latency": aggregate_latency(batches),
             "latency_field_present": bool(batches)}
        if batches:
            r["per_query"] = {q: aggregate_latency([b for b in batches if b["query"] == q])
                              for q in sorted({b["query"] for b in batches})}
        return r

    def latency_spark(self, rate, trigger, cfg):
        tag = "spark-%d-%s" % (rate, trigger.replace(" ", ""))
        topic = "lat.%s" % tag
        self.broker.create_topic(topic, 4)
        d = self.fresh_dir("latency", tag)
        lat = os.path.join(d, "latency.jsonl")
        with open(os.path.join(d, "spark.stderr"), "w") as err:
            p = spawn(self.spark_cmd(topic, d, trigger, dict(cfg, max_offsets=0), latency=True),
                      stdout=err, stderr=err)
        try:
            if not self.wait_for(lambda: os.path.exists(os.path.join(d, "ready")) or p.poll() is not None,
                                 300, "Spark to start"):
                raise BenchError("Spark did not start (see %s)" % d)
            if p.poll() is not None:
                raise BenchError("Spark exited early with %d (see %s)" % (p.returncode, d))
            time.sleep(self.a.latency_warmup)
            count = int(rate * self.a.latency_seconds)
            prod = self.produce_steady(topic, rate, count, d)
            delivered = prod.get("delivered", count)
            caught = self.wait_for(
                lambda: sum(b.get("numInputRows", 0) for b in read_jsonl(lat)) >= delivered,
                self.a.latency_drain, "Spark to catch up")
            open(os.path.join(d, "stop"), "w").close()
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                pass
        finally:
            end_group(p, grace=30)
        self.drop_outputs(d)
        batches = read_jsonl(lat)
        return {"engine": "Spark", "rate": rate, "trigger": trigger, "produce": prod,
                "drain_limit_s": self.a.latency_drain,
                "rows_processed": sum(b.get("numInputRows", 0) for b in batches),
                "caught_up": bool(caught), "drain_s": caught or None, "batches_total": len(batches),
                "latency": aggregate_latency(batches), "latency_field_present": bool(batches)}

    def latency(self):
        out = []
        for rate in self.a.rates:
            log("latency: luastream at %d records/s" % rate)
            try:
                out.append(self.latency_luastream(rate))
            except BenchError as e:
                self.res["errors"].append("latency luastream %d: %s" % (rate, e))
            if not self.a.no_spark and "spark" in self.res:
                cfg = self.res["spark"]["config"]
                cands = []
                for trig in self.a.spark_latency_triggers:
                    log("latency: Spark at %d records/s, trigger %s" % (rate, trig))
                    try:
                        cands.append(self.latency_spark(rate, trig, cfg))
                    except BenchError as e:
                        self.res["errors"].append("latency Spark %d %s: %s" % (rate, trig, e))
                good = [c for c in cands if c["latency"]]
                if good:
                    best = min(good, key=lambda c: (not c["caught_up"], c["latency"]["p99_ms"]))
                    best["tried"] = [{"trigger": c["trigger"], "latency": c["latency"],
                                      "caught_up": c["caught_up"]} for c in cands]
                    out.append(best)
                elif cands:
                    out.append(cands[0])
        self.res["latency"] = out

    # -- filter and forward (issue 10 section 1)
    def filter_runs(self):
        """The runs of the filter part in table order: the kcat references, then luastream per
        variant, parallelism 1 and 2, then the checkpointed (exactly-once) ones."""
        a = self.a
        B, T = self.broker.bootstrap, self.topic
        read = "kcat -C -b %s -t %s -e -o beginning -q" % (B, T)
        runs = [
            {"tag": "kcat-read", "engine": "kcat", "label": "kcat -C > /dev/null (read only)",
             "expect": None, "shell": read + " > /dev/null"},
            {"tag": "kcat-kcat", "engine": "kcat", "label": "kcat -C | kcat -P (forward all)",
             "expect": "all", "shell": read + " | kcat -P -b %s -t {out}" % B},
            {"tag": "kcat-grep-kcat", "engine": "kcat",
             "label": "kcat -C | grep -F '\"disposition\":\"HAN\"' | kcat -P (text, not JSON)",
             "short": "kcat -C | grep (HAN, as text) | kcat -P",
             "expect": "grep",
             "shell": read + " | LC_ALL=C grep -F '\"disposition\":\"HAN\"' | kcat -P -b %s -t {out}" % B},
        ]
        labels = {"han": 'where disposition = "HAN"', "multi": "where: in, >, ~=, is not null (4 predicates)",
                  "all": "no where (forward all)", "lua": 'Lua map: if r.disposition == "HAN"'}
        expect = {"han": "han", "multi": "multi", "all": "all", "lua": "han"}
        for v in a.filter_variants:
            for ckpt in ([False, True] if v in a.filter_checkpoint else [False]):
                for par in a.filter_parallelism:
                    runs.append({"tag": "%s-p%d%s" % (v, par, "-ckpt" if ckpt else ""), "engine": "luastream",
                                 "variant": v, "parallelism": par, "checkpoint": ckpt,
                                 "label": "luastream %s, --parallelism %d%s"
                                          % (labels[v], par, ", checkpoint (exactly once)" if ckpt else ""),
                                 "expect": expect[v], "check_by": "ids" if v == "lua" else "bytes"})
        return runs

    def filter_luastream_cmd(self, run, out, d, topic=None):
        cmd = [LUASTREAM, FILTER_LUA, "--set", "bootstrap=" + self.broker.bootstrap,
               "--set", "topic=" + (topic or self.topic), "--set", "out=" + out,
               "--set", "variant=" + run["variant"],
               "--set", "max_records_per_trigger=%d" % self.a.filter_max_per_trigger,
               "--trigger", "available-now", "--quiet",
               "--progress", os.path.join(d, "progress.jsonl"),
               "--parallelism", str(run["parallelism"])]
        if run["variant"] == "multi":
            cmd += ["--set", "crime_id_gt=%d" % self.filter_exp["crime_id_gt"]]
        if run["checkpoint"]:
            cmd += ["--checkpoint", os.path.join(d, "checkpoint")]
        return cmd

    def filter_read_output(self, topic, outdir, by):
        """The output topic as a read_committed consumer sees it: its fingerprint (of the
        messages' bytes, or with by="ids" of their crime_id values) and how many messages
        are not what the filter lets through (by="ids": a disposition other than HAN)."""
        errf = open(os.path.join(outdir, "check.stderr"), "w")
        p = spawn(["kcat", "-C", "-b", self.broker.bootstrap, "-t", topic, "-e", "-o", "beginning",
                   "-q", "-X", "isolation.level=read_committed", "-f", "%s\n"],
                  stdout=subprocess.PIPE, stderr=errf)
        timer = threading.Timer(self.a.filter_timeout, end_group, [p])
        timer.start()
        ms = Multiset()
        bad = 0
        try:
            for line in p.stdout:
                line = line[:-1] if line.endswith(b"\n") else line
                if by == "ids":
                    try:
                        r = json.loads(line)
                    except ValueError:
                        bad += 1
                        continue
                    if not isinstance(r, dict) or r.get("disposition") != "HAN":
                        bad += 1
                    ms.add(str(r.get("crime_id") if isinstance(r, dict) else None).encode())
                else:
                    ms.add(line)
            rc = p.wait()
        finally:
            timer.cancel()
            if p.poll() is None:
                end_group(p)
            reap(p)
            errf.close()
        if rc != 0:
            raise BenchError("reading %s failed (kcat exit %d, see %s)" % (topic, rc, outdir))
        return ms.as_dict(), bad

    def filter_warmup(self):
        """Not timed: a small luastream run with a checkpoint, so that the broker's consumer
        offsets and transaction state topics exist before the first timed run (on a fresh
        broker the first transactional producer waits for them)."""
        topic = "filter.warmup"
        d = self.fresh_dir("filter", "warmup")
        small = os.path.join(d, "in.ndjson")
        with open(self.data_file, "rb") as f, open(small, "wb") as g:
            for i, line in enumerate(f):
                if i >= 1000:
                    break
                g.write(line)
        self.broker.create_topic(topic, 4)
        self.broker.create_topic(topic + ".out", 4)
        run([LUASTREAM, "produce", small, "--topic", topic, "--bootstrap", self.broker.bootstrap,
             "--quiet"], timeout=300)
        w = {"variant": "han", "parallelism": 1, "checkpoint": True}
        r = run(self.filter_luastream_cmd(w, topic + ".out", d, topic=topic), check=False, timeout=300)
        if r.returncode != 0:
            log("filter warm-up run exited with %d: %s" % (r.returncode, (r.stderr or "")[-500:]))

    def filter_one(self, spec, rep):
        d = self.fresh_dir("filter", spec["tag"], str(rep))
        out = "filter.%s.%d" % (spec["tag"], rep)
        if spec["expect"]:
            self.broker.create_topic(out, 4)
        if spec["engine"] == "kcat":
            shell = spec["shell"].format(out=out)
            cmd = ["sh", "-c", shell]
        else:
            cmd = self.filter_luastream_cmd(spec, out, d)
        bpid = self.broker.pid()
        b0, all0 = proc_cpu_s(bpid), machine_busy_s()
        m = measure(cmd, spec["engine"], d, timeout=self.a.filter_timeout)
        b1, all1 = proc_cpu_s(bpid), machine_busy_s()
        m["broker_cpu_s"] = (b1 - b0) if b0 is not None and b1 is not None else None
        # Whatever else ran on the machine meanwhile (other users, this driver's polling):
        # busy CPU time of the machine minus the run's and the broker's.
        if all0 is not None and all1 is not None and m["broker_cpu_s"] is not None:
            m["others_cpu_s"] = max(0.0, all1 - all0 - m["cpu_s"] - m["broker_cpu_s"])
        m["rate"] = self.n / m["wall_s"]
        m["output_topic"] = out if spec["expect"] else None
        m["outdir"] = d
        problems = []
        if m["exit"] != 0 or m["timed_out"]:
            problems.append("exit %d%s (see %s)" % (m["exit"], ", timed out" if m["timed_out"] else "", d))
        if spec["engine"] == "luastream":
            reports = read_jsonl(os.path.join(d, "progress.jsonl"))
            prog = progress_summary(reports, "filter")
            if prog:
                rs = [r for r in reports if r.get("name") == "filter"]
                prog["numOutputRows"] = sum((r.get("sink") or {}).get("numOutputRows", 0) for r in rs)
                prog["numFilteredRows"] = sum(r.get("numFilteredRows", 0) for r in rs)
                prog["durationMs"] = {}
                for r in rs:
                    for k, v in (r.get("durationMs") or {}).items():
                        prog["durationMs"][k] = prog["durationMs"].get(k, 0) + v
                prog.pop("per_batch_processedRowsPerSecond", None)
            m["progress"] = prog
            if not prog or prog["numInputRows"] != self.n:
                problems.append("read %s rows, expected N = %d" % (prog and prog["numInputRows"], self.n))
            shutil.rmtree(os.path.join(d, "checkpoint"), ignore_errors=True)
        if spec["expect"]:
            want = self.filter_exp["expected"][spec["expect"]]
            if spec.get("check_by") == "ids":
                want_fp = self.filter_exp["han_ids"]
                got, bad = self.filter_read_output(out, d, "ids")
            else:
                want_fp = want
                got, bad = self.filter_read_output(out, d, "bytes")
            m["output_records"] = got["count"]
            m["expected_records"] = want["count"]
            if got["count"] != want["count"]:
                problems.append("output topic has %d records, expected %d" % (got["count"], want["count"]))
            elif got["digest"] != want_fp["digest"]:
                problems.append("output topic has the expected count but other %s"
                                % ("crime ids" if spec.get("check_by") == "ids" else "bytes"))
            if bad:
                problems.append("%d output rows are not HAN records" % bad)
        m["check"] = "OK" if not problems else "; ".join(problems)
        log("filter %s #%d: %.1f s, %.0f records/s, CPU %.1f s (broker %s s), out %s/%s: %s"
            % (spec["tag"], rep, m["wall_s"], m["rate"], m["cpu_s"],
               "%.1f" % m["broker_cpu_s"] if m["broker_cpu_s"] is not None else "?",
               m.get("output_records", "-"), m.get("expected_records", "-"), m["check"]))
        return m

    def filter(self):
        a = self.a
        t0 = time.monotonic()
        self.filter_exp = filter_expectations(
            self.data_file, os.path.splitext(self.data_file)[0] + ".filter-expected.json")
        exp = self.filter_exp
        f = {"n": self.n, "machine": machine_info(), "versions": self.res.get("versions"),
             "data": self.res.get("data"), "repeat": a.filter_repeat,
             "max_records_per_trigger": a.filter_max_per_trigger,
             "crime_id_gt": exp["crime_id_gt"],
             "expected": {k: v["count"] for k, v in exp["expected"].items()},
             "rows": [], "problems": []}
        self.res["filter"] = f
        log("filter: expected records: %s (multi: crime_id > %d)"
            % (", ".join("%s %d" % (k, v) for k, v in f["expected"].items()), exp["crime_id_gt"]))
        self.filter_warmup()
        specs = self.filter_runs()
        # Round after round over every run (not each run K times in a row): a load that comes
        # and goes on the machine then touches every run alike.
        results = {spec["tag"]: [] for spec in specs}
        for rep in range(a.filter_repeat):
            for spec in specs:
                try:
                    results[spec["tag"]].append(self.filter_one(spec, rep))
                except BenchError as e:
                    results[spec["tag"]].append({"check": str(e), "rate": 0})
        for spec in specs:
            runs = results[spec["tag"]]
            ok = [r for r in runs if r["check"] == "OK"]
            bad = [r for r in runs if r["check"] != "OK"]
            for r in bad:
                msg = "filter %s: %s" % (spec["tag"], r["check"])
                f["problems"].append(msg)
                self.res["errors"].append(msg)
            best = max(ok, key=lambda r: r["rate"]) if ok else (runs[0] if runs else {})
            row = {k: v for k, v in spec.items() if k != "shell"}
            row["command"] = (spec["shell"].format(out="OUT") if spec["engine"] == "kcat" else
                              " ".join(self.filter_luastream_cmd(spec, "OUT", "DIR")).replace(REPO + "/", ""))
            row.update({k: best.get(k) for k in (
                "wall_s", "rate", "cpu_s", "user_s", "sys_s", "broker_cpu_s", "others_cpu_s", "peak_rss_tree_mib",
                "peak_rss_single_mib", "maxrss_gnu_time_mib", "output_records", "expected_records",
                "progress", "exit")})
            row["check"] = "OK" if not bad and ok else (bad[0]["check"] if bad else "no run")
            row["runs"] = [r.get("rate") for r in runs]
            f["rows"].append(row)
        f["seconds"] = round(time.monotonic() - t0, 1)
        if f["problems"]:
            raise BenchError("filter: %d run(s) failed their check (see the report)" % len(f["problems"]))

    # -- main
    def run(self):
        self.phase("setup", self.setup)
        self.phase("generate", self.generate)
        if not self.phase("start broker", self.start_broker):
            raise BenchError("the broker did not start")
        self.phase("produce", self.produce)
        if "produce" not in self.res or not self.res["produce"]:
            raise BenchError("producing the data failed")
        if not self.a.no_kcat:
            self.phase("kcat", self.kcat)
        if not self.a.no_luastream:
            self.phase("luastream", self.luastream)
        if not self.a.no_spark:
            self.phase("spark", self.spark)
            if not self.a.no_luastream:
                self.phase("verify", self.verify)
        if not self.a.no_sweep:
            self.phase("sweep", self.sweep)
        if not self.a.no_filter:
            self.phase("filter", self.filter)
        if not self.a.no_latency:
            self.phase("latency", self.latency)


# ------------------------------------------------------------------ reporting

def machine_info():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    osname = ""
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {"cpu": model, "nproc": os.cpu_count(), "memory_gib": round(mem / 2**30, 1),
            "kernel": platform.release(), "os": osname,
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "loadavg_at_start": open("/proc/loadavg").read().split()[:3]}


def versions(a):
    def out(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None
    v = {"luastream": out([LUASTREAM, "--version"]), "java": out(["java", "-version"]),
         "python": platform.python_version(), "kafka": "4.1.1 (scripts/kafka.sh)"}
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "kcat"], capture_output=True, text=True)
        v["kcat"] = r.stdout.strip()
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "librdkafka1"], capture_output=True, text=True)
        v["librdkafka"] = r.stdout.strip()
    except OSError:
        pass
    if not a.no_spark:
        try:
            import importlib.metadata as md
            v["spark"] = md.version("pyspark")
        except Exception:
            v["spark"] = None
        v["spark_jars"] = [os.path.basename(j) for j in sorted(glob.glob(os.path.join(a.spark_jars, "*.jar")))]
    return v


def f0(x, unit=""):
    return "n/a" if x is None else ("{:,.0f}".format(x) + unit)


def f1(x):
    return "n/a" if x is None else "{:,.1f}".format(x)


FILTER_NOTE = (
    "records/s = N input records / wall time of the whole command (start to exit: connecting, "
    "reading every partition to its end, writing, and waiting for the last delivery or the "
    "transaction's commit). CPU s = user + sys of the command's processes (GNU time, "
    "cross-checked with /proc); broker CPU s = what the Kafka broker (same 2 cores, not counted "
    "in CPU s) spent during the run; others' CPU s = the machine's busy CPU time during the run "
    "minus both (other programs, and this driver's polling): a run with a large figure there was "
    "measured on a busy machine. Output records are counted by a read_committed kcat "
    "reading the output topic after the run and compared with the count computed in Python "
    "from the generated file; \"OK\" also means the multiset of messages is the expected one, "
    "byte for byte (for the Lua map, whose rows are re-encoded JSON: the multiset of crime ids, "
    "every row a HAN record).")


def render_filter_md(f):
    L = []
    m = f["machine"]
    L.append("## Filter and forward (issue 10 section 1)")
    L.append("")
    L.append("%s, N = %s records, %s: input the benchmark's 4-partition topic, each output a fresh "
             "4-partition topic; best of %d run(s) each. Machine: %s, %s cores, %s GiB; load average "
             "at start %s."
             % (m["date"], "{:,}".format(f["n"]), "one batch (available-now, no cap)"
                if not f.get("max_records_per_trigger") else
                "available-now, max_records_per_trigger %s" % "{:,}".format(f["max_records_per_trigger"]),
                f["repeat"], m["cpu"], m["nproc"], m["memory_gib"], " ".join(m["loadavg_at_start"])))
    L.append("")
    ex = f.get("expected", {})
    L.append("Expected output (from the generated file): all %s; HAN %s; 4 predicates %s "
             "(disposition in HAN/GOA/CIT, crime_id > %s, address_type ~= \"Intersection\", "
             "common_location is not null); grep %s."
             % (tuple("{:,}".format(ex.get(k, 0)) for k in ("all", "han", "multi")) +
                (f.get("crime_id_gt", 0), "{:,}".format(ex.get("grep", 0)))))
    L.append("")
    L.append("| run | output records | check | wall s | records/s | every run, records/s | CPU s | broker CPU s | others' CPU s | peak RSS MiB | largest process MiB |")
    L.append("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in f["rows"]:
        every = ", ".join("%.0fk" % (x / 1000) if x else "failed" for x in (r.get("runs") or []))
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                 % (r["label"].replace("|", "\\|"), f0(r.get("output_records")) if r.get("expect") else "-",
                    r.get("check", "n/a") if r.get("check") == "OK" else "**%s**" % r.get("check"),
                    f1(r.get("wall_s")), f0(r.get("rate")), every or "n/a", f1(r.get("cpu_s")),
                    f1(r.get("broker_cpu_s")), f1(r.get("others_cpu_s")), f0(r.get("peak_rss_tree_mib")),
                    f0(r.get("peak_rss_single_mib"))))
    L.append("")
    L.append(FILTER_NOTE)
    L.append("")
    lua = [r for r in f["rows"] if r.get("engine") == "luastream" and r.get("progress")]
    if lua:
        L.append("luastream's own view (progress reports, summed over batches): rows over the time inside "
                 "batches, and where the time went as the engine samples it (decode: scanning the records, "
                 "and the where; process: the map, routing and handing rows to the sink; sink: the batch's "
                 "flush or transaction commit). The parts are extrapolated from one record in "
                 "LS_TIME_SAMPLE and overlap: approximate.")
        L.append("")
        L.append("| run | batches | processedRowsPerSecond | decode ms | process ms | sink ms | trigger ms |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in lua:
            p = r["progress"]
            dm = p.get("durationMs") or {}
            L.append("| %s | %s | %s | %s | %s | %s | %s |"
                     % (r["label"].replace("|", "\\|"), p.get("batches"), f0(p.get("processedRowsPerSecond")),
                        f0(dm.get("decode")), f0(dm.get("process")), f0(dm.get("sink")),
                        f0(dm.get("triggerExecution"))))
        L.append("")
    by = {r["tag"]: r for r in f["rows"]}
    ratios = []
    for a, b, what in (("han-p1", "kcat-grep-kcat", "HAN filter, luastream 1 thread / kcat | grep | kcat"),
                       ("all-p1", "kcat-kcat", "forward all, luastream 1 thread / kcat | kcat"),
                       ("lua-p1", "han-p1", "Lua map / C where (1 thread)")):
        if by.get(a, {}).get("rate") and by.get(b, {}).get("rate"):
            cpu = ""
            if by[a].get("cpu_s") and by[b].get("cpu_s"):
                cpu = " (CPU s %.2f)" % (by[a]["cpu_s"] / by[b]["cpu_s"])
            ratios.append("%s: **%.2f**%s" % (what, by[a]["rate"] / by[b]["rate"], cpu))
    if ratios:
        L.append("Rate ratios (and CPU time ratios): " + "; ".join(ratios) + ".")
        L.append("")
    if f.get("problems"):
        for p in f["problems"]:
            L.append("- **%s**" % p)
        L.append("")
    return L


def filter_chart(f, outdir):
    import matplotlib
    import matplotlib.ticker
    import matplotlib.pyplot as plt
    rows = [r for r in f["rows"] if r.get("rate")]
    if not rows:
        return None
    colors = {"kcat": "#999999", "luastream": "#1f77b4"}
    fig, ax = plt.subplots(figsize=(9.5, 0.42 * len(rows) + 1.4))
    ys = list(range(len(rows)))[::-1]
    col = []
    for r in rows:
        c = colors.get(r["engine"], "#1f77b4")
        if r.get("variant") == "lua":
            c = "#ff7f0e"
        elif r.get("checkpoint"):
            c = "#2ca02c"
        col.append(c)
    bars = ax.barh(ys, [r["rate"] for r in rows], color=col)
    for b, r in zip(bars, rows):
        ax.annotate("{:,.0f}".format(r["rate"]) + ("" if r.get("check") == "OK" else " (check failed)"),
                    (b.get_width(), b.get_y() + b.get_height() / 2), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=8)
    short = []
    for r in rows:
        s = r.get("short") or r["label"]
        s = s.replace("luastream ", "").replace(", --parallelism", ", par.")
        s = s.replace("checkpoint (exactly once)", "checkpoint")
        short.append(s if len(s) <= 62 else s[:60] + "...")
    ax.set_yticks(ys)
    ax.set_yticklabels(short, fontsize=7.5)
    ax.set_xlabel("input records/s (N / wall time)")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: "{:,.0f}".format(x)))
    ax.set_title("Filter and forward to a topic, N = %s" % "{:,}".format(f["n"]), fontsize=10)
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(color="#999999", label="kcat"), Patch(color="#1f77b4", label="luastream, where in C"),
                       Patch(color="#2ca02c", label="luastream, checkpoint (exactly once)"),
                       Patch(color="#ff7f0e", label="luastream, Lua map")],
              fontsize=7.5, loc="lower right")
    ax.margins(x=0.18)
    fig.tight_layout()
    p = os.path.join(outdir, "filter.png")
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return p


def render_md(res):
    m, v = res["machine"], res["versions"]
    L = []
    L.append("# luastream benchmark")
    L.append("")
    L.append("%s, N = %s records (%s bytes on average), one 4-partition topic on a local Kafka %s broker."
             % (m["date"], "{:,}".format(res["n"]), res.get("data", {}).get("avg_record_bytes", "?"),
                v.get("kafka", "")))
    L.append("")
    L.append("Machine: %s, %s cores (nproc), %s GiB memory, %s, kernel %s; load average at start %s."
             % (m["cpu"], m["nproc"], m["memory_gib"], m["os"], m["kernel"], " ".join(m["loadavg_at_start"])))
    L.append("Versions: %s; kcat %s; librdkafka %s; %s%s; Python %s."
             % (v.get("luastream"), v.get("kcat"), v.get("librdkafka"), v.get("java"),
                ("; Spark (PySpark) %s" % v["spark"]) if v.get("spark") else "", v.get("python")))
    L.append("")
    engines = (("kcat", "kcat (read limit)"), ("luastream", "luastream"), ("spark", "Spark"))
    if any(res.get(name) for name, _ in engines):     # not after a run of --only filter
        L.append("## Throughput (reading the whole topic)")
        L.append("")
        L.append("| engine | wall s | records/s | CPU s (user+sys) | peak RSS, process tree (MiB) | largest process (MiB) |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, label in engines:
            r = res.get(name)
            if not r:
                L.append("| %s | n/a | n/a | n/a | n/a | n/a |" % label)
                continue
            L.append("| %s | %s | %s | %s | %s | %s |" % (label, f1(r["wall_s"]), f0(r.get("rate")), f1(r["cpu_s"]),
                                                     f0(r["peak_rss_tree_mib"]), f0(r["peak_rss_single_mib"])))
        L.append("")
    k, l, s = res.get("kcat"), res.get("luastream"), res.get("spark")
    ratios = res.get("ratios", {})
    if l:
        p = l.get("progress") or {}
        L.append("- luastream's own processedRowsPerSecond (rows / time inside batches, %d batch(es)): **%s**"
                 % (p.get("batches", 0), f0(p.get("processedRowsPerSecond"))))
    if k and l:
        L.append("- luastream / kcat rate: **%.2f**" % ratios["luastream_over_kcat_rate"])
    if s and l:
        L.append("- luastream / Spark rate: **%.2f**; luastream / Spark peak memory: **%.3f** (Spark uses %.1f x the memory)"
                 % (ratios["luastream_over_spark_rate"], ratios["luastream_over_spark_memory"],
                    1 / ratios["luastream_over_spark_memory"]))
        L.append("- Spark's wall time includes starting its JVM and the queries (%s s); timed from the queries' "
                 "start to their end it ran at %s records/s (ratio luastream / Spark then %.2f)."
                 % (f1(s.get("startup_s")), f0(s.get("query_rate")), ratios.get("luastream_over_spark_query_rate") or 0))
        c = s["config"]
        L.append("- Spark settings chosen (best wall rate of the search below): local[2], "
                 "spark.sql.shuffle.partitions=%d, spark.default.parallelism=%d, maxOffsetsPerTrigger=%s, "
                 "trigger availableNow, query 2 plan: %s."
                 % (c["shuffle_partitions"], c["default_parallelism"], c["max_offsets"] or "none",
                    s.get("q2_plan")))
    L.append("")
    vr = res.get("verify")
    if vr:
        L.append("## Results check (Spark vs luastream)")
        L.append("")
        sm = vr["summary"]
        L.append("**%s**: %d window groups (luastream) vs %d (Spark), counts summing to %s vs %s; "
                 "%d dispositions vs %d (%d without description)."
                 % ("OK" if vr["ok"] else "MISMATCH", sm["crime_type_counts"]["groups_luastream"],
                    sm["crime_type_counts"]["groups_spark"],
                    "{:,}".format(sm["crime_type_counts"]["sum_luastream"]),
                    "{:,}".format(sm["crime_type_counts"]["sum_spark"]),
                    sm["disposition_counts"]["groups_luastream"], sm["disposition_counts"]["groups_spark"],
                    sm["disposition_counts"]["without_description"]))
        for p in vr["problems"]:
            L.append("- " + p)
        L.append("")
    if res.get("spark_sweep"):
        L.append("## Spark settings tried")
        L.append("")
        L.append("| shuffle.partitions | maxOffsetsPerTrigger | default.parallelism | wall s | records/s | query s | records/s in queries | CPU s | peak RSS MiB |")
        L.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in res["spark_sweep"]:
            c = r["config"]
            L.append("| %d | %s | %d | %s | %s | %s | %s | %s | %s |"
                     % (c["shuffle_partitions"], c["max_offsets"] or "none", c["default_parallelism"],
                        f1(r["wall_s"]), f0(r["rate"]) if not r.get("failed") else "failed",
                        f1(r.get("query_s")), f0(r.get("query_rate")), f1(r["cpu_s"]), f0(r["peak_rss_tree_mib"])))
        L.append("")
    sw = res.get("sweep")
    if sw:
        L.append("## luastream sweep (trigger x parallelism x partitions)")
        L.append("")
        if not sw["parallelism_supported"]:
            L.append("`--parallelism` is not in `luastream --help` yet: partitions swept only.")
            L.append("")
        L.append("| trigger | parallelism | partitions | batches | processedRowsPerSecond | records/s (wall) | wall s | CPU s | peak RSS MiB |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in sw["rows"]:
            L.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s |%s"
                     % (r["trigger"], r["parallelism"] or "-", r["partitions"], r["batches"] or "n/a",
                        f0(r["processedRowsPerSecond"]), f0(r["wall_rate"]), f1(r["wall_s"]), f1(r["cpu_s"]),
                        f0(r["peak_rss_tree_mib"]), (" " + r["problem"]) if r.get("problem") else ""))
        L.append("")
    lat = res.get("latency")
    if lat:
        L.append("## Latency at a steady produce rate (Kafka timestamp to batch output)")
        L.append("")
        L.append("| engine | trigger | target rate | achieved produce rate | rows processed | batches | behind at the end (s) | p50 ms | p99 ms | max ms |")
        L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in lat:
            la = r.get("latency") or {}
            pr = r.get("produce") or {}
            ach = (pr.get("delivered") or 0) / pr["seconds"] if pr.get("seconds") else None
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                     % (r["engine"], r["trigger"], f0(r["rate"]), f0(ach), f0(r.get("rows_processed")),
                        r.get("batches_total"),
                        f1(r.get("drain_s")) if r.get("caught_up") else "> %.0f" % r.get("drain_limit_s", 0),
                        f0(la.get("p50_ms")), f0(la.get("p99_ms")), f0(la.get("max_ms"))))
        L.append("")
        L.append("p50: median of the per-batch medians weighted by rows; p99 and max: the largest per-batch "
                 "value. n/a: the engine wrote no latency figures (luastream's `latencyMs` progress field). "
                 "Behind at the end: seconds from the producer's end until the engine had processed every "
                 "record (about one batch when it kept up; more means it fell behind the rate).")
        L.append("")
    if res.get("filter"):
        L.extend(render_filter_md(res["filter"]))
    L.append("## Time per part of this run")
    L.append("")
    L.append("| part | seconds |")
    L.append("| --- | ---: |")
    for k2, v2 in res["phases"].items():
        L.append("| %s | %.1f |" % (k2, v2))
    L.append("")
    if res.get("errors"):
        L.append("## Errors")
        L.append("")
        for e in res["errors"]:
            L.append("- " + e.replace("\n", " ")[:500])
        L.append("")
    L.append("Method and knobs: bench/README.md.")
    return "\n".join(L) + "\n"


def charts(res, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no charts")
        return []
    made = []
    names = [("kcat", "kcat (limit)", "#999999"), ("luastream", "luastream", "#1f77b4"),
             ("spark", "Spark", "#ff7f0e")]
    present = [(k, lab, c) for k, lab, c in names if res.get(k)]

    def bar(fname, values, ylabel, title, fmt):
        fig, ax = plt.subplots(figsize=(6.5, 4))
        xs = [lab for _, lab, _ in present]
        bars = ax.bar(xs, values, color=[c for _, _, c in present])
        for b, val in zip(bars, values):
            ax.annotate(fmt(val), (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=9)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.margins(y=0.15)
        fig.tight_layout()
        p = os.path.join(outdir, fname)
        fig.savefig(p, dpi=110)
        plt.close(fig)
        made.append(p)

    if present:
        bar("throughput.png", [res[k]["rate"] for k, _, _ in present], "records/s (N / wall time)",
            "Reading %s call records from a 4-partition topic" % "{:,}".format(res["n"]),
            lambda x: "{:,.0f}".format(x))
        bar("memory.png", [res[k]["peak_rss_tree_mib"] for k, _, _ in present],
            "peak RSS of the process tree (MiB)", "Peak memory, N = %s" % "{:,}".format(res["n"]),
            lambda x: "{:,.0f} MiB".format(x))
    sw = res.get("sweep")
    if sw and sw["rows"]:
        fig, ax = plt.subplots(figsize=(7, 4.6))
        parts = sorted({r["partitions"] for r in sw["rows"]})
        series = []
        for r in sw["rows"]:
            s = (r["trigger"], r["parallelism"])
            if s not in series:
                series.append(s)
        w = 0.8 / max(len(series), 1)
        for i, s in enumerate(series):
            ys = []
            for pp in parts:
                row = [r for r in sw["rows"] if (r["trigger"], r["parallelism"]) == s and r["partitions"] == pp]
                ys.append((row[0]["processedRowsPerSecond"] or 0) if row else 0)
            label = "trigger %s" % s[0] + (", parallelism %s" % s[1] if s[1] else "")
            ax.bar([j + i * w - 0.4 + w / 2 for j in range(len(parts))], ys, w, label=label)
        ax.set_xticks(range(len(parts)))
        ax.set_xticklabels(["%d partitions" % pp for pp in parts])
        ax.set_ylabel("processedRowsPerSecond")
        ax.set_title("luastream sweep, N = %s" % "{:,}".format(res["n"]), fontsize=10)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
        fig.tight_layout()
        p = os.path.join(outdir, "sweep.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        made.append(p)
    if res.get("filter"):
        p = filter_chart(res["filter"], outdir)
        if p:
            made.append(p)
    lat = res.get("latency")
    if lat:
        fig, ax = plt.subplots(figsize=(7.5, 4))
        labels, p50, p99, mx = [], [], [], []
        for r in lat:
            la = r.get("latency") or {}
            labels.append("%s\n%s/s, %s" % (r["engine"], "{:,}".format(r["rate"]), r["trigger"]))
            p50.append(la.get("p50_ms") or 0)
            p99.append(la.get("p99_ms") or 0)
            mx.append(la.get("max_ms") or 0)
        xs = range(len(labels))
        ax.bar([x - 0.27 for x in xs], p50, 0.27, label="p50")
        ax.bar(list(xs), p99, 0.27, label="p99")
        ax.bar([x + 0.27 for x in xs], mx, 0.27, label="max")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylabel("ms (Kafka timestamp to output), log scale")
        if any(v > 0 for v in mx):
            ax.set_yscale("log")
            ax.set_ylim(bottom=1, top=max(mx) * 3)
        for x, v in zip(xs, mx):
            if not v:
                ax.annotate("n/a", (x, 1), xytext=(0, 4), textcoords="offset points",
                            ha="center", va="bottom", fontsize=9)
        ax.set_title("End-to-end latency at a steady produce rate", fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        p = os.path.join(outdir, "latency.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        made.append(p)
    return made


def finish(res, results_dir, merge=False):
    """Writes results.json, results.md and the charts. merge (--only filter): the filter
    section replaces its own in the existing results.json; every other part, the header and
    the other charts stay as they were (the filter section names its own N, date and machine)."""
    if merge:
        try:
            with open(os.path.join(results_dir, "results.json")) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        if old and old.get("machine"):
            old["filter"] = res.get("filter")
            if old["filter"] is not None:
                old["filter"]["errors"] = res.get("errors", [])
                old["filter"]["phases"] = res.get("phases", {})
            with open(os.path.join(results_dir, "results.json"), "w") as f:
                json.dump(old, f, indent=1, default=str)
            md = render_md(old)
            with open(os.path.join(results_dir, "results.md"), "w") as f:
                f.write(md)
            made = []
            if old.get("filter"):
                try:
                    import matplotlib
                    matplotlib.use("Agg")
                    p = filter_chart(old["filter"], results_dir)
                    if p:
                        made.append(p)
                except ImportError:
                    log("matplotlib missing: no chart")
            return md, made
    k, l, s = res.get("kcat"), res.get("luastream"), res.get("spark")
    ratios = {}
    if k and l:
        ratios["luastream_over_kcat_rate"] = l["rate"] / k["rate"]
    if s and l:
        ratios["luastream_over_spark_rate"] = l["rate"] / s["rate"]
        ratios["luastream_over_spark_memory"] = l["peak_rss_tree_mib"] / s["peak_rss_tree_mib"]
        ratios["luastream_over_spark_cpu"] = l["cpu_s"] / s["cpu_s"] if s["cpu_s"] else None
        if s.get("query_rate"):
            ratios["luastream_over_spark_query_rate"] = l["rate"] / s["query_rate"]
    res["ratios"] = ratios
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    md = render_md(res)
    with open(os.path.join(results_dir, "results.md"), "w") as f:
        f.write(md)
    made = charts(res, results_dir)
    return md, made


# ------------------------------------------------------------------ command line

def int_list(s):
    return [int(x) for x in s.split(",") if x.strip()]


PARTS = ("kcat", "luastream", "spark", "sweep", "filter", "latency")
FILTER_VARIANTS = ("han", "multi", "all", "lua")


def str_list(allowed):
    def parse(s):
        out = [x.strip() for x in s.split(",") if x.strip()]
        for x in out:
            if x not in allowed:
                raise argparse.ArgumentTypeError("%r is not one of %s" % (x, ", ".join(allowed)))
        return out
    return parse


parts_list = str_list(PARTS)


def main(argv=None):
    ap = argparse.ArgumentParser(description="luastream vs kcat vs Spark benchmark (see bench/README.md)")
    ap.add_argument("--n", type=int, default=2000000, help="records (default 2,000,000)")
    ap.add_argument("--quick", action="store_true", help="fewer Spark settings, shorter latency runs")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--work", default=os.path.join(HERE, "work"))
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--kafka-port", type=int, default=int(os.environ.get("BENCH_KAFKA_PORT", "29092")))
    ap.add_argument("--repeat", type=int, default=None, help="runs of kcat and luastream, best kept (default 3, quick 1)")
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--no-filter", action="store_true", help="skip the filter-and-forward part")
    ap.add_argument("--only", type=parts_list, default=None,
                    help="run only these parts (comma-separated: %s); --only filter adds its "
                         "section to the existing results instead of replacing them" % ",".join(PARTS))
    ap.add_argument("--keep-outputs", action="store_true",
                    help="keep the result rows of sweep and latency runs (large)")
    ap.add_argument("--spark-jars", default=os.path.join(HERE, "work", "spark-jars"))
    ap.add_argument("--spark-shuffle", type=int_list, default=None, help="e.g. 2,8,32,200")
    ap.add_argument("--spark-max-offsets", default=None,
                    help="maxOffsetsPerTrigger values, 0 = no limit, P%% = P percent of N (e.g. 0,25%%)")
    ap.add_argument("--spark-parallelism", type=int_list, default=None, help="spark.default.parallelism values")
    ap.add_argument("--spark-driver-memory", default=None,
                    help="spark.driver.memory (default 2g up to N = 1,000,000, else 4g)")
    ap.add_argument("--spark-timeout", type=float, default=3600)
    ap.add_argument("--spark-latency-triggers", default=None,
                    help="comma-separated: asap (no trigger) and/or intervals like '500 milliseconds'")
    ap.add_argument("--sweep-triggers", default="available-now,500ms")
    ap.add_argument("--sweep-partitions", type=int_list, default=[4, 16, 64])
    ap.add_argument("--sweep-parallelism", type=int_list, default=[1, 2])
    ap.add_argument("--sweep-timeout", type=float, default=3600)
    ap.add_argument("--filter-repeat", type=int, default=None,
                    help="runs of each filter variant, best kept (default: --repeat)")
    ap.add_argument("--filter-variants", type=str_list(FILTER_VARIANTS), default=list(FILTER_VARIANTS),
                    help="luastream filter variants (default all: %s)" % ",".join(FILTER_VARIANTS))
    ap.add_argument("--filter-parallelism", type=int_list, default=[1, 2])
    ap.add_argument("--filter-checkpoint", type=str_list(FILTER_VARIANTS), default=["han", "all"],
                    help="variants also run with a checkpoint, exactly once (default han,all)")
    ap.add_argument("--filter-max-per-trigger", type=int, default=0,
                    help="the filter source's max_records_per_trigger (default 0: one batch)")
    ap.add_argument("--filter-timeout", type=float, default=1800)
    ap.add_argument("--rates", type=int_list, default=[20000, 100000])
    ap.add_argument("--latency-seconds", type=float, default=None, help="produce duration (default 25, quick 10)")
    ap.add_argument("--latency-trigger", default="100ms")
    ap.add_argument("--latency-warmup", type=float, default=3.0)
    ap.add_argument("--latency-drain", type=float, default=120.0, help="max seconds to wait for an engine to catch up")
    a = ap.parse_args(argv)

    a.repeat = a.repeat or (1 if a.quick else 3)
    a.filter_repeat = a.filter_repeat or a.repeat
    a.no_kcat = a.no_luastream = False
    if a.only:
        for part in PARTS:
            if part not in a.only:
                setattr(a, "no_" + part, True)
    a.spark_shuffle = a.spark_shuffle or ([2, 8] if a.quick else [2, 8, 200])
    mo = a.spark_max_offsets or ("0" if a.quick else "0,25%")
    a.spark_driver_memory = a.spark_driver_memory or ("2g" if a.n <= 1000000 else "4g")
    vals = []
    for x in mo.split(","):
        x = x.strip()
        vals.append(int(a.n * float(x[:-1]) / 100) if x.endswith("%") else int(x))
    a.spark_max_offsets = vals
    a.spark_parallelism = a.spark_parallelism or ([2] if a.quick else [2, 4])
    a.spark_latency_triggers = [t.strip() for t in (a.spark_latency_triggers or
                                ("asap" if a.quick else "asap,500 milliseconds")).split(",") if t.strip()]
    a.sweep_triggers = [t.strip() for t in a.sweep_triggers.split(",") if t.strip()]
    a.latency_seconds = a.latency_seconds or (10.0 if a.quick else 25.0)

    global LOG
    os.makedirs(a.work, exist_ok=True)
    LOG = os.path.join(os.path.abspath(a.work), "bench.log")
    open(LOG, "w").close()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    b = Bench(a)
    t0 = time.monotonic()
    status = 0
    try:
        b.run()
    except (BenchError, KeyboardInterrupt) as e:
        log("stopped: %s" % (e or "interrupted"))
        b.res["errors"].append("stopped: %s" % (e or "interrupted"))
        status = 1
    finally:
        for p in list(LIVE.values()):
            end_group(p, grace=5)
        log("stopping the broker")
        b.broker.stop()
    b.res["phases"]["total"] = round(time.monotonic() - t0, 1)
    if "machine" in b.res:
        md, made = finish(b.res, os.path.abspath(a.results), merge=a.only == ["filter"])
        print(md)
        log("wrote %s" % ", ".join(os.path.relpath(p, REPO) for p in
                                   [os.path.join(a.results, "results.md"), os.path.join(a.results, "results.json")] + made))
    if b.res["errors"]:
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
