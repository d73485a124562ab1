#!/usr/bin/env bash
# own_sentinel.sh - `--sentinel ... --master mymaster` against servers started by hand, as
# a user's own deployment would be: a master with requirepass, one replica, and three
# redis-sentinel processes with a requirepass of their own and `sentinel auth-pass`. Misuse
# is refused with exit 2 and a wrong Sentinel password with exit 3, before anything is
# written; a matrix over scenarios of each kind judges what one master can give, and
# every other cell is n/a with its reason (faults, several masters, adapters given
# addresses); afterwards no key of the run is left on the master or the replica. Then a
# failover the fixture asks of the Sentinels in the middle of a sale: the run follows the
# new master and is still judged.
set -u
bin=${1:?usage: own_sentinel.sh path/to/oversell}
src=${OVS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-own-sentinel.XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

need_redis
need_sqlite3
cd "$src" || exit 1
server=${OVERSELL_REDIS_SERVER:-redis-server}
pw='s3cret pw' spw='sentinel pw'

# The master and its replica: each also the other's replica after a failover, so both
# know the master's password (masterauth).
mport=$(free_port) rport=$(free_port)
for p in "$mport" "$rport"; do
  mkdir "$tmp/r$p"
  extra=()
  [ "$p" = "$rport" ] && extra=(--replicaof 127.0.0.1 "$mport")
  # Redis 7 holds a diskless first sync back 5 s for more replicas to join
  # (repl-diskless-sync-delay): at once here, or the replica may not be in sync in time.
  "$server" --port "$p" --bind 127.0.0.1 --requirepass "$pw" --masterauth "$pw" --save '' \
    --appendonly no --repl-diskless-sync-delay 0 --dir "$tmp/r$p" "${extra[@]}" \
    >"$tmp/r$p/log" 2>&1 &
  pids+=($!)
done
cli() { local p=$1; shift; redis-cli -p "$p" -a "$pw" --no-auth-warning "$@"; }
for _ in $(seq 100); do
  [ "$(cli "$mport" ping 2>/dev/null)" = PONG ] &&
    cli "$rport" info replication 2>/dev/null | grep -q 'master_link_status:up' && break
  sleep 0.1
done
check "the hand-started replica is in sync" eval 'cli "$rport" info replication | grep -q master_link_status:up'

# Three Sentinels, quorum 2, quick to notice (a second) and to fail over.
sports=()
for i in 1 2 3; do
  p=$(free_port)
  sports+=("$p")
  cat >"$tmp/sentinel$i.conf" <<EOF
port $p
bind 127.0.0.1
dir $tmp
requirepass "$spw"
sentinel monitor mymaster 127.0.0.1 $mport 2
sentinel auth-pass mymaster "$pw"
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 5000
EOF
  "${OVERSELL_REDIS_SENTINEL:-redis-sentinel}" "$tmp/sentinel$i.conf" >"$tmp/sentinel$i.log" 2>&1 &
  pids+=($!)
done
scli() { local p=$1; shift; redis-cli -p "$p" -a "$spw" --no-auth-warning "$@"; }
sentinels="127.0.0.1:${sports[0]},127.0.0.1:${sports[1]},127.0.0.1:${sports[2]}"
# Settled: each Sentinel sees the replica and the two other Sentinels.
for _ in $(seq 100); do
  n=0
  for p in "${sports[@]}"; do
    m=$(scli "$p" sentinel master mymaster 2>/dev/null | tr '\n' ' ')
    case "$m" in *"num-slaves 1 "*"num-other-sentinels 2 "*) n=$((n + 1)) ;; esac
  done
  [ "$n" = 3 ] && break
  sleep 0.1
done
check "the three Sentinels know the master, its replica and each other" [ "$n" = 3 ]
cli "$mport" set user:precious keep >/dev/null

# Misuse: exit 2, nothing written.
"$bin" matrix --sentinel "$sentinels" -o "$tmp/usage" >/dev/null 2>"$tmp/err"
check "--sentinel without --master: exit 2" [ $? = 2 ]
check "--sentinel without --master: says why" grep -q -- '--sentinel needs --master' "$tmp/err"
"$bin" matrix --master mymaster -o "$tmp/usage" >/dev/null 2>"$tmp/err"
check "--master without --sentinel: exit 2" [ $? = 2 ]
"$bin" matrix --sentinel "$sentinels" --master mymaster --redis "127.0.0.1:$mport" \
  -o "$tmp/usage" >/dev/null 2>"$tmp/err"
