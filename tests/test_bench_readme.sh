#!/usr/bin/env bash
# test_bench_readme.sh — README.md's benchmark table is the block vls_bench wrote into the
# committed bench/results.md (bench/readme-table.sh copies it; `make bench-publish` runs that).
# Fails when someone edits one without the other. Also proves the check can fail.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${VLS_SOURCE_DIR:-$here/..}
# shellcheck source=lib.sh
. "$here/lib.sh"
mkdir -p "${VLS_TEST_TMP:-/tmp}"
TMP=$(mktemp -d "${VLS_TEST_TMP:-/tmp}/bench-readme.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

check_quiet "README.md's benchmark table equals bench/results.md's" \
    "$src/bench/readme-table.sh" --check

# A README whose table was edited by hand must fail the check.
sed '/<!-- readme-table:begin/,/<!-- readme-table:end -->/ s/| vlstore |/| vlstore (edited) |/' \
    "$src/README.md" >"$TMP/README.md"
check "the README copy was edited" bash -c "! cmp -s '$src/README.md' '$TMP/README.md'"
expect_exit 1 "$src/bench/readme-table.sh" --check "$src/bench/results.md" "$TMP/README.md"
err_has "differs from"
finish
