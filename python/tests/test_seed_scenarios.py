"""The seed project's own test scenarios (its test/*.py), on this implementation.

Adapted only where the seed reached into blosc2 (``_create_default_schunk``, ``location=``
an SChunk): those become ``chunksize=`` arguments. Sizes are the seed's unless noted (the
numpy tests are scaled down from ~1 GB to tens of MB to keep `make test` quick).
"""
from random import randbytes, randint, shuffle, uniform, choice
from typing import Dict, Final, List

import numpy as np
import pytest
from pytest import mark

from vlstore import SChunkStore
from vlstore.hash import byte_hash
from vlstore.loader import BlockShuffleBatch
from vlstore.serialize import BackedAtomicData, BackedAtomicDataCodec, flatfloatndarray_codec
from vlstore.store import DEFAULT_CHUNK_SIZE, Depot

SIZE_SMALL: Final = 500
SIZE_MEDIUM: Final = int(2**13)
SIZE_LARGE: Final = int(2**16)
MANY_SIZE: Final = 100

BOTH = mark.parametrize("start_aligned", [True, False])


# ---- test/schunkstore_test.py ------------------------------------------------------------
@BOTH
def test_schunk_small_single(start_aligned):
    NAME = "test_name"
    storage = SChunkStore(start_aligned=start_aligned)
    content = randbytes(SIZE_SMALL)
    storage.put(NAME, content)
    assert storage.get(NAME) == content
    assert storage[NAME] == content
    content = randbytes(SIZE_SMALL)
    storage[NAME] = content
    assert storage.get(NAME) == content
    assert storage[NAME] == content
    with pytest.raises(ValueError):
        storage.put(NAME, value=randbytes(SIZE_SMALL), overwrite=False)


@BOTH
def test_schunk_small_many(start_aligned):
    names = [f"test_name{x}" for x in range(MANY_SIZE)]
    content = [randbytes(SIZE_SMALL) for _ in names]
    storage = SChunkStore(start_aligned=start_aligned)
    for name, data in zip(names, content):
        storage.put(name, data)
    for name, data in zip(names, content):
        assert storage.get(name) == data
        assert storage[name] == data


def _large(start_aligned):
    names = [f"test_name{x}" for x in range(MANY_SIZE)]
    content = [randbytes(SIZE_LARGE) for _ in names]
    storage = SChunkStore(start_aligned=start_aligned)
    for name, data in zip(names, content):
        storage.put(name, data)
    return storage, names, content


@BOTH
def test_schunk_large_many_fused(start_aligned):
    storage, names, content = _large(start_aligned)
    fused_data, slices = storage.fused_get(names)
    view = memoryview(fused_data)
    for recovered, orig in zip((view[s] for s in slices), content):
        assert orig == recovered


@BOTH
def test_schunk_large_many_fused_subset(start_aligned):
    storage, names, content = _large(start_aligned)
    sub = slice(None, None, 2)
    fused_data, slices = storage.fused_get(names[sub])
    view = memoryview(fused_data)
    for recovered, orig in zip((view[s] for s in slices), content[sub]):
        assert orig == recovered


@BOTH
def test_schunk_large_many_fused_subset_shuffle(start_aligned):
    storage, names, content = _large(start_aligned)
    pairing = dict(zip(names, content))
    subnames = names[::2]
    shuffle(subnames)
    fused_data, slices = storage.fused_get(subnames)
    view = memoryview(fused_data)
    for recovered, key in zip((view[s] for s in slices), subnames):
        assert pairing[key] == recovered


@BOTH
def test_schunk_large_many(start_aligned):
    storage, names, content = _large(start_aligned)
    for name, data in zip(names, content):
        assert storage.get(name) == data
        assert storage[name] == data


@BOTH
def test_schunk_large_many_out(start_aligned):
    storage, names, content = _large(start_aligned)
    for name, data in zip(names, content):
        b = bytearray(len(data))
        assert storage.get(name, out=b) == data


@mark.parametrize("get_method", ["slice", "chunk"])
def test_schunk_random_many_get(get_method):
    names = [f"test_name{x}" for x in range(MANY_SIZE)]
    content = [randbytes(SIZE_LARGE + randint(1, SIZE_MEDIUM)) for _ in names]
    storage = SChunkStore(start_aligned=True)
    for name, data in zip(names, content):
        storage.put(name, data)
    for name, data in list(zip(names, content)):
        if uniform(0, 1) < 0.1:
            names.remove(name)
            content.remove(data)
            storage.disown(name)
            assert name not in storage
    for name, data in zip(names, content):
        assert storage.get(name, method=get_method) == data
        assert storage[name] == data


