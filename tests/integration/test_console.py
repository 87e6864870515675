"""The console sink end to end: columns line up in display columns with
accented and East Asian text and cuts stay valid UTF-8; num_rows applies
with a format; a format that raises or returns no string skips the row,
named with its query on stderr, and the job goes on (exit 0)."""
import json

import pytest

from conftest import run


@pytest.fixture(scope="module")
def names_topic(broker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    f = tmp / "in.json"
    names = ["São Tomé", "日本", "日本", "Chad", "x" * 30, "日本語のとても長い名前です", "bad", "nil"]
    f.write_text("".join(json.dumps({"name": n}) + "\n" for n in names))
    topic = broker.create_topic()
    run(["produce", str(f), "--topic", topic, "--bootstrap", broker.bootstrap, "--quiet"])
    return topic


def job(tmp_path, sink):
    p = tmp_path / "job.lua"
    p.write_text('local ls = require "luastream"\n'
                 'local src = ls.kafka_source { topic = ls.param("topic", "t"), bootstrap = ls.param("bootstrap", "b") }\n'
                 'ls.query "by_name" { from = src, group_by = { "name" }, aggregate = { ls.count() },\n'
                 '  sink = %s }\n' % sink)
    return str(p)


def run_job(broker, topic, script):
    return run([script, "--set", "topic=" + topic, "--set", "bootstrap=" + broker.bootstrap,
                "--trigger", "available-now", "--quiet"])


def table_lines(stdout):
    return [l for l in stdout.splitlines() if l.startswith("|") or l.startswith("+")]


def test_table_lines_up_in_display_columns(broker, names_topic, tmp_path):
    p = run_job(broker, names_topic, job(tmp_path, "ls.console_sink { num_rows = 20 }"))
    lines = table_lines(p.stdout)
    widths = set()
    for l in lines:
        w = sum(2 if "\u3040" <= ch <= "\u9fff" else 1 for ch in l)
        widths.add(w)
    assert len(widths) == 1, "\n".join(lines)   # every line equally wide on a terminal
    assert any("|São Tomé|" in l.replace(" ", "") or "São Tomé|" in l for l in lines)
    assert any("日本語のとても長...|" in l for l in lines), "\n".join(lines)  # cut on a character


def test_format_failures_skip_the_row_and_name_the_query(broker, names_topic, tmp_path):
    sink = ('ls.console_sink { format = function(row)\n'
            '    if row.name == "bad" then error("cannot format " .. row.name) end\n'
            '    if row.name == "nil" then return nil end\n'
            '    if row.name == "Chad" then error({}) end\n'
            '    return row.name .. "=" .. row.count end }')
    p = run_job(broker, names_topic, job(tmp_path, sink))
    assert p.returncode == 0
    err = p.stderr
    assert ('query by_name, batch 0: console format failed on the row {"name":"bad","count":1}: '
            'format raised: ' in err and 'job.lua:5: cannot format bad (row skipped)' in err), err
    assert 'format must return a string, got nil (row skipped)' in err
    assert 'format raised: (an error object of type table) (row skipped)' in err
    shown = sorted(l for l in p.stdout.splitlines() if "=" in l)
    assert shown == sorted(["São Tomé=1", "日本=2", "x" * 30 + "=1", "日本語のとても長い名前です=1"]), p.stdout


def test_num_rows_applies_with_a_format(broker, names_topic, tmp_path):
    p = run_job(broker, names_topic, job(tmp_path, 'ls.console_sink { num_rows = 3, format = function(row)\n'
                                                   '  return row.name end }'))
    lines = [l for l in p.stdout.splitlines() if l and not l.startswith("---") and not l.startswith("Batch")]
    assert lines[:3] and len(lines) == 4 and lines[3] == "only showing top 3 rows", p.stdout
