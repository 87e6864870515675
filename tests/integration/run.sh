#!/usr/bin/env bash
# tests/integration/run.sh - the integration tests (pytest, tests/integration/)
# against a real Kafka broker that they start on free ports and stop
# (conftest.py). `make test-integration` runs this; arguments go to pytest,
# e.g. tests/integration/run.sh -k recovery. Expects `make` to have built
# build/luastream (`make test-integration` does).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ ! -x build/luastream ]]; then
  echo "tests/integration/run.sh: build/luastream is missing; run make first" >&2
  exit 2
fi

# pytest from the python3 on PATH if it has one, else Debian's.
PY=python3
python3 -m pytest --version >/dev/null 2>&1 || PY=/usr/bin/python3
exec "$PY" -m pytest -q -p no:cacheprovider tests/integration "$@"