CHUNKSIZES = [100, 200, 500, int(1e5), int(1e8), DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE - 10,
              DEFAULT_CHUNK_SIZE + 10, 2 * DEFAULT_CHUNK_SIZE, SIZE_LARGE, SIZE_LARGE + 1,
              SIZE_LARGE - 1, 2 * SIZE_LARGE + 10]


@mark.parametrize("chunksize", CHUNKSIZES)
@BOTH
def test_schunk_large_many_chunksize(chunksize, start_aligned):
    names = [f"test_name{x}" for x in range(MANY_SIZE)]
    content = [randbytes(SIZE_LARGE) for _ in names]
    storage = SChunkStore(chunksize=chunksize, start_aligned=start_aligned)
    for name, data in zip(names, content):
        storage.put(name, data)
    for name, data in zip(names, content):
        assert storage.get(name) == data
        assert storage[name] == data
    storage.close()


def _arrays():
    # the seed's second array is (62, 450, 53, 37) float64 = 438 MB; a tenth of it here
    rng = np.random.default_rng()
    return rng.random((3, 5, 6), dtype=np.float32), rng.random((62, 45, 53, 37), dtype=np.float64)


def _manual_numpy(storage):
    data1, data2 = _arrays()
    storage.put("array_1", data1.tobytes())
    storage.put("array_2", data2.tobytes())
    r1 = np.frombuffer(storage.get("array_1"), dtype=np.float32)
    r2 = np.frombuffer(storage.get("array_2"), dtype=np.float64)
    assert (r1.reshape(data1.shape) == data1).all()
    assert (r2.reshape(data2.shape) == data2).all()
    premade1 = np.zeros_like(data1)
    storage.get("array_1", out=premade1)
    premade2 = np.zeros_like(data2)
    storage.get("array_2", out=premade2)
    assert (premade1 == data1).all()
    assert (premade2 == data2).all()


@BOTH
def test_schunk_manual_numpy(start_aligned):
    _manual_numpy(SChunkStore(start_aligned=start_aligned))


@BOTH
def test_schunk_manual_numpy_disk(start_aligned, tmp_path):
    storage = SChunkStore(location=tmp_path / "storage.schunk2", start_aligned=start_aligned)
    _manual_numpy(storage)
    storage.close()
    (tmp_path / "storage.schunk2").unlink()


# ---- test/numpydepot_test.py (scaled: SIZE 2**20 -> 2**14 floats, DELTA 2**23 -> 2**16) ----
SIZE: Final = int(2**14)
SIZE_DELTA: Final = int(2**16)
_rng = np.random.default_rng()


def test_array_single():
    data = _rng.random(SIZE, dtype=np.float32)
    d = Depot(codec=flatfloatndarray_codec)
    d.put("test_name", data)
    assert (data == d.get("test_name")).all()


def test_array_multiple_shuffle_variedsize():
    d = Depot(codec=flatfloatndarray_codec)
    record = {}
    for x in range(50):
        data = _rng.random(SIZE + int(np.floor(SIZE_DELTA * _rng.random())), dtype=np.float32)
        record[f"test_name{x}"] = data
        d.put(f"test_name{x}", data)
    keys = list(record)
    shuffle(keys)
    for key in keys:
        assert (record[key] == d.get(key)).all()


def test_array_multiple_shuffe_variedsize_disk_hash(tmp_path):
    storage = SChunkStore(location=tmp_path / "storage.schunk2")
    d = Depot(codec=flatfloatndarray_codec, backing=storage)
    hashes = {}
    for x in range(10):
        data = _rng.random(10 * SIZE + int(np.floor(SIZE_DELTA * _rng.random())),
                           dtype=np.float32)
        hashes[f"test_name{x}"] = byte_hash(data.tobytes())
        d.put(f"test_name{x}", data)
    keys = list(hashes)
    shuffle(keys)
    for key in keys[::2]:
        assert hashes[key] == byte_hash(d.get(key).tobytes())


