"""`vlstore convert`: an ASE database and an LMDB of pickled Atoms (fairchem's LmdbDataset
layout), both built here, into frame records; unreadable entries listed, the rest kept."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("ase", reason="python3-ase is not installed")
lmdb = pytest.importorskip("lmdb", reason="python3-lmdb is not installed")
import ase.db  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests"))
import ase_compare  # noqa: E402
import mace_data  # noqa: E402

from vlstore import SChunkStore  # noqa: E402
from vlstore import ase as vase  # noqa: E402


def run(cli, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([cli, "convert", *map(str, args)], capture_output=True, text=True,
                          env=env)


def test_ase_db(cli, tmp_path):
    frames = mace_data.frames()
    db = ase.db.connect(str(tmp_path / "set.db"))
    for a in frames:
        db.write(a, data={"source": "dft"}, tag=7)
    r = run(cli, tmp_path / "set.db", tmp_path / "out.vls")
    assert r.returncode == 0, r.stderr
    assert "converted 8 frames" in r.stdout and "0 unreadable" in r.stdout
    back = vase.read(str(tmp_path / "out.vls"))
    assert len(back) == len(frames)
    for row, b in zip(db.select(), back):
        a = row.toatoms()
        assert b.positions.tobytes() == a.positions.tobytes()
        assert (a.numbers == b.numbers).all() and (a.pbc == b.pbc).all()
        assert np.array_equal(a.cell.array, b.cell.array)
        assert b.info["tag"] == 7 and b.info["source"] == "dft"
        if a.calc is not None:
            for k, v in a.calc.results.items():
                assert np.allclose(v, b.calc.results[k]), k
    # a second run refuses to overwrite
    r = run(cli, tmp_path / "set.db", tmp_path / "out.vls")
    assert r.returncode == 1 and "already exists" in r.stderr
    assert run(cli, tmp_path / "set.db", tmp_path / "out.vls", "--replace").returncode == 0


def test_lmdb_of_pickled_atoms(cli, tmp_path):
    frames = mace_data.frames()
    env = lmdb.open(str(tmp_path / "train.lmdb"), subdir=False, map_size=1 << 26)
    with env.begin(write=True) as txn:
        for i, a in enumerate(frames):
            txn.put(str(i).encode("ascii"), pickle.dumps(a))
        txn.put(b"length", pickle.dumps(len(frames)))
        txn.put(b"99", pickle.dumps({"not": "atoms"}))  # a pickle that is not Atoms
        txn.put(b"98", b"\x80\x04\x95broken")          # not a pickle at all
    env.close()
    r = run(cli, tmp_path / "train.lmdb", tmp_path / "out.vls")
    assert r.returncode == 1  # some entries were unreadable ...
    assert "converted 8 frames" in r.stdout and "2 unreadable entries" in r.stdout
    assert "entry train/99: a pickled builtins.dict, not an ase.Atoms" in r.stderr
    assert "entry train/98: cannot unpickle" in r.stderr
    with SChunkStore(str(tmp_path / "out.vls"), mode="r") as store:
        keys = store.keys()
    back = dict(zip(keys, vase.read(str(tmp_path / "out.vls"))))  # ... the rest are all there
    for i, a in enumerate(frames):
        assert ase_compare.diff_atoms(a, back[f"train/{i}"], scalars="python") == []


def test_bad_sources(cli, tmp_path):
    r = run(cli, tmp_path / "missing.db", tmp_path / "o.vls")
    assert r.returncode == 1 and "missing.db: no such file" in r.stderr
    (tmp_path / "x.txt").write_text("hello")
    r = run(cli, tmp_path / "x.txt", tmp_path / "o.vls")
    assert r.returncode == 1 and "not an ASE database" in r.stderr
    assert subprocess.run([cli, "convert", "only-one"], capture_output=True).returncode == 2
