#!/usr/bin/env bash
# First run: install, then serve the demo (extra arguments go to `fieldsync serve`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/install.sh
exec .venv/bin/fieldsync serve --demo "$@"
