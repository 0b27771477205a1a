#!/usr/bin/env bash
# Set up everything on a fresh machine, then run the main job.
#   ./bootstrap.sh               set up, then check the example history and print the verdict
#   ./bootstrap.sh --setup-only  set up only (what .ci/run uses)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "bootstrap: Python 3.11 or newer is needed (PYTHON=$PYTHON)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PYTHON" -m venv .venv
fi
echo "bootstrap: installing pytest-sdconform and its development tools into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

if [ "${1:-}" = "--setup-only" ]; then
  exit 0
fi
echo "bootstrap: checking examples/replica-stale-read.jsonl against the session guarantees"
set +e
.venv/bin/sdconform check examples/replica-stale-read.jsonl --model sessions
code=$?
echo "bootstrap: sdconform exited $code (0 valid, 1 invalid, 2 unknown, 3 bad input)"
[ "$code" -le 2 ]
