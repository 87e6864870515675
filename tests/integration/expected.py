"""Independent computation of the pipeline's results from the raw records,
in plain Python: what luastream's output is checked against."""
import calendar
import datetime
import json
from collections import Counter

SIZE = 600    # window size, seconds
SLIDE = 300   # window slide, seconds


def epoch(ts):
    # "2018-12-31T23:57:00.000", no zone: UTC
    d = datetime.datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(d.timetuple())


def iso(t):
    return datetime.datetime.utcfromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def windows(t):
    last = t - t % SLIDE
    start = last - SIZE + SLIDE
    return [s for s in range(start, last + 1, SLIDE) if s <= t < s + SIZE]


def crime_type_counts(records):
    c = Counter()
    for r in records:
        for s in windows(epoch(r["call_date_time"])):
            c[(iso(s), iso(s + SIZE), r["original_crime_type_name"])] += 1
    return c


def disposition_counts(records, radio):
    desc = {r["disposition_code"]: r["description"] for r in radio}
    c = Counter(r["disposition"] for r in records)
    return {d: (desc.get(d), n) for d, n in c.items()}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
