#!/usr/bin/env bash
# node_redlock.sh - the node-redlock adapter (locks/adapters/node-redlock/adapter.js) at the
# protocol level, with no C in between: JSON lines piped into real adapter processes, the
# replies checked against what the five real redis-server processes hold.
#
# The adapter's replies are what the harness records, so each check asks what a dishonest
# or broken adapter would make it see: a lock that is not on a majority, a second holder
# let in, a release that leaves the key, an expired lease released as "ok", a lease that
# stops being extended, a stopped process whose unlock still says "ok", retries that are
# not kept out by the first attempt's keys (a redlock that changed), a hang when most
# nodes are dead, an exit that takes too long or leaves its lock, a stray line on stdout.
set -u
src=${OVS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
adapter=$src/locks/adapters/node-redlock/adapter.js

skip() {
  if [ "${CI:-}" = true ]; then echo "not ok - $1 (CI=true: live tests may not be skipped)"; exit 1; fi
  echo "$1: skipping"; exit 77
}
command -v node >/dev/null || skip "node not found"
command -v redis-server >/dev/null || skip "redis-server not found"
command -v redis-cli >/dev/null || skip "redis-cli not found"
[ -d "$src/locks/adapters/node-redlock/node_modules" ] ||
  skip "node_modules missing in locks/adapters/node-redlock (./setup.sh installs it)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-node-redlock.XXXXXX")
