"""The command line (src/main.c) without a broker: every numeric flag is
range-checked with a clear message, options of another command are refused
with a hint, an unknown flag is one line, `luastream help` works, and the
help text, the man page and the README name the same options."""
import os
import re
import subprocess

import pytest

from conftest import ROOT, run

SCRIPT = os.path.join(ROOT, "scripts", "pipeline.lua")


def err_line(args):
    p = run(args, check=False)
    lines = p.stderr.strip().splitlines()
    return p.returncode, lines


@pytest.mark.parametrize("args,range_text", [
    ([SCRIPT, "--partitions", "0"], "--partitions expects a whole number from 1 to 65536, got \"0\""),
    ([SCRIPT, "--partitions", "70000"], "from 1 to 65536"),
    ([SCRIPT, "--parallelism", "999"], "--parallelism expects a whole number from 1 to 256, got \"999\""),
    ([SCRIPT, "--parallelism", "1.5"], "--parallelism expects a whole number from 1 to 256, got \"1.5\""),
    ([SCRIPT, "--parallelism", "two"], "from 1 to 256"),
    ([SCRIPT, "--max-state-rows", "-5"], "--max-state-rows expects a whole number from 1 to"),
    ([SCRIPT, "--max-state-rows", "1e3"], "got \"1e3\""),
    ([SCRIPT, "--ui", "0"], "--ui expects [HOST:]PORT with PORT from 1 to 65535, got \"0\""),
    ([SCRIPT, "--ui", "127.0.0.1:http"], "with PORT from 1 to 65535"),
    (["produce", "f.json", "--topic", "t", "--rate", "0"], "--rate expects records per second, more than 0"),
    (["produce", "f.json", "--topic", "t", "--rate", "fast"], "got \"fast\""),
    (["produce", "f.json", "--topic", "t", "--rate", "inf"], "got \"inf\""),
    (["produce", "f.json", "--topic", "t", "--max", "0"], "--max expects a whole number from 1 to"),
    (["produce", "f.json", "--topic", "t", "--partition", "-1"], "--partition expects a whole number from 0 to 2147483647"),
    (["produce", "f.json", "--topic", "t", "--partition", "99999999999"], "from 0 to 2147483647"),
    (["consume", "--topic", "t", "--max", "2.5"], "--max expects a whole number from 1 to"),
])
def test_numeric_flags_say_their_range(args, range_text):
    rc, lines = err_line(args)
    assert rc == 2 and len(lines) == 1, lines
    assert range_text in lines[0] and "luastream --help" in lines[0]


@pytest.mark.parametrize("args,hint", [
    ([SCRIPT, "--bootstrap", "B", "--topic", "T"], "give it to the script as --set bootstrap=HOST:PORT"),
    ([SCRIPT, "--topic", "T"], "--set topic=T"),
    ([SCRIPT, "--kafka", "a=b"], "put librdkafka properties in the script"),
    ([SCRIPT, "--rate", "5"], "--rate is an option of produce, not of a script run"),
    ([SCRIPT, "--from-beginning"], "--from-beginning is an option of consume, not of a script run"),
    (["produce", "f.json", "--topic", "t", "--trigger", "1s"], "--trigger is an option of a script run, not of produce"),
    (["consume", "--topic", "t", "--raw"], "--raw is an option of produce, not of consume"),
    (["consume", "--topic", "t", "--key", "id"], "--key is an option of produce, not of consume"),
    (["produce", "f.json", "--topic", "t", "--raw", "--key", "id"], "--key does not apply with --raw"),
    ([SCRIPT, "--set", "a=1", "--set", "a=2"], "--set a is given twice"),
    ([SCRIPT, "--trigger", "1s", "--trigger", "2s"], "--trigger is given twice"),
    ([SCRIPT, "--quiet=yes"], "--quiet takes no value"),
    ([SCRIPT, "--ui"], "--ui needs a value"),
])
def test_options_that_do_not_apply_are_refused_with_a_hint(args, hint):
    rc, lines = err_line(args)
    assert rc == 2 and len(lines) == 1 and hint in lines[0], lines


