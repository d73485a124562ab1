#!/usr/bin/env bash
# setup.sh - one command from a fresh Debian 12 machine to results.
#
#   ./setup.sh matrix   install what is missing, build, run the default matrix and print
#                       the summary (reports/out/summary.md, results.csv, results.db)
#   ./setup.sh test     install what is missing, build, and run the whole test suite:
#                       unit and live tests, then again under AddressSanitizer +
#                       UndefinedBehaviorSanitizer and under ThreadSanitizer, then 20 s of
#                       the scenario parser under libFuzzer (clang)
#
# Idempotent: packages already installed are not touched, build directories are reused.
set -euo pipefail
cd "$(dirname "$0")"

# clang and libclang-rt-14-dev are for the fuzz build: the latter holds libFuzzer's
# runtime (libclang_rt.fuzzer) for Debian 12's clang 14, and is only a recommendation of
# clang, which --no-install-recommends skips.
#
# postgresql (initdb, postgres, pgbench) and mariadb-server (mariadbd, mariadb-install-db)
# are run by the harness itself as managed shop databases, each with a private data
# directory (harness/infra/dbserver.c); their clients (psql, mariadb) create the role and
# are what the live tests talk through; libpq-dev and libmariadb-dev are the shop's
# client libraries. The packages also make a system-wide cluster in /var/lib, which
# nothing here uses or starts.
#
# prometheus is for its promtool: tests/metrics.sh checks the --metrics file with
# `promtool check metrics`. The package also installs a prometheus service, which the
# policy below keeps from starting and nothing here uses.
#
# libjansson-dev parses and prints the JSON lines adapters speak (locks/adapter.c);
# python3 runs the python-setnx adapter and its test fixtures (and the build's layer
# check).
#
# redis-sentinel is Debian's Sentinel (a redis-server run in sentinel mode): scenarios with
# [redis] sentinels = N start N of them to watch master 0 and promote a replica the way a
# production deployment does (harness/infra/sentinel.c). Its system-wide service on 26379
# is kept from starting like the servers' below.
#
# No libfaketime: a clock-jump fault needs one node's wall clock moved, and Debian 12's
# libfaketime 0.9.10 cannot start Debian's redis-server (jemalloc): "Unexpected recursive
# calls to clock_gettime()" (libfaketime issues #130 and #327). The harness builds its own
# small preload library instead (clockshim/clockshim.c).
packages=(meson ninja-build gcc pkg-config libhiredis-dev libsqlite3-dev libcmocka-dev
          libinih-dev libjansson-dev redis-server redis-sentinel sqlite3 python3
          libxml2-utils clang libclang-rt-14-dev
          postgresql postgresql-client libpq-dev mariadb-server mariadb-client libmariadb-dev
          prometheus)
# Node runs the node-redlock adapter (locks/adapters/node-redlock/): Debian 12's nodejs 18
# and npm are enough. Asked for by command, not by package name: a Node installed some
# other way (its own nodejs package, with npm inside) must not be replaced, and Debian's
# npm package cannot sit beside it.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

install_missing() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 3; }
    sudo=(sudo)
  fi
  echo "setup.sh: installing ${missing[*]}" >&2
  # The harness starts its own redis-server, PostgreSQL and MariaDB processes on free
  # loopback ports; keep the packages from starting system-wide ones (6379, 5432, 3306)
  # while they install.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    made_policy=1
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  [ $made_policy = 1 ] && "${sudo[@]}" rm -f "$policy"
  return 0
}

# The adapter's npm packages, exactly as package-lock.json pins them: installed again only
# when node_modules is missing or older than the lock file, so a second run costs a stat.
node_adapter=locks/adapters/node-redlock
install_node_modules() {
  if [ -d "$node_adapter/node_modules" ] &&
     [ ! "$node_adapter/package-lock.json" -nt "$node_adapter/node_modules" ]; then
    return 0
  fi
  echo "setup.sh: npm ci in $node_adapter" >&2
  (cd "$node_adapter" && npm ci --no-audit --no-fund --loglevel=error) >&2
  # npm ci recreates the directory, but say so explicitly: this mtime is the check above.
  touch "$node_adapter/node_modules"
}

build() { # build DIR [meson options...]
  local dir=$1 out; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null
  fi
  # Quiet when it builds; when it does not, the compiler's errors, which ninja writes to
  # standard output with the progress lines.
  if ! out=$(meson compile -C "$dir" 2>&1); then
    printf '%s\n' "$out" | grep -v '^\[[0-9]*/[0-9]*\]' | tail -n 40 >&2
    return 1
  fi
}

# timed WHAT COMMAND...: run it, then say how long it took, so that a CI log shows where
# the time goes ("setup.sh: build-asan built in 74 s"). Said when it fails too; its
# status is the command's.
timed() {
  local what=$1 t0=$SECONDS rc=0
  shift
  "$@" || rc=$?
  echo "setup.sh: $what in $((SECONDS - t0)) s" >&2
  return $rc
}

