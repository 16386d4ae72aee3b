#!/usr/bin/env bash
# Optimizer benchmark: for each size, one generated scenario solved by
#   - gridd plan --scenario FILE.json --json   (JSON in, plan out)
#   - cbc FILE.lp solve                        (Clp, Debian coinor-cbc)
#   - node bench/optimizer/highs.js FILE.lp    (HiGHS, npm "highs")
#   - glpsol --lp FILE.lp                      (GLPK simplex, Debian glpk-utils)
# all on the LP that gridd plan --export-lp wrote for the same scenario, in the
# same run. Wall time, user CPU time and peak memory come from /usr/bin/time -v;
# each figure is the best of 3 runs (glpsol: 1 run).
#
# Usage (from the repository root): bench/optimizer/run.sh [SIZES] [OUTDIR]
#   SIZES: comma-separated EV session counts, default 10,100,1000,10000
#   GLPK_TIMEOUT (default 600) bounds each glpsol run in seconds.
#   GRIDD_BIN: use this gridd binary instead of building ./cmd/gridd.
#   GRIDD_NPM_CACHE: where the npm "highs" package is installed (outside the repository).
# Output: OUTDIR/results.md (markdown table) and the raw files.
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=${1:-10,100,1000,10000}
out=${2:-${TMPDIR:-/tmp}/gridd-optbench}
glpk_timeout=${GLPK_TIMEOUT:-600}
mkdir -p "$out"
: >"$out/load.txt"
. scripts/lib/solvers.sh
solvers_install
command -v node >/dev/null || { echo "run.sh: node is required for HiGHS" >&2; exit 1; }
# The npm "highs" package is installed from package-lock.json into a cache directory
# outside the repository (GRIDD_NPM_CACHE, default ~/.cache/gridd/bench-optimizer-npm),
# again whenever the lock file changes; highs.js finds it through NODE_PATH.
npm_dir=${GRIDD_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gridd/bench-optimizer-npm}
if ! cmp -s bench/optimizer/package-lock.json "$npm_dir/package-lock.json" || [ ! -d "$npm_dir/node_modules/highs" ]; then
  mkdir -p "$npm_dir"
  cp bench/optimizer/package.json bench/optimizer/package-lock.json "$npm_dir/"
  (cd "$npm_dir" && npm ci --no-audit --no-fund --silent)
fi
export NODE_PATH="$npm_dir/node_modules"

if [ -n "${GRIDD_BIN:-}" ]; then
  cp "$GRIDD_BIN" "$out/gridd"
else
  go build -o "$out/gridd" ./cmd/gridd
fi
go run ./bench/optimizer -dir "$out" -sizes "$sizes"

# measure NAME REPEAT CMD...: runs CMD REPEAT times under /usr/bin/time -v,
# keeps stdout of the last run in $out/NAME.out and sets best wall, user, rss.
measure() {
  local name=$1 rep=$2
  shift 2
  best_wall="" best_user="" best_rss="" status=0
  for _ in $(seq "$rep"); do
    if ! /usr/bin/time -v -o "$out/$name.time" "$@" >"$out/$name.out" 2>"$out/$name.err"; then
      status=1
    fi
    local wall user rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$out/$name.time")
    user=$(awk -F': ' '/User time/{print $2}' "$out/$name.time")
    rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$out/$name.time")
    if [ -z "$best_wall" ] || awk "BEGIN{exit !($wall < $best_wall)}"; then
      best_wall=$wall best_user=$user best_rss=$rss
    fi
  done
}

row() { # tool wall user rss(KB) objective
  printf '| %s | %.2f | %.2f | %d | %s |' "$1" "$2" "$3" $(( $4 / 1024 )) "$5"
}