def test_unknown_flag_is_one_line_naming_it():
    rc, lines = err_line([SCRIPT, "--frobnicate"])
    assert rc == 2 and lines == ["luastream: unknown option --frobnicate (see luastream --help)"]
    rc, lines = err_line([SCRIPT, "--paralelism", "2"])
    assert rc == 2 and lines == ["luastream: unknown option --paralelism; did you mean --parallelism? "
                                 "(see luastream --help)"]
    rc, lines = err_line(["consume", "--topic", "t", "--from-begining"])
    assert rc == 2 and len(lines) == 1 and "did you mean --from-beginning?" in lines[0]
    rc, lines = err_line([SCRIPT, "--check", "d"])  # no silent abbreviations
    assert rc == 2 and len(lines) == 1 and "did you mean --checkpoint?" in lines[0]


def test_produce_without_topic_says_usage_once():
    p = run(["produce", "f.json"], check=False)
    assert p.returncode == 2
    assert p.stderr.count("usage") <= 1 and len(p.stderr.strip().splitlines()) == 1
    assert "produce needs --topic T" in p.stderr
    p = run(["produce", "--topic", "t"], check=False)
    assert p.returncode == 2 and "produce needs a FILE" in p.stderr
    p = run(["consume"], check=False)
    assert p.returncode == 2 and "consume needs --topic T" in p.stderr


def test_help_command_shows_the_help():
    p = run(["help"])
    assert p.returncode == 0 and p.stdout == run(["--help"]).stdout
    assert "run options:" in p.stdout and "produce options:" in p.stdout
    assert run(["-h"]).stdout == p.stdout


def options_in_main_c():
    src = open(os.path.join(ROOT, "src", "main.c")).read()
    return sorted(set(re.findall(r'\[O_[A-Z_]+\] = \{ "([a-z-]+)"', src)))


def test_help_man_page_and_readme_name_every_option():
    names = options_in_main_c()
    assert "parallelism" in names and len(names) >= 20
    help_text = run(["--help"]).stdout
    man = open(os.path.join(ROOT, "docs", "luastream.1")).read().replace("\\-", "-")
    readme = open(os.path.join(ROOT, "README.md")).read()
    for n in names:
        assert "--" + n in help_text, n
        assert "--" + n in man, n
        assert "--" + n in readme, n


def test_help_is_the_man_page_rendered():
    awk = subprocess.run(["awk", "-f", os.path.join(ROOT, "scripts", "man2help.awk"),
                          os.path.join(ROOT, "docs", "luastream.1")],
                         capture_output=True, text=True, check=True)
    assert run(["--help"]).stdout == awk.stdout
    assert max(len(l) for l in awk.stdout.splitlines()) <= 79


def test_man_page_renders_without_warnings_and_is_installed(tmp_path):
    page = os.path.join(ROOT, "docs", "luastream.1")
    g = subprocess.run(["groff", "-man", "-ww", "-z", page], capture_output=True, text=True)
    assert g.returncode == 0 and g.stderr == "", g.stderr
    dest = tmp_path / "root"
    subprocess.run(["make", "-s", "install", "DESTDIR=" + str(dest), "PREFIX=/usr"], cwd=ROOT,
                   check=True, capture_output=True, timeout=300)
    installed = dest / "usr" / "share" / "man" / "man1" / "luastream.1"
    assert installed.read_text() == open(page).read()
    m = subprocess.run(["man", "-l", str(installed)], capture_output=True, text=True,
                       env=dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80"))
    assert m.returncode == 0 and "LUASTREAM(1)" in m.stdout and "--parallelism" in m.stdout
    assert (dest / "usr" / "bin" / "luastream").exists()
