#!/bin/sh
# docker/entrypoint.sh - owns the container's start. Seeds the demo topic
# ($LUASTREAM_TOPIC on $KAFKA_BOOTSTRAP) with $LUASTREAM_SEED_FILE only when
# the topic is missing or empty, so a restart never produces the records a
# second time (and never doubles the counts); then runs luastream with the
# container's arguments. A first argument ending in .lua is a script run: it
# gets --set bootstrap=$KAFKA_BOOTSTRAP unless a bootstrap is already set.
#   docker compose up                               the example pipeline
#   docker compose run luastream scripts/other.lua  another script (from ./scripts)
#   docker compose run luastream consume --topic police.calls --bootstrap kafka:29092 --max 3
# LUASTREAM_SEED=0 skips the seeding; LUASTREAM_BIN picks the binary (tests).
set -eu
BOOTSTRAP=${KAFKA_BOOTSTRAP:-kafka:29092}
TOPIC=${LUASTREAM_TOPIC:-police.calls}
SEED_FILE=${LUASTREAM_SEED_FILE:-}
LS=${LUASTREAM_BIN:-luastream}

log() { echo "entrypoint: $*" >&2; }

if [ -n "$SEED_FILE" ] && [ "${LUASTREAM_SEED:-1}" != 0 ]; then
    err=$(mktemp)
    if first=$("$LS" consume --topic "$TOPIC" --bootstrap "$BOOTSTRAP" --from-beginning \
                   --to-end --max 1 2>"$err"); then
        :
    elif grep -q "does not exist" "$err"; then
        first=""
    else
        cat "$err" >&2
        rm -f "$err"
        log "cannot tell whether topic $TOPIC holds records (broker $BOOTSTRAP)"
        exit 2
    fi
    rm -f "$err"
    if [ -z "$first" ]; then
        log "topic $TOPIC is empty: producing $SEED_FILE"
        "$LS" produce "$SEED_FILE" --topic "$TOPIC" --bootstrap "$BOOTSTRAP" --quiet
    else
        log "topic $TOPIC already holds records: not producing them again"
    fi
fi

case "${1:-}" in
*.lua)
    script=$1
    shift
    has_bootstrap=0
    for a in "$@"; do
        case "$a" in bootstrap=*) has_bootstrap=1 ;; esac
    done
    if [ "$has_bootstrap" = 0 ]; then
        exec "$LS" "$script" --set "bootstrap=$BOOTSTRAP" "$@"
    fi
    exec "$LS" "$script" "$@"
    ;;
*)
    exec "$LS" "$@"
    ;;
esac
