"""Clear, bounded failures: a bad script fails at load with file:line, an
unreachable broker is reported after a bounded wait, a missing topic or
table is named, bad command lines get usage help."""
import os
import time

from conftest import ROOT, run

PIPELINE = os.path.join(ROOT, "scripts", "pipeline.lua")


def script(tmp_path, text, name="job.lua"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_syntax_error_reports_file_and_line(tmp_path):
    s = script(tmp_path, 'local ls = require "luastream"\n\nlocal x = = 1\n')
    p = run([s], check=False)
    assert p.returncode == 2
    assert "job.lua:3:" in p.stderr


def test_api_misuse_reports_the_scripts_line(tmp_path):
    s = script(tmp_path, 'local ls = require "luastream"\n'
                         'local src = ls.kafka_source { topic = "t" }\n'
                         'ls.query "q" {\n'
                         '  from = src, group_by = { "a" }, aggregate = { ls.count() },\n'
                         '  output_mode = "sometimes",\n'
                         '}\n')
    p = run([s], check=False)
    assert p.returncode == 2
    assert "job.lua:3:" in p.stderr and "output_mode" in p.stderr


def test_runtime_error_in_script_body(tmp_path):
    s = script(tmp_path, 'local ls = require "luastream"\nlocal t = nil\nprint(t.x)\n')
    p = run([s], check=False)
    assert p.returncode == 2 and "job.lua:3:" in p.stderr


def test_script_without_queries(tmp_path):
    s = script(tmp_path, 'local ls = require "luastream"\n')
    p = run([s], check=False)
    assert p.returncode == 2 and "no query" in p.stderr


def test_missing_script_file(tmp_path):
    p = run([str(tmp_path / "nope.lua")], check=False)
    assert p.returncode == 2 and "nope.lua" in p.stderr


def test_missing_join_table_names_the_file(tmp_path):
    p = run([PIPELINE, "--set", "radio=" + str(tmp_path / "missing.json")], check=False)
    assert p.returncode == 2 and "missing.json" in p.stderr


def test_unreachable_broker_fails_after_a_bounded_wait():
    start = time.time()
    p = run([PIPELINE, "--set", "bootstrap=127.0.0.1:1", "--trigger", "available-now"],
            check=False, timeout=60)
    elapsed = time.time() - start
    assert p.returncode == 2
    assert "cannot reach Kafka at 127.0.0.1:1" in p.stderr
    assert elapsed < 30


def test_produce_to_unreachable_broker_fails_clearly(tmp_path):
    f = tmp_path / "one.json"
    f.write_text('[{"a": 1}]')
    p = run(["produce", str(f), "--topic", "t", "--bootstrap", "127.0.0.1:1"], check=False,
            timeout=60)
    assert p.returncode == 2 and "cannot reach Kafka" in p.stderr


def test_missing_topic_is_named(broker):
    p = run([PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=no.such.topic",
             "--trigger", "available-now"], check=False)
    assert p.returncode == 1 and "no.such.topic" in p.stderr and "does not exist" in p.stderr


def test_bad_trigger_and_bad_set_and_unused_set(tmp_path):
    p = run([PIPELINE, "--trigger", "sometimes"], check=False)
    assert p.returncode == 2 and "--trigger sometimes" in p.stderr
    p = run([PIPELINE, "--set", "novalue"], check=False)
    assert p.returncode == 2 and "NAME=VALUE" in p.stderr
    p = run([PIPELINE, "--set", "bootstrap=127.0.0.1:1", "--set", "typo=1",
             "--trigger", "available-now"], check=False, timeout=60)
    assert "--set typo is not used" in p.stderr


def test_help_and_version():
    p = run(["--help"])
    assert "luastream SCRIPT" in p.stdout and "available-now" in p.stdout
    assert run(["--version"]).stdout.startswith("luastream ")
    p = run([], check=False)
    assert p.returncode == 2 and "usage" in p.stderr


def test_state_cap_is_a_clear_error(broker):
    from conftest import SAMPLE
    topic = broker.create_topic()
    run(["produce", SAMPLE, "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    p = run([PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
             "--trigger", "available-now", "--max-state-rows", "1000"], check=False)
    assert p.returncode == 1
    assert "crime_type_counts" in p.stderr and "max_state_rows = 1000" in p.stderr


def test_hand_built_join_spec_is_an_error_at_the_scripts_line_not_a_crash(tmp_path):
    """Was a segfault (rc 139): the engine trusted an index read back from
    a table the script built by hand."""
    s = script(tmp_path, 'local ls = require "luastream"\n'
                         'local src = ls.kafka_source { topic = "t", bootstrap = "127.0.0.1:1" }\n'
                         'ls.query "q" { from = src, group_by = { "k" },\n'
                         '  join = { with = { _kind = "table", key = "k" }, on = "k" } }\n')
    p = run([s], check=False)
    assert p.returncode == 2, p.stderr
    assert "job.lua:3:" in p.stderr and "join.with must be a table from ls.json_table" in p.stderr
    # the same look-alike slipped into the declarations after the check
    s = script(tmp_path, 'local ls = require "luastream"\n'
                         'local src = ls.kafka_source { topic = "t", bootstrap = "127.0.0.1:1" }\n'
                         'ls.query "q" { from = src, group_by = { "k" } }\n'
                         'ls._declared.queries[1].joins = { { table = { _kind = "table", key = "k" }, left = "k" } }\n',
               name="job2.lua")
    p = run([s], check=False)
    assert p.returncode == 2, p.stderr
    assert "job2.lua:3:" in p.stderr and "with must be a table from ls.json_table" in p.stderr


def test_typo_in_an_option_is_an_error_not_ignored(tmp_path):
    """starting_offset = "latest" (missing s) used to be ignored: the job
    read from earliest."""
    s = script(tmp_path, 'local ls = require "luastream"\n'
                         'local src = ls.kafka_source { topic = "t", bootstrap = "127.0.0.1:1",\n'
                         '                       starting_offset = "latest" }\n'
                         'ls.query "q" { from = src, group_by = { "k" } }\n')
    p = run([s], check=False)
    assert p.returncode == 2
    assert ('job.lua:2: ls.kafka_source: unknown option "starting_offset"; did you mean "starting_offsets"?'
            in p.stderr)


def test_table_beside_the_script_is_found_from_another_folder(broker, tmp_path):
    """ls.json_table("countries.json") with the file beside the script, run
    from another folder: found (it was not); a missing one is an error at
    the declaration's line listing every path tried."""
    import json
    from conftest import read_jsonl
    jobdir = tmp_path / "job"
    jobdir.mkdir()
    (jobdir / "countries.json").write_text(json.dumps(
        [{"code": "ST", "name": "São Tomé"}, {"code": "JP", "name": "日本"}]))
    topic = broker.create_topic()
    data = tmp_path / "in.json"
    data.write_text("".join(json.dumps({"c": c}) + "\n" for c in ["ST", "JP", "JP", "XX"]))
    run(["produce", str(data), "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    text = ('local ls = require "luastream"\n'
            'local src = ls.kafka_source { topic = ls.param("topic", "x"), bootstrap = ls.param("bootstrap", "x") }\n'
            'local countries = ls.json_table(ls.param("table", "countries.json"), { key = "code" })\n'
            'ls.query "by_country" { from = src, join = { with = countries, on = { "c", "code" }, how = "left" },\n'
            '  group_by = { "name" }, aggregate = { ls.count() }, sink = ls.output(ls.param("output", "console")) }\n')
    s = script(jobdir, text)
    out = tmp_path / "out"
    p = run([s, "--set", "topic=" + topic, "--set", "bootstrap=" + broker.bootstrap,
             "--set", "output=jsonl:" + str(out), "--trigger", "available-now", "--quiet"],
            cwd=str(tmp_path))
    rows = {r["name"]: r["count"] for r in read_jsonl(out / "by_country.jsonl")}
    assert rows == {"São Tomé": 1, "日本": 2, None: 1}
    p = run([s, "--set", "table=nowhere.json", "--set", "bootstrap=127.0.0.1:1"], check=False,
            cwd=str(tmp_path))
    assert p.returncode == 2
    err = p.stderr
    assert "job.lua:3: " in err and 'json_table "nowhere.json": no such file' in err, err
    assert "nowhere.json (from the working directory %s)" % tmp_path in err, err
    assert "%s/nowhere.json (beside the script)" % jobdir in err, err
    assert "%s/../nowhere.json (in the script folder's parent)" % jobdir in err, err
