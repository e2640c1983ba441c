#!/usr/bin/env bash
# make-v1-meta.sh — how tests/golden/v1-meta.vls was made: format version 1 with a metadata
# block (docs/FORMAT.md, "Metadata block"; the trailer's meta_offset).
#
#   VLSTORE=build/vlstore tests/golden/make-v1-meta.sh
#
# Writes v1-meta.vls, v1-meta/KEY (each live record's bytes) and v1-meta.expected (as
# make-v1-small.sh does, plus a "# metadata:" line: the document as JSON). Four commits:
#   1. create with metadata units=eV, level_of_theory=PBE: no record; a metadata block, an
#      empty FULL segment, trailer seq 1 naming both
#   2. put frame/0: a raw chunk, a delta segment; the trailer names commit 1's block again
#   3. meta: set e0s, delete units: a new metadata block and an empty delta segment
#   4. put frame/1: the trailer names commit 3's block
# Only regenerate for a new format revision: the point of a golden file is that it never changes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
VLSTORE=${VLSTORE:-$here/../../build/vlstore}
PY=${PYTHON:-/usr/bin/python3}
store=$here/v1-meta.vls
content=$here/v1-meta
expected=$here/v1-meta.expected

rm -rf "$store" "$content"
mkdir -p "$content/frame"
printf 'first frame: 0.25 0.50 0.75\n' > "$content/frame/0"
printf 'second frame: 1.25 1.50 1.75\n' > "$content/frame/1"
"$VLSTORE" create "$store" --codec zstd --level 1 units=eV level_of_theory=PBE >/dev/null
"$VLSTORE" put "$store" frame/0 "$content/frame/0"
"$VLSTORE" meta "$store" 'e0s={"H": -13.6, "O": -432.1}' --delete units
"$VLSTORE" put "$store" frame/1 "$content/frame/1"
"$VLSTORE" verify "$store" >/dev/null

"$VLSTORE" ls "$store" | "$PY" -c '
import ctypes, json, os, sys
xx = ctypes.CDLL("libxxhash.so.0")
xx.XXH3_64bits.restype = ctypes.c_uint64
xx.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
root = sys.argv[1]
print("# tests/golden/v1-meta.vls: the live records in storage order (see make-v1-meta.sh)")
print("# key<TAB>length<TAB>XXH3_64 of the record, hex; the bytes are in v1-meta/<key>")
print("# format: 1")
print("# commits: 4")
print("# codec: zstd")
print("# absent: frame/2")
print("# metadata: " + json.dumps({"e0s": "{\"H\": -13.6, \"O\": -432.1}", "level_of_theory": "PBE"}))
for key in sys.stdin.read().split("\n")[:-1]:
    data = open(os.path.join(root, key), "rb").read()
    print("%s\t%d\t%016x" % (key, len(data), xx.XXH3_64bits(data, len(data))))
' "$content" > "$expected"

"$PY" "$here/vls_read.py" "$store" | diff - <(grep -v '^#' "$expected")
"$VLSTORE" meta "$store" --json
cat "$expected"
ls -l "$store"
