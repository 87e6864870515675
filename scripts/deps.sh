#!/usr/bin/env bash
# scripts/deps.sh — owns installing luastream's build and test dependencies on a fresh
# Debian 12 (bookworm) machine. Idempotent: when every package is already present it
# changes nothing and runs no apt command. Prints one line per action on stderr.
#
# Packages: compiler and headers (build-essential, pkg-config, librdkafka, Lua 5.4,
# lua-cjson, yajl, xxHash for Spark's hash in approx_count_distinct), unit tests (check, busted, valgrind), the local Kafka broker and its
# clients (kcat, maven, a Java 17+ runtime), python3/curl for the data scripts, python3-venv
# for the virtualenv that scripts/spark-deps.sh installs PySpark into, groff/man-db for the
# man page test and docker-compose to validate docker-compose.yml (no engine needed).
# Java is skipped when `java -version` (JAVA_HOME's, if set) already reports 17 or newer;
# maven is skipped when `mvn` is already on PATH.
set -euo pipefail

PACKAGES=(
    build-essential pkg-config librdkafka-dev liblua5.4-dev lua5.4 lua-cjson lua-cjson-dev
    libyajl-dev libmicrohttpd-dev libxxhash-dev check lua-busted kcat maven openjdk-17-jdk-headless valgrind python3 python3-venv curl
    chromium groff-base man-db docker-compose
)

log() { printf 'deps.sh: %s\n' "$*" >&2; }
die() { printf 'deps.sh: error: %s\n' "$*" >&2; exit 1; }

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found; this script supports Debian 12 only"

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

# Major Java version of JAVA_HOME's java (if set) or `java` on PATH; 0 when there is none.
java_major() {
    local java=java line major
    [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && java="$JAVA_HOME/bin/java"
    command -v "$java" >/dev/null 2>&1 || { echo 0; return; }
    line=$("$java" -version 2>&1 | head -n 1) || true
    # "17.0.15" -> 17, "21" -> 21, "1.8.0_392" -> 8
    major=$(sed -n 's/.*version "\([0-9][0-9]*\)\(\.\([0-9][0-9]*\)\)\{0,1\}.*/\1 \3/p' <<<"$line")
    # shellcheck disable=SC2086  # split "1 8" into its two numbers
    set -- $major
    if [ "${1:-0}" = 1 ]; then echo "${2:-0}"; else echo "${1:-0}"; fi
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    case "$pkg" in
        openjdk-17-jdk-headless)
            if [ "$(java_major)" -ge 17 ]; then continue; fi ;;
        maven)
            if command -v mvn >/dev/null 2>&1; then continue; fi ;;
    esac
    is_installed "$pkg" || missing+=("$pkg")
done

# Node.js runs the browser test of the web UI (playwright-core): Debian's, unless one is on PATH.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    is_installed nodejs || missing+=(nodejs)
    is_installed npm || missing+=(npm)
fi

# pytest runs the integration tests: Debian's, unless the python3 on PATH has one.
if ! python3 -m pytest --version >/dev/null 2>&1 && ! is_installed python3-pytest; then
    missing+=(python3-pytest)
fi

if [ ${#missing[@]} -eq 0 ]; then
    log "all dependencies present"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and sudo is not available; install as root: ${missing[*]}"
    SUDO=(sudo)
fi

aptlog=$(mktemp "${TMPDIR:-/tmp}/luastream-deps.XXXXXX")
trap 'rm -f "$aptlog"' EXIT

apt_run() {
    if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive "$@" >"$aptlog" 2>&1; then
        tail -n 25 "$aptlog" >&2 || true
        die "'$*' failed (output above)"
    fi
}

log "apt-get update"
apt_run apt-get update -q
log "installing: ${missing[*]}"
apt_run apt-get install -y -q --no-install-recommends "${missing[@]}"

still=()
for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still+=("$pkg")
done
[ ${#still[@]} -eq 0 ] || die "still missing after apt-get install: ${still[*]}"
log "installed ${#missing[@]} package(s)"
