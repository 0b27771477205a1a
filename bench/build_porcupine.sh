#!/usr/bin/env bash
# Build the porcupine reference runner (bench/porcupine) into
# bench/.porcupine-runner/porcupine-runner.
#
# Dependencies (github.com/anishathalye/porcupine v1.3.1, pinned in go.mod and
# verified against go.sum) come from the Go module proxy through the normal
# `go` client. Nothing is vendored.
#
# Usage: bench/build_porcupine.sh        (from any directory)
# Then:  bench/.porcupine-runner/porcupine-runner [-timeout SECONDS] \
#            MANIFEST.tsv CONFORMANCE_DIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/porcupine"
outdir="$here/.porcupine-runner"
out="$outdir/porcupine-runner"

if ! command -v go >/dev/null 2>&1; then
    echo "build_porcupine.sh: error: the Go toolchain ('go') is not on PATH;" \
         "install Go >= 1.21 to build the porcupine reference runner" >&2
    exit 127
fi

# Resolve modules through the proxy (no vendor directory), never switch to a
# downloaded toolchain, and check downloads against go.sum.
export GOFLAGS="-mod=mod"
export GOTOOLCHAIN=local

mkdir -p "$outdir"
echo "build_porcupine.sh: $(go version)" >&2
(cd "$src" && go mod download && go build -trimpath -o "$out" .)
echo "build_porcupine.sh: built $out" >&2
