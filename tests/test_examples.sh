#!/usr/bin/env bash
# test_examples.sh — the programs of examples/ and `vlstore demo` (the seed README's example)
# run, exit 0 and report what they checked; what they write is readable by the CLI.
# Environment (set by ctest): VLSTORE = the CLI, VLS_BUILD_DIR = the build tree, VLS_TEST_TMP.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VLSTORE=${VLSTORE:-$here/../build/vlstore}
BUILD=${VLS_BUILD_DIR:-$here/../build}
mkdir -p "${VLS_TEST_TMP:-/tmp}"
TMP=$(mktemp -d "${VLS_TEST_TMP:-/tmp}/examples.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# shellcheck source=lib.sh
. "$here/lib.sh"
count_is() { # count_is N TEXT : TEXT occurs on exactly N lines of the last stdout
    local got
    got=$(grep -cF -- "$2" "$TMP/out" || true)
    if [ "$got" -eq "$1" ]; then ok; else bad "'$2' on $got lines, wanted $1"; fi
}
records() { # records STORE : the number of records, from `vlstore info --json`
    "$VLSTORE" info "$1" --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["records"])'
}

echo "== examples/custom_codec"
expect_exit 0 "$BUILD/examples/custom_codec"
out_has "sample/500: timestep 5000, energy -250, 15 values"
out_has "read 1000 samples back with vls_depot_get_many: 1000 correct"
out_has "reading a foreign record: error -1012: depot 'sample' view 'not-a-sample': record of 5 bytes is not a valid sample: 5 bytes, the header needs 24"
out_has "custom codec OK"
expect_exit 0 "$BUILD/examples/custom_codec" "$TMP/samples.vls"
out_has "custom codec OK"
check "custom_codec's store has its 1001 records" test "$(records "$TMP/samples.vls")" = 1001
expect_exit 0 "$VLSTORE" verify "$TMP/samples.vls"

echo "== examples/seed_example"
expect_exit 0 "$BUILD/examples/seed_example" "$TMP/mol.store"
out_has "wrote 300 frames of 1200 atoms to $TMP/mol.store"
out_has "frame_0: name \"frame_0\", 1200 sites"
out_has "same as written"
check "seed_example's store has 300 records" test "$(records "$TMP/mol.store")" = 300
expect_exit 0 "$VLSTORE" verify "$TMP/mol.store"
expect_exit 0 "$VLSTORE" show "$TMP/mol.store" frame_299
out_has "frame_299"
(cd "$TMP" && "$BUILD/examples/seed_example" >/dev/null) && ok || bad "seed_example without arguments"
check "seed_example writes mol.store by default, like the seed" test -s "$TMP/mol.store"

echo "== vlstore demo"
expect_exit 0 "$VLSTORE" demo "$TMP/demo.vls"
out_has "300 frames of 1200 atoms"
out_has "wrote 300 frames (11.55 MB"
out_has "all 9600 values (types, masses, positions, forces) match"
out_has "frames 1, 42, 150, 299: every value matches"
count_is 3 "every value matches"
out_has "all 300 frames again in batches of 64 with vls_depot_get_many"
out_has "demo OK"
check "demo's store has 300 records" test "$(records "$TMP/demo.vls")" = 300
expect_exit 0 "$VLSTORE" verify "$TMP/demo.vls"
expect_exit 0 "$VLSTORE" show "$TMP/demo.vls" frame_0 --json
check "demo frames carry their names" grep -q '"name": *"frame_0"' "$TMP/out"
# without FILE: a temporary store, removed afterwards
expect_exit 0 "$VLSTORE" demo
out_has "(temporary)"
tmpstore=$(sed -n 's/^wrote 300 frames .* to \(.*\) (temporary)$/\1/p' "$TMP/out")
check "demo names its temporary store" test -n "$tmpstore"
check "demo removes its temporary store" test ! -e "$tmpstore"
expect_exit 2 "$VLSTORE" demo a b

finish
