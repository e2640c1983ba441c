#!/usr/bin/env bash
# test_dataset_cli.sh — the CLI as a dataset tool (issue 13, part B): `create` with settings,
# `meta` (the store's metadata: set, list, get, delete, JSON, old files), --key-format
# text|hex|u64 on put/ls/get/show/rm/epoch (integer keys as numbers, no raw control bytes,
# a key with a newline lists as one line), `stats` (counts, E0s against the energies the
# test generated, JSON that stays valid for NaN, the plot), and the progress line.
# Environment (set by ctest): VLSTORE = the CLI, VLS_TEST_TMP = scratch dir,
# VLS_SOURCE_DIR = the source tree.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VLSTORE=${VLSTORE:-$here/../build/vlstore}
SRC=${VLS_SOURCE_DIR:-$here/..}
PY=/usr/bin/python3
mkdir -p "${VLS_TEST_TMP:-/tmp}"
TMP=$(mktemp -d "${VLS_TEST_TMP:-/tmp}/dataset.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

# shellcheck source=lib.sh
. "$here/lib.sh"
jq_() { # jq_ EXPR : evaluates a Python expression over j = the last command's stdout as JSON
    "$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$TMP/out" "$1"
}

echo "== create"
expect_exit 0 "$VLSTORE" create c.vls --codec zstd --level 3 --chunk-size 64k --block-size 0 \
    --placement contiguous --shuffle bit --typesize 8 units=eV "source=unit test"
out_has "codec zstd level 3"
expect_exit 0 "$VLSTORE" info c.vls --json
is "chunk size" "$(jq_ 'j["chunk_size"]')" 65536
is "codec" "$(jq_ 'j["codec"]')" zstd
is "level" "$(jq_ 'j["level"]')" 3
is "placement" "$(jq_ 'j["placement"]')" contiguous
is "shuffle" "$(jq_ 'j["shuffle"]')" 2
is "typesize" "$(jq_ 'j["typesize"]')" 8
is "block size" "$(jq_ 'j["block_size"]')" 0
is "records" "$(jq_ 'j["records"]')" 0
expect_exit 1 "$VLSTORE" create c.vls
err_has "exists"
expect_exit 1 "$VLSTORE" create small.vls --chunk-size 100
err_has "chunk size 100"
check "a refused create leaves no file" test ! -e small.vls
expect_exit 2 "$VLSTORE" create x.vls --codec snappy
err_has "--codec snappy"
expect_exit 2 "$VLSTORE" create x.vls --level 12
expect_exit 2 "$VLSTORE" create x.vls --chunk-size
check "usage errors leave no file" test ! -e x.vls

echo "== meta"
expect_exit 0 "$VLSTORE" meta c.vls
is "listing after create" "$(cat "$TMP/out")" "$(printf 'source=unit test\nunits=eV')"
expect_exit 0 "$VLSTORE" meta c.vls units
is "one value" "$(cat "$TMP/out")" eV
expect_exit 0 "$VLSTORE" meta c.vls "level_of_theory=PBE-D3(BJ)" "units=eV/Å" 'e0s={"H": -13.6}' \
    "multi=line one
line two" --delete source
expect_exit 0 "$VLSTORE" meta c.vls --json
is "JSON units" "$(jq_ 'j["units"]')" "eV/Å"
is "JSON e0s parse" "$(jq_ 'json.loads(j["e0s"])["H"]')" -13.6
is "JSON newline kept" "$(jq_ 'j["multi"]')" "$(printf 'line one\nline two')"
is "JSON keys" "$(jq_ 'sorted(j)')" "['e0s', 'level_of_theory', 'multi', 'units']"
expect_exit 0 "$VLSTORE" meta c.vls
out_has 'multi=line one\x0aline two'
is "a listing is one line per key" "$(wc -l < "$TMP/out")" 4
expect_exit 1 "$VLSTORE" meta c.vls source
err_has "no metadata under 'source'"
expect_exit 1 "$VLSTORE" meta c.vls --delete nosuch
err_has "nosuch"
expect_exit 0 "$VLSTORE" meta c.vls
is "a failed command changes nothing" "$(wc -l < "$TMP/out")" 4
expect_exit 1 "$VLSTORE" meta c.vls "=novalue"
expect_exit 2 "$VLSTORE" meta c.vls a b
expect_exit 1 "$VLSTORE" meta missing.vls
# records and metadata live side by side; records keep working
printf 'hello' | "$VLSTORE" put c.vls greeting
expect_exit 0 "$VLSTORE" verify c.vls
expect_exit 0 "$VLSTORE" compact c.vls
expect_exit 0 "$VLSTORE" meta c.vls units
is "compaction keeps the metadata" "$(cat "$TMP/out")" "eV/Å"
# a file from before metadata existed has none, and takes some
cp "$SRC/tests/golden/v1-small.vls" old.vls
expect_exit 0 "$VLSTORE" meta old.vls
out_is_empty
expect_exit 0 "$VLSTORE" meta old.vls source=golden
expect_exit 0 "$VLSTORE" meta old.vls source
is "old file with metadata" "$(cat "$TMP/out")" golden
expect_exit 0 "$VLSTORE" verify old.vls

echo "== --key-format"
printf 'zero' | "$VLSTORE" put k.vls 0 --key-format u64
printf 'one' | "$VLSTORE" put k.vls 1 --key-format u64
printf 'big' | "$VLSTORE" put k.vls 18446744073709551615 --key-format u64
printf 'text' | "$VLSTORE" put k.vls plain
printf 'nl' | "$VLSTORE" put k.vls "$(printf 'two\nlines')"
printf 'esc' | "$VLSTORE" put k.vls "$(printf 'bell\a\033[31m')"
expect_exit 0 "$VLSTORE" ls k.vls --key-format u64
is "u64 listing" "$(head -3 "$TMP/out" | tr '\n' ' ')" "0 1 18446744073709551615 "
expect_exit 0 "$VLSTORE" ls k.vls
is "keys listed, one line each" "$(wc -l < "$TMP/out")" 6
out_has '\x00\x00\x00\x00\x00\x00\x00\x01'
out_has 'two\x0alines'
out_has 'bell\x07\x1b[31m'
check "no raw control byte reaches the listing" \
    "$PY" -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(any(b < 32 and b != 10 for b in d))' "$TMP/out"
expect_exit 0 "$VLSTORE" ls k.vls --key-format hex
out_has "0000000000000001"
out_has "706c61696e"
expect_exit 0 "$VLSTORE" get k.vls 1 --key-format u64
is "get by number" "$(cat "$TMP/out")" one
expect_exit 0 "$VLSTORE" get k.vls --key-format=hex 74776f0a6c696e6573
is "get by hex" "$(cat "$TMP/out")" nl
expect_exit 1 "$VLSTORE" get k.vls 1
err_has "not found"
expect_exit 2 "$VLSTORE" get k.vls -1 --key-format u64
err_has "not a number"
expect_exit 2 "$VLSTORE" get k.vls 18446744073709551616 --key-format u64
expect_exit 2 "$VLSTORE" get k.vls abc --key-format hex
expect_exit 2 "$VLSTORE" get k.vls zz --key-format hex
expect_exit 2 "$VLSTORE" ls k.vls --key-format octal
err_has "not text, hex or u64"
expect_exit 0 "$VLSTORE" rm k.vls 0 --key-format u64
expect_exit 0 "$VLSTORE" ls k.vls --key-format u64
is "rm by number" "$(head -1 "$TMP/out")" 1
# the loader's served keys, as numbers
expect_exit 0 "$VLSTORE" epoch k.vls --print-keys --key-format u64 --no-shuffle
is "epoch keys" "$(head -2 "$TMP/out" | tr '\n' ' ')" "1 18446744073709551615 "

echo "== stats"
# 90 frames of H2, H2O, CH4, CO2 and C2H6 with E = sum of per-element energies + noise, forces
"$PY" - <<'EOF'
import math, random
r = random.Random(3)
E0 = {"H": -13.6, "C": -1029.5, "O": -432.1}
mols = [["H", "H"], ["O", "H", "H"], ["C", "H", "H", "H", "H"], ["C", "O", "O"],
        ["C", "C", "H", "H", "H", "H", "H", "H"]]
with open("mix.xyz", "w") as f:
    for i in range(90):
        m = mols[i % len(mols)]
        e = sum(E0[s] for s in m) + r.gauss(0, 0.001)
        f.write(f"{len(m)}\nProperties=species:S:1:pos:R:3:forces:R:3 energy={e!r} pbc=\"F F F\"\n")
        for a, s in enumerate(m):
            fx, fy, fz = (r.uniform(-2, 2) for _ in range(3))
            f.write(f"{s} {a * 1.1} {r.random()} 0.0 {fx} {fy} {fz}\n")
EOF
expect_exit 0 "$VLSTORE" import-xyz s.vls mix.xyz
printf 'not a frame' | "$VLSTORE" put s.vls junk
expect_exit 0 "$VLSTORE" stats s.vls --json
is "records" "$(jq_ 'j["records"]')" 91
is "frames" "$(jq_ 'j["frames"]')" 90
is "not frames" "$(jq_ 'j["not_frames"]')" 1
is "atoms" "$(jq_ 'j["atoms"]')" $((18 * (2 + 3 + 5 + 3 + 8)))
is "elements" "$(jq_ 'j["elements"]')" "{'H': $((18 * 14)), 'C': $((18 * 4)), 'O': $((18 * 3))}"
is "natoms min max" "$(jq_ '(j["natoms"]["min"], j["natoms"]["max"])')" "(2, 8)"
is "natoms histogram counts every frame" "$(jq_ 'sum(b["count"] for b in j["natoms"]["histogram"])')" 90
is "E0s fitted" "$(jq_ 'all(abs(j["e0s"][k] - v) < 0.01 for k, v in {"H": -13.6, "C": -1029.5, "O": -432.1}.items())')" True
is "E0s determined" "$(jq_ 'j["e0s_underdetermined"]')" False
is "forces max within the generated range" "$(jq_ '0 < j["forces"]["max_abs"] <= 2')" True
is "force RMS near 2/sqrt(3)" "$(jq_ 'abs(j["forces"]["rms"] - 2 / 3 ** 0.5) < 0.15')" True
is "energy frames" "$(jq_ 'j["energy"]["frames"]')" 90
expect_exit 0 "$VLSTORE" stats s.vls
out_has "E0s (least squares over 90 frames"
out_has "elements         H 252 C 72 O 54"
# one stoichiometry only: E0s are not unique, and the output says so
"$PY" -c '
for i in range(5):
    print("3\nProperties=species:S:1:pos:R:3 energy=%r pbc=\"F F F\"" % (-459.3 - i * 1e-3))
    print("O 0 0 0\nH 1 0 0\nH 0 1 0")' > water.xyz
expect_exit 0 "$VLSTORE" import-xyz w.vls water.xyz
expect_exit 0 "$VLSTORE" stats w.vls --json
is "water E0s flagged" "$(jq_ 'j["e0s_underdetermined"]')" True
is "water E0s reproduce the energy" "$(jq_ 'abs(2 * j["e0s"]["H"] + j["e0s"]["O"] + 459.302) < 0.01')" True
# no energies, no forces: non-finite figures are JSON null, whatever the locale
"$PY" -c 'print("2\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\nH 0 0 0\nH 0.7 0 0")' > bare.xyz
expect_exit 0 "$VLSTORE" import-xyz b.vls bare.xyz
LC_NUMERIC=de_DE.UTF-8 expect_exit 0 "$VLSTORE" stats b.vls --json
is "strict JSON, nulls" "$(jq_ '(j["energy"]["mean"], j["forces"]["rms"], j["e0s"])')" "(None, None, {})"
check "no NaN or Infinity in the JSON" \
    "$PY" -c 'import json,sys; json.loads(open(sys.argv[1]).read(), parse_constant=lambda c: sys.exit(1))' "$TMP/out"
expect_exit 1 "$VLSTORE" stats empty-does-not-exist.vls
if command -v gnuplot > /dev/null; then
    expect_exit 0 "$VLSTORE" stats s.vls --plot "plot it.png"
    is "PNG written" "$(head -c 4 "plot it.png" | od -An -c | tr -d ' ')" '211PNG'
else
    skip "gnuplot not installed (apt-get install gnuplot-nox): stats --plot untested"
fi

# a frame under an integer key, shown by number
"$VLSTORE" get s.vls mix/3 > frame.bin
"$VLSTORE" put ints.vls 3 frame.bin --key-format u64
expect_exit 0 "$VLSTORE" show ints.vls 3 --key-format u64
out_has "nsites    3"
expect_exit 1 "$VLSTORE" show ints.vls 3
err_has "not found"

echo "== compact --shuffle"
expect_exit 0 "$VLSTORE" meta s.vls units=eV
expect_exit 0 "$VLSTORE" compact s.vls sh1.vls --shuffle 11
expect_exit 0 "$VLSTORE" compact s.vls sh2.vls --shuffle 11
expect_exit 0 "$VLSTORE" compact s.vls sh3.vls --shuffle 12
"$VLSTORE" ls s.vls > order0
for i in 1 2 3; do "$VLSTORE" ls sh$i.vls > order$i; done
check "the same keys, each once" cmp -s <(sort order0) <(sort order1)
check "a new order" test "$(cat order0)" != "$(cat order1)"
check "the same seed, the same order" cmp -s order1 order2
check "another seed, another order" test "$(cat order1)" != "$(cat order3)"
expect_exit 0 "$VLSTORE" verify sh1.vls
expect_exit 0 "$VLSTORE" meta sh1.vls units
is "shuffled copy keeps the metadata" "$(cat "$TMP/out")" eV
"$VLSTORE" get s.vls mix/17 > a.rec
"$VLSTORE" get sh1.vls mix/17 > b.rec
check "records unchanged" cmp -s a.rec b.rec
cp s.vls inplace.vls
expect_exit 0 "$VLSTORE" compact inplace.vls --shuffle 11
check "in place, the same order as to a new file" cmp -s <("$VLSTORE" ls inplace.vls) order1
expect_exit 2 "$VLSTORE" compact s.vls --shuffle
expect_exit 2 "$VLSTORE" compact s.vls x.vls --shuffle -3
# what it is for: batches of a block-shuffled epoch over a store written in time order draw
# from few trajectories; after compact --shuffle, from as many as uniform batches do
check_quiet "batch diversity after compact --shuffle" "$PY" "$SRC/scripts/shuffle_diversity.py" \
    "$VLSTORE" --dir "$TMP/div" --trajs 8 --frames 300 --atoms 64 --chunk-size 64k \
    --read-size 2 --window 50 --check

echo "== progress"
VLSTORE_PROGRESS=1 expect_exit 0 "$VLSTORE" stats s.vls
err_has "progress: 91/91 records (100.0%)"
VLSTORE_PROGRESS=1 expect_exit 0 "$VLSTORE" stats s.vls --quiet
check "--quiet: no progress" test ! -s "$TMP/err"
expect_exit 0 "$VLSTORE" stats s.vls
check "not a terminal: no progress" test ! -s "$TMP/err"
VLSTORE_PROGRESS=1 expect_exit 0 "$VLSTORE" verify sh1.vls
err_has "chunks (100.0%)"
VLSTORE_PROGRESS=1 expect_exit 0 "$VLSTORE" compact sh1.vls sh4.vls
err_has "progress: 91/91 records (100.0%)"
rm -f rec.vls
VLSTORE_PROGRESS=1 expect_exit 0 "$VLSTORE" recover sh1.vls rec.vls
err_has "records (100.0%)"
err_has "MB (100.0%)"
expect_exit 0 "$VLSTORE" meta rec.vls units
is "recover keeps the metadata" "$(cat "$TMP/out")" eV
VLSTORE_PROGRESS=1 expect_exit 0 "$VLSTORE" export sh1.vls exported --quiet
check "--quiet export: no progress" test ! -s "$TMP/err"
rm -f px.vls
VLSTORE_PROGRESS=1 expect_exit 0 "$VLSTORE" import-xyz px.vls mix.xyz
err_has "MB (100.0%)"
rm -f px.vls
VLSTORE_PROGRESS=1 expect_exit 0 "$VLSTORE" import-xyz px.vls mix.xyz --quiet
check "--quiet import-xyz: no progress" test ! -s "$TMP/err"

finish
