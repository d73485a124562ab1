#!/usr/bin/env bash
# repeat.sh - cells run several times, end to end: --repeat and --seed refused when bad,
# the gate judging a rate of unsafe runs both ways, the worst run's seed replaying it,
# and the full matrix filling every cell of every strategy that can run here.
set -u
bin=${1:?usage: repeat.sh path/to/oversell}
src=${OVS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-repeat.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"


need_redis
need_sqlite3
cd "$src" || exit 1

# Bad values: exit 2, nothing written.
for bad in "--repeat 0" "--repeat x" "--repeat 10001" "--seed -1" "--seed 1x" "--jobs 0" \
           "--jobs 65"; do
  # shellcheck disable=SC2086
  "$bin" gate -d "$tmp/none" -o "$tmp/bad" $bad >/dev/null 2>"$tmp/err"
  check "gate $bad exits 2" [ $? = 2 ]
  check "gate $bad writes nothing" [ ! -e "$tmp/bad" ]
done
"$bin" explain double-booking-two-guests --strategy none --repeat 2 -o "$tmp/bad" >/dev/null 2>&1
check "explain refuses --repeat" [ $? = 2 ]

# Two guests 150 ms apart, each thinking 300 ms: none double-books on every seed, and the
# scenario's own [expect] is rewritten to ask rates of it.
mkdir -p "$tmp/at-least" "$tmp/at-most"
sed -e '/^\[expect\]/,$d' scenarios/double-booking-two-guests.ini > "$tmp/base.ini"
{ cat "$tmp/base.ini"; printf '[expect]\nnone = unsafe >= 100%%\nsetnx = safe\n'; } \
  > "$tmp/at-least/two.ini"
{ cat "$tmp/base.ini"; printf '[expect]\nnone = unsafe <= 50%%\n'; } > "$tmp/at-most/two.ini"

"$bin" gate -d "$tmp/at-least" -o "$tmp/g1" -q --repeat 3 2>"$tmp/g1.err"
check "gate passes none unsafe >= 100% over 3 runs" [ $? = 0 ]
n=$(sqlite3 "$tmp/g1/results.db" "SELECT COUNT(*) FROM runs")
check "3 runs of each of 2 cells recorded ($n)" [ "$n" = 6 ]
seeds=$(sqlite3 "$tmp/g1/results.db" "SELECT COUNT(DISTINCT seed) FROM runs WHERE strategy = 'none'")
check "each run of a cell has its own seed ($seeds)" [ "$seeds" = 3 ]
first=$(sqlite3 "$tmp/g1/results.db" "SELECT seed FROM runs WHERE strategy = 'none' ORDER BY id LIMIT 1")
want=$(sed -n 's/^seed *= *//p' "$tmp/base.ini")
check "the first run keeps the scenario's seed ($first, $want)" [ "$first" = "$want" ]
shops=$(ls "$tmp/g1/shops" | wc -l)
check "each run keeps its own shop file ($shops)" [ "$shops" = 6 ]
grep -q 'unsafe in 3 of 3 runs \[44–100 %\]' "$tmp/g1/summary.md"
check "summary.md gives the rate with its interval" [ $? = 0 ]
grep -q '^## Repeated cells' "$tmp/g1/summary.md"
check "summary.md lists the repeated cells" [ $? = 0 ]
grep -q 'class="rate"' "$tmp/g1/index.html"
check "index.html draws the interval" [ $? = 0 ]

# Side by side or one at a time, the runs are recorded in the plan's order, with the same
# seeds and verdicts.
"$bin" gate -d "$tmp/at-least" -o "$tmp/g1s" -q --repeat 3 --jobs 1 2>/dev/null
order() { sqlite3 "$1" "SELECT id, scenario, strategy, seed, verdict FROM runs ORDER BY id"; }
check "--jobs 1 and the default record the same runs in the same order" \
  [ "$(order "$tmp/g1/results.db")" = "$(order "$tmp/g1s/results.db")" ]

"$bin" gate -d "$tmp/at-most" -o "$tmp/g2" -q --repeat 3 --junit "$tmp/g2.xml" 2>"$tmp/g2.err"
check "gate fails none unsafe <= 50% when 3 of 3 are" [ $? = 1 ]
grep -q 'expected unsafe in at most 50 % of runs, observed 3 of 3 (95 % interval 44-100 %)' "$tmp/g2.err"
check "the failure says the rate and its interval" [ $? = 0 ] || cat "$tmp/g2.err"
check "JUnit has one case per cell, not per run" [ "$(grep -c '<testcase' "$tmp/g2.xml")" = 1 ]
seed=$(sed -n 's/.*worst run: oversell run .* --strategy none --seed \([0-9]*\).*/\1/p' "$tmp/g2.err")
check "the failure names the worst run's seed ($seed)" [ -n "$seed" ]

# A later run, replayed with its seed (the database holds it signed; the command line
# takes it as printed, unsigned), is the same run: same seed, same verdict and sales.
third=$(printf '%u' "$(sqlite3 "$tmp/g2/results.db" "SELECT seed FROM runs ORDER BY id LIMIT 1 OFFSET 2")")
"$bin" run "$tmp/at-most/two.ini" --strategy none --seed "$third" -o "$tmp/r" -q 2>/dev/null
check "run --seed replays the third run" [ $? = 0 ]
got=$(sqlite3 "$tmp/r/results.db" "SELECT seed, verdict, succeeded FROM runs")
want=$(sqlite3 "$tmp/g2/results.db" "SELECT seed, verdict, succeeded FROM runs ORDER BY id LIMIT 1 OFFSET 2")
check "with its seed, verdict and sales ($got, $want)" [ -n "$got" ] && [ "$got" = "$want" ]

# Runs side by side share the registry's tables: four runs of one Lua definition prepare
# and open it at once (a race there stops this binary when it is built with
# ThreadSanitizer, as the suite is in CI).
mkdir -p "$tmp/lua"
sed -e 's/^buyers = .*/buyers = 200/' scenarios/flash-sale.ini > "$tmp/lua/sale.ini"
"$bin" run "$tmp/lua/sale.ini" --strategy lua-decr-script --repeat 4 --jobs 4 -o "$tmp/lua-jobs" \
  -q --check 2>"$tmp/lua.err"
check "four runs of a Lua definition side by side: exit 0" [ $? = 0 ] || cat "$tmp/lua.err"
check "four runs of a Lua definition side by side: four safe runs" \
  [ "$(sqlite3 "$tmp/lua-jobs/results.db" "SELECT count(*) FROM runs WHERE verdict = 'safe'")" = 4 ]

# The full matrix: every strategy this machine can run, with or without an [expect].
"$bin" matrix -d "$tmp/at-most" -o "$tmp/m" -q 2>"$tmp/m.err"
check "matrix exits 0" [ $? = 0 ]
avail=$("$bin" list | awk '/^strategies:/ {s = 1; next} /^$/ {s = 0} s && /^  [a-z]/ {n++} s && /unavailable/ {u++} END {print n - u}')
cells=$(sqlite3 "$tmp/m/results.db" "SELECT COUNT(*) FROM runs")
check "matrix fills a cell per strategy that can run here ($cells of $avail)" [ "$cells" = "$avail" ]
judged=$(sqlite3 "$tmp/m/results.db" "SELECT COUNT(*) FROM runs WHERE status = 'ok' AND verdict IS NOT NULL")
na=$(sqlite3 "$tmp/m/results.db" "SELECT COUNT(*) FROM runs WHERE status = 'n/a'")
check "every cell has a verdict or is n/a on its back end ($judged + $na)" [ $((judged + na)) = "$cells" ]
grep -q '† no \[expect\] entry names it' "$tmp/m/summary.md"
check "summary.md marks the cells the gate does not enforce" [ $? = 0 ]

tap_done
