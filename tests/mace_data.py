#!/usr/bin/python3
"""Writes MACE-style extended-XYZ test data with ASE (not a test by itself).

    mace_data.py OUT.xyz       frames with every kind of label atomistic-ML data sets carry

Used by tests/test_xyz_roundtrip.sh and python/tests (vlstore.ase). The frames mix periodic
crystals and molecules (no cell, no pbc), float64 everywhere, and carry:
REF_energy, REF_forces, REF_stress and virial (MACE's reference labels); config_type; per-atom
energies; dipole; integer, bool, string and JSON info; string and bool per-atom arrays;
explicit masses and initial charges; and, on other frames, a SinglePointCalculator with
energy/forces/stress/free_energy (ASE's own keys).
"""
import sys

import numpy as np
from ase.build import bulk, molecule
from ase.calculators.singlepoint import SinglePointCalculator


def frames():
    rng = np.random.default_rng(20261203)
    out = []
    for i in range(8):
        if i % 3 == 0:
            a = bulk("Si", "diamond", a=5.43, cubic=True)
        elif i % 3 == 1:
            a = molecule("H2O")  # no cell, no pbc
        else:
            a = bulk("Cu", "fcc", a=3.6) * (2, 1, 1)
        a.positions += rng.normal(scale=0.05, size=a.positions.shape)  # full float64 digits
        a.info["config_type"] = ["bulk", "molecule", "alloy"][i % 3]
        a.info["dipole"] = rng.normal(size=3)
        a.info["step"] = i
        a.info["converged"] = bool(i % 2)
        a.info["weights"] = [1, 2, 3]
        a.info["meta"] = {"code": "vasp", "kpts": [2, 2, 2], "smearing": None}
        a.info["label"] = "1.5"  # a string that looks like a number
        a.arrays["energies"] = rng.normal(size=len(a))
        a.arrays["tag"] = np.array(["t%d" % k for k in range(len(a))])
        a.arrays["frozen"] = np.arange(len(a)) % 3 == 0
        if i % 2 == 0:  # MACE reference labels
            a.info["REF_energy"] = float(rng.normal() * 100)
            a.arrays["REF_forces"] = rng.normal(size=(len(a), 3))
            if a.pbc.any():
                a.info["REF_stress"] = rng.normal(size=9)
                a.info["virial"] = rng.normal(size=(3, 3))
        else:  # ASE's own calculator results
            a.set_initial_charges(rng.normal(size=len(a)))
            a.set_masses(a.get_masses() * 1.001)
            a.calc = SinglePointCalculator(
                a, energy=float(rng.normal() * 10), forces=rng.normal(size=(len(a), 3)),
                stress=rng.normal(size=6) if a.pbc.any() else None, free_energy=-1.25)
        out.append(a)
    return out


if __name__ == "__main__":
    import ase.io

    ase.io.write(sys.argv[1], frames(), format="extxyz")
