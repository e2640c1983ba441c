"""The block-shuffle batch loader, on the C loader (include/vlstore_loader.h).

An epoch: records are grouped by the chunk that holds them; the group order is shuffled by
(seed, epoch); ``read_size`` groups at a time are read with one batched read (each chunk
decompressed once, on a background thread when ``prefetch`` is on) and their records shuffled
together, then served in batches of ``batch_size``. With ``world > 1`` each rank serves its
own share (shares differ by at most one record; together they cover every record once).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from .batch import batch_dict
from .store import Depot, SChunkStore, _decode_key


class BlockShuffleBatch:
    """Shuffled batches of one or more stores, an epoch at a time.

    Arguments
    ---------
    read_size:
        Groups (chunks) read and shuffled together. Larger: better shuffling, more memory.
    batch_size:
        Records per batch; the last batch of an epoch may be shorter (see ``drop_last``).
    backing:
        A ``Depot`` (records are decoded with its codec: batches of objects), a
        ``SChunkStore`` (batches of memoryviews), a path, or a list of any one of these kinds
        (several files form one dataset).
    buffer_size:
        The seed's argument; accepted and ignored (buffers are sized by the C loader).
    shuffle:
        False serves records in storage order.
    end_block_merge:
        Fold a file's short final chunk into the one before it.
    n_buffers:
        How many batch memories are used in turn (and how many batches the C loader keeps
        valid). What this class serves is always safe to keep: a batch memory is reused only
        when nothing references it any more (no memoryview, decoded object or numpy array of
        it is left); otherwise the loader leaves it to its holders and takes a fresh one, so
        served data never changes under you. Keep a batch longer than ``n_buffers`` batches
        only when you mean to: each one kept costs a new buffer (``fresh_buffers`` counts
        them).
    collate:
        True: iterating yields each batch of frame records as one dict of contiguous numpy
        arrays built in C (``pos``, ``forces``, ``atomic_numbers``, ``natoms``, ``ptr``,
        ``batch``, ``energy``, ... and presence masks ``has_energy`` ...; see
        ``vlstore.batch``), with no Python object per frame. The arrays view the batch memory
        (see ``n_buffers``) unless ``copy`` is set. ``stream()`` and ``keyed()`` are for
        uncollated batches only.
    copy:
        With ``collate``: give each batch's arrays their own memory (``ndarray.copy``).
    seed, epoch:
        The order is a function of (seed, epoch). Each complete pass over the data (an
        ``iter()`` or ``stream()`` run to the end) advances ``epoch`` by one, so passes differ,
        as the seed's did; ``set_epoch()`` picks one explicitly.
    rank, world:
        This process's share of the data (rank of world).
    drop_last:
        Drop the final short batch; every rank then serves the same number of batches.
    prefetch:
        Read the next groups of chunks on background C threads while this one is served.
    threads:
        Reads decoded at once: with prefetch, that many background readers, each decoding a
        whole read; without, the chunks of each read shared out over that many threads.

    The stores must not change while a loader reads them: a put, delete or close on a
    ``SChunkStore`` first closes the C loaders of idle ``BlockShuffleBatch`` objects over it
    (they reopen at their next pass) and raises ``ValueError`` while one is mid-pass.
    """

    def __init__(
        self,
        read_size: int,
        batch_size: int,
        backing: Any,
        buffer_size: Optional[int] = None,
        shuffle: bool = True,
        end_block_merge: bool = True,
        n_buffers: int = 2,
        *,
        seed: int = 0,
        epoch: int = 0,
        rank: int = 0,
        world: int = 1,
        drop_last: bool = False,
        prefetch: bool = True,
        threads: int = 1,
        collate: bool = False,
        copy: bool = False,
    ) -> None:
        if int(read_size) < 1:
            raise ValueError("read_size must be at least 1")
        if int(batch_size) < 1:
            raise ValueError("batch_size must be at least 1")
        if int(n_buffers) < 1:
            raise ValueError("n_buffers must be at least 1.")
        if int(world) < 1 or not 0 <= int(rank) < int(world):
            raise ValueError(f"need 0 <= rank < world, got rank={rank} world={world}")
        self.read_size = int(read_size)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.end_block_merge = bool(end_block_merge)
        self.n_buffers = int(n_buffers)
        self.seed = int(seed)
        self.epoch = int(epoch)
        self.rank = int(rank)
        self.world = int(world)
        self.drop_last = bool(drop_last)
        self.prefetch = bool(prefetch)
        self.threads = int(threads)
        self.collate = bool(collate)
        self.copy = bool(copy)
        self.backing = backing

        items = list(backing) if isinstance(backing, (list, tuple)) else [backing]
        if not items:
            raise ValueError("backing is empty")
        self._decode: Optional[Callable[[Any], Any]] = None
        self._stores: List[SChunkStore] = []
        self._paths: List[str] = []
        key_type = "str"
        for it in items:
            if isinstance(it, Depot):
                if self._decode is None:
                    self._decode = it.codec.unpack
                self._stores.append(it.backing)
            elif isinstance(it, SChunkStore):
                self._stores.append(it)
            elif isinstance(it, (str, os.PathLike)):
                self._paths.append(os.fspath(it))
            else:
                raise TypeError("backing: a Depot, a SChunkStore, a path, or a list of them, "
                                f"not {type(it).__name__}")
        if self._stores and self._paths:
            raise TypeError("backing: all stores/depots or all paths, not a mix")
        if self._stores:
            key_type = self._stores[0].key_type
        self.key_type = key_type
        self._ld = None
        self._iterating = False
        self._open()

    # ---- the C loader --------------------------------------------------------------------
    def _open(self) -> Any:
        if self._ld is not None and not self._ld.closed:
            return self._ld
        sources: Sequence[Any]
        if self._stores:
            sources = [s.handle for s in self._stores]
        else:
            sources = self._paths
        self._ld = _core.Loader(
            sources, batch_size=self.batch_size, read_size=self.read_size,
            n_buffers=self.n_buffers, shuffle=self.shuffle, merge_last=self.end_block_merge,
            drop_last=self.drop_last, prefetch=self.prefetch, rank=self.rank,
            world=self.world, threads=self.threads, seed=self.seed, epoch=self.epoch)
        for s in self._stores:
            s._loaders.add(self)
        return self._ld

    def _release(self) -> None:
        """Called by a store about to change or close: drop the C loader (reopened later)."""
        if self._iterating:
            raise ValueError("a BlockShuffleBatch is in the middle of a pass over this store; "
                             "finish (or close) it before changing the store")
        self._close_loader()

    def _close_loader(self) -> None:
        if self._ld is not None:
            self._ld.close()
            self._ld = None
        for s in self._stores:
            s._loaders.discard(self)

    def close(self) -> None:
        """Stop the prefetch thread and free the loader's buffers."""
        self._iterating = False
        self._close_loader()

    def __enter__(self) -> "BlockShuffleBatch":
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.close()
        return False

    # ---- epochs --------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """The epoch the next pass serves."""
        self.epoch = int(epoch)

    def info(self) -> dict:
        """records, groups, rank_records, rank_batches, rank_reads, epoch, bytes_read,
        reads_done, wait_ns (time spent waiting for reads)."""
        return self._open().info()

    def __len__(self) -> int:
        """Batches this rank serves in the current epoch."""
        ld = self._open()
        if not self._iterating:
            ld.start_epoch(self.epoch)
        return ld.info()["rank_batches"]

    def state_dict(self) -> dict:
        """Where the current pass stands: {"epoch", "batch", "fingerprint"} (resume with
        load_state_dict on a loader over the same data and settings)."""
        e, b, fp = self._open().tell()
        return {"epoch": e, "batch": b, "fingerprint": fp}

    def load_state_dict(self, state: dict) -> None:
        """Make the next pass continue at state["batch"] of state["epoch"], exactly as an
        uninterrupted run would have."""
        self._resume = (int(state["epoch"]), int(state["batch"]), int(state["fingerprint"]))
        self.epoch = int(state["epoch"])

    _resume: Optional[Tuple[int, int, int]] = None

    @property
    def fresh_buffers(self) -> int:
        """Times a batch memory was still referenced when its turn came (so a new one was
        allocated): 0 when batches are dropped within ``n_buffers`` batches."""
        return self._ld.fresh_buffers if self._ld is not None else 0

    # ---- serving -------------------------------------------------------------------------
    def _pass(self, step: Callable[[Any], Any]) -> Iterator[Any]:
        """One epoch (or the rest of it after a resume): step(C loader) -> a batch or None."""
        if self._iterating:
            raise ValueError("this BlockShuffleBatch is already being iterated; finish that "
                             "pass first (it is not reentrant)")
        ld = self._open()
        if self._resume is not None:
            ld.seek(*self._resume)
            self._resume = None
        else:
            ld.start_epoch(self.epoch)
        self._iterating = True
        try:
            while True:
                b = step(ld)
                if b is None:
                    break
                yield b
            self.epoch += 1
        finally:
            self._iterating = False

    def _collated(self, build: Optional[Callable[..., Any]] = None) -> Iterator[Any]:
        """Collated batches as build(memory, layout, key_type, copy) makes them (default:
        numpy dicts; vlstore.torch builds tensors straight from the memory)."""
        key_type, copy = self.key_type, self.copy
        make = build or batch_dict

        def step(ld: Any) -> Any:
            r = ld.next_frames()
            return None if r is None else make(r[0], r[1], key_type, copy)
        return self._pass(step)

    def _batches(self, with_keys: bool) -> Iterator[list]:
        if self.collate:
            raise ValueError("collate=True serves whole batches as dicts of arrays: iterate "
                             "the BlockShuffleBatch itself")
        decode = self._decode
        key_type = self.key_type

        def step(ld: Any) -> Any:
            r = ld.next()
            if r is None:
                return None
            mem, n, table_off, keys_off = r
            mv = memoryview(mem)
            table = np.frombuffer(mem, np.int64, 5 * n, table_off).reshape(n, 5)
            spans = table[:, :2].tolist()
            if decode is None:
                items = [mv[o:o + ln] for o, ln in spans]
            else:
                items = [decode(mv[o:o + ln]) for o, ln in spans]
            if not with_keys:
                return items
            return list(zip(_keys(mv, keys_off, table[:, 4].tolist(), key_type), items))
        return self._pass(step)

    def __iter__(self) -> Iterator[Any]:
        """Batches covering this rank's share of one epoch: lists of records (decoded
        objects for a Depot, memoryviews otherwise), or dicts of arrays with ``collate``."""
        if self.collate:
            return self._collated()
        return self._batches(False)

    def stream(self) -> Iterator[Any]:
        """Single records (decoded objects for a Depot, memoryviews otherwise), one epoch."""
        for batch in self._batches(False):
            yield from batch

    def keyed(self) -> Iterator[List[Tuple[Any, Any]]]:
        """Batches of (key, record) pairs, one epoch."""
        return self._batches(True)

    def __repr__(self) -> str:
        return (f"<BlockShuffleBatch read_size={self.read_size} batch_size={self.batch_size} "
                f"epoch={self.epoch} rank={self.rank}/{self.world}>")



def _keys(mv: memoryview, keys_off: int, ends: List[int], key_type: str) -> List[Any]:
    """The batch's keys from the key area of a raw batch (one bytes object; str keys are
    decoded in one go when they are all ASCII, the usual case)."""
    blob = bytes(mv[keys_off:keys_off + (ends[-1] if ends else 0)])
    starts = [0] + ends[:-1]
    if key_type == "str":
        try:
            text = blob.decode("ascii")
        except UnicodeDecodeError:
            pass
        else:
            return [text[a:b] for a, b in zip(starts, ends)]
    return [_decode_key(blob[a:b], key_type) for a, b in zip(starts, ends)]
