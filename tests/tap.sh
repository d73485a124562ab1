# tap.sh - what the shell tests share, sourced at their top: the "ok - ..." and
# "not ok - ..." lines and their counts, the rule for a server that is missing (the test is
# skipped with status 77, except in CI, where no live test may be skipped), and the closing
# line with the status meson reads.
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

# need_redis: a redis-server on PATH, or OVERSELL_REDIS_SERVER.
need_redis() {
  if command -v redis-server >/dev/null || [ -n "${OVERSELL_REDIS_SERVER:-}" ]; then
    return 0
  fi
  if [ "${CI:-}" = true ]; then echo "redis-server missing in CI: live tests may not be skipped"; exit 1; fi
  echo "redis-server not found: skipping"; exit 77
}

# need_sqlite3: the command-line shell the tests count with; setup.sh installs it.
need_sqlite3() {
  command -v sqlite3 >/dev/null || { echo "sqlite3 is needed (setup.sh installs it)"; exit 1; }
}

# A TCP port on 127.0.0.1 that was free a moment ago, for servers a test starts by hand.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# tap_done: the counts, then 0 when nothing failed.
tap_done() {
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
}
