#!/usr/bin/env python3
"""tests/soak/soak.py - `make soak`: a steady input for SOAK_SECONDS (default
600) with event time moving forward, against a broker of its own. luastream's
RSS is sampled every second; the run fails if memory keeps growing: the peak
of the last half may exceed the peak of the first half (after a minute of
warm-up) by at most 15%. Prints a table of RSS and state size per minute."""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "luastream")
SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
RATE = int(os.environ.get("SOAK_RATE", "5000"))
TYPES = ["Traffic Stop", "Passing Call", "Suspicious Person", "Audible Alarm", "Well Being Check",
         "Noise Nuisance", "Trespasser", "Burglary", "Stolen Vehicle", "Mentally Disturbed"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def feed(proc, stop):
    """Records whose event time advances one minute per wall second."""
    rnd = random.Random(1)
    t0 = time.time()
    base = 1546300800  # 2019-01-01T00:00:00Z
    n = 0
    while not stop.is_set():
        ev = base + int((time.time() - t0) * 60) - rnd.randint(0, 120)
        r = {"crime_id": str(n), "original_crime_type_name": rnd.choice(TYPES),
             "call_date_time": time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime(ev)),
             "disposition": "HAN"}
        try:
            proc.stdin.write(json.dumps(r) + "\n")
        except BrokenPipeError:
            return
        n += 1
        if n % 1000 == 0:
            proc.stdin.flush()
    proc.stdin.close()


def main():
    tmp = tempfile.mkdtemp(prefix="luastream-soak-")
    env = dict(os.environ, KAFKA_PORT=str(free_port()), KAFKA_CONTROLLER_PORT=str(free_port()),
               KAFKA_DATA=os.path.join(tmp, "kafka"))
    kafka = [os.path.join(ROOT, "scripts", "kafka.sh")]
    bootstrap = subprocess.run(kafka + ["start"], env=env, check=True, capture_output=True,
                               text=True).stdout.strip()
    subprocess.run(kafka + ["create-topic", "soak", "2"], env=env, check=True, capture_output=True)
    stop = threading.Event()
    prod = subprocess.Popen([BIN, "produce", "-", "--topic", "soak", "--bootstrap", bootstrap,
                             "--rate", str(RATE), "--quiet"], stdin=subprocess.PIPE, text=True)
    feeder = threading.Thread(target=feed, args=(prod, stop))
    feeder.start()
    progress = os.path.join(tmp, "progress.jsonl")
    job = subprocess.Popen([BIN, os.path.join(ROOT, "tests", "soak", "soak.lua"),
                            "--set", "bootstrap=" + bootstrap, "--set", "output=jsonl:" + tmp + "/out",
                            "--progress", progress, "--quiet"], cwd=ROOT)
    samples = []
    try:
        for s in range(SECONDS):
            time.sleep(1)
            if job.poll() is not None:
                print("luastream exited early with", job.returncode)
                return 1
            samples.append((s + 1, rss_kb(job.pid)))
    finally:
        stop.set()
        feeder.join()
        prod.wait(timeout=60)
        job.send_signal(signal.SIGTERM)
        job.wait(timeout=60)
        subprocess.run(kafka + ["stop"], env=env, capture_output=True)
    reports = [json.loads(l) for l in open(progress)]
    print("minute | RSS MiB (max) | state rows | rows dropped late | input rows/s")
    for m in range(0, len(samples), 60):
        chunk = samples[m:m + 60]
        t_end = chunk[-1][0]
        rep = [r for r in reports][:max(1, int(len(reports) * t_end / len(samples)))][-1]
        so = rep["stateOperators"][0]
        print("%6d | %13.1f | %10d | %17d | %12.0f" % (
            m // 60 + 1, max(k for _, k in chunk) / 1024, so["numRowsTotal"],
            so["numRowsDroppedByWatermark"], rep["inputRowsPerSecond"]))
    warm = [k for t, k in samples if t > 60]
    half = len(warm) // 2
    first, last = max(warm[:half]), max(warm[half:])
    total_in = sum(r["numInputRows"] for r in reports)
    print("records processed: %d; RSS peak first half %.1f MiB, last half %.1f MiB" % (
        total_in, first / 1024, last / 1024))
    if last > first * 1.15:
        print("FAIL: memory grows")
        return 1
    print("OK: memory flat")
    return 0


if __name__ == "__main__":
    sys.exit(main())
