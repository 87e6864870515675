#!/usr/bin/env python3
# scripts/demo_report.py - owns what scripts/demo.sh reads out of the pipeline's progress
# reports (--progress FILE: one JSON object per query per batch, Spark's field names).
# Python 3 stdlib only.
"""Figures from the demo's progress reports.

usage: demo_report.py consumed PROGRESS TOPIC
       demo_report.py summary PROGRESS
       demo_report.py compare [--json FILE] LABEL=PROGRESS...

consumed  how many messages of TOPIC the pipeline has read so far: the sum over
          partitions of the last endOffset reported (the topic is fresh, so it
          starts at 0); 0 while there is no report yet.
summary   records, batches and the means of the demo's closing summary.
compare   one row per run (LABEL is its trigger): batches, records, mean
          inputRowsPerSecond, mean processedRowsPerSecond, mean batch duration.

Both queries of scripts/pipeline.lua run in the same batches over the same records,
so every figure is per batch (the first report of each batchId). The means are plain
means over the batches; the mean inputRowsPerSecond leaves out the first batch, for
which there is no previous batch and the report says 0, as Spark's does.
"""
import json
import sys


def reports(path):
    """The complete JSON lines of a progress file (a line being written is skipped)."""
    out = []
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        return out
    with f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def consumed(path, topic):
    ends = {}
    for r in reports(path):
        for s in r.get("sources") or []:
            for p, off in ((s.get("endOffset") or {}).get(topic) or {}).items():
                ends[p] = max(ends.get(p, 0), int(off))
    return sum(ends.values())


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else 0.0


def stats(path):
    first = {}
    for r in reports(path):
        first.setdefault(r["batchId"], r)
    batches = [first[k] for k in sorted(first)]
    return {
        "batches": len(batches),
        "records": sum(b["numInputRows"] for b in batches),
        "invalid": sum(b.get("numInvalidRows", 0) for b in batches),
        "inputRowsPerSecond": mean(b["inputRowsPerSecond"] for b in batches[1:]),
        "processedRowsPerSecond": mean(b["processedRowsPerSecond"] for b in batches),
        "batchDurationMs": mean(b["durationMs"]["triggerExecution"] for b in batches),
        "maxBatchDurationMs": max((b["durationMs"]["triggerExecution"] for b in batches), default=0),
        "queries": sorted({r["name"] for r in reports(path)}),
    }


def summary(path):
    s = stats(path)
    if not s["batches"]:
        print("   records     none processed (no progress report in %s)" % path)
        return s
    invalid = ", %d invalid (dead letters)" % s["invalid"] if s["invalid"] else ""
    print("   records     %d in %d batch%s%s" % (s["records"], s["batches"],
                                               "" if s["batches"] == 1 else "es", invalid))
    if s["batches"] > 1:
        print("   input       %.0f rows/s on average (inputRowsPerSecond, batches after the first)"
              % s["inputRowsPerSecond"])
    else:
        print("   input       no rate: one batch only (inputRowsPerSecond needs a previous batch)")
    print("   processed   %.0f rows/s on average (processedRowsPerSecond); batch duration %.0f ms "
          "on average, %d ms at most" % (s["processedRowsPerSecond"], s["batchDurationMs"],
                                         s["maxBatchDurationMs"]))
    return s


def compare(args):
    json_out = None
    if len(args) >= 2 and args[0] == "--json":
        json_out, args = args[1], args[2:]
    rows = []
    for a in args:
        label, sep, path = a.partition("=")
        if not sep:
            raise SystemExit("demo_report.py compare: expected LABEL=PROGRESS, got %r" % a)
        rows.append(dict(stats(path), trigger=label))
    head = ("trigger", "batches", "records", "mean inputRowsPerSecond",
            "mean processedRowsPerSecond", "mean batch duration (ms)")
    cells = [(r["trigger"], "%d" % r["batches"], "%d" % r["records"],
              "%.1f" % r["inputRowsPerSecond"], "%.1f" % r["processedRowsPerSecond"],
              "%.1f" % r["batchDurationMs"]) for r in rows]
    w = [max(len(c[i]) for c in [head] + cells) for i in range(len(head))]
    print("| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(head)) + " |")
    print("|" + "|".join("-" * (w[0] + 2) if i == 0 else "-" * (w[i] + 1) + ":"
                         for i in range(len(head))) + "|")
    for c in cells:
        print("| " + " | ".join(c[0].ljust(w[0]) if i == 0 else c[i].rjust(w[i])
                                for i in range(len(head))) + " |")
    if json_out:
        with open(json_out, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
            f.write("\n")


def main(argv):
    if len(argv) == 3 and argv[0] == "consumed":
        print(consumed(argv[1], argv[2]))
    elif len(argv) == 2 and argv[0] == "summary":
        summary(argv[1])
    elif len(argv) >= 2 and argv[0] == "compare":
        compare(argv[1:])
    else:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
