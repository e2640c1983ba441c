"""vlstore.torch.FrameDataset: DataLoader workers and torch.distributed ranks (gloo)."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest


torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed (Debian: apt-get install python3-torch); "
    "the FrameDataset tests are skipped")

from torch.utils.data import DataLoader  # noqa: E402

from vlstore.batch import BatchKeys  # noqa: E402
from vlstore.serialize import BackedAtomicDataCodec  # noqa: E402
from vlstore.store import Depot, SChunkStore  # noqa: E402
from vlstore.torch import (  # noqa: E402
    FrameBatches, FrameDataset, FrameMapDataset, collate_frames, frame_to_tensors)

from conftest import make_frame  # noqa: E402

N = 301  # odd on purpose: shares cannot all be equal


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(1)
    p = tmp_path_factory.mktemp("torch") / "frames.vls"
    with Depot(BackedAtomicDataCodec, SChunkStore(p, chunksize=1 << 15)) as d:
        for i in range(N):
            f, _ = make_frame(rng, i, nsites=int(rng.integers(5, 60)), energy=float(i))
            d.put(f"frame_{i}", f)
    d.close()
    return p


ALL = sorted(f"frame_{i}" for i in range(N))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_each_record_once_across_workers(store, num_workers):
    ds = FrameDataset(store, read_size=2, block_batch=16)
    dl = DataLoader(ds, batch_size=8, num_workers=num_workers, collate_fn=collate_frames)
    keys = [k for batch in dl for k in batch["key"]]
    assert sorted(keys) == ALL


def test_samples_and_collate(store):
    ds = FrameDataset(store, shuffle=False)
    it = iter(ds)
    s = next(it)
    assert s["key"] == "frame_0" and s["name"] == "frame_0" and s["energy"] == 0.0
    assert s["pos"].dtype == torch.float32 and s["pos"].shape == (s["n_sites"], 3)
    assert s["atom_types"].dtype == torch.int32
    assert "cell" not in s
    t = next(it)
    b = collate_frames([s, t])
    assert b["pos"].shape[0] == s["n_sites"] + t["n_sites"]
    assert b["batch"].tolist() == [0] * s["n_sites"] + [1] * t["n_sites"]
    assert b["energy"].tolist() == [0.0, 1.0]
    assert torch.equal(b["forces"][: s["n_sites"]], s["forces"])
    with SChunkStore(store) as st:
        f = BackedAtomicDataCodec.unpack(st["frame_1"])
    assert torch.equal(frame_to_tensors("k", f)["pos"], t["pos"])  # bytes record: a copy
    # samples from the dataset share the loader's batch memory (no copy)
    f2 = BackedAtomicDataCodec.unpack(bytearray(f.raw))
    assert np.shares_memory(frame_to_tensors("k", f2)["pos"].numpy(), f2.pos)


def test_set_epoch_reorders(store):
    ds = FrameDataset(store, block_batch=8, seed=3)
    e0 = [s["key"] for s in ds]
    assert [s["key"] for s in ds] == e0  # same epoch, same order
    ds.set_epoch(1)
    e1 = [s["key"] for s in ds]
    assert e1 != e0 and sorted(e1) == sorted(e0) == ALL


def test_explicit_rank_world_and_raw_records(store):
    parts = [[k for k, _ in FrameDataset(store, codec=None, rank=r, world=3)] for r in range(3)]
    assert sorted(k for p in parts for k in p) == ALL
    k, rec = next(iter(FrameDataset(store, codec=None, shuffle=False)))
    assert isinstance(rec, bytes) and k == "frame_0"
    with pytest.raises(ValueError):
        FrameDataset(SChunkStore())  # workers cannot open a memory store


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_gloo_with_workers(store, tmp_path):
    """Two processes (torch.distributed, gloo on localhost), each with two DataLoader workers:
    every record is served exactly once per epoch across the four sub-ranks."""
    worker = os.path.join(os.path.dirname(__file__), "torch_ddp_worker.py")
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
               WORLD_SIZE="2", OMP_NUM_THREADS="1")
    procs = []
    for rank in range(2):
        out = tmp_path / f"rank{rank}.json"
        procs.append((out, subprocess.Popen(
            [sys.executable, worker, str(store), str(out), "2", "4"],
            env=dict(env, RANK=str(rank)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
    for out, p in procs:
        log, _ = p.communicate(timeout=300)
        assert p.returncode == 0, log.decode(errors="replace")
    res = [json.loads(out.read_text()) for out, _ in procs]
    assert [r["rank"] for r in res] == [0, 1] and all(r["world"] == 2 for r in res)
    k0, k1 = res[0]["keys"], res[1]["keys"]
    assert not set(k0) & set(k1)
    assert sorted(k0 + k1) == ALL
    assert abs(len(k0) - len(k1)) <= 2  # 4 sub-ranks, shares differ by at most one each
    assert res[0]["gathered"] == res[1]["gathered"] == [k0, k1]
    assert res[0]["total"] == N


# ---- FrameBatches / FrameMapDataset ---------------------------------------------------------

def _frames(store):
    """key -> BackedAtomicData of every frame in the store."""
    with SChunkStore(store, mode="r") as s:
        return {k: BackedAtomicDataCodec.unpack(s[k]) for k in s}


def _check_tensor_batch(b, frames):
    keys = list(b["keys"])
    assert isinstance(b["pos"], torch.Tensor) and b["pos"].dtype == torch.float32
    assert b["atomic_numbers"].dtype == torch.int64 and b["energy"].dtype == torch.float64
    for j, k in enumerate(keys):
        f = frames[k]
        a, e = int(b["ptr"][j]), int(b["ptr"][j + 1])
        assert torch.equal(b["pos"][a:e], torch.from_numpy(f.pos.copy()))
        assert torch.equal(b["forces"][a:e], torch.from_numpy(f.forces.copy()))
        assert torch.equal(b["atomic_numbers"][a:e],
                           torch.from_numpy(f.atom_types.astype(np.int64)))
        assert float(b["energy"][j]) == f.energy and bool(b["has_energy"][j])
        assert not bool(b["has_cell"][j]) and not b["cell"][j].any()
    return keys


@pytest.mark.parametrize("num_workers", [0, 2])
def test_frame_batches_each_frame_once_and_epochs_advance(store, num_workers):
    frames = _frames(store)
    ds = FrameBatches(store, batch_size=16, read_size=2, seed=7, num_workers=num_workers)
    dl = DataLoader(ds, batch_size=None, num_workers=num_workers)
    n_batches = len(ds)
    passes = []
    for _ in range(2):
        keys, count = [], 0
        for b in dl:
            assert isinstance(b["keys"], BatchKeys)  # not rebuilt key by key by the DataLoader
            keys += _check_tensor_batch(b, frames)
            count += 1
        assert sorted(keys) == ALL
        assert count == n_batches
        passes.append(keys)
    assert passes[0] != passes[1]  # the epoch advanced by itself
    assert ds.epoch == 2
    ds.set_epoch(0)  # set_epoch still works: the first pass again
    assert [k for b in dl for k in b["keys"]] == passes[0]


def test_frame_batches_drop_last_and_rank_split(store):
    full = FrameBatches(store, batch_size=16, read_size=2, rank=0, world=2, drop_last=True)
    other = FrameBatches(store, batch_size=16, read_size=2, rank=1, world=2, drop_last=True)
    a = [b for b in full]
    c = [b for b in other]
    assert len(a) == len(c) == len(full) == (N // 2) // 16
    assert all(len(b["keys"]) == 16 for b in a + c)
    ka = {k for b in a for k in b["keys"]}
    kc = {k for b in c for k in b["keys"]}
    assert not ka & kc


def test_frame_batches_pin_memory(store):
    """Pinned when a CUDA device is present; without one (as here, usually) pinning is a
    no-op and the batches are the same."""
    frames = _frames(store)
    ds = FrameBatches(store, batch_size=16, pin_memory=True)
    b = next(iter(ds))
    _check_tensor_batch(b, frames)
    assert b["pos"].is_pinned() == torch.cuda.is_available()


def test_frame_map_dataset_with_a_sampler(store):
    frames = _frames(store)
    ds = FrameMapDataset(store)
    assert len(ds) == N
    assert sorted(ds.key(i) for i in range(N)) == ALL
    sampler = torch.utils.data.RandomSampler(ds, generator=torch.Generator().manual_seed(0))
    dl = DataLoader(ds, batch_size=64, sampler=sampler, collate_fn=ds.collate)
    keys = []
    for b in dl:
        keys += _check_tensor_batch(b, frames)
    assert sorted(keys) == ALL
    b = ds.collate([3, 1, 4])
    assert list(b["keys"]) == [ds.key(3), ds.key(1), ds.key(4)]
    with pytest.raises(IndexError):
        ds[N]


def test_frame_map_dataset_across_files(store, tmp_path):
    second = tmp_path / "second.vls"
    rng = np.random.default_rng(9)
    with Depot(BackedAtomicDataCodec, SChunkStore(second)) as d:
        for i in range(20):
            f, _ = make_frame(rng, i, nsites=int(rng.integers(1, 9)), energy=float(-i))
            d.put(f"other_{i}", f)
    d.close()
    frames = {**_frames(store), **_frames(second)}
    ds = FrameMapDataset([store, second])
    assert len(ds) == N + 20
    b = ds.collate([N + 3, 0, N + 19, 5])
    assert sorted(b["keys"]) == sorted(ds.key(i) for i in (N + 3, 0, N + 19, 5))
    _check_tensor_batch(b, frames)
    assert torch.equal(b["batch"], torch.repeat_interleave(torch.arange(4), b["natoms"]))


def test_two_ranks_gloo_with_workers_frame_batches(store, tmp_path):
    """FrameBatches under two gloo processes with two DataLoader workers each: each pass
    serves every frame exactly once across the four sub-ranks, and the second pass (no
    set_epoch) is a different order."""
    worker = os.path.join(os.path.dirname(__file__), "torch_ddp_worker.py")
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
               WORLD_SIZE="2", OMP_NUM_THREADS="1")
    procs = []
    for rank in range(2):
        out = tmp_path / f"rank{rank}.json"
        procs.append((out, subprocess.Popen(
            [sys.executable, worker, str(store), str(out), "2", "0", "batches"],
            env=dict(env, RANK=str(rank)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
    for out, p in procs:
        log, _ = p.communicate(timeout=300)
        assert p.returncode == 0, log.decode(errors="replace")
    res = [json.loads(out.read_text()) for out, _ in procs]
    for field in ("keys", "keys2"):
        k0, k1 = res[0][field], res[1][field]
        assert not set(k0) & set(k1)
        assert sorted(k0 + k1) == ALL
    assert res[0]["keys"] != res[0]["keys2"]
    assert all(r["epoch"] == 2 for r in res)
    assert res[0]["len"] + res[1]["len"] >= (N + 15) // 16
