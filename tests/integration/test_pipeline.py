"""The police-calls pipeline end to end against a real broker: produce the
real 6,802-record sample, run scripts/pipeline.lua with available-now and
jsonl output, and compare every count with an independent computation."""
import json
import os
import subprocess

import pytest

from conftest import BIN, RADIO, ROOT, SAMPLE, last_by_key, read_jsonl, run
import expected

PIPELINE = os.path.join(ROOT, "scripts", "pipeline.lua")


def window_key(r):
    return (r["window"]["start"], r["window"]["end"], r["original_crime_type_name"])


def check_results(out_dir, records):
    crimes = last_by_key(read_jsonl(os.path.join(out_dir, "crime_type_counts.jsonl")), window_key)
    want = expected.crime_type_counts(records)
    assert {k: r["count"] for k, r in crimes.items()} == dict(want)
    disp = last_by_key(read_jsonl(os.path.join(out_dir, "disposition_counts.jsonl")),
                       lambda r: r["disposition"])
    want_d = expected.disposition_counts(records, expected.load(RADIO))
    assert {k: (r["description"], r["count"]) for k, r in disp.items()} == want_d
    return crimes, disp


@pytest.fixture(scope="module")
def sample():
    return expected.load(SAMPLE)


@pytest.fixture(scope="module")
def sample_topic(broker):
    topic = broker.create_topic(partitions=4)
    p = run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap])
    assert "6802 records sent, 6802 delivered, 0 errors" in p.stderr
    return topic


def run_pipeline(broker, topic, out_dir, *extra):
    return run([PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
                "--set", "output=jsonl:" + str(out_dir), "--trigger", "available-now",
                "--progress", os.path.join(str(out_dir), "progress.jsonl"), *extra])


def test_sample_gives_the_documented_counts(broker, sample_topic, sample, tmp_path):
    run_pipeline(broker, sample_topic, tmp_path)
    crimes, disp = check_results(tmp_path, sample)
    # The figures the issue states, for the real sample.
    assert len(crimes) == 9672
    assert sum(r["count"] for r in crimes.values()) == 13604
    assert len(disp) == 20
    assert sorted(d for d, r in disp.items() if r["description"] is None) == \
        ["FIR", "GEN", "Not recorded", "OTS"]
    assert disp["HAN"] == {"disposition": "HAN", "description": "Handled", "count": 1932}
    assert os.path.getsize(tmp_path / "dead_letter.jsonl") == 0
    row = next(iter(crimes.values()))
    assert set(row) == {"window", "original_crime_type_name", "count"}
    assert row["window"]["start"].endswith(":00.000Z")


def test_progress_reports_use_sparks_field_names(broker, sample_topic, tmp_path):
    run_pipeline(broker, sample_topic, tmp_path)
    reports = read_jsonl(tmp_path / "progress.jsonl")
    assert {r["name"] for r in reports} == {"crime_type_counts", "disposition_counts"}
    for r in reports:
        for field in ("id", "runId", "name", "timestamp", "batchId", "numInputRows",
                      "inputRowsPerSecond", "processedRowsPerSecond", "durationMs",
                      "eventTime", "stateOperators", "sources", "sink", "numInvalidRows"):
            assert field in r, field
        so = r["stateOperators"][0]
        for field in ("numRowsTotal", "numRowsUpdated", "numRowsDroppedByWatermark",
                      "memoryUsedBytes"):
            assert field in so
        assert r["durationMs"]["triggerExecution"] >= 0
        assert r["sources"][0]["endOffset"]
    crime = [r for r in reports if r["name"] == "crime_type_counts"]
    assert sum(r["numInputRows"] for r in crime) == 6802
    assert crime[-1]["stateOperators"][0]["numRowsTotal"] == 9672
    assert crime[-1]["eventTime"]["max"] == "2018-12-31T23:57:00.000Z"
    # the watermark in effect during the batch, as Spark reports it: one batch, so the
    # initial one; complete mode runs no further (no-data) batch to move it
    assert crime[-1]["eventTime"]["watermark"] == "1970-01-01T00:00:00.000Z"


def test_max_records_per_trigger_splits_batches_with_same_results(broker, sample_topic, sample,
                                                                    tmp_path):
    run_pipeline(broker, sample_topic, tmp_path, "--set", "max_records_per_trigger=1000")
    reports = [r for r in read_jsonl(tmp_path / "progress.jsonl") if r["name"] == "crime_type_counts"]
    assert len(reports) == 7
    assert [r["batchId"] for r in reports] == list(range(7))
    # Spark's rate limit (KafkaMicroBatchStream.rateLimit) rounds a partition's share up when
    # it is below one record, so that no partition starves: with 4 partitions a batch may take
    # up to 3 records more than the cap when the producer's sticky partitioner left one with
    # few records (seen once in CI: the distribution of keyless records varies).
    assert all(r["numInputRows"] <= 1000 + 3 for r in reports)
    assert sum(r["numInputRows"] for r in reports) == 6802
    check_results(tmp_path, sample)


