#!/bin/sh
# Demand-charge replays on buildings, years and periods besides the demo's bundled
# series (docs/REPLAY.md, "Demand charge on other buildings"): the demo site with
# its building's load taken from another Cambridge building or year, two weeks per
# period, optimize and hindsight through the production loop (the real-time layer
# included), baseline for reference. Prints one line per period and the sums.
#
# Usage (from the repository root):
#   bench/demand/run.sh [CAMBRIDGE_CSV] [OUT] [-- extra gridd replay flags...]
# CAMBRIDGE_CSV: the hourly Cambridge buildings file with 2018 and 2019
# (cambridge_buildings_load_hourly_2018-2019.csv of the open data set the bundled
# 2019 extract comes from; data/ATTRIBUTION.md), default
# ../shared/data/cambridge_buildings_load_hourly_2018-2019.csv. OUT (default a
# temporary directory) receives the histories and every report. Extra flags go to
# every optimize run only, e.g. -- --set tariff.peak_margin_factor=1.
# DEMAND (default 10) is the demand charge per kW and month; PERIODS overrides the
# list below (BUILDING:FROM, two weeks each; BUILDING is b36 for the 2018 periods,
# b40 or b57, or builtin for the bundled series).
set -eu
csv=${1:-../shared/data/cambridge_buildings_load_hourly_2018-2019.csv}
out=${2:-$(mktemp -d)}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
demand=${DEMAND:-10}
periods=${PERIODS:-"builtin:2019-01-07 builtin:2019-03-04 builtin:2019-06-03 builtin:2019-09-02 builtin:2019-11-04 \
b36:2018-07-02 b36:2018-09-03 b36:2018-11-05 b36:2018-12-03 \
b40:2019-02-04 b40:2019-05-06 b40:2019-07-01 b40:2019-10-07 \
b57:2019-01-07 b57:2019-04-01 b57:2019-08-05 b57:2019-10-21"}
mkdir -p "$out"
bin=$out/gridd
go build -o "$bin" ./cmd/gridd

# A history directory per building: its load as building-1 (scaled to the demo
# feeder's size), the bundled PV and EV sessions beside it.
history() { # name column scale
  d=$out/history-$1
  mkdir -p "$d"
  cp data/konstanz_residential4_hourly_2016.csv data/trondheim_ev_sessions_2019.csv "$d/"
  awk -F, -v col="$2" -v k="$3" '{ sub(/\r$/, "") } NR == 1 { c = 0; for (i = 1; i <= NF; i++) if ($i == col) c = i; if (!c) { print "no column " col > "/dev/stderr"; exit 1 }; print "timestamp_utc,active_power_kw"; next }
    $c != "" { printf "%s,%.3f\n", $1, $c * k }' "$csv" >"$d/building-1.csv"
}
history b36 building_b36_kwh 1
history b40 building_b40_kwh 0.75
history b57 building_b57_kwh 5

run() { # period strategy [flags]
  p=$1 st=$2
  shift 2
  b=${p%%:*} from=${p#*:}
  to=$(date -u -d "$from +14 days" +%F)
  h=builtin
  [ "$b" = builtin ] || h=$out/history-$b
  "$bin" replay --config configs/demo-site.yaml --history "$h" --from "$from" --to "$to" \
    --strategy "$st" --set tariff.demand_charge_per_kw="$demand" "$@" \
    --report "$out/$b-$from/$st" >/dev/null 2>"$out/$b-$from/$st.log"
}
for p in $periods; do
  b=${p%%:*} from=${p#*:}
  mkdir -p "$out/$b-$from"
  run "$p" optimize "$@" &
  run "$p" hindsight &
  wait
  run "$p" baseline
done

kpi() { jq -r ".kpis.$2" "$1/kpis.json"; }
printf '%-18s %10s %10s %10s %8s %8s %8s %7s\n' period optimize hindsight baseline "peak" "hind pk" "base pk" "f.e. %"
for p in $periods; do
  b=${p%%:*} from=${p#*:}
  d=$out/$b-$from
  printf '%-18s %10.2f %10.2f %10.2f %8.1f %8.1f %8.1f %7.2f\n' "$b-$from" \
    "$(kpi "$d/optimize" total_cost)" "$(kpi "$d/hindsight" total_cost)" "$(kpi "$d/baseline" total_cost)" \
    "$(kpi "$d/optimize" peak_import_kw)" "$(kpi "$d/hindsight" peak_import_kw)" "$(kpi "$d/baseline" peak_import_kw)" \
    "$(echo "$(kpi "$d/optimize" total_cost) $(kpi "$d/hindsight" total_cost)" | awk '{ print 100 * ($1 - $2) / $2 }')"
done | tee "$out/table.txt"
awk '{ o += $2; h += $3; b += $4; if ($8 > w) w = $8 } END { printf "%-18s %10.2f %10.2f %10.2f  forecast error %.2f (%.2f %%), worst %.2f %%\n", "sum", o, h, b, o - h, 100 * (o - h) / h, w }' "$out/table.txt"
for p in $periods; do
  b=${p%%:*} from=${p#*:}
  for st in optimize hindsight baseline; do
    v=$(jq -r '"\(.kpis.below_reserve_steps) \(.kpis.limit_violation_steps) \(.kpis.failed_cycles)"' "$out/$b-$from/$st/kpis.json")
    [ "$v" = "0 0 0" ] || echo "$b-$from $st: below reserve, violations, failed cycles: $v"
  done
done
echo "reports: $out"
