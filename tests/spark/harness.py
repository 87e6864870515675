"""The differential harness: one case = one input (in rounds), one luastream script, one
PySpark query per luastream query; both engines run over the same Kafka topic and their final
results are compared.

A round is produced into the topic, then luastream runs once (`--trigger available-now` on
its checkpoint, rows appended to OUT/<query>.jsonl), then each Spark query runs once
(`trigger(availableNow=True)` on its own checkpoint, every batch's rows appended to a JSON-lines
file through foreachBatch). Several rounds on the same checkpoints give multi-batch,
restart-crossing behaviour in both engines.

Final results: complete and update modes, the last row per key (the group's current value);
append mode, the multiset of rows emitted. Values are compared under Spark's output schema:
numbers by value (integers exactly, doubles within a relative 1e-9, NaN equal to NaN,
infinities exactly), timestamps (window bounds too) as instants, strings exactly, a column
missing from a row differs from a null one."""
import dataclasses
import decimal
import json
import math
import os
import re
import shutil
import subprocess
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.path.join(ROOT, "build", "luastream")
CASES_DIR = os.path.join(HERE, "cases")
REL_TOL = 1e-9


class Mismatch(AssertionError):
    """The engines' final results differ (other than as a case's expected_difference says).
    Expected failures (xfail) are limited to this exception: an engine that crashes or a
    query Spark refuses is a real failure."""


class RunError(Exception):
    """An engine run failed (exit code, exception, timeout)."""


# ---------------------------------------------------------------------------- declarations

@dataclasses.dataclass
class Query:
    """One query of a case: the luastream query `name` (its sink writes OUT/<name>.jsonl) and
    the PySpark function building the same query from a `SparkSource`."""
    name: str
    spark: Callable[["SparkSource"], Any]   # -> streaming DataFrame
    mode: str = "update"                    # complete | update | append (both engines)
    keys: Sequence[str] = ()                # complete/update: the group columns
    last_batch: bool = False                # complete: compare each engine's last batch only
                                            # (the whole result: a row that left it, e.g. a
                                            # session merged into another, must be gone)


@dataclasses.dataclass
class Produce:
    """A JSON file (array or one record a line), or records, produced whole by
    `luastream produce` (one message per record); without a partition the producer spreads
    them over the topic's partitions."""
    path: Optional[str] = None
    records: Optional[list] = None
    partition: Optional[int] = None


@dataclasses.dataclass
class Diff:
    """Rows as each engine rendered them (JSON text)."""
    only_spark: List[str] = dataclasses.field(default_factory=list)
    only_luastream: List[str] = dataclasses.field(default_factory=list)
    differ: List[Tuple[str, str]] = dataclasses.field(default_factory=list)  # (spark, luastream)

    def empty(self):
        return not (self.only_spark or self.only_luastream or self.differ)


@dataclasses.dataclass
class ExpectedDifference:
    """A difference the case asserts exactly (rows as JSON text or dicts): a deliberate,
    documented difference between the engines (README, "Differences from Spark")."""
    reason: str
    only_spark: Sequence[Any] = ()
    only_luastream: Sequence[Any] = ()
    differ: Sequence[Tuple[Any, Any]] = ()  # (spark row, luastream row)


@dataclasses.dataclass
class Tolerance:
    """A column whose values may differ within a bound: `within(spark_value, luastream_value)`
    (normalized values) says whether they are close enough. For an approximation whose exact
    value depends on how an engine splits its work (README, "Differences from Spark"). A
    tolerance the results never need fails the case, as a strict xfail does."""
    reason: str
    within: Callable[[Any, Any], bool]


@dataclasses.dataclass
class Case:
    name: str
    doc: str
    lua: str                                # file under tests/spark/cases/, a path from the
                                            # repository root, or inline script text
    queries: List[Query]
    rounds: List[list]                      # a round: records (dict, list, number: sent as
                                            # compact JSON; str/bytes: sent as is), each bare
                                            # (partition 0) or (partition, record); or Produce
    partitions: int = 1
    cap: int = 0                            # max_records_per_trigger = maxOffsetsPerTrigger
    table: Any = None                       # static table: a list of objects, or a file path
    params: Dict[str, str] = dataclasses.field(default_factory=dict)  # more --set for the script
    args: Sequence[str] = ()                # more luastream command-line options (--parallelism 2)
    xfail: Optional[str] = None             # luastream is known to differ (issue text)
    spark_expect: Dict[str, list] = dataclasses.field(default_factory=dict)  # final rows Spark
                                            # must give (a repro's claim about Spark, checked)
    expected_difference: Dict[str, ExpectedDifference] = dataclasses.field(default_factory=dict)
    tolerance: Dict[str, Dict[str, Tolerance]] = dataclasses.field(default_factory=dict)
                                            # query -> column -> Tolerance


