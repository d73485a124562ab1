#!/usr/bin/env bash
# sweep.sh - `oversell sweep` end to end: bad --vary input refused before anything starts
# or is written, then a real 2 x 2 sweep of redlock over a two-guest booking whose
# sweep.md has its four points (checked against the results database with sqlite3) and
# whose index.html has the charts, self-contained.
set -u
bin=${1:?usage: sweep.sh path/to/oversell}
src=${OVS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-sweep.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"


need_redis
need_sqlite3
cd "$src" || exit 1

"$bin" sweep --help | grep -q -- '--vary KEY=V1,V2'; check "sweep --help documents --vary" [ $? = 0 ]
"$bin" --help | grep -q '^  sweep SCENARIO'; check "oversell --help lists sweep" [ $? = 0 ]

# Bad input: exit 2 naming what is wrong, and no output directory made.
bad() {
  local what=$1 want=$2; shift 2
  "$bin" sweep double-booking-two-guests -o "$tmp/bad" "$@" >/dev/null 2>"$tmp/err"
  local rc=$?
  check "$what: exit 2" [ $rc = 2 ]
  check "$what: says why" grep -q -- "$want" "$tmp/err"
  check "$what: nothing written" [ ! -e "$tmp/bad" ]
}
bad "a value the parameter does not take" "retry_count=lots" --strategy redlock \
  --vary retry_count=1,lots
bad "an unknown parameter" "has no parameter 'retry_cnt'" --strategy redlock \
  --vary retry_cnt=1,2
bad "a value out of range" "retry_delay=-5ms" --strategy redlock --vary retry_delay=100ms,-5ms
bad "no --vary" "give one or two --vary" --strategy redlock
bad "three --vary" "at most 2 --vary" --strategy redlock --vary retry_count=1 \
  --vary retry_delay=1ms --vary ttl=1s
bad "the same key twice" "retry_count given twice" --strategy redlock --vary retry_count=1 \
  --vary retry_count=2
bad "a value twice" "'3' given twice" --strategy redlock --vary retry_count=3,3
bad "no strategy" "exactly one --strategy"  --vary retry_count=1,2
bad "an option of gate" "unknown option '--junit'" --strategy redlock --vary retry_count=1,2 \
  --junit x.xml

# A real sweep: 2 x 2 points, one run each.
out="$tmp/out"
"$bin" sweep double-booking-two-guests --strategy redlock --vary retry_count=1,3 \
  --vary retry_delay=100ms,200ms -o "$out" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
check "sweep exits 0" [ $rc = 0 ]
[ $rc = 0 ] || cat "$tmp/stderr"
check "sweep.md written" [ -s "$out/sweep.md" ]
check "the table is printed" cmp -s "$tmp/stdout" "$out/sweep.md"
rows=$(grep -cE '^\| (1|3) \| (100|200) \| 1 \|' "$out/sweep.md")
check "sweep.md has 4 points (got $rows)" [ "$rows" = 4 ]
check "the x axis is the first --vary" grep -q '^| retry_count | retry_delay | runs |' "$out/sweep.md"
points=$(sqlite3 "$out/results.db" "SELECT COUNT(DISTINCT params) FROM runs")
check "4 parameter texts recorded (got $points)" [ "$points" = 4 ]
p=$(sqlite3 "$out/results.db" "SELECT COUNT(*) FROM runs WHERE params LIKE '%retry_count=3,retry_delay=200,%'")
check "the point 3 x 200 ms recorded" [ "$p" = 1 ]
# The success rate of each point is the database's succeeded / requests.
while IFS='|' read -r params req succ; do
  c=$(echo "$params" | sed -E 's/.*retry_count=([0-9]+).*/\1/')
  d=$(echo "$params" | sed -E 's/.*retry_delay=([0-9]+).*/\1/')
  want=$(awk -v s="$succ" -v r="$req" 'BEGIN { printf "%.1f %% (%d/%d)", 100 * s / r, s, r }')
  check "point $c x $d: success $want" grep -qF "| $c | $d | 1 | $want |" "$out/sweep.md"
done < <(sqlite3 "$out/results.db" "SELECT params, requests, succeeded FROM runs")
html="$out/index.html"
check "index.html has the Sweeps section" grep -q '<h2 id="sweeps">Sweeps</h2>' "$html"
charts=$(grep -c '<svg class="sweep"' "$html")
check "index.html has a chart per figure (got $charts)" [ "$charts" -ge 6 ]
check "the charts have a legend" grep -q '>retry_delay=200</text>' "$html"
check "and an x axis label" grep -q 'class="lbl">retry_count</text>' "$html"
check "index.html stays self-contained" bash -c "! grep -qiE '<script|https?://' '$html'"

tap_done
