#!/usr/bin/env bash
# test_golden.sh — files written by earlier versions still read, byte for byte.
#
# For every tests/golden/vN-NAME.vls with its vN-NAME.expected listing and vN-NAME/ directory of
# expected record bytes (see tests/golden/make-v1-small.sh), checks with the CLI:
#   ls and ls -l (keys, lengths, storage order), get of every key (stdout and -o) compared
#   byte for byte, absent keys, info --json, verify, export + diff -r; that reading never
#   changes the file; that a writer can still append to (a copy of) it; and that the
#   independent reader tests/golden/vls_read.py, written from docs/FORMAT.md, agrees.
# Environment (set by ctest): VLSTORE = the CLI, VLS_TEST_TMP = scratch dir,
# VLS_SOURCE_DIR = repository root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${VLS_SOURCE_DIR:-$(dirname "$here")}
VLSTORE=${VLSTORE:-$SRC/build/vlstore}
mkdir -p "${VLS_TEST_TMP:-/tmp}"
TMP=$(mktemp -d "${VLS_TEST_TMP:-/tmp}/golden.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
GOLDEN=$SRC/tests/golden
PY=/usr/bin/python3

# shellcheck source=lib.sh
. "$here/lib.sh"
directive() { # directive FILE NAME : the values of "# NAME: value" lines
    sed -n "s/^# $2: //p" "$1"
}

shopt -s nullglob
goldens=("$GOLDEN"/v[0-9]*-*.vls)
if [ ${#goldens[@]} -eq 0 ]; then
    echo "no golden files under $GOLDEN" >&2
    exit 1
fi

for golden in "${goldens[@]}"; do
    name=$(basename "$golden" .vls)
    expected=$GOLDEN/$name.expected
    content=$GOLDEN/$name
    work=$TMP/$name
    mkdir -p "$work"
    echo "== $name"
    check "$name: $expected exists" test -f "$expected"
    check "$name: $content/ exists" test -d "$content"
    cp "$golden" "$work/store.vls"
    S=$work/store.vls

    grep -v '^#' "$expected" > "$work/listing"
    cut -f1 "$work/listing" > "$work/keys"
    nrec=$(wc -l < "$work/listing")
    total=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$work/listing")

    # ls: keys in storage order; ls -l: "%12llu  KEY"
    expect_exit 0 "$VLSTORE" ls "$S"
    check "$name: ls lists the expected keys in order" cmp -s "$TMP/out" "$work/keys"
    expect_exit 0 "$VLSTORE" ls "$S" -l
    awk -F'\t' '{ printf "%12d  %s\n", $2, $1 }' "$work/listing" > "$work/ls-l"
    check "$name: ls -l gives the expected lengths" cmp -s "$TMP/out" "$work/ls-l"

    # every record, byte for byte, to stdout and with -o
    while IFS=$'\t' read -r key len hash; do
        expect_exit 0 "$VLSTORE" get "$S" "$key"
        check "$name: get '$key' (stdout) matches" cmp -s "$TMP/out" "$content/$key"
        check "$name: get '$key' is $len bytes" test "$(wc -c < "$TMP/out")" -eq "$len"
        expect_exit 0 "$VLSTORE" get "$S" "$key" -o "$work/got"
        check "$name: get '$key' -o matches" cmp -s "$work/got" "$content/$key"
    done < "$work/listing"
    for key in $(directive "$expected" absent); do
        expect_exit 1 "$VLSTORE" get "$S" "$key"
        check "$name: absent key '$key' says not found" grep -q "not found" "$TMP/err"
    done

    # info --json agrees with the listing and the directives
    expect_exit 0 "$VLSTORE" info "$S" --json
    check "$name: info --json" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
want = dict(records=int(sys.argv[2]), logical_bytes=int(sys.argv[3]),
            format_version=int(sys.argv[4]), commits=int(sys.argv[5]), codec=sys.argv[6])
bad = {k: (d.get(k), v) for k, v in want.items() if d.get(k) != v}
if bad:
    sys.exit("info --json disagrees (got, wanted): %r" % bad)
' "$TMP/out" "$nrec" "$total" "$(directive "$expected" format)" \
        "$(directive "$expected" commits)" "$(directive "$expected" codec)"

    expect_exit 0 "$VLSTORE" verify "$S"
    check "$name: verify says sound" grep -q "sound ($nrec records" "$TMP/out"

    # the metadata (FORMAT.md "Metadata block"; "# metadata:" directive, none when absent)
    expect_exit 0 "$VLSTORE" meta "$S" --json
    check "$name: meta --json" "$PY" -c '
import json, sys
got, want = json.load(open(sys.argv[1])), json.loads(sys.argv[2] or "{}")
sys.exit(0 if got == want else "metadata: got %r, wanted %r" % (got, want))
' "$TMP/out" "$(directive "$expected" metadata)"

    expect_exit 0 "$VLSTORE" export "$S" "$work/export"
    check "$name: export equals the expected tree" diff -r "$work/export" "$content"

    check "$name: reading did not change the file" cmp -s "$S" "$golden"

    # the independent reader written from docs/FORMAT.md
    if "$PY" -c 'import ctypes; ctypes.CDLL("libxxhash.so.0"); ctypes.CDLL("libblosc.so.1")' \
        2>/dev/null; then
        expect_exit 0 "$PY" "$GOLDEN/vls_read.py" "$S"
        check "$name: vls_read.py (FORMAT.md) agrees" cmp -s "$TMP/out" "$work/listing"
        expect_exit 0 "$PY" "$GOLDEN/vls_read.py" "$S" --json
        check "$name: vls_read.py reads the metadata" "$PY" -c '
import json, sys
got, want = json.load(open(sys.argv[1]))["metadata"], json.loads(sys.argv[2] or "{}")
sys.exit(0 if got == want else "metadata: got %r, wanted %r" % (got, want))
' "$TMP/out" "$(directive "$expected" metadata)"
    else
        skip "$name: vls_read.py needs libxxhash.so.0 and libblosc.so.1 (scripts/deps.sh build)"
    fi

    # an old file stays writable: append to a copy, everything old still reads
    cp "$golden" "$work/append.vls"
    printf 'appended by test_golden\n' > "$work/new"
    expect_exit 0 "$VLSTORE" put "$work/append.vls" "test-golden-new" "$work/new"
    expect_exit 0 "$VLSTORE" verify "$work/append.vls"
    expect_exit 0 "$VLSTORE" get "$work/append.vls" "test-golden-new"
    check "$name: appended record reads back" cmp -s "$TMP/out" "$work/new"
    expect_exit 0 "$VLSTORE" ls "$work/append.vls"
    { cat "$work/keys"; echo "test-golden-new"; } > "$work/keys2"
    check "$name: appended store lists old keys then the new one" cmp -s "$TMP/out" "$work/keys2"
    while IFS=$'\t' read -r key len hash; do
        expect_exit 0 "$VLSTORE" get "$work/append.vls" "$key"
        check "$name: '$key' still matches after an append" cmp -s "$TMP/out" "$content/$key"
    done < "$work/listing"
done

finish