# ---------------------------------------------------------------------------- input

def encode(rec):
    if isinstance(rec, bytes):
        return rec
    if isinstance(rec, str):
        return rec.encode()
    return json.dumps(rec, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode()


def run_bin(args, timeout=180, **kw):
    p = subprocess.run([BIN, *args], capture_output=True, timeout=timeout, cwd=ROOT, **kw)
    if p.returncode != 0:
        raise RunError("luastream %s exited %d\nstderr:\n%s" % (
            " ".join(args), p.returncode, p.stderr.decode(errors="replace")[-4000:]))
    return p


def produce_round(broker, topic, round_items, tmp):
    """Produces one round: per partition, in order, with `luastream produce --raw`."""
    per_part: Dict[int, List[bytes]] = {}
    files = []
    for item in round_items:
        if isinstance(item, Produce):
            files.append(item)
            continue
        part, rec = item if isinstance(item, tuple) else (0, item)
        per_part.setdefault(part, []).append(encode(rec))
    for part, msgs in sorted(per_part.items()):
        for m in msgs:
            if b"\n" in m:
                raise ValueError("a message with a newline cannot be produced with --raw: %r" % m)
        path = os.path.join(tmp, "produce-%s.txt" % uuid.uuid4().hex[:8])
        with open(path, "wb") as f:
            f.write(b"".join(m + b"\n" for m in msgs))
        p = run_bin(["produce", path, "--raw", "--topic", topic, "--partition", str(part),
                     "--bootstrap", broker.bootstrap])
        want = "%d records sent, %d delivered, 0 errors" % (len(msgs), len(msgs))
        if want not in p.stderr.decode(errors="replace"):
            raise RunError("produce did not deliver %d messages to partition %d: %s"
                           % (len(msgs), part, p.stderr.decode(errors="replace")[-2000:]))
    for fp in files:
        path = fp.path
        if path is None:
            path = os.path.join(tmp, "produce-%s.ndjson" % uuid.uuid4().hex[:8])
            with open(path, "wb") as f:
                f.write(b"".join(encode(r) + b"\n" for r in fp.records))
        args = ["produce", path, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"]
        if fp.partition is not None:
            args += ["--partition", str(fp.partition)]
        run_bin(args, timeout=300)


# ---------------------------------------------------------------------------- topics

class TopicAdmin:
    """Creates topics with Kafka's AdminClient inside Spark's JVM (the connector brings
    kafka-clients): a second per case less than `scripts/kafka.sh create-topic`, which starts
    a JVM for each topic."""

    def __init__(self, spark, bootstrap):
        self.jvm = spark._jvm
        props = self.jvm.java.util.Properties()
        props.put("bootstrap.servers", bootstrap)
        self.admin = self.jvm.org.apache.kafka.clients.admin.AdminClient.create(props)

    def create(self, name, partitions, timeout=60):
        jvm = self.jvm
        seconds = jvm.java.util.concurrent.TimeUnit.SECONDS
        topic = jvm.org.apache.kafka.clients.admin.NewTopic(
            name, jvm.java.util.Optional.of(partitions), jvm.java.util.Optional.empty())
        self.admin.createTopics(jvm.java.util.Collections.singletonList(topic)).all().get(timeout, seconds)
        deadline = time.time() + timeout
        while True:  # until every partition has a leader
            try:
                d = (self.admin.describeTopics(jvm.java.util.Collections.singletonList(name))
                     .allTopicNames().get(timeout, seconds).get(name))
                parts = list(d.partitions())
                if len(parts) == partitions and all(p.leader() is not None for p in parts):
                    return name
            except Exception:  # not visible yet
                pass
            if time.time() > deadline:
                raise RunError("topic %s did not get leaders for its %d partitions in %d s"
                               % (name, partitions, timeout))
            time.sleep(0.1)

    def close(self):
        self.admin.close()


# ---------------------------------------------------------------------------- engines

def lua_script(case, work):
    if "\n" in case.lua:
        path = os.path.join(work, case.name + ".lua")
        with open(path, "w") as f:
            f.write(case.lua)
        return path
    for base in (CASES_DIR, ROOT):
        path = os.path.join(base, case.lua)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(case.lua)


def run_luastream(case, script, broker, topic, work, table_path):
    out = os.path.join(work, "luastream", "out")
    args = [script, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
            "--set", "output=jsonl:" + out]
    if table_path:
        args += ["--set", "table=" + table_path]
    if case.cap:
        args += ["--set", "max_records_per_trigger=%d" % case.cap]
    for k, v in case.params.items():
        args += ["--set", "%s=%s" % (k, v)]
    args += list(case.args)
    args += ["--trigger", "available-now", "--checkpoint", os.path.join(work, "luastream", "ckpt"),
             "--progress", os.path.join(out, "progress.jsonl"), "--quiet"]
    run_bin(args)
    return out


class SparkSource:
    """What a case's PySpark function builds its query from."""

    def __init__(self, spark, bootstrap, topic, cap, table_path):
        self.spark = spark
        self.table_path = table_path
        reader = (spark.readStream.format("kafka")
                  .option("kafka.bootstrap.servers", bootstrap)
                  .option("subscribe", topic)
                  .option("startingOffsets", "earliest")
                  .option("failOnDataLoss", "false"))
        if cap:
            reader = reader.option("maxOffsetsPerTrigger", str(cap))
        self.raw = reader.load()

    def json(self, *fields):
        """The messages parsed as JSON objects, each field a string column (Spark keeps a
        number's or a nested value's JSON text in a string field): the schemaless input that
        luastream sees; cast with try_cast where a number or time is wanted."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import StringType, StructField, StructType
        schema = StructType([StructField(f, StringType(), True) for f in fields])
        return (self.raw.select(F.from_json(F.col("value").cast("string"), schema).alias("r"))
                .select("r.*"))

    def table(self):
        """The case's static table as a DataFrame (Spark infers its schema)."""
        return self.spark.read.option("multiLine", "true").json(self.table_path)


def run_spark(spark, case, broker, topic, work, table_path, round_no, timeout=300):
    """One availableNow run of every Spark query of the case (started together: they run
    side by side on local[2]); each batch's rows are appended to OUT/<query>.jsonl."""
    from pyspark.sql import functions as F
    dest = os.path.join(work, "spark", "out")
    os.makedirs(dest, exist_ok=True)
    started = []
    try:
        for q in case.queries:
            rows_path = os.path.join(dest, q.name + ".jsonl")
            log_path = os.path.join(dest, q.name + ".batches.jsonl")
            src = SparkSource(spark, broker.bootstrap, topic, case.cap, table_path)
            sdf = q.spark(src)
            with open(os.path.join(dest, q.name + ".schema.json"), "w") as f:
                f.write(sdf.schema.json())

            def each_batch(df, batch_id, rows_path=rows_path, log_path=log_path):
                # quoted: Spark's names can hold dots (percentile_approx(v, 0.5, 10000))
                cols = [F.col("`%s`" % c.replace("`", "``")) for c in df.columns]
                lines = [r[0] for r in df.select(
                    F.to_json(F.struct(*cols), {"ignoreNullFields": "false"})).collect()]
                with open(rows_path, "a") as f:
                    f.writelines(line + "\n" for line in lines)
                with open(log_path, "a") as f:
                    f.write(json.dumps({"round": round_no, "batchId": batch_id,
                                        "rows": len(lines)}) + "\n")

            started.append((q, sdf.writeStream.queryName("%s_%s_%d" % (case.name, q.name, round_no))
                            .outputMode(q.mode).trigger(availableNow=True)
                            .option("checkpointLocation", os.path.join(work, "spark", "ckpt", q.name))
                            .foreachBatch(each_batch).start()))
        for q, sq in started:
            try:
                done = sq.awaitTermination(timeout)
            except Exception as e:
                raise RunError("Spark query %s failed: %s" % (q.name, str(e)[:4000]))
            if not done:
                raise RunError("Spark query %s did not finish within %d s" % (q.name, timeout))
    finally:
        for q, sq in started:
            if sq.isActive:
                sq.stop()
            with open(os.path.join(dest, q.name + ".progress.jsonl"), "a") as f:
                f.writelines(json.dumps(json.loads(p.json)) + "\n" for p in sq.recentProgress)
    return dest


# ---------------------------------------------------------------------------- values

MISSING = object()
TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                   r"(Z|[+-]\d{2}:?\d{2})?$")


def parse_row(text):
    """JSON text -> dict, keeping numbers exact (Decimal) and NaN/Infinity as floats."""
    return json.loads(text, parse_float=decimal.Decimal,
                      parse_constant=lambda c: float(c))


def ts_micros(s):
    m = TS_RE.match(s)
    if not m:
        return None
    y, mo, d, h, mi, se, frac, zone = m.groups()
    dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(se), tzinfo=timezone.utc)
    micros = int(dt.timestamp()) * 1_000_000
    if frac:
        micros += int((frac[1:] + "000000")[:6])
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        z = zone[1:].replace(":", "")
        micros -= sign * (int(z[:2]) * 3600 + int(z[2:]) * 60) * 1_000_000
    return micros


