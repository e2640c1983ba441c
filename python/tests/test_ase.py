"""vlstore.ase: Atoms <-> frames, write/read, the Depot codec; frame properties in Python.

The MACE-style frames come from tests/mace_data.py (periodic and molecular, REF_* labels,
virial, config_type, per-atom energies, dipole, JSON, string and bool arrays, masses,
charges, SinglePointCalculator results); Atoms are compared with tests/ase_compare.py's
diff_atoms, field by field and dtype by dtype.
"""
import os
import sys

import numpy as np
import pytest

ase = pytest.importorskip("ase", reason="python3-ase is not installed")
import ase.io  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests"))
import ase_compare  # noqa: E402
import mace_data  # noqa: E402

from vlstore import Depot, ExistsError, SChunkStore  # noqa: E402
from vlstore import ase as vase  # noqa: E402
from vlstore.serialize import BackedAtomicData  # noqa: E402


def test_round_trip_equal_in_every_field():
    for a in mace_data.frames():
        f = vase.to_frame(a)
        assert f.precision == 64 and f.pos.dtype == np.float64
        b = vase.to_atoms(f)
        assert ase_compare.diff_atoms(a, b, scalars="python") == []
        assert a == b  # ASE's own comparison
        assert b.positions.tobytes() == a.positions.tobytes()  # float64 bit for bit


def test_round_trip_of_what_ase_io_read_gives(tmp_path):
    path = tmp_path / "m.xyz"
    ase.io.write(path, mace_data.frames(), format="extxyz")
    for a in ase.io.read(path, ":"):
        assert ase_compare.diff_atoms(a, vase.to_atoms(vase.to_frame(a)), scalars="python") == []


def test_float32_on_request_only():
    a = mace_data.frames()[0]
    f = vase.to_frame(a, precision=32)
    assert f.precision == 32 and f.pos.dtype == np.float32
    assert np.allclose(vase.to_atoms(f).positions, a.positions, atol=1e-5)


def test_write_read_like_ase_io(tmp_path):
    images = mace_data.frames()
    path = str(tmp_path / "d.vls")
    assert vase.write(path, images) == [str(i) for i in range(len(images))]
    back = vase.read(path)
    assert len(back) == len(images)
    for a, b in zip(images, back):
        assert ase_compare.diff_atoms(a, b, scalars="python") == []
    assert vase.read(path, -1).info["step"] == images[-1].info["step"]
    assert [x.info["step"] for x in vase.read(path, "1:7:3")] == [1, 4]
    assert vase.read(path, 2).info["step"] == 2
    with pytest.raises(IndexError):
        vase.read(path, 99)
    # appending continues the numbering; existing keys are refused unless overwrite=True
    assert vase.write(path, images[0]) == [str(len(images))]
    with pytest.raises(ExistsError):
        vase.write(path, images[1], keys=["0"])
    vase.write(path, images[1], keys=["0"], overwrite=True)
    assert vase.read(path, 0).info["step"] == 1
    assert vase.write(str(tmp_path / "k.vls"), images[:2], keys=["a", "b"]) == ["a", "b"]


def test_depot_codec(tmp_path):
    images = mace_data.frames()[:3]
    with Depot(vase.AtomsCodec, str(tmp_path / "depot.vls")) as d:
        for i, a in enumerate(images):
            d.put(i, a)
    d = Depot(vase.AtomsCodec, SChunkStore(str(tmp_path / "depot.vls"), mode="r"))
    for i, a in enumerate(images):
        assert ase_compare.diff_atoms(a, d.get(i), scalars="python") == []
    d.close()


def test_properties_are_views_of_the_record():
    f = BackedAtomicData.from_values(
        masses=[1.0, 16.0], atom_types=[1, 8], positions=np.zeros((2, 3)), precision=64,
        properties={"dipole": np.array([1.0, 2.0, 3.0]), "n": 3, "note": "x", "l": [1, None]},
        atom_properties={"e": np.array([0.5, 1.5]), "lab": np.array(["H", "O"])})
    raw = np.frombuffer(f.raw, dtype=np.uint8)
    p, ap = f.properties, f.atom_properties
    assert np.shares_memory(p["dipole"], raw) and np.shares_memory(ap["e"], raw)
    assert np.shares_memory(f.pos, raw) and f.pos.dtype == np.float64
    assert p["n"] == 3 and type(p["n"]) is int and p["note"] == "x" and p["l"] == [1, None]
    assert list(ap["lab"]) == ["H", "O"]
    with pytest.raises(ValueError, match="per-atom property 'bad'"):
        BackedAtomicData.from_values(masses=[1.0], atom_types=[1], positions=[[0, 0, 0]],
                                     atom_properties={"bad": np.zeros(3)})
    with pytest.raises(TypeError, match="property 'obj'"):
        BackedAtomicData.from_values(masses=[1.0], atom_types=[1], positions=[[0, 0, 0]],
                                     properties={"obj": object()})


def test_frames_of_import_xyz_read_as_ase_reads_the_file(cli, tmp_path):
    """A store filled by `vlstore import-xyz` reads through vlstore.ase with the REF_* labels
    where ase.io.read puts them (info / arrays), and the same arrays and positions. (ASE 3.22
    also copies calculator results such as forces into arrays / info; vlstore.ase keeps them
    once, in the calculator, so those are compared there.)"""
    import subprocess

    src = tmp_path / "m.xyz"
    ase.io.write(src, mace_data.frames(), format="extxyz")
    subprocess.run([cli, "import-xyz", str(tmp_path / "m.vls"), str(src)], check=True,
                   capture_output=True)
    ours = vase.read(str(tmp_path / "m.vls"))
    theirs = ase.io.read(src, ":")
    for a, b in zip(theirs, ours):
        assert b.positions.tobytes() == a.positions.tobytes()
        calc = b.calc.results if b.calc else {}
        for k in a.arrays:
            assert np.array_equal(a.arrays[k], b.arrays[k] if k in b.arrays else calc[k]), k
        assert set(b.arrays) <= set(a.arrays)
        for k in ("REF_energy", "REF_stress", "config_type", "dipole", "virial"):
            if k in a.info:
                assert np.array_equal(a.info[k], b.info[k]), k
