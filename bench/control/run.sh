#!/bin/sh
# Control-loop latency benchmark (docs/BENCHMARKS.md, "Real-time control loop"): the
# simulator serves SITE on loopback Modbus TCP from one process (GOMAXPROCS=1); gridd's
# real-time layer runs in another on GRIDD_GOMAXPROCS cores and ticks against it.
#
# Usage (from the repository root):
#   bench/control/run.sh SITE [PORT] [GRIDD_GOMAXPROCS] [tick flags...]
# SITE is a site config (configs/demo-site.yaml) or a number of devices to generate
# (1000). Defaults: endpoints from 127.0.0.1:22000 on, gridd on one core. Tick flags
# (see bench/control/main.go) go to the ticking side, e.g. -ticks 90 -pace=false
# -start 2019-06-03T16:00:00Z -step 1.3.
# Output: one JSON object (latency percentiles, reference poll, ratios).
set -eu
site=$1
port=${2:-22000}
procs=${3:-1}
shift
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
case $site in
  *[!0-9]*) src="-config $site" ;;
  *) src="-devices $site" ;;
esac
bin=${TMPDIR:-/tmp}/controlbench.$$
go build -o "$bin" ./bench/control
srv=
cleanup() {
  if [ -n "$srv" ]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; fi
  rm -f "$bin" "$bin.out"
}
trap cleanup EXIT
# shellcheck disable=SC2086 # src is a flag and its value
GOMAXPROCS=1 "$bin" -mode serve $src -port "$port" >"$bin.out" 2>&1 &
srv=$!
i=0
until grep -q '^serving' "$bin.out" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 "$srv" 2>/dev/null; then cat "$bin.out" >&2; echo "simulator did not start" >&2; exit 1; fi
  sleep 0.1
done
# shellcheck disable=SC2086
GOMAXPROCS=$procs "$bin" -mode tick $src -port "$port" "$@"
