#!/usr/bin/env bash
# cli.sh - the oversell command line end to end, as a user runs it: exit statuses, bad
# input refused before anything starts, reports written, numbers that match the shop
# database counted by hand with sqlite3, SIGINT marking the run aborted, and no
# redis-server outliving the harness, even after kill -9, whose directory the next run
# removes.
set -u
bin=${1:?usage: cli.sh path/to/oversell}
src=${OVS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"


need_redis
for tool in sqlite3 xmllint; do
  command -v $tool >/dev/null || { echo "$tool is needed (setup.sh installs it)"; exit 1; }
done

# Children of a pid that are redis-server processes.
redis_children() { ps -o pid=,comm= --ppid "$1" 2>/dev/null | awk '$2 == "redis-server" {print $1}'; }
# Bounded wait until none of the given pids is alive.
all_gone() {
  local i p alive
  for i in $(seq 1 100); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.05
  done
  return 1
}

# Bounded wait until pid has n children that LISTER (default redis_children) prints;
# prints their pids.
wait_for_servers() {
  local pid=$1 n=$2 lister=${3:-redis_children} i found=""
  for i in $(seq 1 200); do
    found=$($lister "$pid")
    [ "$(echo $found | wc -w)" -ge "$n" ] && break
    sleep 0.05
  done
  echo $found
}

cd "$src" || exit 1

"$bin" --help >/dev/null; check "--help exits 0" [ $? = 0 ]
"$bin" frobnicate >/dev/null 2>&1; check "unknown command exits 2" [ $? = 2 ]
"$bin" run --help | grep -q -- '--strategy'; check "run --help lists --strategy" [ $? = 0 ]
"$bin" matrix --help >/dev/null; check "matrix --help exits 0" [ $? = 0 ]
"$bin" list | grep -q '^  redlock'; check "list shows redlock" [ $? = 0 ]

# Bad input: refused with file:line, exit 2, nothing written, nothing started.
cat > "$tmp/bad.ini" <<'INI'
[scenario]
name = bad
workload = inventory
stock = 10
[crowd]
buyers = 10
think = 3 sec
request = buy sku=1
INI
out=$tmp/out-bad
"$bin" run "$tmp/bad.ini" --out "$out" 2>"$tmp/err"; rc=$?
check "bad scenario exits 2" [ $rc = 2 ]
check "bad scenario names file and line" grep -q "bad.ini:7:" "$tmp/err"
check "bad scenario writes nothing" [ ! -e "$out" ]
"$bin" run double-booking-two-guests --strategy redlok --out "$out" 2>"$tmp/err"; rc=$?
check "unknown strategy exits 2" [ $rc = 2 ]
check "unknown strategy is named" grep -q "redlok" "$tmp/err"
"$bin" run double-booking-two-guests --strategy setnx:tll=5 --out "$out" 2>/dev/null
check "unknown parameter exits 2" [ $? = 2 ]
check "bad parameter writes nothing" [ ! -e "$out" ]
"$bin" run double-booking-two-guests --strategy setnx --redis-server /nonexistent/redis-server \
  --out "$out" 2>"$tmp/err"; rc=$?
check "missing redis-server exits 3" [ $rc = 3 ]
check "missing redis-server writes nothing" [ ! -e "$out" ]
# A clock jump without its shim is refused before anything starts; with a library
# preloaded that is not the shim (the C library: harmless, moves nothing), the jump does
# not take, and the run is a failure that says so, never a verdict.
OVERSELL_CLOCKSHIM=/nonexistent/ovs-clockshim.so "$bin" run ttl-clock-jump --strategy setnx \
  --out "$out" 2>"$tmp/err"; rc=$?
check "missing clock shim exits 3" [ $rc = 3 ]
check "missing clock shim is named" grep -q "clock shim not found" "$tmp/err"
check "missing clock shim writes nothing" [ ! -e "$out" ]
libc=$(ldd "$bin" | awk '/libc\.so/ {print $3}')
OVERSELL_CLOCKSHIM=$libc "$bin" run ttl-clock-jump --strategy setnx --out "$tmp/out-noshim" \
  >/dev/null 2>"$tmp/err"; rc=$?
check "a clock jump that did not take fails the run" [ $rc = 1 ]
check "and says the clock did not move" grep -q "clock did not move by 30.000 s" "$tmp/err"

# The two-guest double booking: none double-books, redlock does not; the report's
# numbers are the shop database's, counted by hand.
out=$tmp/out-two
NO_COLOR=1 "$bin" run double-booking-two-guests --strategy none --strategy redlock --out "$out" \
  >"$tmp/summary" 2>"$tmp/err"; rc=$?
check "two guests run exits 0" [ $rc = 0 ]
[ $rc = 0 ] || cat "$tmp/err"
check "summary printed" grep -q "| double-booking-two-guests" "$tmp/summary"
check "summary.md written" [ -s "$out/summary.md" ]
check "results.csv written" [ -s "$out/results.csv" ]
check "results.db written" [ -s "$out/results.db" ]
none_booked=$(sqlite3 "$out/shops/double-booking-two-guests.none.db" "SELECT count(*) FROM bookings")
redlock_booked=$(sqlite3 "$out/shops/double-booking-two-guests.redlock.db" "SELECT count(*) FROM bookings")
check "none booked the room twice (by hand: $none_booked)" [ "$none_booked" = 2 ]
check "redlock booked it once (by hand: $redlock_booked)" [ "$redlock_booked" = 1 ]
observed=$(sqlite3 "$out/results.db" "SELECT observed FROM checks JOIN runs ON runs.id = checks.run WHERE strategy = 'none' AND invariant = 'double_booked'")
check "reported double-booked pairs equal the hand count" [ "$observed" = 1 ]
verdicts=$(sqlite3 "$out/results.db" "SELECT group_concat(strategy || '=' || verdict, ' ') FROM runs")
check "verdicts none=unsafe redlock=safe ($verdicts)" [ "$verdicts" = "none=unsafe redlock=safe" ]
rows=$(($(wc -l < "$out/results.csv") - 1))
check "one CSV row per run" [ $rows = 2 ]

# The gate: a copy of a scenario that claims none is safe fails and names the cell; one
# that claims redlock is unsafe on a fault-free scenario fails and says the failure did
# not show; the JUnit file is XML with one test case per cell.
mkdir -p "$tmp/gate-a" "$tmp/gate-b"
sed 's/^none = unsafe$/none = safe/' scenarios/double-booking-two-guests.ini > "$tmp/gate-a/claims-none-safe.ini"
"$bin" gate --scenarios "$tmp/gate-a" --out "$tmp/out-gate-a" --junit "$tmp/gate-a.xml" \
  --quiet 2>"$tmp/err"; rc=$?
check "gate fails when none is claimed safe" [ $rc = 1 ]
check "gate names the failing cell" grep -q "FAIL double-booking-two-guests x none: expected safe, observed unsafe" "$tmp/err"
check "gate names the scenario file" grep -q "claims-none-safe.ini" "$tmp/err"
check "JUnit file is well-formed XML" xmllint --noout "$tmp/gate-a.xml"
cells=$(awk '/^\[expect\]/ { e = 1; next } /^\[/ { e = 0 } e && /=/' "$tmp/gate-a/claims-none-safe.ini" | wc -l)
check "the scenario expects something of several strategies ($cells)" [ "$cells" -ge 5 ]
check "JUnit has one test case per cell ($cells)" [ "$(grep -c '<testcase' "$tmp/gate-a.xml")" = "$cells" ]
check "JUnit has one failure" [ "$(grep -c '<failure' "$tmp/gate-a.xml")" = 1 ]
sed 's/^redlock = safe$/redlock = unsafe/' scenarios/double-booking-two-guests.ini > "$tmp/gate-b/claims-redlock-unsafe.ini"
# Only the cell whose claim is wrong: the others are gate-a's.
"$bin" gate --scenarios "$tmp/gate-b" --out "$tmp/out-gate-b" --quiet --strategy redlock \
  2>"$tmp/err"; rc=$?
check "gate fails when redlock is claimed unsafe" [ $rc = 1 ]
check "gate says the failure did not show" grep -q "redlock: expected unsafe, but the failure did not show" "$tmp/err"
"$bin" gate --scenarios "$tmp/gate-b" --out "$tmp/out-gate-c" --quiet \
  --strategy redlock --max-oversold redlock=0 2>"$tmp/err"; rc=$?
check "a baseline gates on the number instead ($rc)" [ $rc = 0 ]

# report regenerates every output from the results database alone.
"$bin" report "$tmp/out-two/results.db" --out "$tmp/regen" >/dev/null; rc=$?
check "report exits 0" [ $rc = 0 ]
check "report rewrites summary.md identically" cmp -s "$tmp/out-two/summary.md" "$tmp/regen/summary.md"
check "report writes index.html" [ -s "$tmp/regen/index.html" ]
check "report writes results.json, one object per CSV row" \
  [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$tmp/regen/results.json")" = 2 ]
lost=$(sqlite3 "$out/results.db" "SELECT group_concat(strategy || '=' || lost_sales, ' ') FROM runs")
check "lost sales recorded: the room stayed taken for the refused guest ($lost)" [ "$lost" = "none=0 redlock=0" ]
check "index.html loads nothing from the network" bash -c "! grep -qiE '(src|href)=\"https?:' '$tmp/regen/index.html'"

# bench: a small run works, records its runs and writes its report with the targets
# table. Its figures are timings of a shared machine: none is checked here.
# The adapters get a smaller run of their own below: node-redlock live-locks on a hot SKU
# (a failed attempt's partial locks stay until their lease ends) and would take minutes
# at 500 buyers. Two recording pairs, so that both orders (events first, and last) run.
out=$tmp/out-bench
adapters='^(node-redlock|node-redlock-using|python-setnx)$'
# The strategies that run on SQLite, bench's shop here: those that run only on a server
# say so in a "runs on" line.
servers_only=$("$bin" list | sed -n '/^strategies:/,/^$/p' |
  awk '/^  [a-z]/ {name = $1} /^      runs on / && $3 !~ /sqlite/ {print name}' | paste -sd'|')
names=$("$bin" list | sed -n '/^strategies:/,/^$/p' | grep -E '^  [a-z]' | awk '{print $1}' |
  grep -vE "$adapters" | grep -vxE "${servers_only:-^$}")
only=$(for n in $names; do printf -- '--strategy %s ' "$n"; done)
# shellcheck disable=SC2086 # one word per option
"$bin" bench --ops 2000 --buyers 500 --connections 4 --recording-pairs 2 $only --out "$out" \
  >"$tmp/bench" 2>"$tmp/err"; rc=$?
check "bench exits 0" [ $rc = 0 ]
[ $rc = 0 ] || cat "$tmp/err"
check "bench.md written" [ -s "$out/bench.md" ]
check "bench prints what bench.md holds" cmp -s "$tmp/bench" "$out/bench.md"
check "bench.md has the targets table" grep -q '^| target | measured | result |$' "$out/bench.md"
check "bench judges six targets" [ "$(grep -cE '\| (PASS|MISS|n/a) \|$' "$out/bench.md")" = 6 ]
if command -v redis-benchmark >/dev/null; then
  check "bench compares with redis-benchmark" grep -q '^| `redis-benchmark -c 4 -n 2000 EVALSHA` | [0-9]' "$out/bench.md"
fi
# A strategy that does not exist on the shop's back end (its backends field) is not run:
# its rows say so. On SQLite that is sql-serializable, when this build has it.
na=$(sed -n 's/^| `\([a-z0-9-]*\)` | hot (1) | skipped: n\/a on sqlite (it runs on [a-z,]*) |.*/\1/p' \
  "$out/bench.md" | tr '\n' ' ')
expect_na=$(for n in $names; do [ "$n" = sql-serializable ] && printf '%s ' "$n"; done)
check "bench skips the strategies that do not run on SQLite, and says why (${na:-none})" \
  [ "$na" = "$expect_na" ]
nstrategies=$(($(echo "$names" | wc -w) - $(echo $na | wc -w)))
nruns=$(sqlite3 "$out/results.db" "SELECT count(*) FROM runs WHERE scenario IN ('bench-hot', 'bench-many') AND status = 'ok' AND requests = 500")
check "bench ran the $nstrategies strategies asked for on a hot SKU and on many ($nruns runs)" [ "$nruns" = $((2 * nstrategies)) ]
nrec=$(sqlite3 "$out/results.db" "SELECT group_concat(scenario, ' ') FROM (SELECT scenario FROM runs WHERE scenario LIKE 'bench-recording-%' ORDER BY id)")
check "bench alternated two recording pairs ($nrec)" \
  [ "$nrec" = "bench-recording-on bench-recording-off bench-recording-off bench-recording-on" ]
many=$(sqlite3 "$out/shops/bench-many.lua-decr.db" "SELECT count(DISTINCT sku) || ' ' || max(n) FROM (SELECT sku, count(*) AS n FROM orders GROUP BY sku)")
check "many SKUs: 500 buyers over 500 SKUs, one order each ($many)" [ "$many" = "500 1" ]
unrecorded=$(sqlite3 "$out/results.db" "SELECT count(*) FROM runs JOIN events ON events.run = runs.id AND events.op = 'request' WHERE scenario = 'bench-recording-off'")
check "runs without recording recorded no request events" [ "$unrecorded" = 0 ]
# The two runs below are about the adapters and redis-benchmark: their flash sale is
# lua-decr's alone (the bench above ran every strategy's) and one recording pair.
mkdir "$tmp/flash-one"
sed '/^\[expect\]/q' scenarios/flash-sale.ini > "$tmp/flash-one/flash-sale.ini"
echo 'lua-decr = safe' >> "$tmp/flash-one/flash-sale.ini"
out=$tmp/out-bench-adapters
"$bin" bench --ops 200 --buyers 20 --connections 2 --strategy redlock --strategy setnx \
  --strategy node-redlock --strategy python-setnx --scenarios "$tmp/flash-one" \
  --recording-pairs 1 --load-seconds 600 --out "$out" >/dev/null 2>"$tmp/err"; rc=$?
check "bench of the adapters exits 0" [ $rc = 0 ]
[ $rc = 0 ] || cat "$tmp/err"
nruns=$(sqlite3 "$out/results.db" "SELECT count(*) FROM runs WHERE scenario IN ('bench-hot', 'bench-many') AND status = 'ok' AND requests = 20")
check "bench ran the adapters beside the built-ins on both loads ($nruns runs)" [ "$nruns" = 8 ]
check "bench sets the built-in locks against node-redlock on both loads" \
  [ "$(grep -cE '^\| built-in lock strategies at least as fast as node-redlock on .* \| (PASS|MISS) \|$' "$out/bench.md")" = 2 ]
PATH=/nonexistent "$bin" bench --ops 200 --buyers 50 --connections 2 --out "$tmp/out-bench-nrb" \
  --scenarios "$tmp/flash-one" --recording-pairs 1 --redis-server "$(command -v redis-server)" \
  >/dev/null 2>"$tmp/err"; rc=$?
check "bench without redis-benchmark exits 0" [ $rc = 0 ]
check "bench says redis-benchmark is missing" grep -q 'redis-benchmark not found on PATH' "$tmp/out-bench-nrb/bench.md"
check "bench skips an adapter whose interpreter is missing, and says why" \
  grep -q "^| \`python-setnx\` | hot (1) | skipped: .*runs under 'python3', not found on PATH" "$tmp/out-bench-nrb/bench.md"
"$bin" bench --help | grep -q -- '--connections'; check "bench --help lists --connections" [ $? = 0 ]
"$bin" bench --connections 0 --out "$tmp/out-bench-bad" 2>/dev/null
check "bench --connections 0 exits 2" [ $? = 2 ]
"$bin" bench --recording-pairs 8 --out "$tmp/out-bench-bad" 2>/dev/null
check "bench --recording-pairs past its runs exits 2" [ $? = 2 ]
"$bin" bench --load-seconds 0 --out "$tmp/out-bench-bad" 2>/dev/null
check "bench --load-seconds 0 exits 2" [ $? = 2 ]
"$bin" bench --frobnicate --out "$tmp/out-bench-bad" 2>/dev/null
check "bench with an unknown option exits 2" [ $? = 2 ]
"$bin" bench --redis-server /nonexistent/redis-server --out "$tmp/out-bench-bad" 2>/dev/null
check "bench without redis-server exits 3" [ $? = 3 ]
check "bench refused before writing anything" [ ! -e "$tmp/out-bench-bad" ]

# explain reads a recorded run and shows both guests and the step that broke.
"$bin" explain double-booking-two-guests --strategy none --from "$tmp/out-two/results.db" \
  --mermaid "$tmp/two.mmd" >"$tmp/explain" 2>&1; rc=$?
check "explain exits 0" [ $rc = 0 ]
check "explain shows alice and bob" bash -c "grep -q alice '$tmp/explain' && grep -q bob '$tmp/explain'"
check "explain shows where it broke" grep -q "broke at t=" "$tmp/explain"
check "mermaid is a sequence diagram" grep -q "^sequenceDiagram" "$tmp/two.mmd"

# SIGINT mid-run: the run is recorded as aborted and every server is gone.
out=$tmp/out-int
"$bin" run flash-sale --strategy redlock:retry_delay=20,retry_jitter=20,retry_count=1000 \
  --out "$out" >/dev/null 2>&1 &
pid=$!
servers=$(wait_for_servers $pid 5)
check "redlock run started 5 servers" [ "$(echo $servers | wc -w)" = 5 ]
sleep 1
kill -INT $pid; wait $pid; rc=$?
check "SIGINT exits 130" [ $rc = 130 ]
status=$(sqlite3 "$out/results.db" "SELECT status FROM runs" 2>/dev/null)
check "interrupted run marked aborted ($status)" [ "$status" = aborted ]
check "no server outlives SIGINT" all_gone $servers

# kill -9 of the harness: the kernel takes the servers down with it, and the private
# directory it could not remove is removed by the next run. Both runs use a TMPDIR of
# their own, so the check sees only their directories.
out=$tmp/out-kill
fleet_tmp=$tmp/fleet-tmp
mkdir "$fleet_tmp"
TMPDIR=$fleet_tmp "$bin" run flash-sale \
  --strategy redlock:retry_delay=20,retry_jitter=20,retry_count=1000 --out "$out" >/dev/null 2>&1 &
pid=$!
servers=$(wait_for_servers $pid 5)
check "second run started servers" [ -n "$servers" ]
sleep 0.5
kill -9 $pid; wait $pid 2>/dev/null
check "no server outlives kill -9" all_gone $servers
left=$(find "$fleet_tmp" -mindepth 1 -maxdepth 1 -name 'oversell.*')
check "kill -9 left one directory, with its owner record" \
  [ "$(echo "$left" | wc -w)" = 1 -a -f "$left/owner" ]
TMPDIR=$fleet_tmp "$bin" run double-booking-two-guests --strategy setnx --out "$tmp/out-next" \
  >/dev/null 2>"$tmp/err"; rc=$?
check "the next run exits 0" [ $rc = 0 ]
[ $rc = 0 ] || cat "$tmp/err"
check "the next run removed the killed harness's directory" [ -n "$left" -a ! -e "$left" ]
check "and left none of its own" [ -z "$(find "$fleet_tmp" -mindepth 1 -maxdepth 1 -name 'oversell.*')" ]

# The same kill -9 during a Sentinel topology (a master, a replica, three redis-sentinel
# processes, the proxy's lag between them) and during a cluster's forming: every child of
# the harness, whatever its name, dies with it.
children() { ps -o pid= --ppid "$1" 2>/dev/null; }
for cell in sentinel-failover-lock:setnx:5 cluster-flash-sale:setnx:3; do
  IFS=: read -r scn strat n <<<"$cell"
  TMPDIR=$fleet_tmp "$bin" run "$scn" --strategy "$strat" --out "$tmp/out-kill-$scn" \
    >/dev/null 2>&1 &
  pid=$!
  kids=$(wait_for_servers $pid $n children)
  check "$scn started its $n servers" [ "$(echo $kids | wc -w)" -ge "$n" ]
  sleep 0.3
  kids="$kids $(children $pid)"
  kill -9 $pid; wait $pid 2>/dev/null
  check "no process of $scn outlives kill -9" all_gone $kids
done

tap_done
