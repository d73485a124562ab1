#!/usr/bin/env bash
# diff.sh - `oversell diff OLD.db NEW.db` and `oversell gate --baseline OLD.db` end to end,
# on results databases from real runs: two runs of the same code compare clean, a safe
# strategy made to oversell fails and is named with its figure, the p99 tolerance holds
# both ways, and a missing file or one that is not a results database is refused (exit 2;
# for the gate, before anything starts).
#
# The oversell is made by editing a copy of a real database with sqlite3 (the strategy's
# run gets a double booking and the unsafe verdict), not by running a broken strategy
# under the safe one's name: no registered strategy can be made to oversell on demand, a
# definition file of the same name would clash with the built-in one, and an edit gives an
# exact, known regression where a real race would give one only sometimes. p99 is time, and
# the tests assert no times: the comparison of two real runs is told to ignore p99
# (--max-p99-increase 100000), and the p99 rule is checked on a copy whose p99s were
# multiplied by a known factor.
set -u
bin=${1:?usage: diff.sh path/to/oversell}
src=${OVS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

need_redis
need_sqlite3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oversell-diff.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$src" || exit 1

# One small scenario, in a directory of its own for the gate: no lock (expected unsafe)
# and setnx (expected safe), two guests each, about a second a run.
mkdir "$tmp/sc"
cp scenarios/double-booking-two-guests.ini "$tmp/sc/"
run() { "$bin" run double-booking-two-guests --strategy none --strategy setnx --out "$1" --quiet; }
run "$tmp/a" && run "$tmp/b"
check "two real runs recorded" [ -s "$tmp/a/results.db" ] && [ -s "$tmp/b/results.db" ]
A=$tmp/a/results.db B=$tmp/b/results.db

"$bin" diff "$A" "$B" --max-p99-increase 100000 > "$tmp/out"; rc=$?
check "two runs of the same code: exit 0" [ $rc = 0 ]
check "... and both cells compared" grep -q "^diff: 2 cells compared, 0 worse" "$tmp/out"
"$bin" diff "$A" "$A" > "$tmp/out"; rc=$?
check "a database against itself: exit 0, default tolerances" [ $rc = 0 ]

# setnx, expected safe, made to double-book once.
cp "$B" "$tmp/oversold.db"
sqlite3 "$tmp/oversold.db" "
  UPDATE checks SET observed = 1, verdict = 'fail' WHERE invariant = 'double_booked'
    AND run IN (SELECT id FROM runs WHERE strategy = 'setnx');
  UPDATE runs SET verdict = 'unsafe' WHERE strategy = 'setnx';"
"$bin" diff "$A" "$tmp/oversold.db" --max-p99-increase 100000 > "$tmp/out"; rc=$?
check "a safe strategy that oversold: exit 1" [ $rc = 1 ]
check "... the cell and its oversold figure named" \
  grep -Eq "^double-booking-two-guests x setnx on sqlite .* oversold +0 +1 +\+1$" "$tmp/out"
check "... and its unsafe rate" grep -Eq "x setnx .* unsafe rate +0/1 +1/1 +\+1.00$" "$tmp/out"
check "... and not the strategy that did not change" [ -z "$(grep ' x none ' "$tmp/out")" ]
"$bin" diff "$A" "$tmp/oversold.db" --max-p99-increase 100000 --max-oversold-increase 1 \
  --max-unsafe-rate-increase 1 > /dev/null
check "... within tolerances set to allow it: exit 0" [ $? = 0 ]
"$bin" diff "$tmp/oversold.db" "$A" --max-p99-increase 100000 > /dev/null
check "... and the fix, the other way round: exit 0" [ $? = 0 ]

# p99 both ways, on a copy whose p99s are exactly 1.4 and 1.6 times the original's.
for f in 14 16; do
  cp "$A" "$tmp/p$f.db"
  sqlite3 "$tmp/p$f.db" "UPDATE runs SET p99_ns = p99_ns * $f / 10"
done
"$bin" diff "$A" "$tmp/p14.db" >/dev/null
check "p99 +40 %: within the default 50 %" [ $? = 0 ]
"$bin" diff "$A" "$tmp/p16.db" > "$tmp/out"; rc=$?
check "p99 +60 %: beyond the default 50 %, exit 1" [ $rc = 1 ]
check "... named with its change" grep -Eq " p99 .* \+60\.0 %$" "$tmp/out"
"$bin" diff "$A" "$tmp/p16.db" --max-p99-increase 70 >/dev/null
check "p99 +60 % with --max-p99-increase 70: exit 0" [ $? = 0 ]
"$bin" diff "$A" "$tmp/p14.db" --max-p99-increase 30 >/dev/null
check "p99 +40 % with --max-p99-increase 30: exit 1" [ $? = 1 ]

# Bad input.
"$bin" diff "$A" "$tmp/missing.db" 2>"$tmp/err"; rc=$?
check "a missing file: exit 2" [ $rc = 2 ]
check "... named" grep -q "$tmp/missing.db" "$tmp/err"
"$bin" diff README.md "$A" 2>"$tmp/err"; rc=$?
check "not a database: exit 2, named" [ $rc = 2 ] && grep -q "README.md: not a results database" "$tmp/err"
sqlite3 "$tmp/other.db" "CREATE TABLE t(x)"
"$bin" diff "$A" "$tmp/other.db" 2>/dev/null
check "a database without runs: exit 2" [ $? = 2 ]
"$bin" diff "$A" 2>/dev/null
check "one operand: exit 2" [ $? = 2 ]
"$bin" diff "$A" "$B" --max-p99-increase lots 2>/dev/null
check "a bad tolerance: exit 2" [ $? = 2 ]
"$bin" diff --help | grep -q -- '--max-p99-increase'
check "diff --help lists its tolerances" [ $? = 0 ]

# gate --baseline. The gate itself passes (none double-books as expected, setnx does
# not); against a baseline in which none never double-booked, the new run is worse.
# p99 is taken out of the baseline (NULL: nothing to compare), it being time.
cp "$A" "$tmp/base.db"
sqlite3 "$tmp/base.db" "UPDATE runs SET p99_ns = NULL"
gate() { "$bin" gate --scenarios "$tmp/sc" --strategy none --strategy setnx --quiet "$@"; }
gate --out "$tmp/g1" --baseline "$tmp/base.db" 2>"$tmp/err"; rc=$?
check "gate --baseline, nothing worse: exit 0" [ $rc = 0 ]
[ $rc = 0 ] || cat "$tmp/err"
sqlite3 "$tmp/base.db" "
  UPDATE checks SET observed = 0, verdict = 'pass' WHERE invariant = 'double_booked';
  UPDATE runs SET verdict = 'safe'"
gate --out "$tmp/g2" --baseline "$tmp/base.db" 2>"$tmp/err"; rc=$?
check "gate --baseline, a cell worse than the baseline: exit 1" [ $rc = 1 ]
check "... printed with the cell" grep -Eq "x none on sqlite .* oversold +0 +1 +\+1$" "$tmp/err"
check "... while the gate's own cells passed" grep -q "^gate: 2 cells, 0 failed" "$tmp/err"
gate --out "$tmp/g3" --baseline "$tmp/missing.db" 2>"$tmp/err"; rc=$?
check "gate --baseline with a missing file: exit 2" [ $rc = 2 ]
check "... named, and nothing written" grep -q "$tmp/missing.db" "$tmp/err" && [ ! -e "$tmp/g3" ]
"$bin" run double-booking-two-guests --strategy none --baseline "$A" --out "$tmp/g4" 2>/dev/null
check "run takes no --baseline" [ $? = 2 ]

tap_done
