#!/usr/bin/env bash
# make-v1-small.sh — how tests/golden/v1-small.vls was made (format version 1, vlstore 0.1.0).
#
#   VLSTORE=build/vlstore tests/golden/make-v1-small.sh
#
# Writes, next to this script:
#   v1-small.vls       the store, made with the vlstore CLI and default settings
#                      (zstd level 1, byte shuffle, typesize 4, 4 MiB chunks, nocross)
#   v1-small/KEY       each live record's expected bytes (taken from the inputs, not read back)
#   v1-small.expected  the live records in storage order: KEY, LENGTH, XXH3_64 (hex), and
#                      "# name: value" lines for the other facts test_golden.sh checks
#
# The store holds three commits, because the CLI commits once per command:
#   1. import of a directory: hello.txt (16 B text), empty (0 B), data/floats.f32 (2 KiB
#      float32 ramp), data/noise.bin (500 B pseudo-random), replaced (300 B), deleted (200 B)
#      -> one Blosc/zstd chunk frame, a FULL index segment, trailer seq 1
#   2. put replaced (new 41-byte version)
#      -> one raw chunk frame (too small to compress), a delta segment with one put, seq 2
#   3. rm deleted
#      -> no chunk, a delta segment with one delete, seq 3
# Record contents are deterministic; the file is not byte-identical from run to run (file_id is
# random, and the storage order of the import follows the directory's readdir order), so the
# expected listing is regenerated together with the store. Only regenerate for a new format
# version (as v2-small, ...): the point of a golden file is that it never changes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
VLSTORE=${VLSTORE:-$here/../../build/vlstore}
PY=${PYTHON:-/usr/bin/python3}
store=$here/v1-small.vls
content=$here/v1-small
expected=$here/v1-small.expected
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- inputs ----------------------------------------------------------------------------------
mkdir -p "$work/c1/data"
"$PY" - "$work" <<'EOF'
import struct, sys
w = sys.argv[1]
def put(name, data):
    with open(w + "/" + name, "wb") as f:
        f.write(data)
put("c1/hello.txt", b"Hello, vlstore!\n")
put("c1/empty", b"")
put("c1/data/floats.f32", b"".join(struct.pack("<f", 0.25 * i - 3.0) for i in range(512)))
x, noise = 12345, bytearray()
for _ in range(500):                      # a 32-bit LCG (Numerical Recipes constants)
    x = (1664525 * x + 1013904223) % 2**32
    noise.append(x >> 24)
put("c1/data/noise.bin", bytes(noise))
put("c1/replaced", b"first version of the replaced record. " * 7 + b"end-of-v1\n" + b"." * 24)
put("c1/deleted", bytes(range(200)))
put("replaced.v2", b"second version: this one is the live one\n")
EOF
test "$(wc -c < "$work/c1/replaced")" -eq 300
test "$(wc -c < "$work/replaced.v2")" -eq 41

# ---- the store -------------------------------------------------------------------------------
rm -f "$store"
"$VLSTORE" import "$store" "$work/c1" >/dev/null          # commit 1
"$VLSTORE" put "$store" replaced "$work/replaced.v2"      # commit 2
"$VLSTORE" rm "$store" deleted                           # commit 3
"$VLSTORE" verify "$store" >/dev/null

# ---- expected contents and listing -----------------------------------------------------------
rm -rf "$content"
mkdir -p "$content/data"
for k in hello.txt empty data/floats.f32 data/noise.bin; do cp "$work/c1/$k" "$content/$k"; done
cp "$work/replaced.v2" "$content/replaced"

# storage order is the store's own (ls); lengths and hashes come from the expected bytes
"$VLSTORE" ls "$store" | "$PY" -c '
import ctypes, os, sys
xx = ctypes.CDLL("libxxhash.so.0")
xx.XXH3_64bits.restype = ctypes.c_uint64
xx.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
root = sys.argv[1]
print("# tests/golden/v1-small.vls: the live records in storage order (see make-v1-small.sh)")
print("# key<TAB>length<TAB>XXH3_64 of the record, hex; the bytes are in v1-small/<key>")
print("# format: 1")
print("# commits: 3")
print("# codec: zstd")
print("# absent: deleted")
for key in sys.stdin.read().split("\n")[:-1]:
    data = open(os.path.join(root, key), "rb").read()
    print("%s\t%d\t%016x" % (key, len(data), xx.XXH3_64bits(data, len(data))))
' "$content" > "$expected"

# ---- cross-checks: the CLI and the independent reader agree with the expected listing ---------
"$PY" "$here/vls_read.py" "$store" | diff - <(grep -v '^#' "$expected")
n=$(grep -vc '^#' "$expected")
test "$n" -eq 5
cat "$expected"
ls -l "$store"
