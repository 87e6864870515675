#!/usr/bin/env python3
# bench/scan_corpus.py - the corpora of the decoder micro-benchmark (bench/scan.sh,
# bench/scan_bench.c): one file per corpus, each message as a 4-byte little-endian
# length and its bytes (messages may hold newlines: the "pretty" corpus).
#
#   calls    scripts/gen_calls.py's police calls (compact, as produced into Kafka: the
#            benchmark's and the tests' data)
#   pretty   the same calls indented by 2 (json.dumps indent=2): whitespace
#   long     a call plus a 300-3000 byte ASCII "narrative" and a 100-400 byte "notes"
#   numbers  20 numeric fields (ints, negatives, decimals, exponents, coordinates) and 2 strings
#   escapes  the long corpus's text with quotes, backslashes, newlines, tabs and non-ASCII
#            written as \uXXXX (json.dumps ensure_ascii): escapes everywhere
#   utf8     text in French, German, Greek, Russian, Chinese, Japanese and emoji, raw UTF-8
#   nested   a call with an unprojected "units" array of objects and a "geo" object
#   sample   the elements of --sample (default ../shared/data/sf-police-calls-sample.json beside the repository,
#            a JSON array of real police calls), each element's bytes as they are in the file
#            (escapes such as \/ kept); skipped when the file is absent. Never commit it.
#
# Next to each NAME.msgs, NAME.fields: the typical projection (3 fields) on its first line,
# every top-level field of the first message on its second. Deterministic for a given --seed. Standard library only.
import argparse
import json
import os
import random
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

WORDS = ("the caller reports a person in a dark jacket near the corner of the street "
         "walking towards the park with a bag officer advised units responded and found "
         "no one at the location vehicle parked in the bus zone since this morning "
         "complainant states neighbours are playing loud music after midnight again").split()
UTF8 = ["café", "naïve", "Ärger", "Straße", "Größe", "déjà", "façade", "Ελλάδα", "λόγος",
        "Москва", "улица", "東京", "警察", "通報", "駅前", "北京", "🚓", "🚨", "😀", "crème brûlée",
        "São Paulo", "Zürich", "Kraków", "İstanbul", "Ñandú"]
ESC = ['"quoted"', "back\\slash", "line\nbreak", "tab\there", "a/b", "café", "東京", "🚓",
       "\u0001ctl", "cr\r\n"]


def text(rng, lo, hi, vocab=WORDS, sep=" "):
    n = rng.randint(lo, hi)
    out, size = [], 0
    while size < n:
        w = rng.choice(vocab)
        out.append(w)
        size += len(w.encode()) + len(sep)
    return sep.join(out)


def dump(obj, **kw):
    kw.setdefault("separators", (",", ":"))
    kw.setdefault("ensure_ascii", False)
    return json.dumps(obj, **kw).encode()


def sample(path):
    """The array's elements, each as its exact bytes in the file."""
    text = open(path, encoding="utf-8").read()
    dec, out = json.JSONDecoder(), []
    i = text.index("[") + 1
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "]":
            return out
        _, j = dec.raw_decode(text, i)
        out.append(text[i:j].encode())
        i = j


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(HERE, "work", "scan"))
    ap.add_argument("--count", type=int, default=100000, help="calls records (others: count/4)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--sample", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                   "shared", "data", "sf-police-calls-sample.json"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    gen = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "gen_calls.py"),
                          "--count", str(a.count), "--seed", str(a.seed), "--format", "ndjson"],
                         check=True, capture_output=True).stdout
    lines = [l for l in gen.split(b"\n") if l]
    calls = [json.loads(l) for l in lines]
    m = max(1, a.count // 4)
    corpora = {
        "calls": lines,
        "pretty": [dump(c, indent=2, separators=(",", ": ")) for c in calls[:m]],
        "long": [dump(dict(c, narrative=text(rng, 300, 3000), notes=text(rng, 100, 400)))
                 for c in calls[:m]],
        "numbers": [dump({
            "id": rng.randint(0, 10**12), "seq": i, "ts": 1543000000000 + i * 937,
            "lat": round(37.70 + rng.random() * 0.12, 6), "lon": round(-122.51 + rng.random() * 0.14, 6),
            "speed": round(rng.random() * 120, 2), "temp": round(rng.gauss(15, 8), 1),
            "delta": rng.randint(-5000, 5000), "ratio": rng.random(), "big": rng.randint(0, 2**63 - 1),
            "tiny": float("%.3e" % (rng.random() * 1e-9)), "huge": float("%.4e" % (rng.random() * 1e30)),
            "zero": 0, "neg": -rng.randint(1, 10**9), "count": rng.randint(0, 100),
            "score": round(rng.uniform(-1, 1), 8), "priority": rng.randint(1, 5),
            "units": rng.randint(1, 12), "elapsed_ms": rng.randint(0, 3600000),
            "e": float("%.2e" % rng.uniform(-1e5, 1e5)),
            "unit": "m/s", "status": rng.choice(["ok", "late", "retry"])}) for i in range(m)],
        "escapes": [dump(dict(c, narrative=text(rng, 300, 3000, WORDS + ESC),
                              notes=text(rng, 100, 400, WORDS + ESC)), ensure_ascii=True)
                    for c in calls[:m]],
        "utf8": [dump(dict(c, address=text(rng, 10, 60, UTF8), narrative=text(rng, 300, 3000, UTF8),
                           notes=text(rng, 100, 400, UTF8 + WORDS))) for c in calls[:m]],
        "nested": [dump(dict(c, units=[{"unit": "%dB%d" % (rng.randint(1, 9), j),
                                        "officers": [rng.randint(100, 999) for _ in range(2)],
                                        "on_scene": rng.random() < 0.5, "eta_s": rng.randint(30, 900)}
                                       for j in range(rng.randint(1, 4))],
                             geo={"lat": round(37.7 + rng.random() * 0.1, 6),
                                  "lon": round(-122.5 + rng.random() * 0.1, 6), "zone": None}))
                   for c in calls[:m]],
    }
    if os.path.exists(a.sample):
        corpora["sample"] = sample(a.sample)
    for name, msgs in corpora.items():
        path = os.path.join(a.out, name + ".msgs")
        with open(path, "wb") as f:
            for b in msgs:
                f.write(struct.pack("<I", len(b)))
                f.write(b)
        first = json.loads(msgs[0])
        typical = "ts,lat,status" if name == "numbers" else \
            "call_date_time,original_crime_type_name,disposition"
        with open(os.path.join(a.out, name + ".fields"), "w") as f:
            f.write(typical + "\n" + ",".join(first) + "\n")
        size = sum(len(b) for b in msgs)
        print("%-8s %7d messages, %6.1f MB, %5.0f bytes each" % (name, len(msgs), size / 1e6,
                                                                 size / len(msgs)))


if __name__ == "__main__":
    main()