# ---- test/frame_test.py (N_ITER 20000 -> 2000; the seed's float64 MASSES are cast) ---------
def test_frame_file(tmp_path):
    N_ITER, NSITES = 2000, 120
    NAME = "frame_"
    TYPES = np.arange(NSITES, dtype=np.int32)
    POSITIONS = np.random.rand(N_ITER, NSITES, 3).astype(np.float32)  # noqa: NPY002
    FORCES = np.random.rand(N_ITER, NSITES, 3).astype(np.float32)  # noqa: NPY002
    MASSES = np.random.rand(NSITES)  # noqa: NPY002
    storage = SChunkStore(chunksize=int(2**21), location=tmp_path / "mol.store",
                          start_aligned=False)
    with Depot(codec=BackedAtomicDataCodec, backing=storage) as d:
        for ident, (pos_frame, force_frame) in enumerate(zip(POSITIONS, FORCES)):
            new = BackedAtomicData.from_values(name=NAME, masses=MASSES, atom_types=TYPES,
                                               nsites=NSITES, positions=pos_frame,
                                               forces=force_frame)
            d.put(NAME + str(ident), new)
        assert d.backing.cratio > 0
    with Depot(codec=BackedAtomicDataCodec, backing=storage) as d:
        for ident, (pos_frame, force_frame) in enumerate(zip(POSITIONS, FORCES)):
            recreated = d.get(NAME + str(ident))
            assert (recreated.pos == pos_frame).all()
            assert (recreated.forces == force_frame).all()
            assert np.array_equal(recreated.masses, MASSES.astype(np.float32))


# ---- test/blocksample_test.py ----------------------------------------------------------
def _mixed_molecules(n_iter=2000):
    NSITES = {"MOL_A": 1200, "MOL_B": 882, "MOL_C": 100}
    TYPES = {k: np.random.randint(low=0, high=20, size=v, dtype=np.int32)  # noqa: NPY002
             for k, v in NSITES.items()}
    MASSES = {k: np.random.rand(v).astype(np.float32) for k, v in NSITES.items()}  # noqa
    storage = SChunkStore(chunksize=int(2**19), location=None, alignment="no_cross")
    record: Dict[str, BackedAtomicData] = {}
    with Depot(codec=BackedAtomicDataCodec, backing=storage) as d:
        for ident in range(n_iter):
            k = choice(list(NSITES))
            name = f"frame_{k}_{ident}"
            new = BackedAtomicData.from_values(
                name=name, masses=MASSES[k], atom_types=TYPES[k], nsites=NSITES[k],
                positions=np.random.rand(NSITES[k], 3).astype(np.float32),  # noqa: NPY002
                forces=np.random.rand(NSITES[k], 3).astype(np.float32))  # noqa: NPY002
            record[name] = new
            d.put(name, new)
    return storage, record


def _check(frame, record):
    stored = record[frame.name]
    assert frame.name == stored.name
    assert frame.n_sites == stored.n_sites
    assert (frame.masses == stored.masses).all()
    assert (frame.atom_types == stored.atom_types).all()
    assert (frame.pos == stored.pos).all()
    assert (frame.forces == stored.forces).all()


@pytest.fixture(scope="module")
def mixed():
    return _mixed_molecules()


STREAM_CASES = [(nb, rs, m, s) for nb, rs in [(2, 3), (2, 4), (2, 5), (3, 5), (4, 5)]
                for m in (True, False) for s in (True, False)]


@mark.parametrize("n_buffers,read_size,end_block_merge,shuffle", STREAM_CASES)
def test_block_stream_atomic_data_multi(mixed, n_buffers, read_size, end_block_merge, shuffle):
    storage, record = mixed
    with Depot(codec=BackedAtomicDataCodec, backing=storage) as d:
        loader = BlockShuffleBatch(read_size=read_size, batch_size=1, backing=d,
                                   shuffle=shuffle, end_block_merge=end_block_merge,
                                   n_buffers=n_buffers)
        located: List[str] = []
        for recreated in loader.stream():
            located.append(recreated.name)
            _check(recreated, record)
        assert sorted(located) == sorted(record)  # every frame exactly once
        loader.close()


BATCH_CASES = [(rs, bs, s) for rs in (2, 5) for s in (False, True) for bs in (2, 5, 10)]


@mark.parametrize("read_size,batch_size,shuffle", BATCH_CASES)
def test_block_batch_atomic_data_multi(mixed, read_size, batch_size, shuffle):
    storage, record = mixed
    with Depot(codec=BackedAtomicDataCodec, backing=storage) as d:
        loader = BlockShuffleBatch(read_size=read_size, batch_size=batch_size, backing=d,
                                   shuffle=shuffle)
        located: List[str] = []
        batches = list(loader)  # keeping every batch alive is safe here (batches are copies)
        for batch in batches:
            assert 1 <= len(batch) <= batch_size
            for frame in batch:
                located.append(frame.name)
                _check(frame, record)
        assert all(len(b) == batch_size for b in batches[:-1])
        assert sorted(located) == sorted(record)
        loader.close()