check "--sentinel with --redis: exit 2" [ $? = 2 ]
check "--sentinel with --redis: says why" grep -q 'not both' "$tmp/err"
"$bin" matrix --sentinel 127.0.0.1:x --master mymaster -o "$tmp/usage" >/dev/null 2>"$tmp/err"
check "--sentinel without a port: exit 2" [ $? = 2 ]
check "nothing written on bad usage" [ ! -e "$tmp/usage" ]

mkdir "$tmp/sc"
cp scenarios/flash-sale.ini "$tmp/sc/"
own() { "$bin" matrix --sentinel "$sentinels" --master mymaster "$@"; }
OVERSELL_REDIS_PASSWORD=$pw OVERSELL_SENTINEL_PASSWORD=not-the-spw-42 \
  own -d "$tmp/sc" -o "$tmp/wrong" >/dev/null 2>"$tmp/err"
check "a wrong Sentinel password: exit 3" [ $? = 3 ]
check "a wrong Sentinel password: says AUTH was refused" grep -q 'AUTH refused' "$tmp/err"
check "a wrong Sentinel password: nothing written" [ ! -e "$tmp/wrong/results.db" ]
check "a wrong Sentinel password: not printed" [ -z "$(grep -o 'not-the-spw-42' "$tmp/err")" ]
OVERSELL_REDIS_PASSWORD=$pw OVERSELL_SENTINEL_PASSWORD=$spw "$bin" matrix \
  --sentinel "$sentinels" --master nosuch -d "$tmp/sc" -o "$tmp/nosuch" >/dev/null 2>"$tmp/err"
check "a master the Sentinels do not know: exit 3" [ $? = 3 ]
check "a master the Sentinels do not know: says so" grep -q 'does not know the master' "$tmp/err"

# Every strategy over scenarios of each kind (a fault-free sale and booking, a fault), the
# logins from the auth file: the master's on the first line, the Sentinels' on the second.
# (The whole default matrix takes minutes on the user's Sentinel, the 10,000-buyer sale
# most of them; what it judges and leaves n/a is the same kind by kind.)
printf 'default %s\ndefault %s\n' "$pw" "$spw" >"$tmp/auth"
chmod 600 "$tmp/auth"
mkdir "$tmp/kinds"
cp scenarios/watch-multi-hot-sku.ini scenarios/double-booking-two-guests.ini \
   scenarios/crash-before-writeback.ini "$tmp/kinds/"
own --redis-auth-file "$tmp/auth" --key-prefix t1: -d "$tmp/kinds" -o "$tmp/out" >"$tmp/out.txt" 2>"$tmp/err"
check "the matrix on the user's Sentinel: exit 0" [ $? = 0 ]
check "the matrix on the user's Sentinel: says where the master is" \
  grep -q "master mymaster is at 127.0.0.1:$mport" "$tmp/err"
q() { sqlite3 "$tmp/out/results.db" "$1"; }
judged=$(q "SELECT count(*) FROM runs WHERE status='ok'")
na=$(q "SELECT count(*) FROM runs WHERE status='n/a'")
total=$(q "SELECT count(*) FROM runs")
echo "# judged $judged, n/a $na, of $total"
check "every cell judged or n/a" [ "$((judged + na))" = "$total" ]
check "fault-free single-master cells judged" [ "$judged" -gt 0 ]
check "a sale judged for lua-decr and setnx" \
  [ "$(q "SELECT count(*) FROM runs WHERE scenario='watch-multi-hot-sku' AND strategy IN ('lua-decr','setnx') AND status='ok' AND verdict IS NOT NULL")" = 2 ]
check "no n/a cell without its reason" \
  [ "$(q "SELECT count(*) FROM runs WHERE status='n/a' AND error NOT LIKE 'n/a%'")" = 0 ]
check "fault cells n/a: needs process control" \
  [ "$(q "SELECT count(*) FROM runs WHERE scenario='crash-before-writeback' AND status='n/a' AND error LIKE '%n/a on --sentinel: needs process control of a server the harness did not start (fault kill-restart node:0)%'")" -gt 0 ]
check "redlock cells n/a: several masters" \
  [ "$(q "SELECT count(*) FROM runs WHERE strategy='redlock' AND status='n/a' AND error LIKE '%needs 5 independent Redis masters, and Sentinel names one%'")" -gt 0 ]
