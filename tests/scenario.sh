#!/usr/bin/env bash
# scenario.sh - one shipped scenario as a test, the way a user runs it.
#
#   scenario.sh run OVERSELL SCENARIO.ini
#       oversell run SCENARIO.ini --check --quiet into a private directory, removed after.
#       Exit 0 when every verdict matches the scenario's [expect], 1 when one differs (the
#       mismatch is on stderr), and whatever else oversell says otherwise: 2 bad input, 3
#       no redis-server. Never 77: a scenario that cannot run fails, it is not skipped.
#
#   scenario.sh listed DIR NAME...
#       Exit 0 when DIR/*.ini are exactly the NAMEs, else name the ones missing from the
#       list (a new scenario that would run in no build's suite) or gone from DIR.
set -u

case "${1:-}" in
  run)
    bin=${2:?usage: scenario.sh run OVERSELL SCENARIO.ini}
    ini=${3:?usage: scenario.sh run OVERSELL SCENARIO.ini}
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-scenario.XXXXXX") || exit 1
    trap 'rm -rf "$tmp"' EXIT
    "$bin" run "$ini" --check --quiet --out "$tmp/out"
    rc=$?
    [ $rc = 77 ] && rc=1
    exit $rc
    ;;
  listed)
    dir=${2:?usage: scenario.sh listed DIR NAME...}
    shift 2
    rc=0
    for f in "$dir"/*.ini; do
      name=$(basename "$f")
      case " $* " in
        *" $name "*) ;;
        *) echo "$name is in $dir but not in tests/meson.build's scenario list"; rc=1 ;;
      esac
    done
    for name in "$@"; do
      [ -f "$dir/$name" ] || { echo "$name is listed in tests/meson.build but not in $dir"; rc=1; }
    done
    exit $rc
    ;;
  *)
    echo "usage: scenario.sh run OVERSELL SCENARIO.ini | listed DIR NAME..." >&2
    exit 2
    ;;
esac
