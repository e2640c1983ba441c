"""BackedAtomicData and the codecs: C encoder, C verifier, zero-copy numpy views."""
import json
import pickle
import subprocess

import numpy as np
import pytest

from vlstore import CorruptError
from vlstore.serialize import (BackedAtomicData, BackedAtomicDataCodec, Codec,
                               create_fbframe_buffer, flatfloatndarray_codec)
from vlstore.store import Depot, SChunkStore

from conftest import make_frame


def _record_bytes(frame):
    return np.frombuffer(frame.raw, dtype=np.uint8)


def test_from_values_round_trip(rng):
    f, v = make_frame(rng, 0, nsites=50)
    assert f.name == "frame_0" and f.name_bytes == b"frame_0"
    assert f.n_sites == f.nsites == 50 and f.ncodim == 3
    assert np.array_equal(f.masses, v["masses"]) and f.masses.dtype == np.float32
    assert np.array_equal(f.atom_types, v["atom_types"]) and f.atom_types.dtype == np.int32
    assert np.array_equal(f.pos, v["positions"]) and f.pos.shape == (50, 3)
    assert np.array_equal(f.forces, v["forces"]) and f.forces.shape == (50, 3)
    for k in ("energy", "cell", "pbc", "charges", "stress"):
        assert getattr(f, k) is None
    assert f.nbytes % 4 == 0 and f.nbytes > 50 * 32


def test_optional_fields(rng):
    n = 7
    cell = np.diag([10.0, 11.0, 12.0])
    stress = np.arange(9.0).reshape(3, 3)
    f, v = make_frame(rng, 1, nsites=n, energy=-76.43, cell=cell, pbc=[True, False, True],
                      charges=np.linspace(-1, 1, n), stress=stress)
    assert f.energy == -76.43
    assert np.array_equal(f.cell, cell.astype(np.float32)) and f.cell.shape == (3, 3)
    assert f.pbc.tolist() == [1, 0, 1]
    assert np.allclose(f.charges, np.linspace(-1, 1, n))
    assert np.array_equal(f.stress, stress.astype(np.float32))
    d = f.to_dict()
    assert set(d) == {"name", "n_sites", "masses", "atom_types", "pos", "forces", "energy",
                      "cell", "pbc", "charges", "stress"}
    # energy 0.0 is "present", not "absent"
    g, _ = make_frame(rng, 2, nsites=3, energy=0.0)
    assert g.energy == 0.0
    # no forces
    h = BackedAtomicData.from_values(name="nf", masses=np.ones(2), atom_types=[1, 2],
                                     nsites=2, positions=np.zeros((2, 3)))
    assert h.forces is None


def test_arrays_are_views_of_the_record(rng):
    f, _ = make_frame(rng, 3, nsites=20)
    rec = _record_bytes(f)
    for arr in (f.masses, f.atom_types, f.pos, f.forces):
        assert np.shares_memory(arr, rec)
        assert not arr.flags.owndata
    # the base chain ends at the record object (bytes made by the encoder)
    base = f.pos.base
    while not isinstance(base, memoryview):
        base = base.base
    assert isinstance(base.obj, bytes)
    # a record in a writable buffer gives writable views: writing changes the record
    buf = bytearray(f.raw)
    g = BackedAtomicData(buf)
    assert np.shares_memory(g.pos, np.frombuffer(buf, np.uint8))
    g.pos[0, 0] = 123.0
    assert BackedAtomicData(bytes(buf)).pos[0, 0] == 123.0
    assert not f.pos.flags.writeable  # bytes-backed views are read-only


def test_depot_get_and_fused_get_are_views(rng):
    s = SChunkStore()
    frames = {}
    with Depot(BackedAtomicDataCodec, s) as d:
        for i in range(30):
            frames[f"f{i}"], _ = make_frame(rng, i)
            d.put(f"f{i}", frames[f"f{i}"])
        g = d.get("f3")
        assert g == frames["f3"]
        assert np.shares_memory(g.pos, _record_bytes(g))
        keys = [f"f{i}" for i in range(29, -1, -3)]
        got = d.fused_get(keys)
        whole = np.frombuffer(got[0].raw.obj, np.uint8)  # the one fused buffer
        for k, fr in zip(keys, got):
            assert fr.name == k.replace("f", "frame_")
            assert np.array_equal(fr.pos, frames[k].pos)
            assert np.shares_memory(fr.pos, whole)


def test_unaligned_records_still_read(rng):
    """Records placed back to back after odd-length ones sit at odd addresses: the C
    verifier and numpy handle them (numpy marks the views unaligned)."""
    s = SChunkStore()
    f, v = make_frame(rng, 5, nsites=11)
    s["odd"] = b"xyz"
    s["frame"] = f.raw
    buf, slices = s.fused_get(["odd", "frame"])
    g = BackedAtomicData(memoryview(buf)[slices[1]])
    assert np.array_equal(g.pos, v["positions"]) and np.array_equal(g.forces, v["forces"])


