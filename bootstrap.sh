#!/usr/bin/env bash
# Set up everything on a fresh machine, then run the main job.
#   ./bootstrap.sh               set up, then run the Redis suite and write its report
#   ./bootstrap.sh --setup-only  set up only (what .ci/run uses)
set -euo pipefail
cd "$(dirname "$0")"

# System packages the harness drives for real: iptables (partitions), faketime (clock skew),
# Redis, nginx and PostgreSQL (backends), setpriv (util-linux, to run servers as another user), gcc (the
# clock shim), chromium (the report's browser test).
SYSTEM_PACKAGES="iptables faketime redis-server redis-tools redis-sentinel nginx-light postgresql util-linux gcc chromium"
missing=""
for cmd in iptables faketime redis-server redis-cli redis-sentinel nginx setpriv gcc chromium; do
  command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing system packages ($SYSTEM_PACKAGES) for:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $SYSTEM_PACKAGES >/dev/null
  else
    echo "bootstrap: missing$missing; install: apt-get install $SYSTEM_PACKAGES" >&2
  fi
fi

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
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,all]'

# The compiled checker core (native/: Rust, PyO3, maturin; crates from the registry). Without
# cargo the checkers use the pure-Python search, as they say in a one-line notice.
PATH="$PATH:$HOME/.cargo/bin"
if command -v cargo >/dev/null 2>&1; then
  echo "bootstrap: building the compiled checker core (native/) with $(cargo --version)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check maturin==1.9.6
  VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin develop --quiet --release -m native/Cargo.toml \
    || echo "bootstrap: the compiled checker core did not build; the checkers use the pure-Python search" >&2
else
  echo "bootstrap: no cargo: the checkers use the pure-Python search (install Rust to build native/)" >&2
fi

echo "bootstrap: building and fetching the pinned tools (toxiproxy, sdconform-lossfs; Cassandra and Kafka jars; first time only)"
.venv/bin/sdconform provision || echo "bootstrap: provisioning failed; faults that need it will skip" >&2

if [ "${1:-}" = "--setup-only" ]; then
  exit 0
fi
echo "bootstrap: running the Redis suite: pytest --sdconform suites/redis"
.venv/bin/python -m pytest --sdconform suites/redis