{
  echo "| EV sessions | batteries / feeders | columns / rows | tool | wall s | user CPU s | peak RSS MB | objective |"
  echo "|---:|---:|---:|---|---:|---:|---:|---:|"
} >"$out/results.md"
ratios="$out/ratios.md"
{
  echo "| EV sessions | gridd wall s | Clp wall s | HiGHS wall s | GLPK wall s | fastest of Clp/HiGHS ÷ gridd (wall) | same, user CPU |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
} >"$ratios"

IFS=, read -ra ns <<<"$sizes"
for n in "${ns[@]}"; do
  json="$out/ev$n.json" lp="$out/ev$n.lp"
  rep=3
  "$out/gridd" plan --scenario "$json" --export-lp "$lp" --no-solve
  cols=$(awk '/^Bounds/{b=1;next} /^End/{b=0} b' "$lp" | wc -l)
  rowsn=$(awk '/^Subject To/{b=1;next} /^Bounds/{b=0} b && /:/' "$lp" | wc -l)
  nb=$(( n / 100 )); [ $nb -lt 1 ] && nb=1
  nf=$(( n / 200 )); [ $nf -lt 1 ] && nf=1
  size="| $n | $nb / $nf | $cols / $rowsn"

  measure "gridd$n" $rep "$out/gridd" plan --scenario "$json" --json
  g_obj=$(grep -o '"objective":[^,]*' "$out/gridd$n.out" | head -1 | cut -d: -f2)
  g_wall=$best_wall g_user=$best_user
  g_ms=$(grep -o '"solve_ms":[^,]*' "$out/gridd$n.out" | head -1 | cut -d: -f2)
  echo "$size $(row "gridd plan (solve $g_ms ms in-process)" "$best_wall" "$best_user" "$best_rss" "$g_obj")" >>"$out/results.md"

  measure "cbc$n" $rep cbc "$lp" solve
  c_obj=$(awk '/^Objective value:/{print $3; exit}' "$out/cbc$n.out")
  [ -z "$c_obj" ] && c_obj=$(awk '/Optimal - objective value/{print $NF; exit}' "$out/cbc$n.out")
  c_wall=$best_wall c_user=$best_user
  echo "$size $(row "Clp (cbc)" "$best_wall" "$best_user" "$best_rss" "$c_obj")" >>"$out/results.md"

  measure "highs$n" $rep node bench/optimizer/highs.js "$lp"
  h_obj=$(sed -n 's/.*"objective":\([^,]*\),.*/\1/p' "$out/highs$n.out")
  h_wall=$best_wall h_user=$best_user
  echo "$size $(row "HiGHS (npm)" "$best_wall" "$best_user" "$best_rss" "$h_obj")" >>"$out/results.md"

  measure "glpk$n" 1 timeout "$glpk_timeout" glpsol --lp "$lp" -o "$out/glpk$n.sol"
  if [ "$status" = 0 ]; then
    k_obj=$(awk '/^Objective:/{print $4; exit}' "$out/glpk$n.sol")
    k_wall=$best_wall
    echo "$size $(row "GLPK (glpsol)" "$best_wall" "$best_user" "$best_rss" "$k_obj")" >>"$out/results.md"
  else
    k_wall="> $glpk_timeout"
    echo "$size | GLPK (glpsol) | > $glpk_timeout | | | stopped after ${glpk_timeout} s |" >>"$out/results.md"
  fi

  fast_wall=$(awk "BEGIN{print ($c_wall < $h_wall) ? $c_wall : $h_wall}")
  fast_user=$(awk "BEGIN{print ($c_user < $h_user) ? $c_user : $h_user}")
  printf '| %s | %.2f | %.2f | %.2f | %s | %.2f | %.2f |\n' "$n" "$g_wall" "$c_wall" "$h_wall" "$k_wall" \
    "$(awk "BEGIN{print $fast_wall / $g_wall}")" "$(awk "BEGIN{print $fast_user / ($g_user > 0 ? $g_user : 0.01)}")" >>"$ratios"
  echo "size $n done at $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/load.txt"
done
cat "$out/results.md"
echo
cat "$ratios"
echo
cat "$out/load.txt"
