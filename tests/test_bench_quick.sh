#!/usr/bin/env bash
# test_bench_quick.sh — the benchmark cannot rot: a 16 MiB vls_bench run with the default
# engines must finish, check every record it served, and write its results where it says:
# by default a new vls_bench-results.XXXXXX under $TMPDIR, never the source tree. No figure is
# asserted (this machine's speed proves nothing); the counts of records served are.
# Needs the benchmark built (-DVLS_BUILD_BENCH=ON, which `make test` sets): skipped (77)
# without it. Environment (set by ctest): VLS_SOURCE_DIR, VLS_BUILD_DIR, VLS_TEST_TMP.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${VLS_SOURCE_DIR:-$here/..}
bench=${VLS_BUILD_DIR:-$src/build}/bench/vls_bench
# shellcheck source=lib.sh
. "$here/lib.sh"
[ -x "$bench" ] ||
    skip_test "$bench is not built (configure with -DVLS_BUILD_BENCH=ON; make test does)"
mkdir -p "${VLS_TEST_TMP:-/tmp}"
TMP=$(mktemp -d "${VLS_TEST_TMP:-/tmp}/bench-quick.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

tracked_sums() { (cd "$src" && md5sum bench/results.md bench/results.dat bench/results.png README.md); }
before=$(tracked_sums)

# From the scratch directory, with no --out: the results must land in a new directory under
# $TMPDIR.
(cd "$TMP" && TMPDIR="$TMP" "$bench" --size-mib 16 --gets 300 --cold-gets 30 --reps 1 \
    --max-phase-sec 60 --no-plot >"$TMP/stdout" 2>"$TMP/stderr") ||
    { tail -30 "$TMP/stderr" >&2; bad "vls_bench exited non-zero"; finish; }
ok

is "tracked files after the run" "$(tracked_sums)" "$before"
set -- "$TMP"/vls_bench-results.*/results.md
is "results.md files under \$TMPDIR" "$#" 1
md=$1
dat=$(dirname "$md")/results.dat
check "results.dat beside results.md" test -f "$dat"

engines=12 # the default list (vls_bench --help: all but those marked *)
is "engine rows in results.dat" "$(grep -vc '^#' "$dat")" "$engines"

# The Checks table: for every engine, every phase served exactly what it asked for (> 0), and
# nothing was missing, duplicated, bad or out of order.
checks=$(sed -n '/^## Checks/,$p' "$md" | grep '^| [a-z]' | grep -v '^| engine')
is "engines in the Checks table" "$(printf '%s\n' "$checks" | wc -l)" "$engines"
check_quiet "every phase served every record intact" awk -F'|' '
    { name = $2
      for (c = 3; c <= 7; c++) {
          split($c, sa, "/"); served = sa[1] + 0; asked = sa[2] + 0
          if (asked == 0 || served != asked) { print name "phase " c - 2 ": " $c; bad = 1 }
      }
      for (c = 8; c <= 11; c++)
          if ($c + 0 != 0) { print name "column " c ": " $c; bad = 1 }
    }
    END { exit bad }' <<<"$checks"
check "results.md reports a clean check" \
    grep -q '^Result: every record served in every timed phase was intact' "$md"
check "the table reports no failure" bash -c "! grep -q 'FAILED\|BAD' '$TMP/stdout'"

# Like for like: both epochs ran for every engine, vlstore's block epoch through its loader.
check "vlstore's block epoch used its loader" grep -q '^| vlstore | .* (loader) |' "$md"
check_quiet "every engine has both epoch figures" awk '
    !/^#/ && ($10 == "NaN" || $5 == "NaN") { print $1 " lacks an epoch figure"; bad = 1 }
    END { exit bad }' "$dat"

# README's table is copied from a results.md block: the copy works on this run's output too.
cp "$src/README.md" "$TMP/README.md"
check_quiet "readme-table.sh copies the block" "$src/bench/readme-table.sh" "$md" "$TMP/README.md"
check_quiet "readme-table.sh --check after a copy" \
    "$src/bench/readme-table.sh" --check "$md" "$TMP/README.md"
check "the copied README names this run's command" grep -qF "$(grep -o '^`vls_bench[^`]*`' "$md")" "$TMP/README.md"

# The checks can fail: told to expect other bytes for one record, the run must fail and count
# it in each of the four phases that read every record or that key (scan, get, both epochs),
# for the loader as for the batch reads.
expect_exit 1 env TMPDIR="$TMP" "$bench" --size-mib 4 --engines vlstore,lmdb --gets 50 \
    --cold-gets 5 --reps 1 --no-plot --self-test-check --out "$TMP/selftest"
check "results.md reports the failure" grep -q '^Result: \*\*some records failed' "$TMP/selftest/results.md"
check_quiet "each engine counts the wrong record in every phase" awk -F'|' '
    $2 ~ /^ (vlstore|lmdb) $/ { rows++; if ($10 + 0 < 4) { print $2 "bad = " $10; bad = 1 } }
    END { exit bad || rows != 2 }' <(sed -n '/^## Checks/,$p' "$TMP/selftest/results.md")

# bench_hash (the share of a read that the record-hash check takes) runs and prints its three
# rows, each with a figure; its store is written under --dir and removed.
hash_bench=$(dirname "$bench")/bench_hash
expect_exit 0 "$hash_bench" --size-mib 4 --rounds 1 --dir "$TMP"
check_quiet "bench_hash prints the two read paths and XXH3 alone, with figures" awk -F'|' '
    /^\| (whole chunks|gets in storage order|XXH3-64 alone)/ { rows++; if ($3 + 0 <= 0) bad = 1 }
    END { exit bad || rows != 3 }' "$TMP/out"
check "bench_hash removed its store" bash -c "! ls '$TMP'/bench_hash-*.vls 2>/dev/null"
expect_exit 2 "$hash_bench" --rounds 0
finish
