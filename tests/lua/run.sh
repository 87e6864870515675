#!/usr/bin/env bash
# run.sh - runs the Lua (busted) tests of lua/luastream.lua and scripts/*.lua.
# Expects `make` to have built build/lua/luastream/core.so (`make test-lua` does).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ ! -f build/lua/luastream/core.so ]]; then
  echo "tests/lua/run.sh: build/lua/luastream/core.so is missing; run make first" >&2
  exit 2
fi

export LUA_PATH="lua/?.lua;tests/lua/?.lua;;"
export LUA_CPATH="build/lua/?.so;;"

status=0
lua5.4 /usr/bin/busted --verbose --pattern=_spec tests/lua "$@" || status=$?
exit "$status"
