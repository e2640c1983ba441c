#!/usr/bin/python3
"""Compares Atoms field by field, more strictly than Atoms.__eq__ (not a test by itself).

    ase_compare.py A.xyz B.xyz       ase.io.read both (all frames) and compare; exit 1 on a
                                     difference, printing each

diff_atoms(x, y, scalars="exact") is used by python/tests too. It compares numbers,
positions (bit for bit), cell, pbc, every info and arrays entry (value, shape and numpy dtype)
and every calculator result. scalars="python" lets a numpy scalar equal the Python number of
the same kind (vlstore.ase returns Python numbers for scalars) and a numpy str array equal an
object array of the same strings (vlstore.ase returns string arrays as object arrays).
"""
import sys

import numpy as np


def _same(x, y, scalars):
    if scalars == "python":
        if isinstance(x, np.generic):
            x = x.item()
        if isinstance(y, np.generic):
            y = y.item()
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
            return False
        if x.shape != y.shape:
            return False
        if x.dtype != y.dtype and not (scalars == "python" and {x.dtype.kind, y.dtype.kind} <= set("OU")):
            return False
        if x.dtype.kind == "f":
            return np.array_equal(x, y, equal_nan=True)
        return np.array_equal(x, y)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return type(x) == type(y) and len(x) == len(y) and all(
            _same(a, b, scalars) for a, b in zip(x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k], scalars) for k in x)
    if type(x) != type(y):
        return False
    return x == y or (x != x and y != y)


def diff_atoms(x, y, scalars="exact"):
    """A list of differences between two Atoms ([] when equal)."""
    out = []
    checks = [("numbers", x.numbers, y.numbers), ("positions", x.positions, y.positions),
              ("cell", x.cell.array, y.cell.array), ("pbc", x.pbc, y.pbc),
              ("info keys", sorted(x.info), sorted(y.info)),
              ("arrays keys", sorted(x.arrays), sorted(y.arrays))]
    checks += [("info " + k, x.info[k], y.info.get(k)) for k in x.info]
    checks += [("arrays " + k, x.arrays[k], y.arrays.get(k)) for k in x.arrays]
    rx = dict(x.calc.results) if x.calc else {}
    ry = dict(y.calc.results) if y.calc else {}
    checks += [("calc keys", sorted(rx), sorted(ry))]
    checks += [("calc " + k, rx[k], ry.get(k)) for k in rx]
    for what, u, v in checks:
        if not _same(u, v, scalars):
            out.append(f"{what}: {u!r} != {v!r}")
    return out


def main(argv):
    import ase.io

    a = ase.io.read(argv[1], ":")
    b = ase.io.read(argv[2], ":")
    bad = 0
    if len(a) != len(b):
        print(f"{len(a)} frames vs {len(b)}")
        return 1
    for i, (x, y) in enumerate(zip(a, b)):
        for d in diff_atoms(x, y):
            bad += 1
            print(f"frame {i}: {d}")
    print(f"{len(a)} frames, {bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
