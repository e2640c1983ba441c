#!/usr/bin/env bash
# test_recover_cli.sh — `vlstore recover STORE OUT`: exit 0 when everything was salvaged, 1 when
# something was lost (and the loss is listed on stderr), 2 on usage errors; the records it
# writes are byte for byte those put; OUT is never overwritten and STORE never changed.
# Environment (set by ctest): VLSTORE = the CLI, VLS_TEST_TMP = scratch dir.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VLSTORE=${VLSTORE:-$here/../build/vlstore}
PY=/usr/bin/python3
mkdir -p "${VLS_TEST_TMP:-/tmp}"
TMP=$(mktemp -d "${VLS_TEST_TMP:-/tmp}/recover-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# shellcheck source=lib.sh
. "$here/lib.sh"
gen() { # gen FILE LEN SEED : deterministic incompressible bytes
    "$PY" -c '
import random, sys
r = random.Random(int(sys.argv[3]))
open(sys.argv[1], "wb").write(bytes(r.getrandbits(8) for _ in range(int(sys.argv[2]))))
' "$1" "$2" "$3"
}
same_records() { # same_records STORE KEY... : each KEY's record equals the file named KEY
    local s=$1 k
    shift
    for k in "$@"; do
        if "$VLSTORE" get "$s" "$k" >"$TMP/rec" 2>/dev/null && cmp -s "$TMP/rec" "$k"; then ok
        else bad "$s: record $k differs from what was put"; fi
    done
}

# a store of eight commits, one record each: a0..a3, b0..b3 (3000 random bytes each)
for i in 0 1 2 3; do gen a$i 3000 $i; gen b$i 3000 $((i + 10)); done
for i in 0 1 2 3; do "$VLSTORE" put s.vls a$i a$i >/dev/null; done
for i in 0 1 2 3; do "$VLSTORE" put s.vls b$i b$i >/dev/null; done
cp s.vls s.orig

# usage
expect_exit 2 "$VLSTORE" recover
expect_exit 2 "$VLSTORE" recover s.vls
expect_exit 0 "$VLSTORE" recover --help
out_has "usage: vlstore recover STORE OUT"

# an intact store: everything, exit 0
expect_exit 0 "$VLSTORE" recover s.vls r1.vls
out_has "recovered 8 records"
out_has "nothing lost"
same_records r1.vls a0 a1 a2 a3 b0 b1 b2 b3
expect_exit 0 "$VLSTORE" verify r1.vls

# OUT exists: refused, left alone
echo keep >exists.vls
expect_exit 1 "$VLSTORE" recover s.vls exists.vls
err_has "exists"
[ "$(cat exists.vls)" = keep ] && ok || bad "recover overwrote OUT"

# not a store
echo "hello" >foreign
expect_exit 1 "$VLSTORE" recover foreign r2.vls
err_has "not a vlstore file"
[ ! -e r2.vls ] && ok || bad "recover created OUT for a foreign file"

# a byte flipped in the record a2 (each put of 3000 incompressible bytes is one raw chunk
# here: its bytes are in the file as they are): a2 is lost and named, the rest comes back
off=$("$PY" -c '
d = open("s.vls", "rb").read(); a = open("a2", "rb").read()
print(d.find(a) + 1500)')
"$PY" -c '
import sys
with open("s.vls", "r+b") as f:
    f.seek(int(sys.argv[1])); b = f.read(1); f.seek(int(sys.argv[1])); f.write(bytes([b[0] ^ 0xff]))
' "$off"
expect_exit 1 "$VLSTORE" recover s.vls r3.vls
err_has "checksum mismatch"
err_has 'record "a2"'
out_has "recovered 7 records"
out_has "LOST: 1 records"
same_records r3.vls a0 a1 a3 b0 b1 b2 b3
"$VLSTORE" get r3.vls a2 >/dev/null 2>&1 && bad "a2 came back" || ok
cmp -s s.vls s.orig && bad "the flip did not happen" || ok

# the newest trailer zeroed: the normal reader falls back to commit 7 of 8 (b3 is gone) ...
cp s.orig s.vls
size=$(stat -c %s s.vls)
dd if=/dev/zero of=s.vls bs=1 seek=$((size - 64)) count=64 conv=notrunc 2>/dev/null
cp s.vls s.before
# ... recover loses nothing, and does not change STORE
expect_exit 0 "$VLSTORE" recover s.vls r4.vls
out_has "recovered 8 records"
err_has "no valid commit trailer"
same_records r4.vls a0 a1 a2 a3 b0 b1 b2 b3
cmp -s s.vls s.before && ok || bad "recover changed STORE"

# the tail cut inside the last commit's index segment: b3's key is gone with it
cp s.orig s.vls
"$PY" -c '
import sys
d = open("s.vls", "rb").read()
seg = d.rfind(b"VLIX")
open("s.vls", "wb").write(d[:seg + 30])'
expect_exit 1 "$VLSTORE" recover s.vls r5.vls
err_has "cannot be named"
out_has "recovered 7 records"
same_records r5.vls a0 a1 a2 a3 b0 b1 b2

finish
