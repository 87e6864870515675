#!/usr/bin/env bash
# tests/run-all.sh - every test of luastream, as `make test` and .ci/run run it:
# dependencies (scripts/deps.sh), build, C unit tests (plain, then under
# AddressSanitizer + UndefinedBehaviorSanitizer), Lua tests (busted), the example
# scripts checked by `luastream test` against their fixtures (tests/examples), the
# integration tests against a real Kafka broker that they start themselves, and the
# differential suite against Apache Spark (tests/spark/run.sh: installs PySpark itself).
# Ends with one summary line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh || { echo "dependencies could not be installed"; exit 1; }
make -s all || { echo "build failed"; exit 1; }

passed=0     # individual tests, read from each runner's own summary
failed=0
failures=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Adds the counts a runner printed: Check "Checks: N, Failures: F, Errors: E",
# busted "N successes / F failures / E errors", pytest "N passed, F failed".
count() {
    local p f
    read -r p f < <(python3 - "$log" <<'PY'
import re, sys
t = open(sys.argv[1], errors="replace").read()
p = f = 0
for m in re.finditer(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", t):
    n, a, b = map(int, m.groups()); p += n - a - b; f += a + b
for m in re.finditer(r"examples: (\d+) passed, (\d+) failed", t):
    p += int(m.group(1)); f += int(m.group(2))
for m in re.finditer(r"(\d+) successes / (\d+) failures / (\d+) errors", t):
    n, a, b = map(int, m.groups()); p += n; f += a + b
m = re.findall(r"^=*\s*(.*?) in [\d.]+s", t, re.M)
if m:
    line = m[-1]
    for n, w in re.findall(r"(\d+) (passed|failed|error)", line):
        if w == "passed": p += int(n)
        else: f += int(n)
print(p, f)
PY
)
    passed=$((passed + p))
    failed=$((failed + f))
}

step() {
    local name=$1
    shift
    echo "==> $name"
    if "$@" 2>&1 | tee "$log"; then
        count
    else
        count
        failures+=("$name")
        # a runner that died before its summary still counts as a failure
        grep -qE "Failures: [1-9]|failures / |[0-9]+ failed|error" "$log" || failed=$((failed + 1))
    fi
}

step "C unit tests (Check)" make -s test-unit
step "C unit tests under ASan+UBSan" make -s test-asan
step "Lua tests (busted)" tests/lua/run.sh
step "example scripts (luastream test)" tests/examples/run.sh
step "integration tests (real Kafka)" tests/integration/run.sh
step "differential tests against Spark" tests/spark/run.sh

echo
if [ ${#failures[@]} -gt 0 ]; then
    echo "failed suites: ${failures[*]}"
fi
echo "tests: $passed passed, $failed failed"
[ ${#failures[@]} -eq 0 ] && [ "$failed" -eq 0 ]