def test_sample_produced_by_another_client(broker, sample, tmp_path):
    """Records produced by kcat (librdkafka's CLI), one message per line."""
    topic = broker.create_topic(partitions=3)
    lines = "".join(json.dumps(r) + "\n" for r in sample)
    subprocess.run(["kcat", "-P", "-b", broker.bootstrap, "-t", topic], input=lines, text=True,
                   check=True, timeout=60)
    run_pipeline(broker, topic, tmp_path)
    check_results(tmp_path, sample)


def test_once_trigger_prints_spark_like_console_tables(broker, sample_topic):
    p = run([PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + sample_topic,
             "--trigger", "once"])
    assert "Batch: 0 (crime_type_counts)" in p.stdout
    assert "Batch: 0 (disposition_counts)" in p.stdout
    assert " disposition|" in p.stdout and "|count|" in p.stdout
    assert "|         HAN|             Handled| 1932|" in p.stdout
    assert "only showing top 20 rows" in p.stdout
    assert "[crime_type_counts] batch 0: 6802 rows" in p.stderr


def test_kafka_sink_writes_rows_keyed_by_group(broker, sample_topic, sample):
    prefix = "out" + os.urandom(4).hex()
    run([PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + sample_topic,
         "--set", "output=kafka:" + prefix, "--trigger", "available-now", "--quiet"])
    p = run(["consume", "--topic", prefix + ".disposition_counts", "--bootstrap", broker.bootstrap,
             "--from-beginning", "--to-end", "--meta"])
    rows = {}
    for line in p.stdout.splitlines():
        where, key, value = line.split("\t", 2)
        assert json.loads(key) == {"disposition": json.loads(value)["disposition"],
                                   "description": json.loads(value)["description"]}
        rows[json.loads(key)["disposition"]] = json.loads(value)
    want = expected.disposition_counts(sample, expected.load(RADIO))
    assert {k: (r["description"], r["count"]) for k, r in rows.items()} == want
    p = run(["consume", "--topic", prefix + ".crime_type_counts", "--bootstrap", broker.bootstrap,
             "--from-beginning", "--to-end"])
    assert len(p.stdout.splitlines()) == 9672


def test_processing_time_trigger_runs_batches_until_sigterm(broker, tmp_path):
    """A long-running job with a 300 ms trigger: data produced in two steps
    lands in two batches; SIGTERM ends it cleanly with exit 0."""
    topic = broker.create_topic(partitions=2)
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    recs = expected.load(SAMPLE)
    first.write_text(json.dumps(recs[:3000]))
    second.write_text(json.dumps(recs[3000:]))
    out = tmp_path / "out"
    proc = subprocess.Popen([BIN, PIPELINE, "--set", "bootstrap=" + broker.bootstrap,
                             "--set", "topic=" + topic, "--set", "output=jsonl:" + str(out),
                             "--trigger", "300 milliseconds", "--progress", str(tmp_path / "p.jsonl")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import time
        run(["produce", str(first), "--topic", topic, "--bootstrap", broker.bootstrap])
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(tmp_path / "p.jsonl") and read_jsonl(tmp_path / "p.jsonl"):
                break
            time.sleep(0.2)
        run(["produce", str(second), "--topic", topic, "--bootstrap", broker.bootstrap])
        deadline = time.time() + 30
        while time.time() < deadline:
            reps = [r for r in read_jsonl(tmp_path / "p.jsonl") if r["name"] == "crime_type_counts"]
            if sum(r["numInputRows"] for r in reps) >= len(recs):
                break
            time.sleep(0.2)
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    reps = [r for r in read_jsonl(tmp_path / "p.jsonl") if r["name"] == "crime_type_counts"]
    assert len(reps) >= 2
    assert sum(r["numInputRows"] for r in reps) == len(recs)
    for r in reps:  # from each record's Kafka timestamp to its batch's sink write
        lat = r["latencyMs"]
        assert 0 <= lat["p50"] <= lat["p99"] <= lat["max"] < 60000
    check_results(out, recs)


def test_pipeline_is_valgrind_clean(broker, sample_topic, sample, tmp_path):
    """The whole engine (Kafka, Lua, joins, sinks) under memcheck: no invalid
    access, no definite leak, same results."""
    import shutil
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed")
    p = subprocess.run(["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
                        "--error-exitcode=99", "--quiet", BIN, PIPELINE,
                        "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + sample_topic,
                        "--set", "output=jsonl:" + str(tmp_path), "--trigger", "available-now",
                        "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-4000:]
    check_results(tmp_path, sample)


@pytest.mark.parametrize("parallelism,partitions", [(2, 4), (3, 64)])
def test_parallel_workers_give_identical_results(broker, sample_topic, sample, tmp_path,
                                                 parallelism, partitions):
    """Worker threads with partial states merged by partition: same counts,
    batched or not."""
    run_pipeline(broker, sample_topic, tmp_path, "--parallelism", str(parallelism),
                 "--partitions", str(partitions), "--set", "max_records_per_trigger=2500")
    check_results(tmp_path, sample)
    reports = [r for r in read_jsonl(tmp_path / "progress.jsonl") if r["name"] == "crime_type_counts"]
    assert sum(r["numInputRows"] for r in reports) == 6802
    assert reports[-1]["stateOperators"][0]["numRowsTotal"] == 9672
    assert reports[-1]["stateOperators"][0]["numShufflePartitions"] == partitions
