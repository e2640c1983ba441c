"""Collated frame batches: BlockShuffleBatch(collate=True) and _core.frame_batch (what
FrameMapDataset uses) equal the source arrays for every field, frames lacking energy, forces,
cell, pbc, charges or stress mixed in; every frame once per epoch; served arrays never change
under their holder; misuse raises."""
import numpy as np
import pytest

from vlstore import _core
from vlstore.batch import BATCH_KEYS, BatchKeys, batch_dict
from vlstore import CorruptError, NotFoundError
from vlstore.loader import BlockShuffleBatch
from vlstore.serialize import BackedAtomicData
from vlstore.store import SChunkStore

N = 260


def source_frame(i):
    """Frame i's fields; which optional ones it has follows from i."""
    rng = np.random.default_rng(i)
    n = 0 if i % 17 == 0 else int(rng.integers(1, 40))
    f = dict(name=f"f{i}", nsites=n, types=rng.integers(1, 119, n).astype(np.int32),
             masses=rng.random(n, dtype=np.float32),
             positions=rng.random((n, 3), dtype=np.float32))
    if i % 3:
        f["forces"] = rng.random((n, 3), dtype=np.float32)
    if i % 4:
        f["energy"] = float(rng.normal()) * 1e3
    if i % 5:
        f["cell"] = rng.random((3, 3), dtype=np.float32)
    if i % 5 > 1:
        f["pbc"] = np.array([1, i % 2, 1], dtype=np.uint8)
    if i % 2 == 0:
        f["charges"] = rng.random(n, dtype=np.float32)
    if i % 6 == 1:
        f["stress"] = rng.random((3, 3), dtype=np.float32)
    return f


def key_of(i):
    return f"frame-{i:05d}"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("batches") / "frames.vls")
    src = {}
    with SChunkStore(path, mode="w", chunksize=16384) as s:
        for i in range(N):
            f = source_frame(i)
            src[key_of(i)] = f
            s.put(key_of(i), BackedAtomicData.from_values(**f).raw)
    return path, src


def check_batch(b, src, seen=None):
    """Every field of the batch dict against the source frames; returns the keys."""
    assert set(b) == set(BATCH_KEYS)
    keys = list(b["keys"])
    B = len(keys)
    assert b["natoms"].shape == (B,) and b["ptr"].shape == (B + 1,)
    assert b["pos"].dtype == np.float32 and b["energy"].dtype == np.float64
    assert b["atomic_numbers"].dtype == np.int64 and b["pbc"].dtype == np.bool_
    total = int(b["natoms"].sum())
    assert b["pos"].shape == (total, 3) and b["batch"].shape == (total,)
    assert b["ptr"][0] == 0 and b["ptr"][-1] == total
    for j, k in enumerate(keys):
        f = src[k]
        if seen is not None:
            seen[k] = seen.get(k, 0) + 1
        a, e = int(b["ptr"][j]), int(b["ptr"][j + 1])
        n = f["nsites"]
        assert e - a == n and b["natoms"][j] == n
        assert (b["batch"][a:e] == j).all()
        np.testing.assert_array_equal(b["pos"][a:e], f["positions"])
        np.testing.assert_array_equal(b["masses"][a:e], f["masses"])
        np.testing.assert_array_equal(b["atomic_numbers"][a:e], f["types"].astype(np.int64))
        for name, per_atom, fill in (("forces", True, np.nan), ("charges", True, np.nan),
                                     ("stress", False, np.nan), ("cell", False, 0.0)):
            got = b[name][a:e] if per_atom else b[name][j]
            assert bool(b["has_" + name][j]) == (name in f), name
            if name in f:
                np.testing.assert_array_equal(got, f[name])
            elif fill == 0.0:
                assert (got == 0).all()
            else:
                assert np.isnan(got).all()
        assert bool(b["has_energy"][j]) == ("energy" in f)
        if "energy" in f:
            assert b["energy"][j] == f["energy"]
        else:
            assert np.isnan(b["energy"][j])
        assert bool(b["has_pbc"][j]) == ("pbc" in f)
        want_pbc = f["pbc"] != 0 if "pbc" in f else np.zeros(3, bool)
        np.testing.assert_array_equal(b["pbc"][j], want_pbc)
    return keys


