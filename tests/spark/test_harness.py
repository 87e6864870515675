"""The comparison itself, without Spark or Kafka: what counts as equal, what a diff says."""
import json

from harness import (Diff, ExpectedDifference, Row, Tolerance, diff_results, format_diff, last_batch_rows,
                     matches_expected, normalize, parse_row, same)

WINDOW = {"type": "struct", "fields": [
    {"name": "start", "type": "timestamp"}, {"name": "end", "type": "timestamp"}]}
SCHEMA = {"type": "struct", "fields": [
    {"name": "window", "type": WINDOW}, {"name": "key", "type": "string"},
    {"name": "count", "type": "long"}, {"name": "avg(v)", "type": "double"}]}


def rows(*texts):
    return [Row(t, normalize(parse_row(t), SCHEMA)) for t in texts]


def row(start, key, count, avg):
    return json.dumps({"window": {"start": start, "end": "2019-01-01T06:00:00Z"}, "key": key,
                       "count": count, "avg(v)": avg})


def test_timestamps_compare_as_instants():
    a = normalize("2019-01-01T05:00:00.000Z", "timestamp")
    assert same(a, normalize("2019-01-01T05:00:00Z", "timestamp"))
    assert same(a, normalize("2019-01-01T07:00:00+02:00", "timestamp"))
    assert not same(a, normalize("2019-01-01T05:00:00.001Z", "timestamp"))


def test_numbers_by_value():
    assert same(normalize(3, "long"), 3)
    assert same(normalize(parse_row('{"x":3.0}')["x"], "long"), 3)          # 3 == 3.0
    assert not same(normalize(parse_row('{"x":3.5}')["x"], "long"), 3)
    big = parse_row('{"x":9007199254740993}')["x"]
    assert not same(normalize(big, "long"), 9007199254740992)               # integers exactly
    assert same(normalize(0.1 + 0.2, "double"), normalize(0.3, "double"))  # doubles within 1e-9
    assert not same(normalize(1.0, "double"), normalize(1.000001, "double"))
    nan = normalize("NaN", "double")                                        # Spark writes "NaN"
    assert same(nan, normalize(float("nan"), "double"))
    assert not same(nan, None)                                              # null is not NaN
    assert same(normalize("Infinity", "double"), float("inf"))
    assert not same(normalize("Infinity", "double"), normalize("-Infinity", "double"))
    assert not same(normalize("1", "long"), 1)                              # text is not a number
    assert not same(normalize(True, "long"), 1)


def test_null_and_missing_differ():
    a = normalize({"key": None}, {"type": "struct", "fields": [{"name": "key", "type": "string"}]})
    b = normalize({}, {"type": "struct", "fields": [{"name": "key", "type": "string"}]})
    assert not same(a, b)


def test_update_mode_compares_the_last_row_per_key():
    s = rows(row("2019-01-01T05:00:00.000Z", "a", 1, 1.0), row("2019-01-01T05:00:00.000Z", "a", 2, 1.5))
    l = rows(row("2019-01-01T05:00:00Z", "a", 2, 1.5))
    assert diff_results(s, l, "update", ("window", "key")).empty()
    l2 = rows(row("2019-01-01T05:00:00Z", "a", 2, 1.5), row("2019-01-01T05:00:00Z", "a", 3, 1.0))
    d = diff_results(s, l2, "update", ("window", "key"))
    assert len(d.differ) == 1 and not d.only_spark and not d.only_luastream
    assert "1 differ" in format_diff("q", d)


def test_append_mode_compares_multisets():
    r = row("2019-01-01T05:00:00Z", "a", 1, 1.0)
    assert diff_results(rows(r, r), rows(r, r), "append", ()).empty()
    d = diff_results(rows(r, r), rows(r), "append", ())
    assert d.only_spark == [r] and not d.only_luastream


def test_expected_difference_is_exact():
    s = rows(row("2019-01-01T05:00:00Z", "a", 1, 1.0))
    d = diff_results(s, [], "update", ("window", "key"))
    exp = ExpectedDifference("x", only_spark=[json.loads(row("2019-01-01T05:00:00Z", "a", 1, 1.0))])
    assert matches_expected(d, exp, SCHEMA)
    assert not matches_expected(d, ExpectedDifference("x"), SCHEMA)
    assert not matches_expected(Diff(), exp, SCHEMA)


def test_last_batch_takes_each_engines_last_batch(tmp_path):
    """A complete-mode query marked last_batch: the rows of the last batch only (a row that an
    earlier batch had and the last one has not, as a merged session, is not compared)."""
    ls_out, spark_out = tmp_path / "ls", tmp_path / "spark"
    ls_out.mkdir()
    spark_out.mkdir()
    (spark_out / "q.batches.jsonl").write_text(
        '{"round": 0, "batchId": 0, "rows": 2}\n{"round": 1, "batchId": 1, "rows": 1}\n')
    (ls_out / "progress.jsonl").write_text(
        '{"name": "q", "sink": {"numOutputRows": 2}}\n{"name": "other", "sink": {"numOutputRows": 5}}\n'
        '{"name": "q", "sink": {"numOutputRows": 1}}\n')
    s = rows(row("2019-01-01T05:00:00Z", "a", 1, 1.0), row("2019-01-01T05:10:00Z", "a", 1, 1.0),
             row("2019-01-01T05:00:00Z", "a", 2, 1.0))
    l, sp = last_batch_rows(str(ls_out), str(spark_out), "q", list(s), list(s))
    assert [r.text for r in l] == [s[2].text] and [r.text for r in sp] == [s[2].text]
    (ls_out / "progress.jsonl").write_text('{"name": "q", "sink": {"numOutputRows": 0}}\n')
    l, _ = last_batch_rows(str(ls_out), str(spark_out), "q", list(s), list(s))
    assert l == []  # an empty last batch is empty, not everything


def test_tolerance_accepts_only_its_column_within_its_bound():
    near = Tolerance("approximation", lambda a, b: abs(a - b) <= 0.5)
    s = rows(row("2019-01-01T05:00:00Z", "a", 2, 1.0))
    close = rows(row("2019-01-01T05:00:00Z", "a", 2, 1.25))
    far = rows(row("2019-01-01T05:00:00Z", "a", 2, 2.0))
    other = rows(row("2019-01-01T05:00:00Z", "a", 3, 1.25))    # count differs: no tolerance
    keys = ("window", "key")
    assert len(diff_results(s, close, "update", keys).differ) == 1
    used = set()
    assert diff_results(s, close, "update", keys, {"avg(v)": near}, used).empty()
    assert used == {"avg(v)"}
    used = set()
    assert len(diff_results(s, far, "update", keys, {"avg(v)": near}, used).differ) == 1
    assert len(diff_results(s, other, "update", keys, {"avg(v)": near}, used).differ) == 1
    assert diff_results(s, s, "update", keys, {"avg(v)": near}, used).empty()
    assert used == set()                                       # equal rows need no tolerance
