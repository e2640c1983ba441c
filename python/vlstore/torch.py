"""PyTorch integration: ``FrameBatches`` (whole collated batches, the fast path),
``FrameMapDataset`` (map-style, for your own sampler) and ``FrameDataset`` (one sample per
frame).

``FrameBatches`` and ``FrameMapDataset`` yield the batch dicts of ``vlstore.batch`` as tensors
(``pos``, ``forces``, ``atomic_numbers``, ``natoms``, ``ptr``, ``batch``, ``energy``, ``cell``,
``pbc``, ``stress``, ``charges``, the ``has_*`` masks, and ``keys``), built in C with no Python
object per frame; python/README.md shows how to feed them to a model.


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

import multiprocessing
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from . import _core
from .batch import BatchKeys, batch_dict
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
    for k in frame.present_arrays():  # only the optional arrays the record has
        d[k] = _tensor(getattr(frame, k))
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
        if isinstance(source, Depot) and codec is BackedAtomicDataCodec:
            codec = source.codec
        self.paths: List[str] = _paths_of(source)
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


# ---- collated batches ----------------------------------------------------------------------

_TORCH_DTYPES = {"<f4": torch.float32, "<f8": torch.float64, "<i8": torch.int64,
                 "?": torch.bool, "u1": torch.uint8}
_ITEMSIZE = {torch.float32: 4, torch.float64: 8, torch.int64: 8, torch.bool: 1, torch.uint8: 1}


def _tensor_batch(mem: Any, layout: Any, key_type: str, copy: bool = False,
                  pin_memory: bool = False) -> Dict[str, Any]:
    """A collated batch as tensors that all view one uint8 tensor over the batch memory
    (``torch.frombuffer``: no copy; it keeps the memory alive). One storage per batch, so a
    DataLoader worker moves a batch to the main process as one shared-memory block, not one
    per field."""
    spans = []
    for name, dtype, offset, shape in layout:
        dt = _TORCH_DTYPES[dtype]
        count = 1
        for d in shape:
            count *= d
        spans.append((name, dt, offset, count * _ITEMSIZE[dt], shape))
    # only the bytes in use: the memory may be larger (it is reused for bigger batches)
    base = torch.frombuffer(mem, dtype=torch.uint8, count=max(o + n for _, _, o, n, _ in spans))
    if copy or pin_memory:
        base = base.pin_memory() if pin_memory else base.clone()
    out: Dict[str, Any] = {}
    for name, dt, offset, nbytes, shape in spans:
        out[name] = base[offset:offset + nbytes].view(dt).view(shape)
    kp = out.pop("key_ptr").tolist()
    out["keys"] = BatchKeys(out["keys"].numpy().tobytes(), kp, key_type)
    return out


def batch_to_tensors(batch: Dict[str, Any], pin_memory: bool = False) -> Dict[str, Any]:
    """A collated batch dict (``vlstore.batch``) with its arrays as tensors
    (``torch.from_numpy``: no copy; ``pin_memory`` copies into page-locked memory). ``keys``
    stays a ``BatchKeys``."""
    out: Dict[str, Any] = {}
    for k, v in batch.items():
        if isinstance(v, np.ndarray):
            t = torch.from_numpy(v)
            out[k] = t.pin_memory() if pin_memory else t
        else:
            out[k] = v
    return out


def _paths_of(source: Any) -> List[str]:
    if isinstance(source, Depot):
        source = source.backing
    if isinstance(source, SChunkStore):
        if source.location is None:
            raise ValueError("a file is needed (workers open it themselves), not an in-memory "
                             "store")
        if not source.read_only:
            source.commit()  # the workers open the file: they see what is committed
        source = source.location
    if isinstance(source, (str, os.PathLike)):
        paths = [os.fspath(source)]
    else:
        paths = [os.fspath(p) for p in source]
    if not paths:
        raise ValueError("no files given")
    return paths


class FrameBatches(IterableDataset):
    """Whole batches of frames, collated in C, for ``DataLoader(ds, batch_size=None,
    num_workers=k)``.

    Each item is a dict of tensors (see ``vlstore.batch``: ``pos``, ``forces``,
    ``atomic_numbers``, ``natoms``, ``ptr``, ``batch``, ``energy``, ``cell``, ``pbc``,
    ``stress``, ``charges``, the ``has_*`` masks, and ``keys``) viewing the loader's batch
    memory (``torch.from_numpy``, no copy). Worker ``w`` of ``W`` on rank ``r`` of ``R``
    (``torch.distributed`` when initialised, else ``rank``/``world``) serves sub-rank
    ``r*W + w`` of ``R*W``: one epoch yields every frame exactly once over all ranks and
    workers. Every complete pass advances the epoch by one (a fresh order, the same on every
    rank); ``set_epoch(e)`` chooses one. ``len()`` is the number of batches per epoch for this
    rank (summed over ``num_workers`` workers when given; in a worker, that worker's).
    ``drop_last`` drops each share's final short batch (with it, all ranks step together).
    ``pin_memory`` copies each tensor into page-locked memory when a CUDA device is present
    (pinning only speeds up copies to a GPU; without one it does nothing), as
    ``DataLoader(pin_memory=True)`` does. ``n_buffers``: see ``BlockShuffleBatch``.
    """

    def __init__(
        self,
        paths: Any,
        batch_size: int = 64,
        read_size: int = 4,
        seed: int = 0,
        rank: Optional[int] = None,
        world: Optional[int] = None,
        drop_last: bool = False,
        pin_memory: bool = False,
        *,
        epoch: int = 0,
        shuffle: bool = True,
        merge_last: bool = True,
        prefetch: bool = True,
        threads: int = 1,
        n_buffers: int = 2,
        num_workers: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.paths = _paths_of(paths)
        self.batch_size = int(batch_size)
        self.read_size = int(read_size)
        self.seed = int(seed)
        self.rank = rank
        self.world = world
        self.drop_last = bool(drop_last)
        self.pin_memory = bool(pin_memory)
        self.shuffle = bool(shuffle)
        self.merge_last = bool(merge_last)
        self.prefetch = bool(prefetch)
        self.threads = int(threads)
        self.n_buffers = int(n_buffers)
        self.num_workers = num_workers
        # The epoch lives in shared memory: DataLoader workers are processes (forked or
        # spawned per pass), and the last worker to finish a pass advances it for the next.
        self._epoch = multiprocessing.Value("q", int(epoch))
        self._finished = multiprocessing.Value("q", 0)
        self._key_type: Optional[str] = None

    @property
    def epoch(self) -> int:
        return int(self._epoch.value)

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next pass serves (same on every rank)."""
        with self._epoch.get_lock():
            self._epoch.value = int(epoch)
            self._finished.value = 0

    def shard(self) -> Tuple[int, int]:
        """(sub-rank, sub-world) this process/worker serves."""
        return _shard(self.rank, self.world)

    def _loader(self, rank: int, world: int, epoch: int) -> BlockShuffleBatch:
        return BlockShuffleBatch(self.read_size, self.batch_size, self.paths,
                                 shuffle=self.shuffle, end_block_merge=self.merge_last,
                                 n_buffers=self.n_buffers, seed=self.seed, epoch=epoch,
                                 rank=rank, world=world, drop_last=self.drop_last,
                                 prefetch=self.prefetch, threads=self.threads, collate=True)

    def __len__(self) -> int:
        r, w = _shard(self.rank, self.world)
        if get_worker_info() is not None or not self.num_workers:
            with self._loader(r, w, self.epoch) as ld:
                return len(ld)
        k = int(self.num_workers)
        total = 0
        for i in range(k):
            with self._loader(r * k + i, w * k, self.epoch) as ld:
                total += len(ld)
        return total

    def __iter__(self):
        rank, world = _shard(self.rank, self.world)
        info = get_worker_info()
        nworkers = info.num_workers if info is not None else 1
        epoch = self.epoch
        pin = self.pin_memory and torch.cuda.is_available()

        def build(mem: Any, layout: Any, key_type: str, copy: bool) -> Dict[str, Any]:
            return _tensor_batch(mem, layout, key_type, copy, pin)
        with self._loader(rank, world, epoch) as ld:
            yield from ld._collated(build)
        with self._epoch.get_lock():  # a complete pass: the last worker advances the epoch
            if self._epoch.value == epoch:
                self._finished.value += 1
                if self._finished.value >= nworkers:
                    self._epoch.value = epoch + 1
                    self._finished.value = 0


class FrameMapDataset(Dataset):
    """Map-style access to the frames of one or more vlstore files, for your own sampler.

    ``len(ds)`` frames; index ``i`` names one frame, in a stable order (file after file, each
    in storage order); ``ds.key(i)`` is its key. ``ds[i]`` returns ``i`` itself, so a
    ``DataLoader(ds, batch_size=64, sampler=..., collate_fn=ds.collate)`` hands whole lists of
    indices to ``collate``, which reads them with one ``get_many`` per file and collates them
    in C into the same batch dict of tensors ``FrameBatches`` yields. (A batch spanning files
    lists its frames file by file.) Files are opened read-only, lazily, once per process.
    """

    def __init__(self, paths: Any, *, pin_memory: bool = False, key_type: str = "str") -> None:
        super().__init__()
        self.paths = _paths_of(paths)
        self.pin_memory = bool(pin_memory)
        self._key_type = key_type
        self._stores: Optional[List[SChunkStore]] = None
        self._pid = -1
        keys: List[bytes] = []
        starts = [0]
        for p in self.paths:
            with SChunkStore(p, mode="r", key_type=self._key_type) as s:
                keys.extend(s._raw_keys())
            starts.append(len(keys))
        self._keys = keys
        self._starts = np.asarray(starts, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._keys)

    def key(self, i: int) -> Any:
        """The key of frame i."""
        from .store import _decode_key
        return _decode_key(self._keys[i], self._key_type)

    def __getitem__(self, i: int) -> int:
        i = int(i)
        if not -len(self._keys) <= i < len(self._keys):
            raise IndexError(f"frame index {i} out of range (0..{len(self._keys) - 1})")
        return i % len(self._keys)

    def _open(self) -> List[SChunkStore]:
        if self._stores is None or self._pid != os.getpid():  # a worker opens its own
            self._stores = [SChunkStore(p, mode="r", key_type=self._key_type) for p in self.paths]
            self._pid = os.getpid()
        return self._stores

    def _batches(self, indices: Sequence[int]) -> List[Tuple[Any, Any]]:
        """(memory, layout) of the frames at `indices`, one per file they come from."""
        stores = self._open()
        idx = np.asarray([self[i] for i in indices], dtype=np.int64)
        files = np.searchsorted(self._starts, idx, side="right") - 1
        out = []
        for f in dict.fromkeys(files.tolist()):  # files in order of first appearance
            keys = [self._keys[i] for i in idx[files == f]]
            out.append(_core.frame_batch(stores[f].handle, keys))
        return out

    def get_batch(self, indices: Sequence[int], copy: bool = False) -> Dict[str, Any]:
        """The frames at `indices` as one batch dict of numpy arrays (``vlstore.batch``)."""
        parts = [batch_dict(m, lay, self._key_type, copy) for m, lay in self._batches(indices)]
        return parts[0] if len(parts) == 1 else _concat(parts)

    def collate(self, indices: Sequence[int]) -> Dict[str, Any]:
        """``collate_fn`` for a DataLoader: indices -> batch dict of tensors (pinned with
        ``pin_memory`` when a CUDA device is present)."""
        pin = self.pin_memory and torch.cuda.is_available()
        parts = self._batches(indices)
        if len(parts) == 1:
            return _tensor_batch(*parts[0], self._key_type, False, pin)
        return batch_to_tensors(_concat([batch_dict(m, lay, self._key_type)
                                         for m, lay in parts]), pin)

    def __getstate__(self) -> dict:
        d = dict(self.__dict__)
        d["_stores"] = None  # handles stay in the process that opened them
        return d


def _concat(parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Batch dicts of several files joined into one (atom and frame indices shifted)."""
    out: Dict[str, Any] = {}
    atoms = np.cumsum([0] + [int(p["natoms"].sum()) for p in parts])
    frames = np.cumsum([0] + [len(p["natoms"]) for p in parts])
    for k, v in parts[0].items():
        if k == "keys":
            out[k] = BatchKeys(b"".join(p["keys"]._blob for p in parts),
                               np.concatenate([[0]] + [np.asarray(p["keys"]._ptr[1:]) +
                                                       len(b"".join(q["keys"]._blob
                                                                    for q in parts[:j]))
                                                       for j, p in enumerate(parts)]),
                               v._key_type)
        elif k == "ptr":
            out[k] = np.concatenate([[0]] + [p["ptr"][1:] + atoms[j]
                                             for j, p in enumerate(parts)]).astype(np.int64)
        elif k == "batch":
            out[k] = np.concatenate([p["batch"] + frames[j] for j, p in enumerate(parts)])
        else:
            out[k] = np.concatenate([p[k] for p in parts])
    return out