def test_input_conversions_and_checks(rng):
    n = 4
    # float64 masses/positions and int64 types are converted; flat positions accepted
    f = BackedAtomicData.from_values(name=b"bytes name", masses=np.ones(n), types=np.arange(n),
                                     positions=np.arange(3 * n, dtype=np.float64), nsites=n)
    assert f.pos.shape == (n, 3) and f.atom_types.tolist() == [0, 1, 2, 3]
    assert f.name == "bytes name"
    # 2-D coordinates (ncodim 2)
    f2 = BackedAtomicData.from_values(name="2d", masses=np.ones(n), atom_types=np.zeros(n, int),
                                      positions=np.zeros((n, 2)), forces=np.ones((n, 2)))
    assert f2.ncodim == 2 and f2.pos.shape == (n, 2) and f2.nsites == n
    bad = [
        dict(positions=np.zeros((n + 1, 3)), nsites=n),
        dict(positions=np.zeros((n, 3)), forces=np.zeros((n, 2)), nsites=n),
        dict(positions=np.zeros((n, 3)), nsites=n, masses=np.ones(n + 1)),
        dict(positions=np.zeros((n, 3)), nsites=n, atom_types=np.ones(n) * 0.5),
        dict(positions=np.zeros((n, 3)), nsites=n, atom_types=np.full(n, 2**40)),
        dict(positions=np.zeros((n, 3)), nsites=n, cell=np.eye(2)),
        dict(positions=np.zeros((n, 3)), nsites=n, pbc=[1, 1]),
        dict(positions=np.zeros(7), nsites=n),
    ]
    for kw in bad:
        args = dict(name="x", masses=np.ones(n), atom_types=np.arange(n))
        args.update(kw)
        with pytest.raises(ValueError):
            BackedAtomicData.from_values(**args)
    with pytest.raises(ValueError):
        BackedAtomicData.from_values(name="x", masses=None, atom_types=None, nsites=2,
                                     positions=np.zeros((2, 3)))
    empty = BackedAtomicData.from_values(name="none", masses=[], atom_types=[], nsites=0,
                                         positions=np.zeros((0, 3)))
    assert empty.n_sites == 0 and empty.pos.shape == (0, 3) and empty.masses.size == 0


def test_malformed_records_raise(rng):
    f, _ = make_frame(rng, 6, nsites=9, energy=1.0, cell=np.eye(3))
    raw = f.tobytes()
    for cut in (0, 1, 4, 8, len(raw) // 2, len(raw) - 4):
        with pytest.raises(CorruptError):
            BackedAtomicData(raw[:cut])
    with pytest.raises(CorruptError, match="not a valid frame"):
        BackedAtomicDataCodec.unpack(b"\xff" * 64)
    # random damage: either a clean CorruptError or a frame whose arrays stay in bounds
    for _ in range(300):
        bad = bytearray(raw)
        for _ in range(3):
            bad[int(rng.integers(0, len(bad)))] = int(rng.integers(0, 256))
        try:
            g = BackedAtomicData(bytes(bad))
        except CorruptError:
            continue
        for arr in (g.masses, g.atom_types, g.pos, g.forces, g.cell):
            if arr is not None:
                assert np.shares_memory(arr, _record_bytes(g)) or arr.size == 0


def test_pickle_copy_eq(rng):
    f, _ = make_frame(rng, 7, nsites=5, energy=2.5)
    g = pickle.loads(pickle.dumps(f))
    assert g == f and g.energy == 2.5 and g is not f
    c = f.copy()
    assert c == f and not np.shares_memory(c.pos, f.pos)
    assert f != make_frame(rng, 8, nsites=5)[0]
    assert "frame_7" in repr(f)


def test_codecs(rng):
    f, _ = make_frame(rng, 9)
    packed = BackedAtomicDataCodec.pack(f)
    assert bytes(packed) == f.tobytes()
    out = bytearray(f.nbytes)
    assert BackedAtomicDataCodec.pack(f, out=out) is out and bytes(out) == f.tobytes()
    assert BackedAtomicDataCodec.unpack(packed) == f
    a = rng.random((3, 4), dtype=np.float32)
    assert np.array_equal(flatfloatndarray_codec.unpack(flatfloatndarray_codec.pack(a)),
                          a.reshape(-1))
    assert isinstance(BackedAtomicDataCodec, Codec)
    rec = create_fbframe_buffer("n", [1], [1.0], 1, np.zeros((1, 3)), np.zeros((1, 3)))
    assert BackedAtomicData(rec).name == "n"


def test_c_encoder_output_is_deterministic(rng):
    args = dict(name="same", masses=np.ones(3), atom_types=[1, 2, 3], nsites=3,
                positions=np.arange(9.0).reshape(3, 3), forces=np.ones((3, 3)), energy=1.0)
    assert BackedAtomicData.from_values(**args).tobytes() == \
        BackedAtomicData.from_values(**args).tobytes()


def test_cli_reads_python_frames(tmp_path, rng, cli):
    """Frames written from Python are read by the C command-line tool (`vlstore show`)."""
    p = tmp_path / "cli.vls"
    f, v = make_frame(rng, 10, nsites=4, energy=-3.25, pbc=[1, 1, 0])
    with Depot(BackedAtomicDataCodec, SChunkStore(p)) as d:
        d.put("frame_10", f)
    d.close()
    out = subprocess.run([cli, "show", str(p), "frame_10", "--json"], capture_output=True,
                         text=True, check=True).stdout
    j = json.loads(out)
    assert j["name"] == "frame_10" and j["nsites"] == 4 and j["energy"] == -3.25
    assert np.allclose(np.array(j["positions"]).reshape(4, 3), v["positions"])
    assert j["pbc"] == [1, 1, 0]
