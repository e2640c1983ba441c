#!/usr/bin/env bash
# test_bench_quick.sh — the benchmark cannot rot: a 16 MiB vls_bench run with the default
# engines must finish, check every record it served, and write its results where it says:
# by default a new vls_bench-results.XXXXXX under $TMPDIR, never the source tree. No figure is
# asserted (this machine's speed proves nothing); the counts of records served are.
# Needs the benchmark built (-DVLS_BUILD_BENCH=ON, which `make test` sets); SKIP (77) without it.
set -euo pipefail
src=${VLS_SOURCE_DIR:?}
bench=${VLS_BUILD_DIR:?}/bench/vls_bench
if [ ! -x "$bench" ]; then
    echo "SKIP: $bench is not built (configure with -DVLS_BUILD_BENCH=ON; make test does)"
    exit 77
fi
tmp=${VLS_TEST_TMP:-/tmp}/bench_quick.$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

tracked_sums() { (cd "$src" && md5sum bench/results.md bench/results.dat bench/results.png README.md); }
before=$(tracked_sums)

# Run from the scratch directory, with no --out: the results must land in a new directory
# under $TMPDIR.
(cd "$tmp" && TMPDIR="$tmp" "$bench" --size-mib 16 --gets 300 --cold-gets 30 --reps 1 \
    --max-phase-sec 60 --no-plot >"$tmp/stdout" 2>"$tmp/stderr") ||
    { tail -30 "$tmp/stderr" >&2; fail "vls_bench exited non-zero"; }

[ "$(tracked_sums)" = "$before" ] || fail "vls_bench changed tracked files in $src"
set -- "$tmp"/vls_bench-results.*/results.md
[ $# = 1 ] && [ -f "$1" ] || fail "expected one $tmp/vls_bench-results.*/results.md, found: $*"
md=$1
dat=$(dirname "$md")/results.dat
[ -f "$dat" ] || fail "no results.dat beside $md"

engines=12 # the default list (vls_bench --help: all but those marked *)
rows=$(grep -vc '^#' "$dat")
[ "$rows" = "$engines" ] || fail "results.dat has $rows engine rows, expected $engines"

# The Checks table: for every engine, every phase served exactly what it asked for (> 0), and
# nothing was missing, duplicated, bad or out of order.
checks=$(sed -n '/^## Checks/,$p' "$md" | grep '^| [a-z]' | grep -v '^| engine')
[ "$(printf '%s\n' "$checks" | wc -l)" = "$engines" ] || fail "Checks table lacks engines:
$checks"
printf '%s\n' "$checks" | awk -F'|' '
    { name = $2
      for (c = 3; c <= 7; c++) {
          split($c, sa, "/"); served = sa[1] + 0; asked = sa[2] + 0
          if (asked == 0 || served != asked) { print "FAIL: " name "phase " c - 2 ": " $c; bad = 1 }
      }
      for (c = 8; c <= 11; c++)
          if ($c + 0 != 0) { print "FAIL: " name "column " c ": " $c; bad = 1 }
    }
    END { exit bad }' >&2 || fail "a phase did not serve every record intact"
grep -q '^Result: every record served in every timed phase was intact' "$md" ||
    fail "results.md does not report a clean check"
grep -q 'FAILED\|BAD' "$tmp/stdout" && fail "the table reports a failure: $(cat "$tmp/stdout")"

# Like for like: the block epoch ran for every engine, vlstore's through its loader.
grep -q '^| vlstore | .* (loader) |' "$md" || fail "vlstore's block epoch did not use its loader"
awk '!/^#/ && ($10 == "NaN" || $5 == "NaN") { print "FAIL: " $1 " lacks an epoch figure"; bad = 1 }
     END { exit bad }' "$dat" >&2 || fail "an engine lacks an epoch figure"

# README's table is copied from a results.md block: the copy works on this run's output too.
cp "$src/README.md" "$tmp/README.md"
"$src/bench/readme-table.sh" "$md" "$tmp/README.md" >/dev/null
"$src/bench/readme-table.sh" --check "$md" "$tmp/README.md" 2>/dev/null ||
    fail "readme-table.sh --check fails right after a copy"
grep -q "$(head -c 40 <<<"$(grep '^`vls_bench' "$md")")" "$tmp/README.md" ||
    fail "the copied README lacks this run's command line"
echo "ok: vls_bench --size-mib 16: $engines engines, every record checked, results in $(dirname "$md")"
