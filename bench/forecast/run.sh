#!/bin/sh
# Builds the table of docs/FORECASTING.md: gridd's methods (forecastbench;
# GRIDD_METHODS, default "naive,auto": weekly seasonal naive and the production
# forecaster forecast.Auto) and
# R's forecast package (bench.R, if Rscript is installed) day-ahead from daily
# origins over the last year of each series.
#
# Usage (from the repository root):
#   [R_METHODS=stlf,ets] bench/forecast/run.sh EVERY [SHARED_DATA_DIR] [SERIES]
# EVERY: use every EVERY-th day as an origin (1 = every day). R's ets takes
#   seconds per origin; R_METHODS=stlf runs only stlf, "none" skips R.
# SHARED_DATA_DIR: directory holding pjm_duq_hourly_load_2005-2015.csv; without
#   it the PJM DUQ row is skipped.
# SERIES: run only this one (b9, b57, b36, b40, konstanz_load, konstanz_pv, duq).
# Output: one JSON line per series and method; bench/forecast/table.py turns
# them into the markdown table.
set -eu
every=${1:-1}
shared=${2:-}
only=${3:-}
rmethods=${R_METHODS:-stlf,ets}
bin=${TMPDIR:-/tmp}/forecastbench.$$
go build -o "$bin" ./bench/forecast
trap 'rm -f "$bin"' EXIT
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
rbench() { # file column from to
  if [ "$rmethods" != none ] && command -v Rscript >/dev/null; then
    Rscript bench/forecast/bench.R "$1" "$2" "$3" "$4" "$every" 56 "$rmethods"
  fi
}
run() { # file column from to tz
  "$bin" --data "$1" --value-column "$2" --from "$3" --to "$4" --every "$every" --tz "$5" --methods "${GRIDD_METHODS:-naive,auto}"
  rbench "$1" "$2" "$3" "$4"
}
# Origins start after eight weeks of training history.
for b in b9 b57 b36 b40; do
  want $b && run data/cambridge_buildings_load_hourly_2019.csv building_${b}_kwh 2019-02-26 2019-12-31 Europe/London
done
want konstanz_load && run data/konstanz_residential4_hourly_2016.csv site_load_kwh 2016-02-26 2016-12-31 Europe/Berlin
if want konstanz_pv; then
  # Array assumed at the site's coordinates, tilt 30°, facing south, 5 kW.
  "$bin" --data data/konstanz_residential4_hourly_2016.csv --value-column pv_kwh \
    --from 2016-02-26 --to 2016-12-31 --every "$every" --methods naive,daily,auto --pv-series --nonnegative \
    --lat 47.66 --lon 9.18 --tilt 30 --azimuth 180 --capacity 5
  rbench data/konstanz_residential4_hourly_2016.csv pv_kwh 2016-02-26 2016-12-31
fi
if [ -n "$shared" ] && want duq; then
  run "$shared/pjm_duq_hourly_load_2005-2015.csv" load_mw 2015-01-01 2015-12-31 America/New_York
fi
true