class Instant:
    def __init__(self, micros):
        self.micros = micros

    def __eq__(self, other):
        return isinstance(other, Instant) and other.micros == self.micros

    def __hash__(self):
        return hash(("instant", self.micros))

    def __repr__(self):
        return "Instant(%d)" % self.micros


FLOAT_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf,
               "+Infinity": math.inf}
INT_TYPES = {"long", "integer", "short", "byte"}


def normalize(v, typ):
    """A value under Spark's type `typ` (a schema JSON value) -> a comparable value."""
    if v is MISSING or v is None:
        return v
    if isinstance(typ, dict) and typ.get("type") == "struct":
        if not isinstance(v, dict):
            return ("not a struct", v)
        out = {}
        for f in typ["fields"]:
            out[f["name"]] = normalize(v.get(f["name"], MISSING), f["type"])
        for k in v:
            if k not in out:
                out[k] = ("extra column", v[k])
        return out
    if isinstance(typ, dict) and typ.get("type") == "array":
        if not isinstance(v, list):
            return ("not an array", v)
        return [normalize(x, typ["elementType"]) for x in v]
    if typ in ("timestamp", "timestamp_ntz"):
        if isinstance(v, str) and ts_micros(v) is not None:
            return Instant(ts_micros(v))
        return ("not a timestamp", v)
    if typ in ("double", "float"):
        if isinstance(v, bool):
            return v
        if isinstance(v, (int, float, decimal.Decimal)):
            return float(v)
        if isinstance(v, str) and v in FLOAT_WORDS:
            return FLOAT_WORDS[v]
        return v
    if typ in INT_TYPES:
        if isinstance(v, decimal.Decimal) and v == v.to_integral_value():
            return int(v)
        return v
    if isinstance(typ, str) and typ.startswith("decimal"):
        if isinstance(v, (int, decimal.Decimal)) and not isinstance(v, bool):
            return decimal.Decimal(v)
        return v
    return v