@pytest.mark.parametrize("n_buffers", [1, 2, 3])
def test_collated_epochs_equal_sources_each_frame_once(dataset, n_buffers):
    path, src = dataset
    with BlockShuffleBatch(2, 19, path, n_buffers=n_buffers, collate=True, seed=3) as ld:
        orders = []
        for _epoch in range(2):
            seen = {}
            order = []
            for b in ld:
                order += check_batch(b, src, seen)
            assert seen == {k: 1 for k in src}
            orders.append(order)
        assert orders[0] != orders[1]  # each pass advanced the epoch
        assert ld.epoch == 2


def test_served_arrays_never_change_under_their_holder(dataset):
    path, src = dataset
    with BlockShuffleBatch(2, 16, path, n_buffers=2, collate=True) as ld:
        kept = list(ld)  # every batch of the epoch kept: far beyond n_buffers
        assert ld.fresh_buffers > 0  # the loader took fresh memory instead of overwriting
        seen = {}
        for b in kept:
            check_batch(b, src, seen)
        assert len(seen) == N
        del kept
        # dropped promptly: memory is reused, no fresh allocation
        before = ld.fresh_buffers
        for b in ld:
            check_batch(b, src)
        assert ld.fresh_buffers == before


def test_copy_gives_independent_arrays(dataset):
    path, src = dataset
    with BlockShuffleBatch(2, 32, path, collate=True, copy=True) as ld:
        b = next(iter(ld))
        assert all(b[k].base is None for k in BATCH_KEYS if k != "keys")
        check_batch(b, src)


def test_collate_misuse_raises(dataset):
    path, _src = dataset
    with BlockShuffleBatch(2, 32, path, collate=True) as ld:
        with pytest.raises(ValueError, match="collate=True"):
            next(ld.keyed())
        with pytest.raises(ValueError, match="collate=True"):
            next(ld.stream())
        it = iter(ld)
        next(it)
        with pytest.raises(ValueError, match="already being iterated"):
            next(iter(ld))
        it.close()


def test_closed_loader_raises(dataset):
    path, _src = dataset
    ld = _core.Loader([path], batch_size=8)
    ld.close()
    with pytest.raises(Exception, match="closed"):
        ld.next_frames()


def test_frame_batch_map_style(dataset):
    path, src = dataset
    keys = [key_of(i) for i in (5, 0, 17, 250, 3, 3)]
    with SChunkStore(path, mode="r") as s:
        mem, layout = _core.frame_batch(s.handle, keys)
        b = batch_dict(mem, layout, "str")
        assert list(b["keys"]) == keys
        check_batch(b, src)
        with pytest.raises(NotFoundError):
            _core.frame_batch(s.handle, [key_of(1), "no-such-key"])
        empty = batch_dict(*_core.frame_batch(s.handle, []), "str")
        assert len(empty["keys"]) == 0 and empty["ptr"].tolist() == [0]


def test_a_record_that_is_not_a_frame(tmp_path):
    path = str(tmp_path / "mixed.vls")
    with SChunkStore(path, mode="w") as s:
        for i in range(10):
            s.put(key_of(i), BackedAtomicData.from_values(**source_frame(i)).raw)
        s.put("garbage", b"not a frame at all")
    with SChunkStore(path, mode="r") as s:
        with pytest.raises(CorruptError, match="garbage"):
            _core.frame_batch(s.handle, [key_of(1), "garbage"])
    with BlockShuffleBatch(1, 64, path, collate=True, shuffle=False) as ld:
        with pytest.raises(CorruptError, match="garbage"):
            list(ld)


def test_batch_keys():
    k = BatchKeys(b"abcdef", np.array([0, 1, 3, 6]), "str")
    assert len(k) == 3 and list(k) == ["a", "bc", "def"] and k[-1] == "def"
    assert k[1:] == ["bc", "def"] and k.raw(0) == b"a" and k == ["a", "bc", "def"]
    with pytest.raises(IndexError):
        k[3]
    ki = BatchKeys((7).to_bytes(8, "big"), [0, 8], "int")
    assert list(ki) == [7]
