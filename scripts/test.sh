#!/usr/bin/env bash
# The test command: install what is needed, start the PostgreSQL test server, run pytest.
#   bash scripts/test.sh                      # whole suite (tests/)
#   bash scripts/test.sh tests/test_infra.py -x
# The PostgreSQL server is left running for the next run; `bash scripts/pg.sh stop` stops it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/install.sh
FIELDSYNC_TEST_PG_URL="$(bash scripts/pg.sh)"
export FIELDSYNC_TEST_PG_URL

set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
code=$?
set -e
exit "$code"
