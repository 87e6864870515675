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
                 '\nls.query "q" { from = ls.kafka_source { topic = "t", bootstrap = "127.0.0.1:1" },'
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
                 'ls.query "q" { from = ls.kafka_source { topic = "t", bootstrap = "127.0.0.1:1",\n'
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


def sandboxed(tmp_path, body, *args, cwd=None):
    """Runs a script whose body ends by raising its findings (no broker
    needed): returns the CompletedProcess."""
    s = tmp_path / "job" / "s.lua"
    s.parent.mkdir(exist_ok=True)
    s.write_text('local ls = require "luastream"\n' + body + "\n")
    return run([str(s), *args], check=False, cwd=str(cwd or tmp_path))


def test_sandbox_lets_scripts_read_beside_them_and_in_the_working_directory(tmp_path):
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "beside.txt").write_text("beside\n")
    (tmp_path / "here.txt").write_text("here\n")
    (tmp_path / "job" / "helper.lua").write_text("return { answer = 42 }\n")
    p = sandboxed(tmp_path, 'local dir = debug.getinfo(1, "S").source:match("^@(.*)/")\n'
                            'local a = assert(io.open(dir .. "/beside.txt")):read("l")\n'
                            'local b = assert(io.open("here.txt", "rb")):read("l")\n'
                            'local n = 0 for _ in io.lines("here.txt") do n = n + 1 end\n'
                            'error(("found %s %s %d %d"):format(a, b, n, require("helper").answer))')
    assert p.returncode == 2 and "found beside here 1 42" in p.stderr, p.stderr


def test_sandbox_refuses_writes_renames_and_reads_elsewhere(tmp_path):
    (tmp_path / "here.txt").write_text("here\n")
    outside = tmp_path.parent / ("outside-%s.txt" % tmp_path.name)
    outside.write_text("secret\n")
    (tmp_path / "link.txt").symlink_to(outside)
    cases = [
        ('os.rename("here.txt", "moved.txt")', "os.rename is not allowed in a script"),
        ('os.remove("here.txt")', "os.remove is not allowed in a script"),
        ('os.tmpname()', "os.tmpname is not allowed in a script"),
        ('os.exit(0)', "os.exit is not allowed in a script"),
        ('os.setlocale("de_DE")', "os.setlocale is not allowed in a script"),
        ('io.tmpfile()', "io.tmpfile is not allowed in a script"),
        ('io.open("new.txt", "w")', 'io.open("new.txt", "w"): scripts may only read files'),
        ('io.open("here.txt", "a+")', "scripts may only read files"),
        ('io.output("x.txt")', "scripts may not write files"),
        ('io.open("%s")' % outside, "is outside the script's folder and the working directory"),
        ('io.open("link.txt")', "is outside the script's folder"),   # a link out is followed
        ('io.lines("/etc/hostname")', "io.lines: /etc/hostname is outside"),
        ('dofile("/etc/hostname")', "dofile: /etc/hostname is outside"),
        ('loadfile("/etc/hostname")', "loadfile: /etc/hostname is outside"),
        ('load("return 1", "x", "b")', "scripts may load text chunks only"),
        ('debug.getupvalue(io.open, 1)', "attempt to call a nil value (field 'getupvalue')"),
    ]
    for body, want in cases:
        p = sandboxed(tmp_path, body)
        assert p.returncode == 2, (body, p.stderr)
        assert "s.lua:2: " in p.stderr and want in p.stderr, (body, p.stderr)
    assert (tmp_path / "here.txt").exists() and not (tmp_path / "moved.txt").exists()
    assert not (tmp_path / "new.txt").exists() and not (tmp_path / "x.txt").exists()
    # --unsafe-lua lifts it
    p = sandboxed(tmp_path, 'os.rename("here.txt", "moved.txt")\n'
                            'error("read " .. io.open("%s"):read("l"))' % outside, "--unsafe-lua")
    assert "read secret" in p.stderr and (tmp_path / "moved.txt").exists()
    outside.unlink()
