"""BlockShuffleBatch on the C loader: coverage, order, ranks, epochs, resume, safety."""
import numpy as np
import pytest

from vlstore.loader import BlockShuffleBatch
from vlstore.serialize import BackedAtomicData, BackedAtomicDataCodec
from vlstore.store import Depot, SChunkStore

from conftest import make_frame

N = 600


@pytest.fixture(scope="module")
def frames_file(tmp_path_factory):
    """A file of N frames (10..200 atoms) in chunks of 64 KiB (a few dozen chunks)."""
    rng = np.random.default_rng(7)
    p = tmp_path_factory.mktemp("loader") / "frames.vls"
    with Depot(BackedAtomicDataCodec, SChunkStore(p, chunksize=1 << 16)) as d:
        for i in range(N):
            f, _ = make_frame(rng, i, nsites=int(rng.integers(10, 200)))
            d.put(f"frame_{i}", f)
    d.close()
    return p


def _names(loader):
    return [f.name for batch in loader for f in batch]


def test_every_record_once_per_epoch(frames_file):
    with Depot(BackedAtomicDataCodec, SChunkStore(frames_file)) as d:
        ld = BlockShuffleBatch(read_size=3, batch_size=32, backing=d)
        info = ld.info()
        assert info["records"] == N and info["rank_records"] == N
        assert len(ld) == -(-N // 32) == info["rank_batches"]
        names = _names(ld)
        assert sorted(names) == sorted(f"frame_{i}" for i in range(N))
        assert names != [f"frame_{i}" for i in range(N)]  # shuffled
        assert ld.epoch == 1  # a complete pass advances the epoch
        names2 = _names(ld)
        assert sorted(names2) == sorted(names) and names2 != names  # a new order
        ld.close()


def test_storage_order_without_shuffle(frames_file):
    s = SChunkStore(frames_file)
    ld = BlockShuffleBatch(2, 50, s, shuffle=False)
    keys = [k for batch in ld.keyed() for k, _rec in batch]
    assert keys == list(s)  # storage order
    # a SChunkStore backing serves memoryviews of the records
    recs = list(ld.stream())
    assert all(isinstance(r, memoryview) for r in recs)
    assert bytes(recs[0]) == s[keys[0]]
    ld.close()
    s.close()


def test_same_seed_and_epoch_same_order(frames_file):
    a = BlockShuffleBatch(4, 16, [frames_file], seed=11, epoch=3)
    b = BlockShuffleBatch(4, 16, str(frames_file), seed=11, epoch=3, prefetch=False)
    c = BlockShuffleBatch(4, 16, frames_file, seed=12, epoch=3)
    ka = [k for batch in a.keyed() for k, _ in batch]
    kb = [k for batch in b.keyed() for k, _ in batch]
    kc = [k for batch in c.keyed() for k, _ in batch]
    assert ka == kb and ka != kc and sorted(ka) == sorted(kc)
    b.set_epoch(3)
    assert [k for batch in b.keyed() for k, _ in batch] == ka
    for x in (a, b, c):
        x.close()


@pytest.mark.parametrize("world", [2, 3, 7])
def test_ranks_partition_the_epoch(frames_file, world):
    shares = []
    for rank in range(world):
        with BlockShuffleBatch(3, 10, frames_file, rank=rank, world=world, seed=5) as ld:
            shares.append([k for batch in ld.keyed() for k, _ in batch])
    allkeys = [k for sh in shares for k in sh]
    assert sorted(allkeys) == sorted(f"frame_{i}" for i in range(N))  # each record once
    sizes = [len(sh) for sh in shares]
    assert max(sizes) - min(sizes) <= 1


def test_drop_last(frames_file):
    with BlockShuffleBatch(3, 64, frames_file, drop_last=True, rank=1, world=2) as ld:
        batches = list(ld)
        assert all(len(b) == 64 for b in batches)
        assert len(batches) == (N // 2) // 64 == len(ld)


def test_batches_stay_valid(frames_file):
    """Everything served may be kept: batches are copies the objects keep alive."""
    with BlockShuffleBatch(2, 8, Depot(BackedAtomicDataCodec, SChunkStore(frames_file)),
                           n_buffers=1) as ld:
        kept = list(ld.stream())
        snapshot = [(f.name, f.pos.copy()) for f in kept[:50]]
        list(ld)  # another full epoch through the same loader
        for f, (name, pos) in zip(kept, snapshot):
            assert f.name == name and np.array_equal(f.pos, pos)
        # records are 16-byte aligned in their batch buffer
        assert all(f.pos.flags.aligned for f in kept)


def test_resume_from_state(frames_file):
    with BlockShuffleBatch(3, 20, frames_file, seed=9) as ld:
        full = [[k for k, _ in b] for b in ld.keyed()]
        ld.set_epoch(0)
        it = ld.keyed()
        first = [[k for k, _ in next(it)] for _ in range(5)]
        state = ld.state_dict()
        it.close()
        assert state["epoch"] == 0 and state["batch"] == 5
    assert first == full[:5]
    with BlockShuffleBatch(3, 20, frames_file, seed=9) as ld2:
        ld2.load_state_dict(state)
        rest = [[k for k, _ in b] for b in ld2.keyed()]
    assert rest == full[5:]


def test_several_files(tmp_path):
    rng = np.random.default_rng(3)
    paths = []
    for j in range(3):
        p = tmp_path / f"part{j}.vls"
        with SChunkStore(p, chunksize=8192) as s:
            for i in range(50):
                s[f"{j}/{i}"] = rng.integers(0, 255, int(rng.integers(1, 900)),
                                             dtype=np.uint8).tobytes()
        paths.append(p)
    with BlockShuffleBatch(2, 16, paths) as ld:
        keys = [k for b in ld.keyed() for k, _ in b]
    assert sorted(keys) == sorted(f"{j}/{i}" for j in range(3) for i in range(50))
    stores = [SChunkStore(p) for p in paths]
    with BlockShuffleBatch(2, 16, stores) as ld:
        got = {k: bytes(v) for b in ld.keyed() for k, v in b}
    assert all(got[k] == stores[int(k[0])][k] for k in got)
    with pytest.raises(TypeError):
        BlockShuffleBatch(2, 16, [paths[0], stores[0]])


def test_store_changes_and_loaders(tmp_path):
    s = SChunkStore(tmp_path / "c.vls", chunksize=4096)
    for i in range(100):
        s[i] = bytes([i]) * 500
    ld = BlockShuffleBatch(2, 10, s)
    assert s.handle.nloaders == 1
    s[100] = b"new"  # an idle loader lets go of the store ...
    assert s.handle.nloaders == 0
    assert sum(len(b) for b in ld) == 101  # ... and reopens on the next pass
    it = iter(ld)
    next(it)
    with pytest.raises(ValueError, match="middle of a pass"):
        s[101] = b"refused"  # a pass in progress keeps the store unchanged
    it.close()
    s[101] = b"fine now"
    it1 = iter(ld)
    next(it1)
    with pytest.raises(ValueError, match="not reentrant"):
        next(iter(ld))
    it1.close()
    s.close()  # closes the loader too
    with pytest.raises(ValueError):
        list(ld)  # the store it read is closed


def test_bad_arguments(frames_file):
    for kw in (dict(read_size=0), dict(batch_size=0), dict(n_buffers=0),
               dict(rank=2, world=2), dict(world=0)):
        args = dict(read_size=2, batch_size=4, backing=frames_file)
        args.update(kw)
        with pytest.raises(ValueError):
            BlockShuffleBatch(**args)
    with pytest.raises(TypeError):
        BlockShuffleBatch(2, 4, 12345)
    with pytest.raises(FileNotFoundError):
        BlockShuffleBatch(2, 4, frames_file.parent / "missing.vls")


def test_seed_positional_signature(frames_file):
    # BlockShuffleBatch(read_size, batch_size, backing, buffer_size, shuffle, end_block_merge,
    #                   n_buffers)
    d = Depot(BackedAtomicDataCodec, SChunkStore(frames_file))
    with BlockShuffleBatch(3, 7, d, None, False, False, 3) as ld:
        frames = list(ld.stream())
    assert len(frames) == N and isinstance(frames[0], BackedAtomicData)
    assert [f.name for f in frames] == list(d.keys())
