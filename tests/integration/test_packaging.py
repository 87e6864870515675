"""Packaging: every make target the README names exists and what it runs
is there; the Docker image's runtime stage has no compiler and provides
every library the binary links; the compose file is valid; the container's
entrypoint seeds the topic once (a restart does not double the counts) and
runs any script it is given."""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, ROOT, read_jsonl, run
import expected

README = os.path.join(ROOT, "README.md")
ENTRYPOINT = os.path.join(ROOT, "docker", "entrypoint.sh")


def readme_make_targets():
    text = open(README).read()
    return sorted(set(re.findall(r"`make ([a-z][a-z-]*)", text)) | {"test", "install"})


def test_every_make_target_in_the_readme_works_as_far_as_its_files():
    """`make test-integration` ran tests/integration/run.sh, which did not
    exist (exit 127)."""
    targets = readme_make_targets()
    assert {"test-unit", "test-asan", "test-lua", "test-integration", "fuzz", "soak"} <= set(targets)
    for t in targets:
        p = subprocess.run(["make", "-n", t], cwd=ROOT, capture_output=True, text=True)
        assert p.returncode == 0, (t, p.stderr)
        for script in re.findall(r"(?:^|\s)((?:tests|scripts|bench)/[\w/.-]+\.(?:sh|py))", p.stdout):
            path = os.path.join(ROOT, script)
            assert os.path.isfile(path), "make %s runs %s, which does not exist" % (t, script)
            if script.endswith(".sh"):
                assert os.access(path, os.X_OK), "%s is not executable" % script


def test_integration_runner_passes_its_arguments_to_pytest():
    p = subprocess.run([os.path.join(ROOT, "tests", "integration", "run.sh"), "--collect-only",
                        "-q", "-k", "every_make_target"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "test_packaging.py: 1" in p.stdout


def dockerfile_stages():
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    return [("FROM " + s) for s in stages]


def test_docker_image_is_multi_stage_without_a_compiler_at_runtime():
    stages = dockerfile_stages()
    assert len(stages) == 2
    build, runtime = stages
    assert "build-essential" in build
    for bad in ("build-essential", "gcc", "-dev", "python3", "make "):
        assert bad not in runtime, "the runtime stage installs %s" % bad
    assert "COPY --from=build" in runtime
    assert 'ENTRYPOINT ["/usr/local/bin/luastream-entrypoint"]' in runtime
    assert "docker/entrypoint.sh" in build and os.access(ENTRYPOINT, os.X_OK)


def test_runtime_packages_provide_every_library_the_binary_links():
    runtime = dockerfile_stages()[1]
    pkgs = set(re.search(r"--no-install-recommends\s+\\?\s*([^&]+)&&", runtime, re.S).group(1).split())
    pkgs.discard("\\")
    base = {"libc6", "libgcc-s1"}  # in every Debian image
    # what comes with the runtime packages
    deps = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                           "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
                           *sorted(pkgs)], capture_output=True, text=True).stdout
    ldd = subprocess.run(["ldd", BIN], capture_output=True, text=True, check=True).stdout
    for line in ldd.splitlines():
        m = re.search(r"=> (/\S+)", line)
        if not m:
            continue
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(m.group(1))], capture_output=True,
                               text=True)
        if owner.returncode != 0:
            owner = subprocess.run(["dpkg", "-S", m.group(1)], capture_output=True, text=True)
        pkg = owner.stdout.split(":")[0]
        if pkg in base or pkg in pkgs:
            continue
        assert re.search(r"^\s*(Depends: )?%s(:amd64)?$" % re.escape(pkg), deps, re.M), \
            "%s (for %s) comes with none of %s" % (pkg, m.group(1), sorted(pkgs))
    assert "lua-cjson" in pkgs  # scripts are promised cjson


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose not installed")
def test_compose_file_is_valid_and_mounts_the_scripts():
    p = subprocess.run(["docker-compose", "-f", os.path.join(ROOT, "docker-compose.yml"), "config"],
                       cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "/usr/local/share/luastream/scripts" in p.stdout


def test_entrypoint_seeds_once_and_runs_any_script(broker, tmp_path):
    """The image produced 20,000 records on every start, so a restart
    doubled the counts."""
    seed = tmp_path / "calls.json"
    subprocess.run(["python3", os.path.join(ROOT, "scripts", "gen_calls.py"), "--count", "500",
                    "--seed", "3", "--out", str(seed)], check=True, capture_output=True)
    topic = "seed-" + os.urandom(3).hex()
    env = dict(os.environ, LUASTREAM_BIN=BIN, KAFKA_BOOTSTRAP=broker.bootstrap,
               LUASTREAM_TOPIC=topic, LUASTREAM_SEED_FILE=str(seed))
    for start in range(2):  # a first start, then a restart
        out = tmp_path / ("out%d" % start)
        p = subprocess.run([ENTRYPOINT, "scripts/pipeline.lua", "--set", "topic=" + topic,
                            "--set", "output=jsonl:" + str(out), "--trigger", "available-now",
                            "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        if start == 0:
            assert "topic %s is empty: producing" % topic in p.stderr
        else:
            assert "already holds records: not producing them again" in p.stderr
        counts = read_jsonl(out / "disposition_counts.jsonl")
        last = {}
        for r in counts:
            last[r["disposition"]] = r["count"]
        assert sum(last.values()) == 500   # not 1,000 after the restart
    consumed = run(["consume", "--topic", topic, "--bootstrap", broker.bootstrap,
                    "--from-beginning", "--to-end"]).stdout.splitlines()
    assert len(consumed) == 500
    # another command passes through unchanged
    p = subprocess.run([ENTRYPOINT, "consume", "--topic", topic, "--bootstrap", broker.bootstrap,
                        "--from-beginning", "--to-end", "--max", "2"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 2
    # an unreachable broker stops the start with a clear error
    env["KAFKA_BOOTSTRAP"] = "127.0.0.1:1"
    p = subprocess.run([ENTRYPOINT, "scripts/pipeline.lua"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "cannot tell whether topic" in p.stderr
