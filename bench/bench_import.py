#!/usr/bin/python3
"""Import speed: an extended-XYZ data set into vlstore and into ASE, side by side, one run.

    bench_import.py --vlstore build/vlstore [--mb 64] [--dir DIR] [--keep]
    (make bench-import; IMPORT_MB=1024 for the 1 GB goal of issue 13)

Generates DIR/data.xyz of about --mb MB: MACE-style frames (64-atom Si cells with REF_energy,
REF_forces, REF_stress, config_type, per-atom energies, a dipole; float64 text with 17
digits), then times, on the same frames:
  vlstore import-xyz     data.xyz -> .vls (C parser, every label kept, float64)
  ase.io.read            data.xyz -> list of Atoms (Python parser)
  ase.db write           Atoms -> SQLite .db (one transaction)
  vlstore convert        .db -> .vls (the Python converter over ase.db)
  vlstore.ase.write      Atoms -> .vls (to_frame + puts, in Python)
and prints frames/s and MB/s (of the XYZ text) for each. Nothing is written into the source
tree; DIR (default: a temporary directory) is removed unless --keep.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np


def write_xyz(path, mb, seed=1):
    rng = np.random.default_rng(seed)
    base = np.array([[0, 0, 0], [0, 2, 2], [2, 0, 2], [2, 2, 0],
                     [3, 3, 3], [3, 1, 1], [1, 3, 1], [1, 1, 3]], dtype=float) * 5.43 / 4
    cells = [base + 5.43 * np.array([i, j, k]) for i in range(2) for j in range(2)
             for k in range(2)]
    pos0 = np.concatenate(cells)  # 64 atoms in a 2x2x2 supercell
    n = len(pos0)
    frames = 0
    target = mb * 1e6
    with open(path, "w") as fh:
        while fh.tell() < target:
            pos = pos0 + rng.normal(scale=0.05, size=pos0.shape)
            frc = rng.normal(size=(n, 3))
            en = rng.normal(size=n)
            stress = rng.normal(scale=1e-3, size=9)
            dip = rng.normal(size=3)
            fh.write(f"{n}\n")
            fh.write('Lattice="10.86 0.0 0.0 0.0 10.86 0.0 0.0 0.0 10.86" '
                     "Properties=species:S:1:pos:R:3:REF_forces:R:3:energies:R:1 "
                     f"REF_energy={rng.normal() * 10 - 300:.17g} "
                     f'REF_stress="{" ".join(f"{x:.17g}" for x in stress)}" '
                     f'config_type=md dipole="{" ".join(f"{x:.17g}" for x in dip)}" pbc="T T T"\n')
            rows = np.column_stack([pos, frc, en])
            for r in rows:
                fh.write("Si " + " ".join(f"{x:.17g}" for x in r) + "\n")
            frames += 1
    return frames


def timed(what, fn):
    t0 = time.perf_counter()
    out = fn()
    return what, time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vlstore", required=True, help="the vlstore CLI")
    ap.add_argument("--mb", type=float, default=64, help="size of the generated XYZ (MB)")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    import ase.db
    import ase.io

    from vlstore import ase as vase

    d = a.dir or tempfile.mkdtemp(prefix="vls_bench_import.")
    os.makedirs(d, exist_ok=True)
    xyz = os.path.join(d, "data.xyz")
    t0 = time.perf_counter()
    nframes = write_xyz(xyz, a.mb)
    mb = os.path.getsize(xyz) / 1e6
    print(f"# {xyz}: {nframes} frames of 64 atoms, {mb:.1f} MB (generated in "
          f"{time.perf_counter() - t0:.1f} s)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    results = []

    def cli(*args):
        r = subprocess.run([a.vlstore, *args], capture_output=True, text=True, env=env)
        if r.returncode:
            sys.exit(f"{' '.join(args)} failed: {r.stderr}")

    results.append(timed("vlstore import-xyz", lambda: cli("import-xyz",
                                                          os.path.join(d, "xyz.vls"), xyz)))
    name, dt, images = timed("ase.io.read", lambda: ase.io.read(xyz, ":"))
    results.append((name, dt, None))
    assert len(images) == nframes

    def db_write():
        db = ase.db.connect(os.path.join(d, "data.db"))
        with db:
            for at in images:
                db.write(at)

    results.append(timed("ase.db write (SQLite)", db_write))
    results.append(timed("vlstore convert (.db)", lambda: cli(
        "convert", "--quiet", os.path.join(d, "data.db"), os.path.join(d, "db.vls"))))
    results.append(timed("vlstore.ase.write", lambda: vase.write(os.path.join(d, "py.vls"),
                                                                 images)))
    sizes = {"vlstore import-xyz": "xyz.vls", "ase.db write (SQLite)": "data.db",
             "vlstore convert (.db)": "db.vls", "vlstore.ase.write": "py.vls"}
    print(f"{'step':<24} {'seconds':>9} {'frames/s':>10} {'XYZ MB/s':>9} {'output MB':>10}")
    for what, dt, _ in results:
        out = sizes.get(what)
        size = f"{os.path.getsize(os.path.join(d, out)) / 1e6:10.1f}" if out else f"{'-':>10}"
        print(f"{what:<24} {dt:9.2f} {nframes / dt:10.0f} {mb / dt:9.1f} {size}")
    if not a.keep and not a.dir:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