def same(a, b):
    """Equality of normalized values (doubles within REL_TOL, NaN = NaN)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
        return a == b or abs(a - b) <= REL_TOL * max(abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, str) != isinstance(b, str):
        return False
    return a is b or (a is not MISSING and b is not MISSING and a == b)


def canon(v):
    """A hashable form of a normalized value, for keys."""
    if v is MISSING:
        return ("<missing>",)
    if isinstance(v, dict):
        return tuple(sorted((k, canon(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(canon(x) for x in v)
    if isinstance(v, float):
        return ("float", repr(v))
    if isinstance(v, decimal.Decimal):
        return ("num", str(v.normalize()) if v == v else "NaN")
    if isinstance(v, int) and not isinstance(v, bool):
        return ("num", str(decimal.Decimal(v).normalize()))
    return (type(v).__name__, v)


# ---------------------------------------------------------------------------- comparison

@dataclasses.dataclass
class Row:
    text: str
    value: Any   # normalized dict


def load_rows(path, schema):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            try:
                raw = parse_row(line)
            except ValueError:
                rows.append(Row(line, ("not JSON", line)))
                continue
            rows.append(Row(line, normalize(raw, schema)))
    return rows


def key_of(row, keys):
    v = row.value
    if not isinstance(v, dict):
        return ("<bad row>", row.text)
    return tuple(canon(v.get(k, MISSING)) for k in keys)


def final_by_key(rows, keys):
    out = {}
    for r in rows:
        out[key_of(r, keys)] = r
    return out


def same_row(a, b, tolerance=None, used=None):
    """Equal rows, or rows whose only differences are in columns whose tolerance accepts
    them (their names are added to `used`)."""
    if same(a, b):
        return True
    if not tolerance or not isinstance(a, dict) or not isinstance(b, dict) or a.keys() != b.keys():
        return False
    loose = set()
    for k in a:
        if not same(a[k], b[k]):
            if k not in tolerance or not tolerance[k].within(a[k], b[k]):
                return False
            loose.add(k)
    if used is not None:
        used |= loose
    return True


def diff_results(spark_rows, ls_rows, mode, keys, tolerance=None, used=None):
    d = Diff()
    if mode in ("complete", "update"):
        s, l = final_by_key(spark_rows, keys), final_by_key(ls_rows, keys)
        for k, r in s.items():
            if k not in l:
                d.only_spark.append(r.text)
            elif not same_row(r.value, l[k].value, tolerance, used):
                d.differ.append((r.text, l[k].text))
        d.only_luastream = [r.text for k, r in l.items() if k not in s]
    else:  # append: the multiset of rows
        left = list(ls_rows)
        for r in spark_rows:
            for i, x in enumerate(left):
                if same(r.value, x.value):
                    del left[i]
                    break
            else:
                d.only_spark.append(r.text)
        d.only_luastream = [r.text for r in left]
    return d


def _as_text(r):
    return r if isinstance(r, str) else json.dumps(r, separators=(",", ":"))


def matches_expected(d, exp, schema):
    """True when the diff is exactly the expected one (rows compared as values)."""
    def rows(seq):
        return [normalize(parse_row(_as_text(r)), schema) for r in seq]

    def same_multiset(a, b):
        b = list(b)
        for x in a:
            for i, y in enumerate(b):
                if same(x, y):
                    del b[i]
                    break
            else:
                return False
        return not b
    return (same_multiset(rows(d.only_spark), rows(exp.only_spark))
            and same_multiset(rows(d.only_luastream), rows(exp.only_luastream))
            and same_multiset([(a, b) for a, b in zip(rows([x for x, _ in d.differ]),
                                                     rows([y for _, y in d.differ]))],
                              [(a, b) for a, b in zip(rows([x for x, _ in exp.differ]),
                                                     rows([y for _, y in exp.differ]))]))


def format_diff(name, d, limit=40):
    lines = ["query %s: %d row(s) only in Spark, %d only in luastream, %d differ"
             % (name, len(d.only_spark), len(d.only_luastream), len(d.differ))]
    for title, seq in (("only in Spark:", d.only_spark), ("only in luastream:", d.only_luastream)):
        if seq:
            lines.append("  " + title)
            lines += ["    " + r for r in sorted(seq)[:limit]]
            if len(seq) > limit:
                lines.append("    ... %d more" % (len(seq) - limit))
    if d.differ:
        lines.append("  differ (Spark / luastream):")
        for s, l in sorted(d.differ)[:limit]:
            lines += ["    S " + s, "    L " + l]
        if len(d.differ) > limit:
            lines.append("    ... %d more" % (len(d.differ) - limit))
    return "\n".join(lines)


def batches_summary(ls_out, spark_out, qname):
    """Per batch: input rows and watermark in each engine (for reading a diff)."""
    out = []
    p = os.path.join(ls_out, "progress.jsonl")
    if os.path.exists(p):
        with open(p) as f:
            reps = [json.loads(x) for x in f if x.strip()]
        out.append("  luastream batches: " + "; ".join(
            "%s in=%s wm=%s" % (r.get("batchId"), r.get("numInputRows"),
                                (r.get("eventTime") or {}).get("watermark", "-"))
            for r in reps if r.get("name") == qname))
    p = os.path.join(spark_out, qname + ".progress.jsonl")
    if os.path.exists(p):
        with open(p) as f:
            reps = [json.loads(x) for x in f if x.strip()]
        out.append("  Spark batches:     " + "; ".join(
            "%s in=%s wm=%s" % (r.get("batchId"), r.get("numInputRows"),
                                (r.get("eventTime") or {}).get("watermark", "-"))
            for r in reps))
    return "\n".join(out)


# ---------------------------------------------------------------------------- one case

def write_table(case, work):
    if case.table is None:
        return None
    if isinstance(case.table, str):
        return case.table if os.path.isabs(case.table) else os.path.join(ROOT, case.table)
    path = os.path.join(work, "table.json")
    with open(path, "w") as f:
        json.dump(case.table, f)
    return path


def last_batch_rows(ls_out, spark_out, qname, lrows, srows):
    """The rows of each engine's last batch (outputs are appended batch after batch): Spark's
    from its batch log, luastream's from its progress reports (sink.numOutputRows)."""
    with open(os.path.join(spark_out, qname + ".batches.jsonl")) as f:
        n_spark = [json.loads(x) for x in f if x.strip()][-1]["rows"]
    with open(os.path.join(ls_out, "progress.jsonl")) as f:
        reps = [json.loads(x) for x in f if x.strip()]
    n_ls = [r for r in reps if r.get("name") == qname][-1]["sink"]["numOutputRows"]
    return lrows[len(lrows) - n_ls:], srows[len(srows) - n_spark:]