redis_pids=() ports=()
declare -A apid afd # adapter name -> pid, write end of its stdin
cleanup() {
  local p
  for p in "${apid[@]}" "${redis_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${apid[@]}" "${redis_pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
sleep_ms() { [ "$1" -gt 0 ] && sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; return 0; }

# ---- five Redis masters on free loopback ports ------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start_redis() { # start_redis INDEX: a fresh port, retried if another process takes it first
  local i=$1 try p pid n
  for try in $(seq 1 20); do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" && continue
    redis-server --bind 127.0.0.1 --port "$p" --protected-mode yes --save '' \
      --appendonly no --dir "$tmp" --daemonize no >"$tmp/redis-$i.log" 2>&1 &
    pid=$!
    for n in $(seq 1 100); do
      redis-cli -p "$p" ping >/dev/null 2>&1 && { redis_pids[$i]=$pid ports[$i]=$p; return 0; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.02
    done
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  echo "cannot start redis-server $i"; exit 1
}
for i in 0 1 2 3 4; do start_redis $i; done
endpoints=$(for i in 0 1 2 3 4; do printf '{"host":"127.0.0.1","port":%s}' "${ports[$i]}"; done |
  sed 's/}{/},{/g')

# GET key on every live node, one line per node ("" for none).
values() { local i; for i in 0 1 2 3 4; do redis-cli -p "${ports[$i]}" get "$1" 2>/dev/null; echo; done | sed '/^$/d'; }
# How many nodes hold key with the value most of them hold, and that value.
majority_value() { values "$1" | sort | uniq -c | sort -rn | head -1; }
held_on() { majority_value "$1" | awk '{n = $1} END {print n + 0}'; }
nodes_with() { # nodes_with KEY: how many nodes have the key at all
  local i n=0
  for i in 0 1 2 3 4; do
    [ "$(redis-cli -p "${ports[$i]}" exists "$1" 2>/dev/null)" = 1 ] && n=$((n + 1))
  done
  echo $n
}

# ---- adapters driven through a FIFO -----------------------------------------------------

start_adapter() { # start_adapter NAME MODE PARAMS_JSON: spawn, init; sets init_ms
  local name=$1 mode=$2 params=$3 t0 fd
  mkfifo "$tmp/$name.in"
  t0=$(now_ms)
  # Without the other adapters' stdin: a process holding another's write end would keep
  # that one from ever seeing the end of its input.
  (for fd in "${afd[@]}"; do exec {fd}>&-; done
   exec "$adapter" --mode "$mode" <"$tmp/$name.in" >"$tmp/$name.out" 2>"$tmp/$name.err") &
  apid[$name]=$!
  exec {fd}>"$tmp/$name.in"
  afd[$name]=$fd
  send "$name" "{\"type\":\"init\",\"id\":0,\"protocol\":1,\"strategy\":\"node-redlock\",\"client\":\"$name\",\"client_index\":0,\"seed\":9,\"redis\":[$endpoints],\"params\":$params,\"workload\":\"inventory\",\"shop\":{\"backend\":\"sqlite\",\"path\":\"$tmp/shop.db\"}}"
  reply=$(await "$name" 0 5000)
  init_ms=$(( $(now_ms) - t0 ))
}
send() { echo "$2" >&"${afd[$1]}"; }
# await NAME ID MS: the reply line with that id, waiting at most MS; empty when none came.
await() {
  local name=$1 id=$2 ms=$3 t0 line
  t0=$(now_ms)
  while :; do
    line=$(grep -m1 -E "\"id\":$id[,}]" "$tmp/$name.out")
    [ -n "$line" ] && { echo "$line"; return 0; }
    [ $(( $(now_ms) - t0 )) -ge "$ms" ] && return 1
    sleep 0.01
  done
}
next_id=1
request() { # request NAME JSON_FIELDS [MS]: sets reply and took_ms
  local t0 id=$next_id
  next_id=$((next_id + 1))
  t0=$(now_ms)
  send "$1" "{\"id\":$id,$2}"
  reply=$(await "$1" "$id" "${3:-5000}") || reply=""
  took_ms=$(( $(now_ms) - t0 ))
}
is() { [[ "$reply" == *"\"type\":\"$1\""* ]]; }
# close_stdin NAME: end its input; sets exit_ms and exit_rc (or exit_rc=timeout after 3 s)
close_stdin() {
  local name=$1 t0 n fd=${afd[$1]}
  t0=$(now_ms)
  exec {fd}>&-
  exit_rc=timeout
  for n in $(seq 1 300); do
    if ! kill -0 "${apid[$name]}" 2>/dev/null; then
      wait "${apid[$name]}"; exit_rc=$?
      break
    fi
    sleep 0.01
  done
  exit_ms=$(( $(now_ms) - t0 ))
  [ "$exit_rc" = timeout ] || unset "apid[$name]"
  unset "afd[$name]"
}

# ---- acquire mode ----------------------------------------------------------------------

fast='{"ttl":5000,"retry_count":2,"retry_delay":50,"retry_jitter":20}'
start_adapter alice acquire "$fast"
check "init: init_ok (${init_ms} ms from spawn)" is init_ok
check "init: library names redlock and ioredis 5" \
  grep -qE '"library":"redlock [0-9][^ ]* \+ ioredis 5\.[0-9.]+"' "$tmp/alice.out"

request alice '"type":"lock","key":"sku:1","ttl_ms":5000'
check "lock: ok (${took_ms} ms)" is ok
check "lock: sku:1 held on a majority with one value" [ "$(held_on sku:1)" -ge 3 ]
token=$(majority_value sku:1 | awk '{print $2}')
check "lock: every node that has sku:1 has the lock's value" \
  [ "$(values sku:1 | sort -u)" = "$token" ]
pttl=$(redis-cli -p "${ports[0]}" pttl sku:1)
check "lock: the key carries the lease (pttl $pttl of 5000)" [ "$pttl" -gt 4000 -a "$pttl" -le 5000 ]

start_adapter bob acquire "$fast"
request bob '"type":"lock","key":"sku:1","ttl_ms":5000'
check "second client while held: busy (${took_ms} ms)" is busy
check "second client while held: the first one's value is untouched" \
  [ "$(values sku:1 | sort -u)" = "$token" -a "$(held_on sku:1)" -ge 3 ]

request alice '"type":"unlock","key":"sku:1"'
check "unlock: ok (${took_ms} ms)" is ok
check "unlock: sku:1 gone from every node" [ "$(nodes_with sku:1)" = 0 ]
request bob '"type":"lock","key":"sku:1","ttl_ms":5000'
check "after unlock the second client gets it" is ok
request bob '"type":"unlock","key":"sku:1"'
check "and releases it" is ok

request alice '"type":"lock","key":"ttl:1","ttl_ms":200'
check "short lease: lock ok" is ok
sleep 0.4
check "short lease: Redis expired the key" [ "$(nodes_with ttl:1)" = 0 ]
request alice '"type":"unlock","key":"ttl:1"'
check "short lease: unlock after expiry is busy, not ok (${took_ms} ms)" is busy
check "short lease: busy says the lock was no longer ours" grep -q '"id":'$((next_id - 1))',.*no longer ours' "$tmp/alice.out"

request alice '"type":"unlock","key":"never:1"'
check "unlock of a key never locked: fail" is fail
request alice '"type":"buy","sku":1,"buyer":1,"think_ms":0'
check "buy to a lock adapter: fail" is fail

# ---- using mode: the lease is extended while held -----------------------------------------

using='{"ttl":300,"retry_count":2,"retry_delay":50,"retry_jitter":20,"extension_threshold":100}'
start_adapter carol using "$using"
check "using: init_ok (${init_ms} ms)" is init_ok
request carol '"type":"lock","key":"use:1","ttl_ms":300'
check "using: lock ok" is ok
first=$(majority_value use:1 | awk '{print $2}')
sleep 1.2
check "using: still held after 1200 ms on a 300 ms lease (extended)" [ "$(held_on use:1)" -ge 3 ]
check "using: by the same value" [ "$(majority_value use:1 | awk '{print $2}')" = "$first" ]
request carol '"type":"unlock","key":"use:1"'
check "using: unlock ok (${took_ms} ms)" is ok
check "using: use:1 gone from every node" [ "$(nodes_with use:1)" = 0 ]

# ---- using mode under SIGSTOP: the extension timer stops with the process ----------------

request carol '"type":"lock","key":"use:2","ttl_ms":300'
check "stop: lock ok" is ok
kill -STOP "${apid[carol]}"
stopped=$(now_ms)
sleep 0.4
request bob '"type":"lock","key":"use:2","ttl_ms":5000'
check "stop: the lease expired and a second client took use:2 meanwhile" is ok
bobs=$(majority_value use:2 | awk '{print $2}')
sleep_ms $((1000 - ($(now_ms) - stopped)))
kill -CONT "${apid[carol]}"
request carol '"type":"unlock","key":"use:2"'
check "stop: after SIGCONT the first one's unlock is busy (${took_ms} ms)" is busy
check "stop: its release left the second client's lock alone" \
  [ "$(values use:2 | sort -u)" = "$bobs" -a "$(held_on use:2)" -ge 3 ]
request bob '"type":"unlock","key":"use:2"'
check "stop: the second client releases it" is ok

# ---- end of input: release what is held, exit 0, quickly -----------------------------------

start_adapter erin acquire "$fast"
request erin '"type":"lock","key":"exit:1","ttl_ms":60000'
check "exit: lock ok" is ok
close_stdin erin
check "exit: stdin closed, exit status 0 (got $exit_rc)" [ "$exit_rc" = 0 ]
check "exit: within 2 s (${exit_ms} ms)" [ "$exit_ms" -lt 2000 ]
check "exit: the lock it held is released" [ "$(nodes_with exit:1)" = 0 ]

# ---- retries locked out by their own first attempt -------------------------------------------
# redlock 5.0.0-beta.2 keeps one value for all the attempts of an acquire, does not release
# a failed attempt's minority before the next, and its script refuses a key that exists,
# its own value included. Node 0 held by another for good, nodes 1 and 2 for 600 ms: the
# first attempt takes 3 and 4 only; once 1 and 2 are free, nodes 1-4 (a majority) would be
# a lock for an acquire that cleared its minority, but redlock finds 3 and 4 taken - by
# itself - and then 1 and 2 as well. This is what makes redlock-node-restart's second
# buyer give up when a node is back only after his first attempt (README there).

start_adapter fay acquire '{"ttl":5000,"retry_count":6,"retry_delay":200,"retry_jitter":0}'
# Set after init, which a loaded machine can make last longer than 600 ms.
redis-cli -p "${ports[0]}" set self:1 other px 60000 >/dev/null
for i in 1 2; do redis-cli -p "${ports[$i]}" set self:1 other px 600 >/dev/null; done
request fay '"type":"lock","key":"self:1","ttl_ms":5000' 10000
check "own minority: busy although nodes 1-4 were free after 600 ms (${took_ms} ms)" is busy
check "own minority: its last attempt found all five taken (${reply:0:120}...)" \
  bash -c '[[ "$1" == *"0 for, 5 held by another"* ]]' _ "$reply"
check "own minority: what held it out on nodes 1-4 was its own value (its release cleared them)" \
  [ "$(nodes_with self:1)" = 1 -a "$(redis-cli -p "${ports[0]}" get self:1)" = other ]
close_stdin fay
check "fay: exit 0 on end of input (got $exit_rc)" [ "$exit_rc" = 0 ]

# ---- three of five nodes killed: busy, bounded -----------------------------------------------

request alice '"type":"lock","key":"dead:2","ttl_ms":60000'
check "majority down: a lock taken before" is ok
for i in 0 1 2; do kill -9 "${redis_pids[$i]}"; wait "${redis_pids[$i]}" 2>/dev/null; unset "redis_pids[$i]"; done
request alice '"type":"lock","key":"dead:1","ttl_ms":5000' 10000
check "majority down: lock is busy, not a hang (${took_ms} ms)" is busy
check "majority down: within 2 s" [ "$took_ms" -lt 2000 ]
request alice '"type":"unlock","key":"dead:2"' 10000
check "majority down: a release confirmed on 2 of 5 is not ok (${reply:0:60}...)" \
  bash -c '[[ "$1" == *"\"type\":\"fail\""* || "$1" == *"\"type\":\"unknown\""* ]]' _ "$reply"
default='{"ttl":5000}'
start_adapter dave acquire "$default"
check "majority down: a new adapter still starts (init_ok with 2 of 5)" is init_ok
request dave '"type":"lock","key":"dead:3","ttl_ms":5000' 10000
check "majority down, default retries (3 x 200+-200 ms): busy in ${took_ms} ms" is busy
check "majority down, default retries: within the definition's 10 s timeout" [ "$took_ms" -lt 10000 ]

for name in alice bob carol dave; do
  close_stdin "$name"
  check "$name: exit 0 on end of input (got $exit_rc, ${exit_ms} ms)" [ "$exit_rc" = 0 ]
  check "$name: within 2 s with nodes dead" [ "$exit_ms" -lt 2000 ]
done

# ---- stdout carries JSON lines and nothing else ---------------------------------------------

check "stdout: every line of every adapter is a JSON object with type and id" \
  node -e '
    const fs = require("fs");
    for (const f of process.argv.slice(1)) {
      for (const line of fs.readFileSync(f, "utf8").split("\n")) {
        if (line === "") continue;
        const m = JSON.parse(line);
        if (typeof m !== "object" || m === null || typeof m.type !== "string" || !("id" in m)) {
          throw new Error(f + ": " + line);
        }
      }
    }' "$tmp"/*.out
check "stderr: the adapters logged (the log goes there, not to stdout)" grep -q 'init: mode' "$tmp/alice.err"

if [ "$failed" != 0 ]; then
  for f in "$tmp"/*.err; do echo "--- $(basename "$f")"; tail -n 5 "$f"; done
fi
tap_done
