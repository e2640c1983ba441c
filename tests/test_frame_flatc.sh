#!/usr/bin/env bash
# test_frame_flatc.sh — the frame schema and the golden frame files work with the official
# FlatBuffers tools:
#   1. flatc generates code from schema/fbsites.fbs for the languages frames are read from;
#   2. tests/golden/frame/vlstore-v{1,2}.bin (written by vls_frame_encode) and flatc-v{1,2}.bin
#      (written by flatc -b) decode with `flatc --json` and with Python's flatbuffers package to
#      the values in their .json files (v2: float64 arrays and properties of every kind);
#   3. JSON -> flatc -b -> flatc --json round-trips the golden frame.
# The random-frame interop checks in both directions are in test_frame_interop.c.
# Env: VLS_SOURCE_DIR (required), VLS_TEST_TMP (scratch; default /tmp).
set -uo pipefail

src="${VLS_SOURCE_DIR:?VLS_SOURCE_DIR must name the source tree}"
tmp="${VLS_TEST_TMP:-/tmp}/frame_flatc"
schema="$src/schema/fbsites.fbs"
golden="$src/tests/golden/frame"
checker="$src/tests/frame_interop_check.py"
rm -rf "$tmp" && mkdir -p "$tmp"

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! command -v flatc >/dev/null; then
  skip_test "flatc not found: install the Debian package flatbuffers-compiler (scripts/deps.sh test)"
fi
if ! /usr/bin/python3 -c 'import flatbuffers' 2>/dev/null; then
  skip_test "/usr/bin/python3 cannot import flatbuffers: install python3-flatbuffers (scripts/deps.sh test)"
fi
echo "using $(flatc --version)"

# 1. Code generation. (Optional scalars, used for `energy`, are not supported by flatc 2.0.8's
#    Dart, Lua, PHP and JSON-schema generators; see docs/FRAME.md.)
for lang in cpp python rust go java csharp kotlin ts swift; do
  check_quiet "flatc --$lang" flatc "--$lang" -o "$tmp/gen-$lang" "$schema"
done

# 2. Golden binaries, decoded by flatc and by Python.
for name in vlstore-v1 flatc-v1 vlstore-v2 flatc-v2; do
  check_quiet "flatc --json $name.bin" flatc --json --raw-binary --strict-json -o "$tmp" "$schema" -- "$golden/$name.bin"
  check_quiet "compare $name" /usr/bin/python3 "$checker" "$tmp/gen-python" \
    json "$golden/$name.json" "$tmp/$name.json" \
    bin "$golden/$name.json" "$golden/$name.bin"
done

# 3. JSON -> binary -> JSON with flatc alone (v1 and v2: float64 arrays and properties).
for v in v1 v2; do
  mkdir -p "$tmp/rt-$v"
  cp "$golden/vlstore-$v.json" "$tmp/rt-$v/golden.json"
  check_quiet "flatc -b golden-$v.json" flatc -b -o "$tmp/rt-$v" "$schema" "$tmp/rt-$v/golden.json"
  check_quiet "flatc --json golden-$v.bin" flatc --json --raw-binary --strict-json -o "$tmp/rt-$v/out" "$schema" -- "$tmp/rt-$v/golden.bin"
  check_quiet "compare round trip $v" /usr/bin/python3 "$checker" "$tmp/gen-python" \
    json "$golden/vlstore-$v.json" "$tmp/rt-$v/out/golden.json" \
    bin "$golden/vlstore-$v.json" "$tmp/rt-$v/golden.bin"
done

finish
