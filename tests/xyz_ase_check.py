#!/usr/bin/python3
"""Compares vlstore's reading of an (extended) XYZ file with ASE's, the reference reader.

Used by tests/test_xyz.c when ASE (Debian python3-ase) is importable; not a test by itself.

    xyz_ase_check.py FILE.xyz OURS.json

OURS.json is a JSON list of frames as printed by vls_frame_write_json(). Exits 0 when ASE
reads the same number of frames with the same atomic numbers, positions (within float32
rounding), cell, pbc, energy and forces; 1 otherwise; 3 when ASE is not installed.
"""
import json
import sys

try:
    from ase.io import read
except ImportError:
    print("ASE not installed")
    sys.exit(3)


def close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def main(xyz, ours_path):
    with open(ours_path) as fh:
        ours = json.load(fh)
    theirs = read(xyz, index=":", format="extxyz")
    errors = []
    if len(ours) != len(theirs):
        errors.append(f"frames: ours {len(ours)}, ASE {len(theirs)}")
    for k, (o, a) in enumerate(zip(ours, theirs)):
        where = f"{xyz} frame {k}"
        if o["types"] != a.numbers.tolist():
            errors.append(f"{where}: types {o['types'][:8]} vs ASE {a.numbers.tolist()[:8]}")
        pos = a.positions.ravel().tolist()
        if len(pos) != len(o["positions"]) or not all(map(close, o["positions"], pos)):
            errors.append(f"{where}: positions differ")
        if a.cell.rank > 0:
            cell = a.cell.array.ravel().tolist()
            if "cell" not in o or not all(map(close, o["cell"], cell)):
                errors.append(f"{where}: cell ours {o.get('cell')} vs ASE {cell}")
            if o.get("pbc") != [int(x) for x in a.pbc]:
                errors.append(f"{where}: pbc ours {o.get('pbc')} vs ASE {a.pbc.tolist()}")
        elif "cell" in o:
            errors.append(f"{where}: we found a cell, ASE did not")
        calc = a.calc
        e = calc.results.get("energy") if calc is not None else None
        if (e is None) != ("energy" not in o) or (e is not None and not close(e, o["energy"])):
            errors.append(f"{where}: energy ours {o.get('energy')} vs ASE {e}")
        f = calc.results.get("forces") if calc is not None else None
        if f is not None:
            f = f.ravel().tolist()
            if "forces" not in o or not all(map(close, o["forces"], f)):
                errors.append(f"{where}: forces differ")
        elif "forces" in o:
            errors.append(f"{where}: we found forces, ASE did not")
    for e in errors[:20]:
        print(e)
    print(f"xyz_ase_check: {len(theirs)} frames compared with ASE, {len(errors)} differences")
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
