#!/usr/bin/env bash
# sql.sh - the shop on PostgreSQL and MariaDB servers the harness starts itself, end to
# end through the binary: the same scenario on every back end, the back end in each run's
# identity, the verdicts from each database's own rows; and no database server the harness
# started outlives it - after a run, after SIGINT, after kill -9.
set -u
bin=${1:?usage: sql.sh path/to/oversell}
src=${OVS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-sql.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The servers run as their own system users when we are root, and must be able to search
# every directory above their data directory: the harness's private directory lets them
# (0710, their group), this one must not stop them.
chmod 0755 "$tmp"
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

q() { sqlite3 "$1/results.db" "$2"; }

need() {
  if ! command -v "$1" >/dev/null && [ ! -x "$1" ]; then
    if [ "${CI:-}" = true ]; then echo "$1 missing in CI: live tests may not be skipped"; exit 1; fi
    echo "$1 not found: skipping"; exit 77
  fi
}
need redis-server
need sqlite3
need /usr/sbin/mariadbd
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need postgres
cd "$src" || exit 1

# Database servers whose data directory is under dir: the ones a harness run with
# TMPDIR=dir started, and nobody else's.
servers_under() { pgrep -f -- "-D $1/|--datadir=$1/" | tr '\n' ' '; }
gone_under() {
  local i
  for i in $(seq 1 100); do
    [ -z "$(servers_under "$1")" ] && return 0
    sleep 0.05
  done
  return 1
}

# 1. One scenario on the three back ends, side by side.
t=$tmp/t1; mkdir -m 0755 "$t"
TMPDIR=$t "$bin" run double-booking-two-guests --sql sqlite,postgresql,mysql \
  --strategy none --strategy sql-pessimistic --out "$tmp/out" --quiet 2>"$tmp/err"; rc=$?
check "a run on sqlite, postgresql and mysql exits 0" [ $rc = 0 ]
[ $rc = 0 ] || cat "$tmp/err"
check "each back end is part of the run's identity" \
  [ "$(q "$tmp/out" "SELECT group_concat(strategy || '@' || backend || '=' || verdict, ' ')
        FROM (SELECT * FROM runs ORDER BY id)")" = \
    "none@sqlite=unsafe none@postgresql=unsafe none@mysql=unsafe sql-pessimistic@sqlite=safe sql-pessimistic@postgresql=safe sql-pessimistic@mysql=safe" ]
check "the summary names strategy x back end" grep -q 'sql-pessimistic × postgresql' "$tmp/out/summary.md"
check "no database server outlives the run" gone_under "$t"

# 2. What each back end does with a race inside one transaction: the isolation scenarios,
# judged against their per-back-end [expect] (--check), and the strategies that exist on
# the servers only.
t=$tmp/t1b; mkdir -m 0755 "$t"
mkdir "$tmp/iso"
cp scenarios/lost-update-*.ini scenarios/write-skew-repeatable-read.ini "$tmp/iso/"
TMPDIR=$t "$bin" matrix -d "$tmp/iso" --sql postgresql,mysql --check --out "$tmp/out-iso" \
  --quiet 2>"$tmp/err"; rc=$?
check "the isolation scenarios on postgresql and mysql match their [expect] (exit $rc)" [ $rc = 0 ]
[ $rc = 0 ] || cat "$tmp/err"
check "write skew books a night twice at REPEATABLE READ on both servers" \
  [ "$(q "$tmp/out-iso" "SELECT group_concat(backend || '=' || verdict, ' ') FROM (SELECT * FROM runs
        WHERE scenario = 'write-skew-repeatable-read' AND strategy = 'none' ORDER BY id)")" = \
    "postgresql=unsafe mysql=unsafe" ]
check "sql-serializable holds where REPEATABLE READ did not" \
  [ "$(q "$tmp/out-iso" "SELECT group_concat(backend || '=' || verdict, ' ') FROM (SELECT * FROM runs
        WHERE scenario = 'write-skew-repeatable-read' AND strategy = 'sql-serializable' ORDER BY id)")" = \
    "postgresql=safe mysql=safe" ]
check "optimistic-sql-exclusion is n/a on mysql, and said so" \
  [ "$(q "$tmp/out-iso" "SELECT status || ': ' || error FROM runs WHERE strategy = 'optimistic-sql-exclusion'
        AND backend = 'mysql' AND scenario = 'write-skew-repeatable-read'")" = "n/a: n/a on mysql (optimistic-sql-exclusion runs on postgresql)" ]
check "no database server outlives the matrix" gone_under "$t"

# A strategy asked for only where it does not exist: refused before anything starts.
"$bin" run write-skew-repeatable-read --strategy sql-advisory --out "$tmp/out-na" \
  >/dev/null 2>"$tmp/err"; rc=$?
check "sql-advisory on SQLite alone is refused (exit $rc)" [ $rc = 2 ]
check "the refusal says where it runs" grep -q 'sql-advisory is n/a on sqlite: it runs on postgresql,mysql' "$tmp/err"
check "and nothing was written" [ ! -e "$tmp/out-na" ]
# Among others, its cells are n/a: in the gate's count and in JUnit, not judged.
"$bin" gate -d "$tmp/iso" --quiet --out "$tmp/out-gate" --junit "$tmp/junit.xml" 2>"$tmp/err"; rc=$?
check "the gate on SQLite passes with n/a cells (exit $rc)" [ $rc = 0 ]
check "the gate counts them" grep -q '^gate: 8 cells (3 n/a on their back end), 0 failed$' "$tmp/err"
check "JUnit has them as skipped, with why" \
  [ "$(grep -c '<skipped message="n/a on sqlite (sql-[a-z]* runs on postgresql,mysql)"/>' "$tmp/junit.xml")" = 2 ]

# 3. SIGINT mid-run: the run is marked aborted and the server stops with the harness.
t=$tmp/t2; mkdir -m 0755 "$t"
TMPDIR=$t "$bin" run flash-sale --sql postgresql --strategy sql-pessimistic \
  --out "$tmp/out-int" >/dev/null 2>&1 &
pid=$!
for i in $(seq 1 300); do [ -n "$(servers_under "$t")" ] && break; sleep 0.05; done
check "the run started a postgres of its own" [ -n "$(servers_under "$t")" ]
sleep 2
kill -INT $pid; wait $pid; rc=$?
check "SIGINT exits 130" [ $rc = 130 ]
check "no postgres outlives SIGINT" gone_under "$t"

# 4. kill -9 of the harness: the kernel takes the server down with it.
t=$tmp/t3; mkdir -m 0755 "$t"
TMPDIR=$t "$bin" run flash-sale --sql mysql --strategy sql-pessimistic \
  --out "$tmp/out-kill" >/dev/null 2>&1 &
pid=$!
for i in $(seq 1 300); do [ -n "$(servers_under "$t")" ] && break; sleep 0.05; done
check "the run started a mariadbd of its own" [ -n "$(servers_under "$t")" ]
sleep 1
kill -9 $pid; wait $pid 2>/dev/null
check "no mariadbd outlives kill -9" gone_under "$t"

tap_done
