#!/usr/bin/env bash
# test_xyz_roundtrip — import-xyz keeps everything and export-xyz gives it back:
#   1. a MACE-style extxyz written by ASE in this test (tests/mace_data.py: REF_energy,
#      REF_forces, REF_stress, virial, config_type, per-atom energies, dipole, JSON, strings,
#      masses, charges, calculator results; periodic and molecular frames, float64) goes
#      through import-xyz -> export-xyz, and ase.io.read of the export equals ase.io.read of
#      the original in every field (tests/ase_compare.py: numbers, positions, cell, pbc, every
#      info and arrays entry with its dtype, calculator results);
#   2. keys are unique per input path (run1/traj.xyz, run2/traj.xyz) and an import never
#      overwrites a key unless --replace;
#   3. malformed input (bad Properties spec, unknown dtype, wrong column count, truncated file)
#      fails with exit 1 and a message naming file:line; a plain XYZ's extra columns are
#      reported on stderr, never dropped silently.
set -uo pipefail
V=${VLSTORE:?}
SRC=${VLS_SOURCE_DIR:?}
TMP=${VLS_TEST_TMP:-/tmp}/xyz_roundtrip.$$
rm -rf "$TMP" && mkdir -p "$TMP"
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
/usr/bin/python3 -c 'import ase.io' 2>/dev/null ||
  skip_test "/usr/bin/python3 cannot import ase: apt-get install python3-ase (scripts/deps.sh test)"

# 1. MACE-style data, through the CLI and back
check_quiet "write MACE-style data with ASE" /usr/bin/python3 "$SRC/tests/mace_data.py" "$TMP/mace.xyz"
expect_exit 0 "$V" import-xyz "$TMP/m.vls" "$TMP/mace.xyz"
out_has "imported 8 frames"
expect_exit 0 "$V" export-xyz "$TMP/m.vls" "$TMP/export.xyz"
check_quiet "ASE reads the export as the original" \
  /usr/bin/python3 "$SRC/tests/ase_compare.py" "$TMP/mace.xyz" "$TMP/export.xyz"
# the reference labels are the frame's energy/forces/stress, named where they came from
expect_exit 0 "$V" show "$TMP/m.vls" mace/0 --json
out_has '"name": "vlstore:energy_key", "s": ["REF_energy"]'
out_has '"forces64"'
out_has '"name": "energies", "shape": [8], "f64"'
# --float32 narrows on request only
expect_exit 0 "$V" import-xyz "$TMP/f32.vls" "$TMP/mace.xyz" --float32
expect_exit 0 "$V" show "$TMP/f32.vls" mace/0 --json
out_has '"positions": ['
# a subset of keys, to stdout
expect_exit 0 "$V" export-xyz "$TMP/m.vls" - mace/1 mace/2
is "two frames on stdout" "$(grep -c Properties= "$TMP/out")" 2

# 2. unique keys per path; no silent overwrite
mkdir -p "$TMP/run1" "$TMP/run2"
printf '1\nenergy=1.5\nH 0 0 0\n' > "$TMP/run1/traj.xyz"
printf '1\nenergy=2.5\nHe 0 0 0\n2\n\nH 0 0 0\nH 0 0 1\n' > "$TMP/run2/traj.xyz"
expect_exit 0 "$V" import-xyz "$TMP/k.vls" "$TMP/run1/traj.xyz" "$TMP/run2/traj.xyz"
expect_exit 0 "$V" ls "$TMP/k.vls"
is "keys" "$(sort "$TMP/out" | tr '\n' ' ')" "run1/traj/0 run2/traj/0 run2/traj/1 "
expect_exit 1 "$V" import-xyz "$TMP/k.vls" "$TMP/run1/traj.xyz" "$TMP/run2/traj.xyz"
err_has "key run1/traj/0 already exists"
err_has "--replace"
expect_exit 0 "$V" import-xyz "$TMP/k.vls" "$TMP/run2/traj.xyz" "$TMP/run1/traj.xyz" --replace
expect_exit 0 "$V" show "$TMP/k.vls" run2/traj/0
out_has "energy    2.5"

# 3. malformed input: clear errors naming file and line
printf '1\nProperties=species:S:1:pos:R\nH 0 0 0\n' > "$TMP/spec.xyz"
expect_exit 1 "$V" import-xyz "$TMP/bad.vls" "$TMP/spec.xyz"
err_has "spec.xyz:2: Properties: expected name:type:count"
printf '1\nProperties=species:S:1:pos:R:3:q:Q:1\nH 0 0 0 1\n' > "$TMP/dtype.xyz"
expect_exit 1 "$V" import-xyz "$TMP/bad.vls" "$TMP/dtype.xyz"
err_has "dtype.xyz:2: Properties: expected name:type:count with type S, R, I or L"
printf '1\nProperties=species:S:1:pos:R:3:REF_forces:R:3\nH 0 0 0 1 2\n' > "$TMP/cols.xyz"
expect_exit 1 "$V" import-xyz "$TMP/bad.vls" "$TMP/cols.xyz"
err_has "cols.xyz:3: expected 7 columns (species pos REF_forces), got 6"
head -c -20 "$TMP/mace.xyz" > "$TMP/cut.xyz"
expect_exit 1 "$V" import-xyz "$TMP/cut.vls" "$TMP/cut.xyz"
err_has "cut.xyz:"
expect_exit 0 "$V" ls "$TMP/cut.vls"   # the whole frames before the cut are kept
is "frames kept before the cut" "$(wc -l < "$TMP/out")" 7
printf '1\nplain\nH 0 0 0 0.5 0.5\n' > "$TMP/extra.xyz"
expect_exit 0 "$V" import-xyz "$TMP/extra.vls" "$TMP/extra.xyz"
err_has "extra.xyz: not kept in 1 frame(s) from frame 0: columns after species x y z"
rm -rf "$TMP"
finish
