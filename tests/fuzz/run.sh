#!/usr/bin/env bash
# tests/fuzz/run.sh - builds the libFuzzer targets with clang-14 (Debian;
# installed here if missing) under AddressSanitizer + UBSan and runs each for
# FUZZ_SECONDS (default 60) on its corpus in tests/fuzz/corpus/<target>/,
# which keeps what the fuzzer found interesting. `make fuzz` runs this.
# FUZZ_TARGETS="scan" runs only those targets (default: all four).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
if ! command -v clang-14 >/dev/null 2>&1 || ! dpkg-query -W libclang-rt-14-dev >/dev/null 2>&1; then
    SUDO=(); [ "$(id -u)" -ne 0 ] && SUDO=(sudo)
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
fi
OUT=build/fuzz
mkdir -p "$OUT"
INCLUDES=$(for d in src/*/; do printf -- '-I%s ' "${d%/}"; done)
CFLAGS="-std=c11 -g -O1 -D_GNU_SOURCE -pthread -fsanitize=fuzzer,address,undefined $(pkg-config --cflags lua5.4 rdkafka yajl libmicrohttpd libxxhash) $INCLUDES"
LIBS="$(pkg-config --libs lua5.4 rdkafka yajl libmicrohttpd libxxhash) -lm -lpthread"
SRC=$(find src -mindepth 2 -name '*.c' | sort)
status=0
for t in ${FUZZ_TARGETS:-scan decode split params}; do
    echo "== fuzz_$t (${SECONDS_EACH}s)"
    # shellcheck disable=SC2086
    clang-14 $CFLAGS -o "$OUT/fuzz_$t" tests/fuzz/fuzz_$t.c $SRC $LIBS
    mkdir -p "tests/fuzz/corpus/$t"
    if ! "$OUT/fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 \
            -artifact_prefix="$OUT/crash-$t-" "tests/fuzz/corpus/$t" 2>"$OUT/fuzz_$t.log"; then
        echo "fuzz_$t FAILED: see $OUT/fuzz_$t.log and $OUT/crash-$t-*"
        tail -30 "$OUT/fuzz_$t.log"
        status=1
    else
        grep -E "^#[0-9]+.*(DONE|pulse)" "$OUT/fuzz_$t.log" | tail -1
        # keep only the inputs that add coverage
        rm -rf "$OUT/min-$t" && mkdir -p "$OUT/min-$t"
        "$OUT/fuzz_$t" -merge=1 "$OUT/min-$t" "tests/fuzz/corpus/$t" >/dev/null 2>&1
        rm -rf "tests/fuzz/corpus/$t" && mv "$OUT/min-$t" "tests/fuzz/corpus/$t"
    fi
done
exit $status
