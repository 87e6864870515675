"""`luastream explain SCRIPT` (src/ls_explain.c), without a broker: the plan
of scripts/pipeline.lua and of small scripts (a per-record query with
`where`, a projection-only aggregation, a map), as text and as JSON; nothing
is connected to (a listening socket given as every bootstrap sees no
connection) or created (output, dead-letter and checkpoint directories);
script errors exit 2 with file:line, as a run's do; the command line."""
import json
import os
import socket
import time

import pytest

from conftest import ROOT, run

PIPELINE = os.path.join(ROOT, "scripts", "pipeline.lua")


def explain(args, **kw):
    t0 = time.monotonic()
    p = run(["explain", *args], timeout=30, **kw)
    return p, time.monotonic() - t0


def plan(args, **kw):
    p, _ = explain([*args, "--json"], **kw)
    return json.loads(p.stdout)


def write(tmp_path, text, name="job.lua"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_pipeline_text():
    p, took = explain([PIPELINE])
    assert took < 5 and p.stderr == ""
    out = p.stdout
    for line in [
        "plan of %s (nothing was connected or opened)" % PIPELINE,
        "  trigger          every 2 seconds (2000 ms)",
        "  checkpoint       none: a run starts from the starting offsets, with empty state",
        "  dead letters     stderr",
        "  Lua per record   no: every query reads its fields in C",
        "source 1  KafkaV2[Subscribe[police.calls]]",
        "  bootstrap        localhost:9092",
        "  starting offsets earliest",
        "  decoding         C projection of 3 fields (call_date_time, original_crime_type_name, "
        "disposition), no Lua",
        "query crime_type_counts  (source 1, aggregation)",
        "  read             C projection of 2 fields: call_date_time, original_crime_type_name",
        "  watermark        1 hour (complete mode: nothing dropped or evicted, every group kept)",
        "  window           call_date_time, 10 minutes sliding every 5 minutes",
        "  group by         window, original_crime_type_name",
        "  aggregate        count",
        "  order by         count desc, window, original_crime_type_name",
        "  state            16 hash partitions, no cap on groups",
        "  sink             console, at most 20 rows per batch, cells cut at 20 characters",
        "query disposition_counts  (source 1, aggregation)",
        "  join             left join table 1 (data/radio_code.json) on disposition = "
        "disposition_code, adds description (null when unmatched)",
        "  group by         disposition, description (from join 1)",
    ]:
        assert line in out.splitlines(), (line, out)
    assert out.count("  Lua per record   no\n") == 2
    # the same plan twice: stable output
    assert explain([PIPELINE])[0].stdout == out


def test_pipeline_json_with_options(tmp_path):
    out = tmp_path / "out"
    ck = tmp_path / "ck"
    d = plan([PIPELINE, "--set", "output=jsonl:" + str(out), "--set", "bootstrap=127.0.0.1:1",
              "--trigger", "available-now", "--partitions", "4", "--parallelism", "2",
              "--max-state-rows", "1000", "--checkpoint", str(ck)])
    assert d["trigger"] == {"kind": "available-now", "interval_ms": 0, "from_command_line": True}
    assert d["checkpoint"] == {"dir": str(ck), "exists": False}
    assert d["parallelism"] == 2 and d["lua_per_record"] is False
    assert d["dead_letter"] == {"type": "jsonl", "path": str(out / "dead_letter.jsonl"),
                                "exactly_once": True, "per_partition": False}
    [src] = d["sources"]
    assert src["topics"] == ["police.calls"] and src["bootstrap"] == "127.0.0.1:1"
    assert src["decoding"] == {"projection": ["call_date_time", "original_crime_type_name",
                                              "disposition"],
                               "lua_table": False, "metadata_table": False}
    assert src["group_id"].startswith("luastream.pipeline.")
    [table] = d["tables"]
    assert table["key"] == "disposition_code" and table["rows"] == 19
    q1, q2 = d["queries"]
    assert q1["name"] == "crime_type_counts" and q1["decoding"] == "projection"
    assert q1["fields"] == ["call_date_time", "original_crime_type_name"]
    assert q1["watermark_ms"] == 3600000 and q1["drops_late_rows"] is False
    assert q1["window"] == {"kind": "time", "column": "call_date_time", "size_ms": 600000,
                           "slide_ms": 300000}
    assert q1["group_by"] == ["window", "original_crime_type_name"]
    assert q1["aggregates"] == [{"fn": "count", "column": None, "name": "count"}]
    assert q1["order_by"] == []  # console only (pipeline.lua sorts for the console)
    assert q1["state"] == {"partitions": 4, "max_state_rows": 1000}
    assert q1["sink"] == {"type": "jsonl", "path": str(out / "crime_type_counts.jsonl"),
                          "exactly_once": True,
                          "per_partition": False}
    assert q2["joins"] == [{"table": 1, "how": "left",
                            "on": {"column": "disposition", "from": "record"},
                            "table_key": "disposition_code", "columns": ["description"]}]
    assert not out.exists() and not ck.exists()


def test_per_record_query_with_where(tmp_path):
    script = write(tmp_path, """
local ls = require "luastream"
local src = ls.kafka_source { topic = "logs", bootstrap = "127.0.0.1:1" }
ls.query "errors" {
  from = src,
  where = { level = "ERROR", code = { ">=", 500 }, ["@partition"] = { "in", { 0, 1 } } },
  sink = ls.jsonl_sink("out"),
}
""")
    d = plan([script], cwd=str(tmp_path))
    [q] = d["queries"]
    assert q["kind"] == "per_record" and q["decoding"] == "projection"
    assert q["fields"] == ["code", "level"] and q["metadata_columns"] == ["@partition"]
    assert q["where"] == [
        {"column": "@partition", "op": "in", "values": [0, 1]},
        {"column": "code", "op": ">=", "values": [500]},
        {"column": "level", "op": "=", "values": ["ERROR"]},
    ]
    assert q["state"] is None and q["lua_per_record"] is False and q["output_mode"] == "append"
    text = explain([script], cwd=str(tmp_path))[0].stdout
    assert ('  where            @partition (Kafka metadata) in (0, 1) and code >= 500 and '
            'level = "ERROR" (in C)') in text
    assert "  output mode      append: each record that passes, as it came" in text
    assert not (tmp_path / "out").exists()


def test_projection_aggregation_and_map(tmp_path):
    script = write(tmp_path, """
local ls = require "luastream"
local src = ls.kafka_source { topic = "calls", bootstrap = "127.0.0.1:1" }
ls.query "by_kind" {
  from = src, group_by = { "kind" }, aggregate = { ls.sum("n"), top = ls.max("n") },
  output_mode = "complete", order_by = { "top", desc = true }, limit = 3,
}
ls.query "mapped" {
  from = src,
  map = function(r, meta) return { t = r.ts, k = r.kind } end,
  watermark = { "t", "5 minutes" },
  group_by = { ls.window("t", "1 minute"), "k" },
  aggregate = { ls.count() },
  output_mode = "append",
}
""")
    d = plan([script])
    assert d["lua_per_record"] is True
    assert d["sources"][0]["decoding"] == {"projection": ["kind", "n"], "lua_table": True,
                                           "metadata_table": True}
    agg, mapped = d["queries"]
    assert agg["fields"] == ["kind", "n"] and agg["lua_per_record"] is False
    assert agg["aggregates"] == [{"fn": "sum", "column": "n", "name": "sum(n)"},
                                 {"fn": "max", "column": "n", "name": "top"}]
    assert agg["order_by"] == [{"column": "top", "desc": True}] and agg["limit"] == 3
    assert mapped["decoding"] == "lua_table" and mapped["fields"] is None
    assert mapped["map"] == {"metadata": True} and mapped["lua_per_record"] is True
    assert mapped["drops_late_rows"] is True and mapped["output_mode"] == "append"
    text = explain([script])[0].stdout
    assert "  aggregate        sum(n), max(n) as top\n" in text
    assert "  Lua per record   yes, for mapped (map): each record of its source is decoded " \
           "whole into a Lua table\n" in text
    assert "  read             the whole record, decoded into a Lua table, and the Kafka " \
           "metadata table\n" in text
    assert "  map              Lua function per record: map(record, meta)" in text


def test_connects_to_nothing_and_creates_nothing(tmp_path):
    """Every bootstrap is a socket we listen on: explain must never connect
    (a run would, at once, for its Kafka sinks)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    lsock.setblocking(False)
    bs = "127.0.0.1:%d" % lsock.getsockname()[1]
    script = write(tmp_path, """
local ls = require "luastream"
local src = ls.kafka_source { topic = "calls", bootstrap = "%s" }
ls.checkpoint("ck/job")
ls.dead_letter(ls.output("kafka:dl"))
ls.query "counts" { from = src, group_by = { "k" }, aggregate = { ls.count() },
                    sink = ls.output("kafka:res") }
ls.query "copy" { from = src, sink = ls.kafka_sink { topic = "copy", bootstrap = "%s", key = "id" } }
ls.query "files" { from = src, group_by = { "k" }, aggregate = { ls.count() },
                   sink = ls.output("jsonl:out/files") }
""" % (bs, bs))
    try:
        for args in ([script], [script, "--json"], [script, "--parallelism", "3"]):
            p, took = explain(args, cwd=str(tmp_path))
            assert took < 5, took
            time.sleep(0.2)
            with pytest.raises(BlockingIOError):
                lsock.accept()
        d = plan([script], cwd=str(tmp_path))
        sinks = [q["sink"] for q in d["queries"]]
        assert sinks[0]["topic"] == "res.counts" and sinks[0]["bootstrap"] == bs
        assert sinks[0]["exactly_once"] is True and sinks[0]["transactional_id"].startswith("luastream-")
        assert sinks[1]["key"] == {"column": "id", "from": "record"}
        assert d["dead_letter"] == {"type": "kafka", "topic": "dl.dead_letter", "topic_function": False,
                                    "bootstrap": bs, "exactly_once": False,
                                    "transactional_id": None, "kafka": {}}
        assert sorted(os.listdir(tmp_path)) == ["job.lua"]
    finally:
        lsock.close()


def test_unreachable_kafka_sink_returns_at_once(tmp_path):
    script = write(tmp_path, """
local ls = require "luastream"
local src = ls.kafka_source { topic = "t", bootstrap = "10.255.255.1:9092" }
ls.query "q" { from = src, sink = ls.kafka_sink { topic = "o", bootstrap = "10.255.255.1:9092" } }
""")
    p, took = explain([script])
    assert took < 5 and "  sink             Kafka topic o at 10.255.255.1:9092, at least once" in p.stdout


def test_script_errors_exit_2_with_file_line(tmp_path):
    script = write(tmp_path, """local ls = require "luastream"
local src = ls.kafka_source { topic = "t" }
ls.query "q" {
  from = src, group_by = { "k" }, output_mod = "update",
}
""")
    p = run(["explain", "job.lua", "--json"], check=False, cwd=str(tmp_path))
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip() == ('luastream: job.lua:3: query q: unknown option "output_mod"; '
                                'did you mean "output_mode"?')
    # the same message as a run
    r = run(["job.lua"], check=False, cwd=str(tmp_path))
    assert r.returncode == 2 and r.stderr == p.stderr
    bad = write(tmp_path, 'local ls = require "luastream"\nls.param("n", 1)\nlocal x = ls.kafka_source {}\n',
                "bad.lua")
    p = run(["explain", bad], check=False)
    assert p.returncode == 2 and "bad.lua:3:" in p.stderr
    p = run(["explain", bad, "--set", "n=ten"], check=False)
    assert p.returncode == 2 and "bad.lua:2: --set n=ten: a number is expected" in p.stderr
    p = run(["explain", str(tmp_path / "missing.lua")], check=False)
    assert p.returncode == 2 and "missing.lua" in p.stderr


def test_what_the_script_prints_goes_to_stderr(tmp_path):
    script = write(tmp_path, """
local ls = require "luastream"
print("hello from the script")
io.write("and io.write\\n")
ls.query "q" { from = ls.kafka_source { topic = "t" } }
""")
    p, _ = explain([script, "--json", "--set", "unused=1"])
    assert json.loads(p.stdout)["queries"][0]["name"] == "q"
    assert "hello from the script" in p.stderr and "and io.write" in p.stderr
    assert "--set unused is not used" in p.stderr


def test_secrets_are_not_shown(tmp_path):
    script = write(tmp_path, """
local ls = require "luastream"
local src = ls.kafka_source { topic = "t", kafka = { ["sasl.password"] = "hunter2", ["fetch.min.bytes"] = 1 } }
ls.query "q" { from = src, sink = ls.kafka_sink { topic = "o", kafka = { ["ssl.key.password"] = "swordfish" } } }
""")
    for args in ([script], [script, "--json"]):
        p, _ = explain(args)
        assert "hunter2" not in p.stdout and "swordfish" not in p.stdout
        assert "fetch.min.bytes" in p.stdout and "sasl.password" in p.stdout


@pytest.mark.parametrize("args,msg", [
    (["explain"], "explain needs a SCRIPT"),
    (["explain", PIPELINE, "extra"], 'unexpected argument "extra" after explain'),
    (["explain", PIPELINE, "--ui", "4040"], "--ui is an option of a script run, not of explain"),
    (["explain", PIPELINE, "--progress", "p"], "--progress is an option of a script run, not of explain"),
    (["explain", PIPELINE, "--bootstrap", "b"], "--bootstrap is an option of produce, consume and status, not of explain"),
    ([PIPELINE, "--json"], "--json is an option of explain and status, not of a script run"),
    (["consume", "--topic", "t", "--json"], "--json is an option of explain and status, not of consume"),
    (["explain", PIPELINE, "--json", "--json"], "--json is given twice"),
    (["explain", PIPELINE, "--partitions", "0"], "--partitions expects a whole number from 1 to 65536"),
])
def test_command_line(args, msg):
    p = run(args, check=False)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and msg in lines[0], lines


def test_file_source_and_session_window():
    """A file source shows its files, format, polling and caps (no Kafka
    settings); a session window its gap."""
    p = run(["explain", "scripts/landing_files.lua"])
    assert "files            landing/*.json" in p.stdout and "format           json" in p.stdout
    assert "max per trigger  10 files" in p.stdout and "bootstrap" not in p.stdout
    d = json.loads(run(["explain", "scripts/landing_files.lua", "--json"]).stdout)
    assert d["sources"][0]["kind"] == "files" and d["sources"][0]["format"] == "json"
    d = json.loads(run(["explain", "scripts/sessions.lua", "--json"]).stdout)
    assert d["queries"][0]["window"] == {"kind": "session", "column": "call_date_time",
                                         "gap_ms": 1800000}
    assert d["queries"][0]["group_by"] == ["session_window", "original_crime_type_name"]