check "no n/a that should have run: a fault-free scenario on one master" \
  [ "$(q "SELECT count(*) FROM runs WHERE scenario='watch-multi-hot-sku' AND strategy='lua-decr' AND status='n/a'")" = 0 ]
for f in summary.md results.csv results.json index.html; do
  check "$f says why the fault cells did not run" grep -q 'needs process control' "$tmp/out/$f"
done
check "no key of the run is left on the master" [ -z "$(cli "$mport" --scan --pattern 't1:*')" ]
check "no key of the run is left on the replica" [ -z "$(cli "$rport" --scan --pattern 't1:*')" ]
check "the user's key is untouched" [ "$(cli "$mport" get user:precious)" = keep ]
check "nothing else is on the master" [ "$(cli "$mport" dbsize)" = 1 ]

# A failover in the middle of a sale. SENTINEL FAILOVER promotes the replica; Sentinel
# itself demotes the old master only some seconds later (it waits for the old master's
# role to settle), which is after this sale's end, so the fixture then does at once what
# Sentinel does to it (REPLICAOF the new master and CLIENT KILL TYPE normal, in one
# MULTI). The clients, cut off, ask the Sentinels again and carry on at the new master;
# the harness reads the stock and deletes the run's keys there. The sale is flash-sale's
# crowd spread over four seconds with stock for every buyer, so that its 32 workers are
# still taking locks when the old master is demoted: flash-sale's own burst can be over
# by then (in CI only 3 of its clients were still connected to be cut off).
conns() { cli "$1" info stats | tr -d '\r' | sed -n 's/^total_connections_received://p'; }
sed -e 's/^name = flash-sale$/name = flash-sale-spread/' -e 's/^stock = 100$/stock = 3000/' \
  -e 's/^buyers = 10000$/buyers = 3000/' -e 's|^arrival = burst$|arrival = rate 750/s|' \
  scenarios/flash-sale.ini > "$tmp/spread.ini"
OVERSELL_REDIS_PASSWORD=$pw OVERSELL_SENTINEL_PASSWORD=$spw "$bin" run "$tmp/spread.ini" \
  --sentinel "$sentinels" --master mymaster --strategy setnx --key-prefix t2: \
  -o "$tmp/failover" >/dev/null 2>"$tmp/err" &
run=$!
pids+=("$run")
for _ in $(seq 250); do
  [ -n "$(cli "$mport" --scan --pattern 't2:*' | head -1)" ] && break
  sleep 0.02
done
scli "${sports[0]}" sentinel failover mymaster >/dev/null
for _ in $(seq 100); do
  [ "$(scli "${sports[0]}" sentinel get-master-addr-by-name mymaster | tail -1)" = "$rport" ] && break
  sleep 0.05
done
check "the Sentinels name the replica as master" \
  [ "$(scli "${sports[0]}" sentinel get-master-addr-by-name mymaster | tail -1)" = "$rport" ]
before=$(conns "$rport")
killed=$(printf 'MULTI\nREPLICAOF 127.0.0.1 %s\nCLIENT KILL TYPE normal\nEXEC\n' "$rport" |
  cli "$mport" | tail -1)
wait "$run"
rc=$?
unset 'pids[-1]' # reaped: its pid is no longer ours to kill
check "the run through a failover: exit 0" [ $rc = 0 ]
after=$(conns "$rport")
echo "# clients cut off at the old master: $killed; connections to the new one after: $((after - before))"
check "the sale was still going when the old master was demoted" [ "${killed:-0}" -gt 0 ]
check "its 32 workers carried on at the new master" [ "$((after - before))" -ge 32 ]
qf() { sqlite3 "$tmp/failover/results.db" "$1"; }
echo "# through the failover: $(qf "SELECT verdict || ', ' || figure || ', busy ' || busy FROM runs")"
check "the run through a failover is judged" \
  [ "$(qf "SELECT count(*) FROM runs WHERE status='ok' AND verdict IS NOT NULL")" = 1 ]
# The old master keeps what clients wrote there between the promotion and its demotion
# (writes the failover lost) until it has synced from the new one, which drops them.
for _ in $(seq 100); do
  cli "$mport" info replication | grep -q 'master_link_status:up' && break
  sleep 0.1
done
check "the old master, demoted, is in sync with the new one" \
  eval 'cli "$mport" info replication | grep -q master_link_status:up'
check "no key of that run is left on either server" \
  [ -z "$(cli "$mport" --scan --pattern 't2:*')$(cli "$rport" --scan --pattern 't2:*')" ]

tap_done
