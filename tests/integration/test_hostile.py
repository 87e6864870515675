"""Hostile input and the script sandbox: extreme messages are processed or
dead-lettered with a reason, never a crash; scripts cannot run programs or
load native code unless the user opts in; secrets never reach the logs."""
import json
import os
import subprocess

from conftest import ROOT, read_jsonl, run
from test_bad_input import produce_files

PIPELINE = os.path.join(ROOT, "scripts", "pipeline.lua")

GOOD = {"crime_id": "1", "original_crime_type_name": "Traffic Stop",
        "call_date_time": "2018-12-31T23:57:00.000", "disposition": "HAN"}


def rec(**kw):
    r = dict(GOOD)
    r.update(kw)
    return json.dumps(r).encode()


def test_extreme_messages(broker, tmp_path):
    topic = broker.create_topic()
    wide = dict(GOOD)
    wide.update({"f%04d" % i: i for i in range(1000)})
    cases = {
        # processed, with these contributions
        "wide": (json.dumps(wide).encode(), None),
        "huge_number": (rec(extra=1e308, big=123456789012345678901234567890), None),
        "duplicate_keys": (b'{"disposition":"XXX","crime_id":"d","original_crime_type_name":"Dup",'
                           b'"call_date_time":"2018-12-31T23:57:00.000","disposition":"HAN"}', None),
        "escaped_nul": (rec(original_crime_type_name="a\u0000b"), None),
        # dead-lettered, with these reasons
        "ten_mb": (rec(padding="x" * (10 * 1024 * 1024)), "record too large"),
        "deep": (b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", "nested deeper"),
        "raw_nul": (b'{"crime_id":"1\x00"}', "control character"),
        "bad_utf8": (b'{"crime_id":"\xc0\x80"}', "UTF-8"),
        "bad_date": (rec(call_date_time="2018-02-30T10:00:00"), "invalid timestamp"),
        "year_zero": (rec(call_date_time="0000-00-00T00:00:00"), "invalid timestamp"),
        "number_time": (rec(call_date_time=1e300), "not a timestamp"),
    }
    produce_files(broker, topic, tmp_path, [m for m, _ in cases.values()])
    out = tmp_path / "out"
    p = run([PIPELINE, "--set", "bootstrap=" + broker.bootstrap, "--set", "topic=" + topic,
             "--set", "output=jsonl:" + str(out), "--trigger", "available-now"], timeout=180)
    assert p.returncode == 0
    dead = read_jsonl(out / "dead_letter.jsonl")
    errors = [d["error"] for d in dead]
    for name, (_, reason) in cases.items():
        if reason:
            assert any(reason in e for e in errors), (name, reason, errors)
    # every entry keeps its payload
    assert all("value" in d or "value_base64" in d for d in dead)
    disp = {r["disposition"]: r["count"] for r in read_jsonl(out / "disposition_counts.jsonl")}
    # wide, huge_number, duplicate_keys (last value wins), escaped_nul, and the three
    # records whose only fault is their event time (the disposition query has none)
    assert disp["HAN"] == 4 + 3
    crimes = [r for r in read_jsonl(out / "crime_type_counts.jsonl")]
    names = {r["original_crime_type_name"] for r in crimes}
    assert "Dup" in names and "a\u0000b" in names


def script(tmp_path, body):
    p = tmp_path / "s.lua"
    p.write_text('local ls = require "luastream"\n' + body +
                 '\nls.query "q" { from = ls.kafka { topic = "t", bootstrap = "127.0.0.1:1" },'
                 ' group_by = { "a" } }\n')
    return str(p)


def test_sandbox_blocks_programs_and_native_modules(tmp_path):
    s = script(tmp_path, 'os.execute("touch ' + str(tmp_path / "pwned") + '")')
    p = run([s], check=False)
    assert p.returncode == 2 and "s.lua:2:" in p.stderr
    assert not (tmp_path / "pwned").exists()
    s = script(tmp_path, 'io.popen("id")')
    assert run([s], check=False).returncode == 2
    s = script(tmp_path, 'require "lfs"')
    p = run([s], check=False)
    assert p.returncode == 2 and "module 'lfs' not found" in p.stderr
    # lua-cjson is allowed
    s = script(tmp_path, 'assert(require("cjson").encode({1}) == "[1]")')
    p = run([s, "--trigger", "available-now"], check=False, timeout=60)
    assert "cannot reach Kafka" in p.stderr  # got past the script


def test_unsafe_lua_opts_in(tmp_path):
    s = script(tmp_path, 'os.execute("touch ' + str(tmp_path / "allowed") + '")')
    run([s, "--unsafe-lua", "--trigger", "available-now"], check=False, timeout=60)
    assert (tmp_path / "allowed").exists()


def test_secrets_never_appear_in_output(tmp_path):
    s = tmp_path / "sasl.lua"
    s.write_text('local ls = require "luastream"\n'
                 'ls.query "q" { from = ls.kafka { topic = "t", bootstrap = "127.0.0.1:1",\n'
                 '  connect_timeout = "3 seconds",\n'
                 '  kafka = { ["security.protocol"] = "sasl_plaintext", ["sasl.mechanisms"] = "PLAIN",\n'
                 '            ["sasl.username"] = "u", ["sasl.password"] = "S3CR3T-pw" } },\n'
                 '  group_by = { "a" }, sink = ls.output("jsonl:' + str(tmp_path / "o") + '") }\n')
    p = run([str(s), "--trigger", "available-now", "--progress", str(tmp_path / "p.jsonl")],
            check=False, timeout=60)
    assert p.returncode == 2
    blob = p.stdout + p.stderr
    for root, _, files in os.walk(tmp_path):
        for f in files:
            if f != "sasl.lua":
                blob += open(os.path.join(root, f), errors="replace").read()
    assert "S3CR3T-pw" not in blob
    s.write_text(s.read_text().replace('["sasl.mechanisms"] = "PLAIN"', '["sasl.mechanisms"] = "PLAIN", '
                                       '["ssl.key.password"] = "S3CR3T-2", ["ssl.key.location"] = 5'))
    p = run([str(s), "--trigger", "available-now"], check=False, timeout=60)
    assert "S3CR3T-2" not in p.stdout + p.stderr
