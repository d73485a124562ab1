#!/usr/bin/env bash
# own_cluster.sh - `--cluster SEED` against a Redis Cluster started by hand, as a user's
# own deployment would be: three cluster-enabled masters with requirepass and masterauth,
# formed with redis-cli --cluster create. Misuse is refused with exit 2, a wrong password
# and a seed not in cluster mode with exit 3, before anything is written; a matrix over a
# cluster sale, a bucketed hot SKU, a plain sale and a fault scenario finds every master
# from one seed, judges what routes by slot (lua-decr safe, its buckets summed over the
# three masters), and leaves every other cell n/a with its reason; afterwards no key of
# the run is left on any master, and the user's key is intact.
set -u
bin=${1:?usage: own_cluster.sh path/to/oversell}
src=${OVS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-own-cluster.XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

need_redis
need_sqlite3
cd "$src" || exit 1
server=${OVERSELL_REDIS_SERVER:-redis-server}
# A cluster node also listens on its port + 10000 (the cluster bus), so both must be free,
# and the port at most 55535.
bus_port() {
  python3 -c '
import random, socket
while True:
    p = random.randint(20000, 55535)
    try:
        for q in (p, p + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
    except OSError:
        continue
    print(p); break'
}
pw='s3cret pw'

# Three cluster masters, and one plain server (not in cluster mode) given by mistake.
ports=()
for i in 1 2 3; do
  p=$(bus_port)
  ports+=("$p")
  mkdir "$tmp/r$p"
  "$server" --port "$p" --bind 127.0.0.1 --requirepass "$pw" --masterauth "$pw" --save '' \
    --appendonly no --dir "$tmp/r$p" --cluster-enabled yes \
    --cluster-config-file "$tmp/r$p/nodes.conf" >"$tmp/r$p/log" 2>&1 &
  pids+=($!)
done
plain=$(free_port)
mkdir "$tmp/plain"
"$server" --port "$plain" --bind 127.0.0.1 --requirepass "$pw" --save '' --appendonly no \
  --dir "$tmp/plain" >"$tmp/plain/log" 2>&1 &
pids+=($!)
cli() { local p=$1; shift; redis-cli -p "$p" -a "$pw" --no-auth-warning "$@"; }
for p in "${ports[@]}" "$plain"; do
  for _ in $(seq 50); do [ "$(cli "$p" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
done
redis-cli -a "$pw" --no-auth-warning --cluster create "127.0.0.1:${ports[0]}" \
  "127.0.0.1:${ports[1]}" "127.0.0.1:${ports[2]}" --cluster-replicas 0 --cluster-yes \
  >"$tmp/create.log" 2>&1
for _ in $(seq 100); do
  n=0
  for p in "${ports[@]}"; do
    cli "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && n=$((n + 1))
  done
  [ "$n" = 3 ] && break
  sleep 0.1
done
check "the hand-formed cluster is ok on all three masters" [ "$n" = 3 ]
cli "${ports[0]}" -c set user:precious keep >/dev/null
seed_port=${ports[1]} seed="127.0.0.1:${ports[1]}"

# Misuse: exit 2, nothing written.
"$bin" matrix --cluster "$seed" --redis "127.0.0.1:$plain" -o "$tmp/usage" >/dev/null 2>"$tmp/err"
check "--cluster with --redis: exit 2" [ $? = 2 ]
check "--cluster with --redis: says why" grep -q 'one of them' "$tmp/err"
"$bin" matrix --cluster "$seed" --sentinel "127.0.0.1:$plain" --master m -o "$tmp/usage" \
  >/dev/null 2>"$tmp/err"
check "--cluster with --sentinel: exit 2" [ $? = 2 ]
"$bin" matrix --cluster 127.0.0.1:x -o "$tmp/usage" >/dev/null 2>"$tmp/err"
check "--cluster without a port: exit 2" [ $? = 2 ]
"$bin" matrix --cluster "$seed,$seed" -o "$tmp/usage" >/dev/null 2>"$tmp/err"
check "--cluster with a seed named twice: exit 2" [ $? = 2 ]
check "nothing written on bad usage" [ ! -e "$tmp/usage" ]

mkdir "$tmp/sc"
cp scenarios/cluster-flash-sale.ini scenarios/cluster-hot-sku-buckets.ini \
   scenarios/watch-multi-hot-sku.ini scenarios/crash-before-writeback.ini "$tmp/sc/"
OVERSELL_REDIS_PASSWORD=not-the-pw-42 "$bin" matrix --cluster "$seed" -d "$tmp/sc" \
  -o "$tmp/wrong" >/dev/null 2>"$tmp/err"
check "a wrong password: exit 3" [ $? = 3 ]
check "a wrong password: says AUTH was refused" grep -q 'AUTH refused' "$tmp/err"
check "a wrong password: nothing written" [ ! -e "$tmp/wrong/results.db" ]
check "a wrong password: not printed" [ -z "$(grep -o 'not-the-pw-42' "$tmp/err")" ]
OVERSELL_REDIS_PASSWORD=$pw "$bin" matrix --cluster "$seed,127.0.0.1:$plain" -d "$tmp/sc" \
  -o "$tmp/plainout" >/dev/null 2>"$tmp/err"
check "a seed not in cluster mode: exit 3" [ $? = 3 ]
check "a seed not in cluster mode: says so" grep -q "127.0.0.1:$plain is not a cluster node" "$tmp/err"
check "a seed not in cluster mode: nothing written" [ ! -e "$tmp/plainout/results.db" ]

# A prefix in use on a master other than the seed's is refused too: every master is
# scanned (SCAN is per node in a cluster).
for c in a b c d e f g h i j k l m n o p; do
  [ "$(cli "$seed_port" cluster keyslot "t0:$c")" -ge 10923 ] && break
done
cli "$seed_port" -c set "t0:$c" theirs >/dev/null
OVERSELL_REDIS_PASSWORD=$pw "$bin" matrix --cluster "$seed" --key-prefix t0: -d "$tmp/sc" \
  -o "$tmp/inuse" >/dev/null 2>"$tmp/err"
check "a prefix in use on the third master: exit 3" [ $? = 3 ]
check "a prefix in use on the third master: says where" \
  grep -q "127.0.0.1:${ports[2]} already has keys under t0:" "$tmp/err"
check "a prefix in use: nothing written" [ ! -e "$tmp/inuse/results.db" ]
check "a prefix in use: their key is left alone" [ "$(cli "$seed_port" -c get "t0:$c")" = theirs ]
cli "$seed_port" -c del "t0:$c" >/dev/null

# The matrix, from one seed; the login from the auth file.
printf 'default %s\n' "$pw" >"$tmp/auth"
chmod 600 "$tmp/auth"
"$bin" matrix --cluster "$seed" --redis-auth-file "$tmp/auth" --key-prefix t1: -d "$tmp/sc" \
  -o "$tmp/out" >"$tmp/out.txt" 2>"$tmp/err"
check "the matrix on the user's cluster: exit 0" [ $? = 0 ]
check "the matrix on the user's cluster: says where the masters are" \
  grep -q "3 masters at .*127.0.0.1:${ports[0]}" "$tmp/err"
q() { sqlite3 "$tmp/out/results.db" "$1"; }
judged=$(q "SELECT count(*) FROM runs WHERE status='ok'")
na=$(q "SELECT count(*) FROM runs WHERE status='n/a'")
total=$(q "SELECT count(*) FROM runs")
echo "# judged $judged, n/a $na, of $total"
q "SELECT scenario, strategy, status, coalesce(verdict, ''), coalesce(error, '') FROM runs" |
  sed 's/^/# /'
check "every cell judged or n/a" [ "$((judged + na))" = "$total" ]
check "no n/a cell without its reason" \
  [ "$(q "SELECT count(*) FROM runs WHERE status='n/a' AND error NOT LIKE 'n/a%'")" = 0 ]
for s in cluster-flash-sale cluster-hot-sku-buckets watch-multi-hot-sku; do
  check "lua-decr is judged safe on $s" \
    [ "$(q "SELECT verdict FROM runs WHERE scenario='$s' AND strategy='lua-decr' AND status='ok'")" = safe ]
done
check "setnx is judged on the cluster sale" \
  [ "$(q "SELECT count(*) FROM runs WHERE scenario='cluster-flash-sale' AND strategy='setnx' AND status='ok' AND verdict IS NOT NULL")" = 1 ]
check "the buckets sold exactly 31, Redis and SQL agreeing" \
  [ "$(q "SELECT count(*) FROM runs WHERE scenario='cluster-hot-sku-buckets' AND strategy='lua-decr' AND status='ok' AND figure = '0 oversold, 31 sold'")" = 1 ]
check "fault cells n/a: needs process control" \
  [ "$(q "SELECT count(*) FROM runs WHERE scenario='crash-before-writeback' AND status='n/a' AND error LIKE 'n/a on --cluster: needs process control of a server the harness did not start (fault kill-restart node:0)%'")" -gt 0 ]
check "redlock n/a: several independent masters" \
  [ "$(q "SELECT count(*) FROM runs WHERE strategy='redlock' AND status='n/a' AND error LIKE '%independent masters, and a cluster''s masters share one keyspace%'")" -gt 0 ]
check "watch-multi n/a: cannot route by slot" \
  [ "$(q "SELECT count(*) FROM runs WHERE scenario='watch-multi-hot-sku' AND strategy='watch-multi' AND status='n/a' AND error LIKE 'n/a on --cluster: watch-multi is not known to route%'")" = 1 ]
# A sale that leaves stock in the buckets: 20 buyers for 31 units over three buckets, one
# on each master. What the harness reads back is their sum, each read on its slot's master.
mkdir "$tmp/sc20"
sed 's/^buyers = 400/buyers = 20/' scenarios/cluster-hot-sku-buckets.ini >"$tmp/sc20/cluster-hot-sku-buckets.ini"
OVERSELL_REDIS_PASSWORD=$pw "$bin" run cluster-hot-sku-buckets --strategy lua-decr \
  --cluster "$seed" --key-prefix t2: -d "$tmp/sc20" -o "$tmp/b20" >/dev/null 2>"$tmp/err"
check "20 buyers over the buckets: exit 0" [ $? = 0 ]
qb() { sqlite3 "$tmp/b20/results.db" "$1"; }
echo "# 20 buyers: $(qb "SELECT verdict || ', ' || figure FROM runs"); Redis stock $(qb "SELECT stock FROM redis_stock")"
check "20 buyers over the buckets: 20 sold, judged safe" \
  [ "$(qb "SELECT count(*) FROM runs WHERE status='ok' AND verdict='safe' AND figure='0 oversold, 20 sold'")" = 1 ]
check "the buckets on three masters sum to the 11 left" [ "$(qb "SELECT stock FROM redis_stock WHERE sku=1")" = 11 ]
check "Redis's 11 agree with SQL's" \
  [ "$(qb "SELECT verdict FROM checks WHERE invariant='divergence'")" = pass ]

# gate and sweep take it too.
OVERSELL_REDIS_PASSWORD=$pw "$bin" gate --cluster "$seed" --strategy lua-decr --key-prefix t3: \
  -d "$tmp/sc20" -o "$tmp/gate" >"$tmp/gate.txt" 2>"$tmp/err"
check "gate on the user's cluster: exit 0" [ $? = 0 ]
OVERSELL_REDIS_PASSWORD=$pw "$bin" sweep cluster-hot-sku-buckets --strategy lua-decr \
  --vary buckets=1,3 --cluster "$seed" --key-prefix t4: -d "$tmp/sc20" -o "$tmp/sweep" \
  >"$tmp/sweep.txt" 2>"$tmp/err"
check "sweep on the user's cluster: exit 0" [ $? = 0 ]
check "sweep on the user's cluster: both points judged safe" \
  [ "$(sqlite3 "$tmp/sweep/results.db" "SELECT count(*) FROM runs WHERE status='ok' AND verdict='safe'")" = 2 ]

for p in "${ports[@]}"; do
  check "no key of the run is left on master $p" [ -z "$(cli "$p" --scan --pattern 't[1-4]:*')" ]
done
check "the user's key is untouched" [ "$(cli "${ports[0]}" -c get user:precious)" = keep ]
total_keys=0
for p in "${ports[@]}"; do total_keys=$((total_keys + $(cli "$p" dbsize))); done
check "nothing else is on the cluster" [ "$total_keys" = 1 ]

tap_done
