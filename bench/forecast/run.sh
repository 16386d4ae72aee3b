#!/bin/sh
# Builds the table of docs/FORECASTING.md: gridd's methods (forecastbench) and
# R's forecast package (bench.R) day-ahead from daily origins.
# Usage: bench/forecast/run.sh [EVERY] [SHARED_DATA_DIR]   (from the repo root)
# EVERY: use every EVERY-th day as an origin (1 = every day; R is slow).
# SHARED_DATA_DIR: directory holding pjm_duq_hourly_load_2005-2015.csv (optional).
set -eu
every=${1:-1}
shared=${2:-}
go build -o /tmp/forecastbench ./bench/forecast
run() { # file column from to tz [extra forecastbench flags]
  f=$1 c=$2 from=$3 to=$4 tz=$5; shift 5
  /tmp/forecastbench --data "$f" --value-column "$c" --from "$from" --to "$to" --every "$every" --tz "$tz" --methods naive,select "$@"
  if command -v Rscript >/dev/null; then Rscript bench/forecast/bench.R "$f" "$c" "$from" "$to" "$every"; fi
}
# Last year of each series: origins from the 57th day (8 weeks of training) on.
for b in building_b9_kwh building_b57_kwh building_b36_kwh building_b40_kwh; do
  run testdata/cambridge_buildings_load_hourly_2019.csv $b 2019-02-26 2019-12-31 Europe/London
done
run testdata/konstanz_residential4_hourly_2016.csv site_load_kwh 2016-02-26 2016-12-31 Europe/Berlin
/tmp/forecastbench --data testdata/konstanz_residential4_hourly_2016.csv --value-column pv_kwh --from 2016-02-26 --to 2016-12-31 --every "$every" --methods naive,daily,pv --nonnegative
if [ -n "$shared" ]; then
  run "$shared/pjm_duq_hourly_load_2005-2015.csv" load_mw 2015-01-01 2015-12-31 America/New_York
fi
