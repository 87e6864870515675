#!/usr/bin/env bash
# tests/examples/run.sh - every example script in scripts/ checked by
# `luastream test` against its fixture: tests/examples/<script>/args holds
# the arguments (inputs, --set, --batch-size), expected/ the rows. No broker,
# no network. Run from anywhere; with --update, rewrites expected/ from what
# the scripts produce now (review the diff before committing it).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${LUASTREAM:-build/luastream}
update=0
[ "${1:-}" = "--update" ] && update=1
fail=0 n=0 bad=0
for dir in tests/examples/*/; do
  name=$(basename "$dir")
  script=scripts/$name.lua
  [ -f "$dir/args" ] || continue
  [ -f "$script" ] || { echo "FAIL $name: no $script"; fail=1; continue; }
  read -r -a args < "$dir/args"
  n=$((n + 1))
  if [ $update = 1 ]; then
    rm -rf "$dir/expected"
    "$bin" test "$script" "${args[@]}" --output "$dir/expected"
    echo "updated $dir/expected"
  elif out=$("$bin" test "$script" "${args[@]}" --expect "$dir/expected" 2>&1); then
    echo "ok   $name"
  else
    echo "FAIL $name:"; echo "$out" | sed 's/^/    /'; fail=1; bad=$((bad + 1))
  fi
done
echo "examples: $((n - bad)) passed, $bad failed"
exit $fail
