#!/bin/sh
# OCPP benchmark (docs/BENCHMARKS.md, "OCPP stations"): N simulated OCPP 2.0.1
# stations and N Modbus reference chargers served by one process, gridd's CSMS,
# Poller and Writer in another.
#
# Usage (from the repository root):
#   bench/ocpp/run.sh [N] [OCPP_PORT] [MODBUS_PORT] [ROUNDS]
# Defaults: 1000 stations, CSMS on 127.0.0.1:9100, Modbus on 127.0.0.1:22000.., 5 rounds.
# Output: one JSON object (per-round wall and CPU, memory per connection, ratios).
set -eu
n=${1:-1000}
port=${2:-9100}
mport=${3:-22000}
rounds=${4:-5}
bin=${TMPDIR:-/tmp}/ocppbench.$$
go build -o "$bin" ./bench/ocpp
st=
cleanup() {
  if [ -n "$st" ]; then kill "$st" 2>/dev/null || true; wait "$st" 2>/dev/null || true; fi
  rm -f "$bin" "$bin.out"
}
trap cleanup EXIT
# The stations start first and retry until the CSMS listens.
GOMAXPROCS=1 "$bin" -mode stations -n "$n" -url "ws://127.0.0.1:$port/ocpp" -modbus-port "$mport" >"$bin.out" 2>&1 &
st=$!
GOMAXPROCS=1 "$bin" -mode csms -n "$n" -listen "127.0.0.1:$port" -modbus-port "$mport" -rounds "$rounds"