case "${1:-}" in
  matrix)
    install_missing
    install_node_modules
    build build
    shift
    exec ./build/oversell matrix "$@"
    ;;
  test)
    t_all=$SECONDS
    timed "packages checked" install_missing
    timed "npm packages checked" install_node_modules
    timed "plain build built" build build
    # The sanitizer and fuzz builds compile while the plain suite runs, which mostly waits
    # on its servers: at the lowest CPU priority, so that a test's thread woken on time
    # takes a core from the compiler at once. Their output is kept for a failure.
    # In a process group of their own (job control on while it starts), so that a failure
    # or an interrupt below ends the compilers too, not only this subshell; the same for
    # the sanitizer suites below (started with job control off, a background job would
    # ignore SIGINT and outlive this script). `groups` lists the ones still running.
    groups=()
    stop_groups() { local g; for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done; }
    trap stop_groups EXIT
    builds_log=build/meson-logs/other-builds.log
    set -m
    (
      renice -n 19 -p "$BASHPID" >/dev/null
      timed "build-asan built" build build-asan -Db_sanitize=address,undefined -Db_lundef=false
      timed "build-tsan built" build build-tsan -Db_sanitize=thread -Db_lundef=false
      # The scenario parser under libFuzzer needs only the library and the fuzz target:
      # the builds above already run the unit and live tests.
      CC=clang timed "build-fuzz built" build build-fuzz -Dfuzz=true -Dtests=false \
        -Db_sanitize=address,undefined -Db_lundef=false
    ) </dev/null >"$builds_log" 2>&1 &
    builds=$!
    set +m
    groups=("$builds")
    # The scenarios suite runs every scenario file with --check; on this build the gate
    # below runs the same cells, so it runs here only under the sanitizers.
    timed "plain suite ran" meson test -C build --print-errorlogs --no-suite scenarios
    if ! wait "$builds"; then
      cat "$builds_log" >&2
      exit 1
    fi
    groups=()
    cat "$builds_log" >&2
    # The two sanitizer suites side by side (their options are the test setups of
    # meson.build, add_test_setup), each line marked with its build. Each runs its live
    # tests one at a time, so two run at once, one per build; with both suites under
    # their sanitizers, slow on their own, the machine stays below saturation (one
    # measured pair: 438 and 492 s of wall side by side, 735 s one after the other,
    # 1.4 cores busy). Six scenario files at a time: a file's runs mostly wait (59 files
    # took 44 s of CPU in 381 s of wall one at a time under ASan; six at a time 99 s).
    sanitized_suite() { # sanitized_suite NAME: meson test in build-NAME with setup NAME
      timed "$1 suite ran" meson test -C "build-$1" --setup "$1" --print-errorlogs \
        --num-processes 6 2>&1 | sed -u "s/^/$1: /"
      return "${PIPESTATUS[0]}"
    }
    set -m
    # Their own groups are not the terminal's: nothing of theirs may read it.
    sanitized_suite asan </dev/null &
    asan=$!
    sanitized_suite tsan </dev/null &
    tsan=$!
    set +m
    groups=("$asan" "$tsan")
    rc=0
    wait "$asan" || rc=1
    wait "$tsan" || rc=1
    groups=()
    [ $rc = 0 ] || exit 1
    timed "fuzz suite ran" meson test -C build-fuzz --suite fuzz --print-errorlogs
    # The gate over the default scenarios: every safe strategy holds, every known-unsafe
    # one still shows its failure.
    timed "gate ran" ./build/oversell gate --quiet --out build/gate --junit build/gate/junit.xml
    # One closing line over everything above: the four suites and the gate's cells.
    passed=0 failed=0
    # meson names a test setup's log after it (testlog-asan.json).
    for log in build/meson-logs/testlog.json build-asan/meson-logs/testlog-asan.json \
               build-tsan/meson-logs/testlog-tsan.json build-fuzz/meson-logs/testlog.json; do
      [ -f "$log" ] || { echo "setup.sh: no test log $log" >&2; exit 1; }
      ok=$(grep -o '"result": "[A-Z]*"' "$log" | grep -c '"OK"' || true)
      all=$(grep -o '"result": "[A-Z]*"' "$log" | wc -l)
      passed=$((passed + ok)) failed=$((failed + all - ok))
    done
    cells=$(grep -c '<testcase' build/gate/junit.xml || true)
    bad=$(grep -c '<failure' build/gate/junit.xml || true)
    # Cells of a strategy that does not exist on SQLite, the gate's back end: not run.
    na=$(grep -c '<skipped' build/gate/junit.xml || true)
    passed=$((passed + cells - bad - na)) failed=$((failed + bad))
    echo "setup.sh: everything in $((SECONDS - t_all)) s" >&2
    echo "$passed passed, $failed failed, $na n/a"
    ;;
  *)
    echo "usage: ./setup.sh matrix | test" >&2
    exit 2
    ;;
esac
