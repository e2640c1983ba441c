#!/usr/bin/env bash
# test_bench_readme.sh — README.md's benchmark table is the block vls_bench wrote into the
# committed bench/results.md (bench/readme-table.sh copies it; `make bench-publish` runs that).
# Fails when someone edits one without the other. Also proves the check can fail.
set -euo pipefail
src=${VLS_SOURCE_DIR:?}
tmp=${VLS_TEST_TMP:-/tmp}/bench_readme.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$src/bench/readme-table.sh" --check ||
    fail "README.md's benchmark table differs from bench/results.md"

# A README whose table was edited by hand must fail the check.
sed '/<!-- readme-table:begin/,/<!-- readme-table:end -->/ s/| vlstore |/| vlstore (edited) |/' \
    "$src/README.md" >"$tmp/README.md"
cmp -s "$src/README.md" "$tmp/README.md" && fail "could not edit the README copy"
if "$src/bench/readme-table.sh" --check "$src/bench/results.md" "$tmp/README.md" 2>/dev/null; then
    fail "the check passed on an edited table"
fi
echo "ok: README's table matches bench/results.md"
