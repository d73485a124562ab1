#!/usr/bin/env bash
# bench_sql.sh - `oversell bench --sql postgresql|mysql` end to end: the database's own
# benchmark tool measured on the hot row and on many rows, every strategy set against it
# as a ratio, the flash sale judged on that back end, and no database server the bench
# started outliving it, at its end or after a SIGINT.
set -u
bin=${1:?usage: bench_sql.sh path/to/oversell}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-bench-sql.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"
ran=0


pg_bindir=${OVERSELL_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
have_pg() { [ -x "$pg_bindir/initdb" ] && [ -x "$pg_bindir/postgres" ] &&
            { [ -x "$pg_bindir/pgbench" ] || command -v pgbench >/dev/null; }; }
have_my() { command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; }
have_my_tools() { command -v mariadb-install-db >/dev/null &&
                  { command -v mariadb-slap >/dev/null || command -v mysqlslap >/dev/null; }; }

# The pid and directory of the server a bench printed; gone means neither is left.
server_pid() { sed -n 's/^oversell bench: .* server pid \([0-9]*\) in .*/\1/p' "$1"; }
server_dir() { sed -n 's/^oversell bench: .* server pid [0-9]* in \(.*\), port .*/\1/p' "$1"; }
gone() {
  local pid=$1 dir=$2
  [ -n "$pid" ] && [ -n "$dir" ] && ! kill -0 "$pid" 2>/dev/null &&
    ! pgrep -f -- "$dir" >/dev/null && [ ! -e "$dir" ]
}

bench_on() {
  local backend=$1 tool=$2 out=$tmp/out-$1
  ran=$((ran + 1))
  # One recording pair: nothing below looks at what recording costs.
  "$bin" bench --sql "$backend" --buyers 200 --ops 500 --connections 2 --recording-pairs 1 \
    --strategy sql-pessimistic --strategy lua-decr --out "$out" -q 2>"$tmp/err-$backend"
  local rc=$?
  check "bench --sql $backend exits 0" [ $rc = 0 ]
  [ $rc = 0 ] || cat "$tmp/err-$backend"
  local md=$out/bench.md
  check "$backend: a section against $tool" grep -q "^## $backend: against $tool\$" "$md"
  check "$backend: $tool's rate on the hot row, all its transactions committed" \
    grep -qE '^\| hot \(1\) \| [0-9,]+ \| [0-9.]+ \| 200 of 200 \| `'"$tool"' ' "$md"
  check "$backend: $tool's rate on many rows, all its transactions committed" \
    grep -qE '^\| many \(200\) \| [0-9,]+ \| [0-9.]+ \| 200 of 200 \| `'"$tool"' ' "$md"
  check "$backend: $tool's own hot-to-many ratio" \
    grep -qE '^\| `'"$tool"'` itself \| [0-9,]+ \| \| \| 1\.00 \| [0-9,]+ \| \| \| 1\.00 \| [0-9]+\.[0-9]{2} \|$' "$md"
  for s in sql-pessimistic lua-decr; do
    check "$backend: $s against $tool on both loads, and its hot-to-many ratio" \
      grep -qE '^\| `'"$s"'` \|( [0-9,]+ \| [0-9.]+ \| [0-9.]+ \| [0-9]+\.[0-9]{2} \|){2} [0-9]+\.[0-9]{2} \|$' "$md"
  done
  check "$backend: the flash sale target is judged on $backend" \
    grep -qE "^\| the 10,000-buyer flash sale finishes for every strategy on $backend \| .* \| PASS \|\$" "$md"
  local pid dir
  pid=$(server_pid "$tmp/err-$backend") dir=$(server_dir "$tmp/err-$backend")
  check "$backend: the server the bench started (pid ${pid:-?}) is gone with its directory" gone "$pid" "$dir"
  check "$backend: no password in the report" bash -c '! grep -qiE "password|://[^ ]*:[^ ]*@" "$1"' _ "$md"
}

if have_pg; then
  bench_on postgresql pgbench
  # SIGINT while the bench runs: exit 130, and its server stopped.
  "$bin" bench --sql postgresql --buyers 2000 --ops 500 --connections 2 \
    --strategy sql-pessimistic --out "$tmp/out-int" -q 2>"$tmp/err-int" &
  bpid=$!
  for _ in $(seq 1 300); do
    [ -n "$(server_pid "$tmp/err-int")" ] && break
    sleep 0.1
  done
  sleep 1
  kill -INT $bpid
  wait $bpid; rc=$?
  check "bench --sql postgresql interrupted exits 130" [ $rc = 130 ]
  check "and the server it started is gone with its directory" \
    gone "$(server_pid "$tmp/err-int")" "$(server_dir "$tmp/err-int")"
fi
if have_my && have_my_tools; then
  tool=mariadb-slap
  command -v mariadb-slap >/dev/null || tool=mysqlslap
  bench_on mysql $tool
fi

if [ $ran = 0 ]; then
  if [ "${CI:-}" = true ]; then echo "no PostgreSQL or MariaDB server in CI: may not be skipped"; exit 1; fi
  echo "neither PostgreSQL nor MariaDB installed: skipping"; exit 77
fi
if [ "${CI:-}" = true ] && { ! have_pg || ! have_my || ! have_my_tools; }; then
  not_ok "CI has both PostgreSQL and MariaDB with their benchmark tools"
fi
tap_done
