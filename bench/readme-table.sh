#!/usr/bin/env bash
# readme-table.sh — README.md's benchmark table is generated: vls_bench writes it into
# results.md between the markers below, and this script copies that block into README.md.
#   bench/readme-table.sh                copy bench/results.md's block into README.md
#   bench/readme-table.sh --check        exit 1 (and show the diff) when they differ
#   bench/readme-table.sh [--check] RESULTS.md README.md    the same on other files
# `make bench-publish` runs the copy; tests/test_bench_readme.sh runs the check in `make test`.
set -euo pipefail
check=0
if [ "${1:-}" = --check ]; then
    check=1
    shift
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
results=${1:-$root/bench/results.md}
readme=${2:-$root/README.md}
begin='<!-- readme-table:begin'
end='<!-- readme-table:end -->'

# Prints the block (markers included) of file $1; fails unless there is exactly one.
block() {
    awk -v b="$begin" -v e="$end" -v f="$1" '
        index($0, b) == 1 { if (on || n) { bad = 1 } on = 1; n++ }
        on { print }
        on && index($0, e) == 1 { on = 0 }
        END {
            if (n != 1 || on || bad) {
                printf "readme-table.sh: %s needs exactly one block from \"%s\" to \"%s\"\n",
                       f, b, e > "/dev/stderr"
                exit 1
            }
        }' "$1"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
block "$results" >"$tmp/new"
block "$readme" >"$tmp/old"
if [ "$check" = 1 ]; then
    if ! diff -u "$tmp/old" "$tmp/new" >"$tmp/diff"; then
        cat "$tmp/diff" >&2
        echo "readme-table.sh: README's benchmark table differs from $results;" \
             "run bench/readme-table.sh (or make bench-publish)" >&2
        exit 1
    fi
    exit 0
fi
awk -v b="$begin" -v e="$end" -v newf="$tmp/new" '
    index($0, b) == 1 { while ((getline line < newf) > 0) print line; skip = 1; next }
    skip && index($0, e) == 1 { skip = 0; next }
    !skip { print }' "$readme" >"$tmp/readme"
cat "$tmp/readme" >"$readme"
echo "readme-table.sh: copied the table of $results into $readme"
