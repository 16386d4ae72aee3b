#!/bin/sh
# Poller throughput benchmark (docs/BENCHMARKS.md, "Fieldbus poller"): DEVICES
# simulated devices of bench/fieldbus/device.yaml (20 points, 3 reads, 38 registers)
# served on loopback by one process, polled by another that runs a bare
# simonvetter/modbus client loop and gridd's Poller alternately.
#
# Usage (from the repository root):
#   bench/fieldbus/run.sh [DEVICES] [PORT] [POLLER_GOMAXPROCS]
# Defaults: 1000 devices on 127.0.0.1:21000.., the polling side on one core
# (GOMAXPROCS=1), the serving side on the other.
# Output: one JSON object (rates, CPU per poll, ratio gridd/bare).
set -eu
devices=${1:-1000}
port=${2:-21000}
procs=${3:-1}
bin=${TMPDIR:-/tmp}/fieldbusbench.$$
go build -o "$bin" ./bench/fieldbus
srv=
cleanup() {
  if [ -n "$srv" ]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; fi
  rm -f "$bin" "$bin.out"
}
trap cleanup EXIT
GOMAXPROCS=1 "$bin" -mode serve -devices "$devices" -port "$port" >"$bin.out" 2>&1 &
srv=$!
i=0
until grep -q '^serving' "$bin.out" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 "$srv" 2>/dev/null; then cat "$bin.out" >&2; echo "server did not start" >&2; exit 1; fi
  sleep 0.1
done
GOMAXPROCS=$procs "$bin" -mode poll -devices "$devices" -port "$port"
