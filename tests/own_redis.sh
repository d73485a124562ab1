#!/usr/bin/env bash
# own_redis.sh - `--redis` against a redis-server started by hand with requirepass, as a
# user's own server would be: a wrong password and a key prefix in use are refused with
# exit 3 before anything is written; fault-free cells run with verdicts while a fault cell
# is n/a with its reason in every report; afterwards no key of the run is left, and the
# user's own key is untouched (nothing is flushed).
set -u
bin=${1:?usage: own_redis.sh path/to/oversell}
src=${OVS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-own-redis.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

need_redis
need_sqlite3
cd "$src" || exit 1
server=${OVERSELL_REDIS_SERVER:-redis-server}
port=$(free_port)
"$server" --port "$port" --bind 127.0.0.1 --requirepass 's3cret pw' --save '' \
  --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pid=$!
cli() { redis-cli -p "$port" -a 's3cret pw' --no-auth-warning "$@"; }
for _ in $(seq 50); do [ "$(cli ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
check "the hand-started server answers" [ "$(cli ping)" = PONG ]
cli set user:precious keep >/dev/null
cli set t1:taken someone >/dev/null

# Two scenarios: one without faults, one that kills node 0.
mkdir "$tmp/sc"
cp scenarios/flash-sale.ini scenarios/crash-before-writeback.ini "$tmp/sc/"
own() { "$bin" matrix -d "$tmp/sc" --redis "127.0.0.1:$port" --strategy setnx \
          --strategy lua-decr "$@"; }

OVERSELL_REDIS_PASSWORD=not-the-pw-42 own -o "$tmp/wrong" >/dev/null 2>"$tmp/err"
check "a wrong password: exit 3" [ $? = 3 ]
check "a wrong password: says AUTH was refused" grep -q 'AUTH refused' "$tmp/err"
check "a wrong password: nothing written" [ ! -e "$tmp/wrong/results.db" ]
check "a wrong password: the password is not printed" [ -z "$(grep -o 'not-the-pw-42' "$tmp/err")" ]

OVERSELL_REDIS_PASSWORD='s3cret pw' own --key-prefix t1: -o "$tmp/taken" >/dev/null 2>"$tmp/err"
check "a prefix in use: exit 3" [ $? = 3 ]
check "a prefix in use: says so" grep -q 'already has keys under t1:' "$tmp/err"
check "a prefix in use: nothing written" [ ! -e "$tmp/taken/results.db" ]
check "a prefix in use: the key there is left alone" [ "$(cli get t1:taken)" = someone ]

"$bin" matrix --key-prefix t2: -o "$tmp/usage" >/dev/null 2>"$tmp/err"
check "--key-prefix without --redis: exit 2" [ $? = 2 ]
"$bin" matrix --redis "127.0.0.1:$port" --key-prefix user -o "$tmp/usage" >/dev/null 2>"$tmp/err"
check "a --key-prefix without its ':' (it would match user:precious): exit 2" [ $? = 2 ]
check "a --key-prefix without its ':': says why" grep -q "end it with ':'" "$tmp/err"
check "a --key-prefix without its ':': the user's key is left alone" [ "$(cli get user:precious)" = keep ]
"$bin" matrix --redis 127.0.0.1:x -o "$tmp/usage" >/dev/null 2>"$tmp/err"
check "--redis without a port: exit 2" [ $? = 2 ]
check "--redis without a port: says why" grep -q "is not HOST:PORT" "$tmp/err"
"$bin" matrix --redis "127.0.0.1:$port,127.0.0.1:$port" -o "$tmp/usage" >/dev/null 2>"$tmp/err"
check "--redis naming one server twice: exit 2" [ $? = 2 ]
check "nothing written on bad usage" [ ! -e "$tmp/usage" ]

# The password from a file, the first line "USER PASSWORD": the password is the rest of
# the line, blanks and all.
printf 'default s3cret pw\n' >"$tmp/auth"
chmod 600 "$tmp/auth"
own --redis-auth-file "$tmp/auth" --key-prefix t2: -o "$tmp/out" >"$tmp/out.txt" 2>"$tmp/err"
check "the matrix on the user's server: exit 0" [ $? = 0 ]
q() { sqlite3 "$tmp/out/results.db" "$1"; }
check "fault-free cells ran with verdicts" \
  [ "$(q "SELECT count(*) FROM runs WHERE scenario='flash-sale' AND status='ok' AND verdict='safe'")" = 2 ]
check "the fault cells were not run" \
  [ "$(q "SELECT count(*) FROM runs WHERE scenario='crash-before-writeback' AND status='n/a' AND verdict IS NULL")" = 2 ]
check "the fault cells say why" \
  [ "$(q "SELECT count(*) FROM runs WHERE scenario='crash-before-writeback' AND error LIKE '%needs process control of a server the harness did not start (fault kill-restart node:0)%'")" = 2 ]
for f in summary.md results.csv results.json index.html; do
  check "$f says why the fault cells did not run" grep -q 'needs process control' "$tmp/out/$f"
done
check "no key of the run is left" [ -z "$(cli --scan --pattern 't2:*')" ]
check "the user's key is untouched" [ "$(cli get user:precious)" = keep ]
check "nothing else is on the server" [ "$(cli dbsize)" = 2 ]

# The same sale with the default, random prefix, on the run command.
OVERSELL_REDIS_PASSWORD='s3cret pw' "$bin" run flash-sale --redis "127.0.0.1:$port" \
  --strategy lua-decr -o "$tmp/run" >/dev/null 2>"$tmp/err"
check "run with a random prefix: exit 0" [ $? = 0 ]
check "run with a random prefix: says the prefix" grep -q 'every key of the run under oversell:' "$tmp/err"
check "run with a random prefix: nothing left" [ "$(cli dbsize)" = 2 ]

# The shipped adapters on the user's server: each logs in with the password it is given
# in init (one with a blank in it) and keeps its keys under the prefix. Alice's client
# dies holding a 60 s lease, so her lock key outlives the run unless the run finds it by
# the prefix: an adapter writing "lock:sku:1" would leave it behind.
OVERSELL_REDIS_PASSWORD='s3cret pw' "$bin" run lock-holder-crash --redis "127.0.0.1:$port" \
  --strategy python-setnx:ttl=60000 --strategy node-redlock:nodes=1,ttl=60000 \
  -o "$tmp/adapters" >/dev/null 2>"$tmp/err"
check "adapters on the user's server: exit 0" [ $? = 0 ]
qa() { sqlite3 "$tmp/adapters/results.db" "$1"; }
check "adapters on the user's server: both judged" \
  [ "$(qa "SELECT count(*) FROM runs WHERE status='ok' AND verdict='safe'")" = 2 ]
check "adapters on the user's server: Alice's lease kept Bob out" \
  [ "$(qa "SELECT sum(succeeded) FROM runs")" = 0 ]
check "adapters on the user's server: the held lock was deleted with the run" \
  [ "$(cli dbsize)" = 2 ]
tap_done
