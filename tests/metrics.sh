#!/usr/bin/env bash
# metrics.sh - --metrics FILE end to end: a real small run writes Prometheus text that
# `promtool check metrics` (Debian's prometheus package) accepts, with a series for each
# strategy run, written whole (no temporary left beside it for node_exporter's textfile
# collector to read), the same again from `oversell report`, and bad paths refused
# before anything starts.
#
# promtool is what the format is judged by here, so it must not be skipped quietly: in CI
# (CI=true) a missing promtool fails the test.
set -u
bin=${1:?usage: metrics.sh path/to/oversell}
src=${OVS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

skip() {
  if [ "${CI:-}" = true ]; then echo "not ok - $1 (CI=true: live tests may not be skipped)"; exit 1; fi
  echo "$1: skipping"; exit 77
}
command -v promtool >/dev/null || skip "promtool not found (Debian's prometheus package; setup.sh installs it)"
command -v redis-server >/dev/null || [ -n "${OVERSELL_REDIS_SERVER:-}" ] || skip "redis-server not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-metrics.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$src" || exit 1

# The two-guest double booking with no lock (it double-books) and with setnx (it does
# not): two cells, each with two lock acquisitions, in about a second.
mkdir "$tmp/prom"
prom=$tmp/prom/oversell.prom
"$bin" run double-booking-two-guests --strategy none --strategy setnx --out "$tmp/out" \
  --metrics "$prom" --quiet 2>"$tmp/err"; rc=$?
check "run --metrics exits 0" [ $rc = 0 ]
[ $rc = 0 ] || cat "$tmp/err"
check "metrics file written" [ -s "$prom" ]
check "promtool check metrics accepts it" promtool check metrics < "$prom"
# The checker must be able to say no, or the check above proves nothing.
sed 's/le="+Inf"/le="+Inf",le="x"/' "$prom" > "$tmp/broken.prom"
promtool check metrics < "$tmp/broken.prom" 2>/dev/null
check "promtool rejects a broken copy" [ $? != 0 ]
check "nothing but the file in its directory" [ "$(ls -A "$tmp/prom")" = oversell.prom ]
for s in none setnx; do
  check "a histogram for $s" grep -q \
    "^redis_lock_acquisition_seconds_bucket{scenario=\"double-booking-two-guests\",strategy=\"$s\",backend=\"sqlite\",le=\"+Inf\"} 2$" "$prom"
  check "a failure counter for $s" grep -q "^redis_lock_failures_total{.*strategy=\"$s\"" "$prom"
done
check "the double booking is in the oversold gauge" grep -q \
  '^oversell_oversold{scenario="double-booking-two-guests",strategy="none",backend="sqlite"} 1$' "$prom"
check "no timestamps (the textfile collector refuses them)" \
  [ -z "$(grep -v '^#' "$prom" | awk 'NF != 2')" ]

# The same database gives the same text, from the report command too.
"$bin" report "$tmp/out/results.db" --out "$tmp/regen" --metrics "$tmp/regen.prom" --quiet
check "report --metrics exits 0" [ $? = 0 ]
check "report --metrics writes the same text" cmp -s "$prom" "$tmp/regen.prom"

# Bad paths: exit 2, nothing started, nothing written.
"$bin" run double-booking-two-guests --strategy none --out "$tmp/out-bad" \
  --metrics "$tmp/no-such-dir/x.prom" 2>"$tmp/err"; rc=$?
check "a missing directory exits 2" [ $rc = 2 ]
check "the option and the path are named" grep -q -- "--metrics $tmp/no-such-dir/x.prom" "$tmp/err"
check "a missing directory writes nothing" [ ! -e "$tmp/out-bad" ]
"$bin" run double-booking-two-guests --strategy none --out "$tmp/out-bad" \
  --metrics "$tmp/prom" 2>/dev/null
check "a directory as the file exits 2" [ $? = 2 ]
"$bin" report "$tmp/out/results.db" --out "$tmp/out-bad" --metrics "$tmp/no-such-dir/x.prom" \
  2>/dev/null
check "report: a missing directory exits 2" [ $? = 2 ]
check "report: nothing written" [ ! -e "$tmp/out-bad" ]
"$bin" explain double-booking-two-guests --strategy none --metrics "$tmp/x.prom" 2>/dev/null
check "explain takes no --metrics" [ $? = 2 ]
"$bin" gate --help | grep -q -- '--metrics FILE'
check "gate --help lists --metrics" [ $? = 0 ]

tap_done
