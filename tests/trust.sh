#!/usr/bin/env bash
# trust.sh - verdicts that must not be earned by accident, end to end through the binary:
# a fault that cannot fire makes the run an error that names it (never "safe"); after a
# promotion every strategy's requests reach the promoted node, crowds included; a write
# refused for a stale fencing token is said to be so, not "sold out"; a restart's figure
# counts the orders still queued; faults at 0 ms are done before any client moves; a
# crowd's fault waits for its N-th success.
set -u
bin=${1:?usage: trust.sh path/to/oversell}
src=${OVS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-trust.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

q() { sqlite3 "$1/results.db" "$2"; }
# A run that must get no verdict: LABEL, its exit status, its output directory.
no_verdict() {
  check "$1: exit 1" [ "$2" = 1 ]
  check "$1: run is an error, no verdict" \
    [ "$(q "$3" "SELECT status || '/' || coalesce(verdict, '-') FROM runs")" = "error/-" ]
}

need_redis
need_sqlite3
cd "$src" || exit 1

# 1. Faults that cannot fire. Bob is refused at his check, so "after = bob:act" never
# comes; and a fault timed after every client is done never comes either.
cat > "$tmp/point.ini" <<'INI'
[scenario]
name = point-never-fires
description = Bob is refused at his check, so a fault after his act cannot fire.
workload = inventory
seed = 3
stock = 1

[client alice]
start = 0ms
request = buy sku=1

[client bob]
start = 50ms
request = buy sku=1

[fault after-bobs-act]
after = bob:act
action = pause
target = node:0
duration = 10ms
INI
sed -e 's/^name = .*/name = time-never-fires/' -e 's/^after = bob:act/at = 10s/' \
    -e '/^duration/d' "$tmp/point.ini" > "$tmp/time.ini"
for s in sql-pessimistic setnx; do
  "$bin" run "$tmp/point.ini" --strategy $s --out "$tmp/point-$s" --quiet 2>"$tmp/err"
  rc=$?
  no_verdict "point fault that cannot fire ($s)" $rc "$tmp/point-$s"
  check "point fault that cannot fire ($s): the error names the fault and why" \
    grep -q "fault after-bobs-act (line 16, after bob:act) did not fire: bob never reached act" "$tmp/err"
done
# A whole operation has the same points: its answer is its act, so this one fires.
"$bin" run "$tmp/point.ini" --strategy lua-decr --out "$tmp/point-lua" --quiet
check "point fault of a whole operation fires at its answer" \
  [ "$(q "$tmp/point-lua" "SELECT count(*) FROM events WHERE op = 'fault' AND outcome = 'ok'")" = 2 ]
"$bin" run "$tmp/time.ini" --strategy lua-decr --out "$tmp/time" --quiet 2>"$tmp/err"
check "timed fault after the run: exit 1" [ $? = 1 ]
check "timed fault after the run: named, with the time" \
  grep -q "fault after-bobs-act (line 16, at 10000.0 ms) did not fire: every client was done" "$tmp/err"

# A fault after a holder's acquire is done to a holder: Bob's acquire is refused (Alice
# holds the lock and he does not retry), so the fault after it must not fire on a
# timeline without a holder, and the run gets no verdict.
cat > "$tmp/refused.ini" <<'INI'
[scenario]
name = fault-after-refused-acquire
description = Bob's acquire is refused, so a fault after it has no holder to act on.
workload = inventory
seed = 3
stock = 2

[client alice]
start = 0ms
request = buy sku=1
think = 300ms

[client bob]
start = 50ms
request = buy sku=1

[fault after-bobs-acquire]
after = bob:acquire
action = pause
target = node:0
duration = 10ms

[strategy setnx]
retry_count = 0
INI
"$bin" run "$tmp/refused.ini" --strategy setnx --out "$tmp/refused" --quiet 2>"$tmp/err"
no_verdict "fault after a refused acquire" $? "$tmp/refused"
check "fault after a refused acquire: the error says the acquire failed" \
  grep -q "fault after-bobs-acquire (line 17, after bob:acquire) did not fire: bob's acquire failed" "$tmp/err"
check "fault after a refused acquire: nothing was paused" \
  [ "$(q "$tmp/refused" "SELECT count(*) FROM events WHERE op = 'fault'")" = 0 ]

# The same for a whole operation: Alice's one call is lost on a cut link, so a fault after
# her act has no act to follow.
cat > "$tmp/lost-act.ini" <<'INI'
[scenario]
name = fault-after-lost-act
description = Alice's decrement is lost on a cut link, so a fault after her act follows nothing.
workload = inventory
seed = 3
stock = 2

[client alice]
start = 50ms
request = buy sku=1

[fault cut-alice]
at = 0ms
action = cut
target = link:alice:node:0

[fault after-alices-act]
after = alice:act
action = pause
target = node:0
duration = 10ms
INI
"$bin" run "$tmp/lost-act.ini" --strategy lua-decr --out "$tmp/lost-act" --quiet 2>"$tmp/err"
no_verdict "fault after a lost whole operation" $? "$tmp/lost-act"
check "fault after a lost whole operation: the error says the act failed" \
  grep -q "fault after-alices-act (line 17, after alice:act) did not fire: alice's act failed" "$tmp/err"
check "fault after a lost whole operation: the cut was the only fault" \
  [ "$(q "$tmp/lost-act" "SELECT group_concat(detail) FROM events WHERE op = 'fault'")" = "link cut" ]

# 2. A crowd through a failover: the master dies after the 200th sale and its replica is
# promoted. Requests in flight then may fail; none that started after the promotion may.
strategies="lua-decr sql-pessimistic setnx fencing redlock redis-check-then-decr none"
args=()
for s in $strategies; do args+=(--strategy "$s"); done
"$bin" run failover-mid-sale "${args[@]}" --out "$tmp/failover" --quiet
for s in $strategies; do
  row=$(q "$tmp/failover" "SELECT
      (SELECT count(*) FROM events f WHERE f.run = r.id AND f.op = 'fault'
         AND f.outcome = 'ok' AND f.detail LIKE 'REPLICAOF NO ONE%'),
      (SELECT count(*) FROM events e JOIN events f ON f.run = e.run AND f.op = 'fault'
         AND f.detail LIKE 'REPLICAOF NO ONE%'
       WHERE e.run = r.id AND e.op = 'request' AND e.start_ns > f.end_ns),
      (SELECT count(*) FROM events e JOIN events f ON f.run = e.run AND f.op = 'fault'
         AND f.detail LIKE 'REPLICAOF NO ONE%'
       WHERE e.run = r.id AND e.op = 'request' AND e.start_ns > f.end_ns
         AND e.outcome != 'ok'
         AND e.detail NOT IN ('sold out', 'gave up: busy', 'refused: stale token'))
    FROM runs r WHERE r.strategy = '$s' AND r.status = 'ok'")
  IFS='|' read -r promoted after bad <<<"$row"
  check "failover-mid-sale x $s: the promotion happened" [ "${promoted:-0}" = 1 ]
  check "failover-mid-sale x $s: requests after it were served ($after)" [ "${after:-0}" -gt 100 ]
  check "failover-mid-sale x $s: none of them failed on the dead master ($bad)" [ "${bad:-x}" = 0 ]
done
check "failover-mid-sale: lua-decr sold units the promoted replica never heard of" \
  [ "$(q "$tmp/failover" "SELECT verdict FROM runs WHERE strategy = 'lua-decr'")" = unsafe ]

# 3. The stale holder of ttl-expiry-stale-writes-first is told why it was refused.
"$bin" run ttl-expiry-stale-writes-first --strategy fencing --out "$tmp/stale" --quiet
check "fencing: the stale write is refused as a stale token, not as sold out" \
  [ "$(q "$tmp/stale" "SELECT count(*) FROM events WHERE op = 'request' AND client = 0
        AND detail = 'refused: stale token'")" = 1 ]

# 4. The restart figure says what was queued whatever the recovery rule (it said "queued 0"
# under rewarm-from-sql while 50 orders waited for SQL).
"$bin" run crash-before-writeback --strategy lua-decr --out "$tmp/crash" --quiet
check "crash-before-writeback: the restart names the 50 orders still queued" \
  [ "$(q "$tmp/crash" "SELECT count(*) FROM events WHERE op = 'fault'
        AND detail LIKE 'restarted (no persistence); stock:1 = 50 = sql 50 (50 queued)'")" = 1 ]

# 5. Faults at 0 ms are the state the run starts in. Killing three nodes one after the
# other took 15 ms while clients already ran, and a fast Redlock client took a majority
# between the first kill and the third.
"$bin" run redlock-majority-down --strategy redlock --out "$tmp/majority" --quiet
check "redlock-majority-down: every fault at 0 ms is done before the first client step" \
  [ "$(q "$tmp/majority" "SELECT (SELECT max(end_ns) FROM events WHERE op = 'fault')
        <= (SELECT min(start_ns) FROM events WHERE client >= 0)")" = 1 ]
check "redlock-majority-down: three nodes down from the start, nothing sold" \
  [ "$(q "$tmp/majority" "SELECT succeeded FROM runs")" = 0 ]

# 6. A start after a fault counts from the fault's end: Bob starts 0 ms after node 0 is
# back from a 300 ms kill-restart, not at t0 and not at the kill. A fault that never comes
# leaves its follower asking nothing, and the run an error, not a wait without end.
cat > "$tmp/after.ini" <<'INI'
[scenario]
name = start-after-restart
description = Bob starts when node 0 is back from its restart.
workload = inventory
seed = 3
stock = 2

[client alice]
start = 10ms
request = buy sku=1
think = 100ms

[client bob]
after = restart-0
request = buy sku=1

[fault restart-0]
after = alice:acquire
action = kill-restart
target = node:0
duration = 300ms
INI
"$bin" run "$tmp/after.ini" --strategy setnx --out "$tmp/after" --quiet
check "start after a fault: the run is ok" [ $? = 0 ]
check "start after a fault: Bob's request starts after the restart is over" \
  [ "$(q "$tmp/after" "SELECT (SELECT start_ns FROM events WHERE client = 1 AND op = 'request')
        >= (SELECT end_ns FROM events WHERE op = 'fault' AND detail LIKE 'restarted%')
        AND (SELECT end_ns FROM events WHERE op = 'fault' AND detail LIKE 'restarted%')
        - (SELECT end_ns FROM events WHERE op = 'fault' AND detail = 'SIGKILL')
        >= 300000000")" = 1 ]
sed -e 's/^name = .*/name = start-after-no-fault/' "$tmp/point.ini" > "$tmp/after-never.ini"
printf '%s\n' '' '[client carol]' 'after = after-bobs-act' 'request = buy sku=1' \
  >> "$tmp/after-never.ini"
timeout 60 "$bin" run "$tmp/after-never.ini" --strategy setnx --out "$tmp/after-never" \
  --quiet 2>"$tmp/err"
no_verdict "start after a fault that never fires (timeout 60: not a hang)" $? "$tmp/after-never"
check "start after a fault that never fires: the error names the fault" \
  grep -q "fault after-bobs-act (line 16, after bob:act) did not fire" "$tmp/err"
check "start after a fault that never fires: carol asked nothing" \
  [ "$(q "$tmp/after-never" "SELECT count(*) FROM events WHERE client = 2")" = 0 ]

# 7. An order the scenario needs, checked from the events: Bob asks at 300 ms, long after
# Alice's sale, so "before = alice:act" does not hold and the run has no verdict, for a
# lock and for a check and act in SQL. A whole operation records no steps and is not
# held to it (lua-decr answers within a millisecond, whatever the think).
cat > "$tmp/before.ini" <<'INI'
[scenario]
name = asks-too-late
description = Bob must ask before Alice acts, and asks long after.
workload = inventory
seed = 3
stock = 2

[client alice]
request = buy sku=1

[client bob]
start = 300ms
before = alice:act
request = buy sku=1
INI
for s in setnx sql-pessimistic; do
  "$bin" run "$tmp/before.ini" --strategy $s --out "$tmp/before-$s" --quiet 2>"$tmp/err"
  no_verdict "client before a step, too late ($s)" $? "$tmp/before-$s"
  check "client before a step, too late ($s): the error says who came after what" \
    grep -q "bob asked at t=3[0-9][0-9]\.[0-9] ms, after alice's act at t=[0-9.]* ms (before = alice:act, line 13)" "$tmp/err"
done
sed -e 's/^start = 300ms/start = 0ms/' -e '/^\[client alice\]/a think = 200ms' "$tmp/before.ini" \
  > "$tmp/before-ok.ini"
"$bin" run "$tmp/before-ok.ini" --strategy setnx --out "$tmp/before-ok" --quiet
check "client before a step, in time: the run is ok" [ $? = 0 ]
"$bin" run "$tmp/before.ini" --strategy lua-decr --out "$tmp/before-whole" --quiet
check "client before a step of a whole operation: not checked, the run is ok" [ $? = 0 ]

# 8. A start after another client's step counts from when that step passed: Bob 150 ms
# after Alice's acquire got the lock, whenever that was (her start is 100 ms here). A step
# that never passes - Alice is refused at her check, so she never acts - leaves Bob asking
# nothing and the run without a verdict.
cat > "$tmp/after-step.ini" <<'INI'
[scenario]
name = start-after-step
description = Bob starts 150 ms after Alice got the lock.
workload = inventory
seed = 3
stock = 2

[client alice]
start = 100ms
request = buy sku=1
think = 400ms

[client bob]
after = alice:acquire
start = 150ms
request = buy sku=1
INI
"$bin" run "$tmp/after-step.ini" --strategy setnx --out "$tmp/after-step" --quiet
check "start after a step: the run is ok" [ $? = 0 ]
check "start after a step: Bob asks 150 ms or more after Alice's acquire returned" \
  [ "$(q "$tmp/after-step" "SELECT (SELECT start_ns FROM events WHERE client = 1 AND op = 'request')
        - (SELECT end_ns FROM events WHERE client = 0 AND op = 'acquire') >= 150000000")" = 1 ]
cat > "$tmp/after-step-never.ini" <<'INI'
[scenario]
name = start-after-no-act
description = Alice is refused at her check, and Bob starts after her act.
workload = inventory
seed = 3
stock = 1

[client carol]
request = buy sku=1

[client alice]
start = 50ms
request = buy sku=1

[client bob]
after = alice:act
request = buy sku=1
INI
timeout 60 "$bin" run "$tmp/after-step-never.ini" --strategy setnx --out "$tmp/after-step-never" \
  --quiet 2>"$tmp/err"
no_verdict "start after a step that never passes (timeout 60: not a hang)" $? "$tmp/after-step-never"
check "start after a step that never passes: the error says so" \
  grep -q "bob starts after alice:act, and alice's act never passed: bob asked nothing" "$tmp/err"

# 9. A kill of master 0 behind Sentinels ends when they have promoted a replica: Bob, who
# starts a second after it, asks the promoted node, not the dead one.
"$bin" run sentinel-failover-lock-caught-up --strategy setnx --out "$tmp/sentinel" --quiet
check "sentinel kill: the run is ok" [ $? = 0 ]
check "sentinel kill: its second half names the promotion" \
  [ "$(q "$tmp/sentinel" "SELECT count(*) FROM events WHERE op = 'fault'
        AND detail LIKE 'Sentinel promoted port % ms after the kill'")" = 1 ]
check "sentinel kill: Bob asks a second or more after the promotion" \
  [ "$(q "$tmp/sentinel" "SELECT (SELECT start_ns FROM events WHERE client = 1 AND op = 'request')
        - (SELECT end_ns FROM events WHERE op = 'fault' AND detail LIKE 'Sentinel promoted%')
        >= 1000000000")" = 1 ]

# 10. A crowd's fault counts its successes: `after = crowd:10` fires once ten requests
# have succeeded, however long they took, and never on a run with fewer.
cat > "$tmp/crowd.ini" <<'INI'
[scenario]
name = crowd-count
description = A pause of node 0 right after the crowd's tenth sale.
workload = inventory
seed = 3
stock = 20
writeback_delay = 1ms

[crowd]
buyers = 20
arrival = rate 100/s
workers = 4
think = 0
request = buy sku=1

[fault tenth]
after = crowd:10
action = pause
target = node:0
duration = 20ms
INI
"$bin" run "$tmp/crowd.ini" --strategy lua-decr --out "$tmp/crowd" --quiet
check "crowd:10: the run is ok" [ $? = 0 ]
# Sales that ended before the fault began: ten at least (none early), and not the whole
# sale (a buyer comes every 10 ms; the fault does not wait for the next ones).
before=$(q "$tmp/crowd" "SELECT count(*) FROM events e WHERE e.op = 'request'
    AND e.outcome = 'ok' AND e.end_ns <= (SELECT min(start_ns) FROM events WHERE op = 'fault')")
check "crowd:10: fires after the tenth sale, not before ($before)" [ "${before:-0}" -ge 10 ]
check "crowd:10: fires during the sale, not after it ($before)" [ "${before:-99}" -lt 20 ]
# The twentieth of twenty is the crowd's last request: its worker is done right after, and
# the fault still fires (the count was reached), before the run ends.
sed -e 's/^after = crowd:10/after = crowd:20/' "$tmp/crowd.ini" > "$tmp/crowd-last.ini"
"$bin" run "$tmp/crowd-last.ini" --strategy lua-decr --out "$tmp/crowd-last" --quiet
check "crowd:20 on the last request: the run is ok" [ $? = 0 ]
check "crowd:20 on the last request: the pause and its resume were done" \
  [ "$(q "$tmp/crowd-last" "SELECT count(*) FROM events WHERE op = 'fault' AND outcome = 'ok'")" = 2 ]
# setnx without retries at a burst: buyers who find the lock taken give up busy, so the
# crowd never sells all twenty; a fault waiting for the twentieth never fires.
sed -e 's/^arrival = .*/arrival = burst/' -e 's/^think = 0/think = 20ms/' \
    -e 's/^after = crowd:10/after = crowd:20/' "$tmp/crowd.ini" > "$tmp/crowd-never.ini"
printf '%s\n' '' '[strategy setnx]' 'retry_count = 0' >> "$tmp/crowd-never.ini"
"$bin" run "$tmp/crowd-never.ini" --strategy setnx --out "$tmp/crowd-never" --quiet 2>"$tmp/err"
no_verdict "crowd:20 that is never reached" $? "$tmp/crowd-never"
check "crowd:20 that is never reached: the error says how many succeeded" \
  grep -Eq "fault tenth \(line 16, after crowd:20\) did not fire: the crowd's requests succeeded [0-9]+ times?" "$tmp/err"
check "crowd:20 that is never reached: nothing was paused" \
  [ "$(q "$tmp/crowd-never" "SELECT count(*) FROM events WHERE op = 'fault'")" = 0 ]

tap_done