def run_case(case, broker, spark, admin, work):
    """Runs a case in both engines and compares; raises Mismatch with the diffs."""
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    topic = admin.create("spark-" + case.name.replace("_", "-") + "-" + uuid.uuid4().hex[:6],
                         case.partitions)
    table_path = write_table(case, work)
    script = lua_script(case, work)
    ls_out = spark_out = None
    timings = []
    for i, rnd in enumerate(case.rounds):
        t0 = time.time()
        produce_round(broker, topic, rnd, work)
        t1 = time.time()
        ls_out = run_luastream(case, script, broker, topic, work, table_path)
        t2 = time.time()
        spark_out = run_spark(spark, case, broker, topic, work, table_path, i)
        timings.append({"round": i, "produce": round(t1 - t0, 2), "luastream": round(t2 - t1, 2),
                        "spark": round(time.time() - t2, 2)})
    with open(os.path.join(work, "timings.json"), "w") as f:
        json.dump(timings, f)

    problems = []
    report = {}
    for q in case.queries:
        with open(os.path.join(spark_out, q.name + ".schema.json")) as f:
            schema = json.load(f)
        srows = load_rows(os.path.join(spark_out, q.name + ".jsonl"), schema)
        lrows = load_rows(os.path.join(ls_out, q.name + ".jsonl"), schema)
        if q.last_batch:
            lrows, srows = last_batch_rows(ls_out, spark_out, q.name, lrows, srows)
        if q.name in case.spark_expect:
            want = [Row(_as_text(r), normalize(parse_row(_as_text(r)), schema))
                    for r in case.spark_expect[q.name]]
            dw = diff_results(want, srows, q.mode, q.keys)
            if not dw.empty():  # not a Mismatch: an expected failure must not hide this
                raise AssertionError("case %s: Spark does not give the result the case states "
                                     "(\"only in Spark\" = stated, \"only in luastream\" = "
                                     "Spark's):\n%s" % (case.name, format_diff(q.name, dw)))
        tol, used = case.tolerance.get(q.name), set()
        d = diff_results(srows, lrows, q.mode, q.keys, tol, used)
        report[q.name] = d
        for col in sorted(set(tol or ()) - used):
            problems.append("query %s: the tolerance on %s (%s) was not needed: the results are "
                            "equal; remove it" % (q.name, col, tol[col].reason))
        exp = case.expected_difference.get(q.name)
        if exp is not None:
            if not matches_expected(d, exp, schema):
                problems.append("expected difference (%s) not found exactly; got:\n%s\n%s"
                                % (exp.reason, format_diff(q.name, d),
                                   batches_summary(ls_out, spark_out, q.name)))
        elif not d.empty():
            problems.append(format_diff(q.name, d) + "\n" + batches_summary(ls_out, spark_out, q.name))
        if not srows and not d.only_luastream:
            problems.append("query %s: Spark emitted no rows at all (a case must compare something)"
                            % q.name)
    if problems:
        raise Mismatch("case %s (%s): results differ; outputs in %s\n%s"
                       % (case.name, case.doc, work, "\n".join(problems)))
    return report
