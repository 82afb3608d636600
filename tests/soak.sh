#!/usr/bin/env bash
# soak.sh — runs cardexd under mixed load (search/answer/get/suggest/related/stats/ping, pipelined,
# several connections) with reloads (request, SIGHUP, --watch) every few seconds for MINUTES and
# reports requests served, errors (expected zero), client latency percentiles and the daemon's RSS
# over time. Exit status 1 on any failed request, failed reload or growing memory.
#   tests/soak.sh MINUTES [BUILD_DIR] [--clients N] [--json OUT]
# BUILD_DIR (default: build) holds daemon/cardexd, index/cardex-index.
set -euo pipefail
here=$(cd "${0%/*}" && pwd)
root=$(cd "$here/.." && pwd)
minutes=${1:?usage: soak.sh MINUTES [BUILD_DIR] [--clients N] [--json OUT]}
shift
build=$root/build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
  build=$(cd "$1" && pwd)
  shift
fi
for bin in daemon/cardexd index/cardex-index; do
  [ -x "$build/$bin" ] || { echo "soak: $build/$bin not found; build first (cmake --build $build) or pass BUILD_DIR" >&2; exit 2; }
done
seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
echo "soak: ${minutes} min against $build/daemon/cardexd"
exec python3 "$root/tests/integration/hard_soak.py" --cardexd "$build/daemon/cardexd" \
  --cardex-index "$build/index/cardex-index" --seeds "$root/seeds" --seconds "$seconds" "$@"
