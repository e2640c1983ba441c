"""PyTorch integration: ``FrameDataset``, an ``IterableDataset`` over vlstore files.

Each iterator (one per DataLoader worker, per process) opens its own C loader on the files and
serves one share of the epoch: with ``R`` ranks (from ``torch.distributed`` when it is
initialised, else the ``rank``/``world`` arguments) and ``W`` DataLoader workers, worker ``w``
of rank ``r`` is sub-rank ``r*W + w`` of ``R*W``. The C loader's shares cover every record
exactly once, so one epoch sees each record once across all ranks and workers. Call
``set_epoch(e)`` before each epoch (as with ``DistributedSampler``) to get a fresh order;
every rank must use the same seed and epoch.

Samples are, by default, dicts of tensors made from the frame's arrays without copying
(``frame_to_tensors``); ``collate_frames`` joins such samples into one batch (atoms
concatenated, with a ``batch`` index vector), since frames differ in atom count.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.distributed as dist
from torch.utils.data import IterableDataset, get_worker_info

from .loader import BlockShuffleBatch
from .serialize import BackedAtomicData, BackedAtomicDataCodec
from .store import Depot, SChunkStore

_PathLike = Union[str, os.PathLike]


def _tensor(a: Any) -> "torch.Tensor":
    # torch has no read-only tensors: views of a read-only record (bytes) are copied
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def frame_to_tensors(key: Any, frame: BackedAtomicData) -> Dict[str, Any]:
    """A frame as a dict of tensors: key, name, n_sites, atom_types (int32), masses, pos, and
    whichever of forces, energy, cell, pbc, charges, stress the frame has. The tensors share
    the record memory when it is writable (as in the loader's batches, so FrameDataset copies
    nothing here); a read-only record (``bytes``) is copied, as torch cannot mark a tensor
    read-only."""
    d: Dict[str, Any] = {
        "key": key,
        "name": frame.name,
        "n_sites": frame.n_sites,
        "atom_types": _tensor(frame.atom_types),
        "masses": _tensor(frame.masses),
        "pos": _tensor(frame.pos),
    }
    for k in ("forces", "cell", "pbc", "charges", "stress"):
        v = getattr(frame, k)
        if v is not None:
            d[k] = _tensor(v)
    if frame.energy is not None:
        d["energy"] = frame.energy
    return d


def collate_frames(samples: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Join frame samples (from ``frame_to_tensors``) into one batch: per-atom tensors are
    concatenated, ``batch`` maps each atom to its frame, ``n_sites`` is a tensor, per-frame
    tensors (cell, pbc, stress) are stacked, energies become a float64 tensor, keys and
    names lists. Optional fields are kept only when every frame has them."""
    out: Dict[str, Any] = {
        "key": [s["key"] for s in samples],
        "name": [s["name"] for s in samples],
        "n_sites": torch.tensor([s["n_sites"] for s in samples], dtype=torch.int64),
    }
    out["batch"] = torch.repeat_interleave(torch.arange(len(samples)), out["n_sites"])
    for k in ("atom_types", "masses", "pos", "forces", "charges"):
        if all(k in s for s in samples):
            out[k] = torch.cat([s[k] for s in samples])
    for k in ("cell", "pbc", "stress"):
        if all(k in s for s in samples):
            out[k] = torch.stack([s[k] for s in samples])
    if all("energy" in s for s in samples):
        out["energy"] = torch.tensor([s["energy"] for s in samples], dtype=torch.float64)
    return out


def _shard(rank: Optional[int], world: Optional[int]) -> Tuple[int, int]:
    """(sub-rank, sub-world) of the calling process and DataLoader worker."""
    if dist.is_available() and dist.is_initialized():
        r = dist.get_rank() if rank is None else rank
        w = dist.get_world_size() if world is None else world
    else:
        r = 0 if rank is None else rank
        w = 1 if world is None else world
    info = get_worker_info()
    if info is not None:
        return r * info.num_workers + info.id, w * info.num_workers
    return r, w


class FrameDataset(IterableDataset):
    """Frames (or any records) of one or more vlstore files, block-shuffled, for a DataLoader.

    Arguments
    ---------
    source:
        A path, a list of paths, or a ``SChunkStore`` / ``Depot`` over a file (its path is
        used: every worker opens the file itself, read-only).
    codec:
        Decodes records (default ``BackedAtomicDataCodec``; a Depot's own codec when a Depot
        is given). None yields the record as ``bytes``.
    transform:
        Called as ``transform(key, decoded)`` for each sample; default ``frame_to_tensors``
        for frames, ``(key, record)`` pairs otherwise.
    read_size, block_batch, shuffle, seed, merge_last, prefetch, threads:
        The C loader's settings (``block_batch``: records per loader batch; samples are
        yielded one by one and batched by the DataLoader).
    rank, world:
        Override what ``torch.distributed`` says (or give the share when it is not used).
    """

    def __init__(
        self,
        source: Union[_PathLike, Sequence[_PathLike], SChunkStore, Depot],
        *,
        codec: Any = BackedAtomicDataCodec,
        transform: Optional[Callable[[Any, Any], Any]] = None,
        read_size: int = 4,
        block_batch: int = 64,
        shuffle: bool = True,
        seed: int = 0,
        epoch: int = 0,
        merge_last: bool = True,
        prefetch: bool = True,
        threads: int = 1,
        rank: Optional[int] = None,
        world: Optional[int] = None,
    ) -> None:
        super().__init__()
        if isinstance(source, Depot):
            if codec is BackedAtomicDataCodec:
                codec = source.codec
            source = source.backing
        if isinstance(source, SChunkStore):
            if source.location is None:
                raise ValueError("FrameDataset needs a file (workers open it themselves), not "
                                 "an in-memory store")
            if not source.read_only:
                source.commit()  # the workers open the file: they see what is committed
            source = source.location
        if isinstance(source, (str, os.PathLike)):
            paths = [os.fspath(source)]
        else:
            paths = [os.fspath(p) for p in source]
        if not paths:
            raise ValueError("no files given")
        self.paths: List[str] = paths
        self.codec = codec
        if transform is None:
            transform = frame_to_tensors if codec is BackedAtomicDataCodec else _pair
        self.transform = transform
        self.read_size = read_size
        self.block_batch = block_batch
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = epoch
        self.merge_last = merge_last
        self.prefetch = prefetch
        self.threads = threads
        self.rank = rank
        self.world = world

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration serves (same on every rank)."""
        self.epoch = int(epoch)

    def shard(self) -> Tuple[int, int]:
        """(sub-rank, sub-world) this process/worker would serve."""
        return _shard(self.rank, self.world)

    def __iter__(self):
        rank, world = _shard(self.rank, self.world)
        unpack = self.codec.unpack if self.codec is not None else bytes
        transform = self.transform
        with BlockShuffleBatch(self.read_size, self.block_batch, self.paths,
                               shuffle=self.shuffle, end_block_merge=self.merge_last,
                               seed=self.seed, epoch=self.epoch, rank=rank, world=world,
                               prefetch=self.prefetch, threads=self.threads) as ld:
            for batch in ld.keyed():
                for key, rec in batch:
                    yield transform(key, unpack(rec))


def _pair(key: Any, rec: Any) -> Tuple[Any, Any]:
    return key, rec
