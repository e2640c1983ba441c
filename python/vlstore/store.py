"""Stores of variable-length records: ``SChunkStore`` (bytes) and ``Depot`` (objects).

``SChunkStore`` keeps the seed's name and methods; underneath is one vlstore file (or an
in-memory store) opened through the C library, so every read and write runs in C with the GIL
released, and the file is crash-safe, checksummed and appendable.

Keys
----
A key is a ``str`` (stored as its UTF-8 bytes), ``bytes`` (as is), or a non-negative ``int``
below 2**64 (stored as 8 big-endian bytes, the C library's ``vls_put_u64`` form, so integer
keys list in numeric order and match C and CLI users). Lookups accept any of the three kinds
whatever the store holds. The stored bytes do not record which kind a key was, so iteration
(``__iter__``, ``keys()``) returns keys as ``key_type`` says: ``"str"`` (default; keys that
are not valid UTF-8 come back as ``bytes``), ``"bytes"``, or ``"int"`` (8-byte keys as
``int``, others as ``bytes``).
"""
from __future__ import annotations

import os
import weakref
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Literal, Optional, Tuple, Union

from . import _core
from ._errors import ClosedError, ExistsError

DEFAULT_CHUNK_SIZE = int(2**22)
MIN_CHUNK_SIZE = 4096

NOCROSS_ALIGNMENT = "no_cross"
CONTIGUOUS_ALIGNMENT = "contiguous"
START_ALIGNMENT = "start"
#: The alignment names (the seed's type alias; "nocross" is accepted too).
TYPE_ALIGNMENT = Literal["no_cross", "contiguous", "start"]
_PLACEMENTS = {"no_cross": 0, "nocross": 0, "contiguous": 1, "start": 2}
_PLACEMENT_NAMES = {"nocross": NOCROSS_ALIGNMENT, "contiguous": CONTIGUOUS_ALIGNMENT,
                    "start": START_ALIGNMENT}
_SHUFFLES = {"none": 0, "byte": 1, "bit": 2, False: 0, True: 1, 0: 0, 1: 1, 2: 2}
_KEY_TYPES = ("str", "bytes", "int")
_ITER_BATCH = 8192

TYPE_KEY = Union[int, str, bytes]

_GET_METHODS = ("slice", "chunk")


@dataclass(frozen=True)
class Location:
    """Where a record lies, in the seed's terms: blocks are the store's chunks
    (``block_size`` = chunk size), and a record runs from block ``start_block`` at
    ``start_offset`` to just before block ``end_block`` at ``end_offset`` (0 or negative:
    counted back from that block's start). Records are read by key, so a ``Location`` is
    information only (what ``lookup`` and ``get(..., return_location=True)`` report)."""

    start_block: int
    end_block: int
    block_size: int
    start_offset: int = 0
    end_offset: int = 0

    @classmethod
    def from_start_end(cls, start: int, end: int, block_size: int) -> "Location":
        """The Location of the bytes [start, end) of the block address space."""
        first, head = divmod(start, block_size)
        last, tail = divmod(end, block_size)
        return cls(first, last + 1 if tail else last, block_size, head,
                   tail - block_size if tail else 0)

    @property
    def start(self) -> int:
        return self.start_block * self.block_size + self.start_offset

    @property
    def end(self) -> int:
        return self.end_block * self.block_size + self.end_offset

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def n_blocks(self) -> int:
        return self.end_block - self.start_block

    def __len__(self) -> int:
        return self.length


class _Lookup(Mapping):
    """``SChunkStore.lookup``: a read-only mapping of the store's keys (``in``, ``len``,
    iteration in storage order) to their ``Location``. Locations are gathered in one pass
    over the index the first time one is asked for, again after the store changes. A record
    still in a writer's uncommitted chunk has no block yet: its Location is None."""

    def __init__(self, store: "SChunkStore") -> None:
        self._store = store
        self._locs: Optional[Dict[bytes, Optional[Location]]] = None
        self._at = -1

    def _table(self) -> Dict[bytes, Optional[Location]]:
        st = self._store
        if self._locs is None or self._at != st._changes:
            h, cs, pos = st.handle, st.chunksize, 0
            locs: Dict[bytes, Optional[Location]] = {}
            while True:
                pos, ents = h.iter_keys(pos, _ITER_BATCH, True)
                if not ents:
                    break
                for k, n, chunk, off in ents:
                    start = chunk * cs + off
                    locs[k] = None if chunk < 0 else Location.from_start_end(start, start + n, cs)
            self._locs, self._at = locs, st._changes
        return self._locs

    def __getitem__(self, key: TYPE_KEY) -> Optional[Location]:
        try:
            return self._table()[encode_key(key)]
        except (KeyError, TypeError, ValueError):
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        return key in self._store

    def __len__(self) -> int:
        return len(self._store)

    def __iter__(self) -> Iterator[TYPE_KEY]:
        return iter(self._store)


def _decode_key(k: bytes, key_type: str) -> TYPE_KEY:
    if key_type == "str":
        try:
            return k.decode("utf-8")
        except UnicodeDecodeError:
            return k
    if key_type == "int":
        return int.from_bytes(k, "big") if len(k) == 8 else k
    return k


def encode_key(key: TYPE_KEY) -> bytes:
    """The bytes a key is stored as (str: UTF-8; int: 8 bytes big-endian; bytes: as is)."""
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, bytes):
        return key
    k = int(key)
    if not 0 <= k < 2**64:
        raise ValueError("integer keys must be in 0 .. 2**64-1")
    return k.to_bytes(8, "big")


class SChunkStore:
    """Bytes under keys, in one compressed chunked file or in memory.

    Arguments
    ---------
    location:
        A path, or None for an in-memory store (vanishes when closed).
    alignment:
        Where records go relative to chunk boundaries: ``"no_cross"`` (default: a record that
        fits in a chunk never straddles two), ``"contiguous"`` (back to back) or ``"start"``
        (each record starts a chunk). Only used when the file is created.
    start_aligned:
        The seed's older keyword: True means ``"start"``, False ``"no_cross"``.
    mode:
        None (the seed's behaviour): an existing file opens read-only, a missing one is
        created. ``"r"`` read-only; ``"a"`` read-write, created if missing (appends to an
        existing store); ``"w"`` read-write, emptied; ``"x"`` created, fails if it exists.
        A read-write file is locked: a second writer gets ``LockedError``; readers never wait.
    chunksize, codec, level, shuffle, typesize, blocksize:
        Per-file settings, used when the file is created (an existing file keeps its own):
        chunk size in bytes (default 4 MiB; 4 KiB .. 1 GiB, smaller values are raised to
        4 KiB; the block size follows a chunk size below it), Blosc codec name (``"lz4"`` default,
        ``"blosclz"``, ``"lz4hc"``, ``"zlib"``, ``"zstd"``, ``"none"``), level 0-9 (default 9),
        shuffle (``"byte"`` default, ``"bit"``, ``"none"``), shuffle element size (default 4),
        Blosc block size, what one random get decodes (default 512 KiB; 0 lets Blosc choose).
    random_access:
        Start from the C library's random-access defaults (64 KiB blocks: faster single gets,
        less compression).
    threads:
        Threads that decode the chunks of one fused_get (default 1).
    cache_size:
        Bytes of decoded chunks kept in an LRU (default 64 MiB; 0 disables).
    write_behind:
        Compress each full chunk on a background C thread while the next fills (default
        True); False compresses on the calling thread. The file is the same either way.
    verify_reads:
        Check every record's XXH3-64 on every read.
    sync:
        False skips fsync at commit (fast; a power loss may lose recent commits).
    mmap:
        False reads with pread instead of mapping the file.
    key_type:
        How iteration returns keys: ``"str"`` (default), ``"bytes"`` or ``"int"``.
    """

    def __init__(
        self,
        location: Union[None, str, os.PathLike] = None,
        alignment: Optional[str] = None,
        *,
        chunksize: Optional[int] = None,
        start_aligned: Optional[bool] = None,
        mode: Optional[str] = None,
        codec: Optional[str] = None,
        level: Optional[int] = None,
        shuffle: Union[None, str, bool, int] = None,
        typesize: Optional[int] = None,
        blocksize: Optional[int] = None,
        random_access: bool = False,
        threads: Optional[int] = None,
        cache_size: Optional[int] = None,
        write_behind: Optional[bool] = None,
        verify_reads: bool = False,
        sync: bool = True,
        mmap: bool = True,
        key_type: str = "str",
    ) -> None:
        self._h = None
        self._loaders: "weakref.WeakSet" = weakref.WeakSet()
        self._changes = 0  # puts, deletes and refreshes so far (for lookup's cache)
        self.lookup = _Lookup(self)
        if start_aligned is not None:
            implied = START_ALIGNMENT if start_aligned else NOCROSS_ALIGNMENT
            if alignment is not None and _PLACEMENTS.get(alignment) != _PLACEMENTS[implied]:
                raise ValueError(f"start_aligned={start_aligned!r} contradicts "
                                 f"alignment={alignment!r}")
            alignment = implied
        if alignment is not None and alignment not in _PLACEMENTS:
            raise ValueError(f"Invalid allocation alignment strategy: {alignment!r} "
                             f"(use 'no_cross', 'contiguous' or 'start')")
        if key_type not in _KEY_TYPES:
            raise ValueError(f"key_type must be one of {_KEY_TYPES}, not {key_type!r}")
        self.key_type = key_type

        opts: dict = {}
        if chunksize is not None:
            # The format's chunks are 4 KiB .. 1 GiB; the seed accepted any size, so smaller
            # requests get the smallest chunk (records may span chunks anyway).
            opts["chunk_size"] = max(MIN_CHUNK_SIZE, _nonneg("chunksize", chunksize))
            # (the C library caps the block at the chunk size itself)
        if alignment is not None:
            opts["placement"] = _PLACEMENTS[alignment]
        if codec is not None:
            c = _core.codec_from_name(str(codec).lower())
            if c < 0:
                raise ValueError(f"unknown codec {codec!r} "
                                 "(blosclz, lz4, lz4hc, zlib, zstd or none)")
            opts["codec"] = c
        if level is not None:
            opts["level"] = _nonneg("level", level)
        if shuffle is not None:
            key = shuffle.lower() if isinstance(shuffle, str) else shuffle
            if key not in _SHUFFLES:
                raise ValueError(f"shuffle must be 'none', 'byte' or 'bit', not {shuffle!r}")
            opts["shuffle"] = _SHUFFLES[key]
        if typesize is not None:
            opts["typesize"] = _nonneg("typesize", typesize)
        if blocksize is not None:
            opts["block_size"] = _nonneg("blocksize", blocksize)
        if threads is not None:
            opts["threads"] = _nonneg("threads", threads)
        if cache_size is not None:
            opts["cache_bytes"] = _nonneg("cache_size", cache_size)
        if write_behind is not None:
            opts["write_behind"] = 1 if write_behind else 0
        if random_access:
            opts["random_access"] = True

        flags = 0
        if verify_reads:
            flags |= _core.VERIFY_READS
        if not sync:
            flags |= _core.NOSYNC
        if not mmap:
            flags |= _core.NOMMAP

        if location is None:
            if mode == "r":
                raise ValueError("an in-memory store (location=None) cannot be read-only")
            path = None
        else:
            path = os.fspath(location)
            if os.path.isdir(path):
                raise ValueError("Please specify a (possible) file, not an existing directory.")
            if mode is None:
                mode = "r" if os.path.exists(path) else "a"
            if mode == "r":
                pass
            elif mode == "a":
                flags |= _core.CREATE
            elif mode == "w":
                flags |= _core.CREATE | _core.TRUNCATE
            elif mode == "x":
                flags |= _core.CREATE | _core.EXCL
            else:
                raise ValueError(f"mode must be None, 'r', 'a', 'w' or 'x', not {mode!r}")
        self._h = _core.Store(path, flags, **opts)
        self.location = path

    # ---- properties ----------------------------------------------------------------------
    @property
    def handle(self) -> "_core.Store":
        """The open C handle (``vlstore._core.Store``); raises ClosedError once closed."""
        h = self._h
        if h is None or h.closed:
            raise ClosedError("the store is closed")
        return h

    @property
    def closed(self) -> bool:
        return self._h is None or self._h.closed

    @property
    def read_only(self) -> bool:
        return not self.handle.writable

    @property
    def settings(self) -> dict:
        """The file's settings and this handle's (chunk_size, codec, level, ...)."""
        return self.handle.stat()["options"]

    @property
    def chunksize(self) -> int:
        return self.settings["chunk_size"]

    @property
    def typesize(self) -> int:
        return self.settings["typesize"]

    @property
    def alignment(self) -> str:
        return _PLACEMENT_NAMES[self.settings["placement"]]

    @property
    def cratio(self) -> float:
        """Record bytes over file bytes (as of the last commit), like blosc2's cratio."""
        st = self.handle.stat()
        return st["logical_bytes"] / st["file_bytes"] if st["file_bytes"] else 0.0

    def stat(self) -> dict:
        """records, logical_bytes, dead_bytes, file_bytes, chunks, commits, options, ..."""
        return self.handle.stat()

    # ---- writing -------------------------------------------------------------------------
    @property
    def metadata(self) -> "Metadata":
        """The store's metadata: a small dict-like document kept in the file beside the
        records (units, level of theory, source, reference energies...). Keys are str;
        values are str (or bytes, returned as bytes when they are not UTF-8). Changes are
        written by the next ``commit()``, atomically with the records; ``vlstore meta``
        shows and sets the same document."""
        return Metadata(self)

    def _before_change(self) -> None:
        if self._loaders:
            for ld in list(self._loaders):
                ld._release()

    def put(self, key: TYPE_KEY, value: Any, overwrite: bool = True, check: bool = True) -> None:
        """Store the bytes of ``value`` (any contiguous buffer) under ``key``.

        With ``overwrite=False`` an existing key raises ``ExistsError`` (a ``ValueError``, as
        in the seed). ``check`` is accepted for the seed's signature; sizes are always exact.
        """
        h = self.handle
        if self._loaders:
            self._before_change()
        self._changes += 1
        try:
            h.put(key, value, 0 if overwrite else _core.NOREPLACE)
        except ExistsError as e:
            raise ExistsError(f"Entry already exists for {key!r}.") from e

    def __setitem__(self, key: TYPE_KEY, value: Any) -> None:
        self.put(key, value, overwrite=True)

    def __delitem__(self, key: TYPE_KEY) -> None:
        """Remove the record (its bytes stay in the file until compact())."""
        h = self.handle
        if self._loaders:
            self._before_change()
        self._changes += 1
        h.delete(key)

    def disown(self, key: TYPE_KEY, zero: bool = False) -> None:
        """The seed's name for deleting; ``zero`` is accepted and ignored (records are never
        overwritten in place; ``compact()`` reclaims the space)."""
        self.__delitem__(key)

    def commit(self) -> None:
        """Make every put and delete so far durable (survives a killed process and a power
        loss). No-op on read-only stores."""
        self.handle.commit()

    flush = commit

    def rollback(self) -> None:
        """Drop every put and delete since the last commit (like LMDB's ``txn.abort()``): the
        file is cut back to that commit. After a failed write (disk full) this is how the
        store takes writes again. Read-only stores raise."""
        self.handle.rollback()

    def close(self) -> None:
        """Commit (unless read-only), release the writer lock and free the handle.
        Closing twice is harmless; other methods then raise ``ClosedError``."""
        if self._h is None:
            return
        if self._loaders:
            for ld in list(self._loaders):
                ld.close()
        self._h.close()

    def refresh(self) -> None:
        """Read-only handle on a file another process appends to: see its newest commit."""
        self._changes += 1
        self.handle.refresh()

    # ---- reading -------------------------------------------------------------------------
    def get(self, key: TYPE_KEY, out: Any = None, *, return_location: bool = False,
            method: str = "slice") -> Any:
        """The record under ``key`` as ``bytes``; with ``out`` (a writable contiguous buffer:
        bytearray, numpy array, memoryview ...) the record is read into it and ``out`` is
        returned (a memoryview of its first bytes when ``out`` is longer than the record).
        Raises ``NotFoundError`` (a ``KeyError``) for a missing key. ``return_location=True``
        returns the record's ``Location`` instead of reading it (as the seed did). ``method``
        is the seed's, ``"slice"`` or ``"chunk"`` (anything else raises ``ValueError``); both
        read the same way: the C library picks the cheapest read."""
        if method not in _GET_METHODS:
            raise ValueError(f"method must be 'slice' or 'chunk', not {method!r}")
        h = self.handle
        if return_location:
            if not h.contains(key):
                h.get(key)  # raises NotFoundError naming the key
            return self.lookup[key]
        if out is None:
            return h.get(key)
        n = h.get(key, out)
        mv = memoryview(out)
        if mv.nbytes == n:
            return out
        return mv.cast("B")[:n]

    def __getitem__(self, key: TYPE_KEY) -> bytes:
        return self.handle.get(key)

    def size(self, key: TYPE_KEY) -> int:
        """Length of the record under ``key``, without reading it."""
        return self.handle.size(key)

    def __contains__(self, key: object) -> bool:
        try:
            return self.handle.contains(key)
        except (TypeError, ValueError):
            if self.closed:
                raise
            return False

    def __len__(self) -> int:
        return self.handle.count()

    def _raw_keys(self) -> Iterator[bytes]:
        h = self.handle
        pos = 0
        while True:
            pos, ks = h.iter_keys(pos, _ITER_BATCH)
            if not ks:
                return
            yield from ks

    def __iter__(self) -> Iterator[TYPE_KEY]:
        """Keys in storage order, decoded as ``key_type`` says."""
        kt = self.key_type
        if kt == "bytes":
            return self._raw_keys()
        return (_decode_key(k, kt) for k in self._raw_keys())

    def keys(self) -> List[TYPE_KEY]:
        """All keys, in storage order (a list)."""
        return list(self)

    def items(self) -> Iterator[Tuple[TYPE_KEY, bytes]]:
        """(key, record bytes) pairs in storage order."""
        h = self.handle
        for k in self._raw_keys():
            yield _decode_key(k, self.key_type), h.get(k)

    def fused_size(self, keys: Iterable[TYPE_KEY], *, presorted: bool = False) -> int:
        """Bytes a fused_get of ``keys`` needs (the sum of the records' lengths)."""
        return self.handle.get_many_size(_as_list(keys))

    def fused_get(
        self, keys: Iterable[TYPE_KEY], *, presorted: bool = False, out: Any = None
    ) -> Tuple[Any, List[slice]]:
        """Read several records in one call: each chunk involved is decompressed once.

        Returns ``(buffer, slices)``: the records back to back in request order in a new
        ``bytearray`` (or in ``out``, a writable buffer of at least ``fused_size(keys)``
        bytes), and ``slices[i]`` the place of record ``i`` in it. ``presorted`` is accepted
        for the seed's signature and not needed (any order is read efficiently). A missing key
        raises ``NotFoundError`` naming the first one."""
        buf, spans = self.handle.get_many(_as_list(keys), out)
        return buf, [slice(o, o + n) for o, n in spans]

    def get_many(self, keys: Iterable[TYPE_KEY]) -> List[memoryview]:
        """fused_get, returned as one memoryview per record (views of one bytearray)."""
        buf, spans = self.handle.get_many(_as_list(keys))
        mv = memoryview(buf)
        return [mv[o:o + n] for o, n in spans]

    # ---- maintenance -----------------------------------------------------------------------
    def verify(self, strict: bool = False) -> List[str]:
        """Read every chunk, the index and every record, checking all checksums. Returns the
        problems found, as sentences (an empty list when the store is sound). A crash is not
        damage: uncommitted bytes after the last commit (a killed writer) are no problem
        unless ``strict``; a damaged commit trailer or record always is."""
        _code, problems = self.handle.verify(strict)
        return [p for p in problems if not p.startswith("note: ")]

    def compact(self, out_path: Union[str, os.PathLike]) -> None:
        """Write the live records to a new store at ``out_path`` without dead space."""
        self.handle.compact(os.fspath(out_path))

    # ---- context manager -------------------------------------------------------------------
    def __enter__(self) -> "SChunkStore":
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, exc_tb: Any) -> bool:
        self.close()
        return False

    def __repr__(self) -> str:
        where = "memory" if self.location is None else repr(self.location)
        if self.closed:
            return f"<SChunkStore {where} (closed)>"
        mode = "read-only" if self.read_only else "read-write"
        return f"<SChunkStore {where} {mode}, {len(self)} records>"


def _nonneg(name: str, v: Any) -> int:
    v = int(v)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, not {v}")
    return v


def _as_list(keys: Iterable[TYPE_KEY]) -> Any:
    if isinstance(keys, (list, tuple)):
        return keys
    if isinstance(keys, (str, bytes)):
        raise TypeError("keys must be an iterable of keys, not a single key")
    return list(keys)


class Depot:
    """Objects under keys: a codec turns them into bytes for a ``SChunkStore``.

    ``backing`` is a ``SChunkStore``, a path (opened with the seed's rules: an existing file
    read-only, a missing one created), or None (a new in-memory store). ``codec`` has
    ``pack(obj) -> bytes-like`` and ``unpack(buffer) -> obj`` (see ``vlstore.serialize``).

    As a context manager, leaving the ``with`` block commits the backing, so the data is on
    disk (the seed's "flushed to disk after leaving the with block"), and a backing the Depot
    opened itself (from a path or None) is closed; a store passed in stays open, so the seed's
    pattern of several ``with Depot(codec, backing=store)`` blocks on one store works.
    ``close()`` closes the backing in every case.
    """

    def __init__(
        self,
        codec: Any,
        backing: Union[None, SChunkStore, str, os.PathLike] = None,
        initial_buffer_size: int = 0,
        recycle_buffer: bool = False,
    ) -> None:
        self._owns = False
        if backing is None:
            backing = SChunkStore()
            self._owns = True
        elif isinstance(backing, (str, os.PathLike)):
            backing = SChunkStore(location=backing)
            self._owns = True
        self.backing = backing
        self.codec = codec

    def put(self, key: TYPE_KEY, value: Any, overwrite: bool = True) -> None:
        """Serialize and store ``value``."""
        self.backing.put(key, self.codec.pack(value), overwrite=overwrite)

    def get(self, key: TYPE_KEY, **kwargs: Any) -> Any:
        """Retrieve and deserialize the object under ``key``."""
        return self.codec.unpack(self.backing.get(key, **kwargs))

    def fused_get(
        self,
        keys: Iterable[TYPE_KEY],
        *,
        presorted: bool = False,
        buffer: Any = None,
        out: Any = None,
    ) -> List[Any]:
        """Retrieve and deserialize several objects with one batched read, in request order.
        Objects whose codec makes views (BackedAtomicData) share one buffer."""
        if out is None:
            out = buffer
        buf, slices = self.backing.fused_get(keys, out=out)
        mv = memoryview(buf).cast("B") if out is not None else memoryview(buf)
        unpack = self.codec.unpack
        return [unpack(mv[s]) for s in slices]

    def keys(self) -> List[TYPE_KEY]:
        return self.backing.keys()

    def __iter__(self) -> Iterator[TYPE_KEY]:
        return iter(self.backing)

    def __len__(self) -> int:
        return len(self.backing)

    def __contains__(self, key: object) -> bool:
        return key in self.backing

    def __getitem__(self, key: TYPE_KEY) -> Any:
        return self.get(key)

    def __setitem__(self, key: TYPE_KEY, value: Any) -> None:
        self.put(key, value)

    def __delitem__(self, key: TYPE_KEY) -> None:
        del self.backing[key]

    def commit(self) -> None:
        self.backing.commit()

    def close(self) -> None:
        """Close the backing store (committing it)."""
        self.backing.close()

    def __enter__(self) -> "Depot":
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, exc_tb: Any) -> bool:
        if self._owns:
            self.backing.close()
        elif not self.backing.closed:
            self.backing.commit()
        return False

    def __repr__(self) -> str:
        return f"<Depot codec={self.codec!r} backing={self.backing!r}>"


class Metadata(MutableMapping):
    """``store.metadata``: see ``SChunkStore.metadata``. Reads see this handle's document
    (the committed one plus its uncommitted changes); a read-only store's is read-only."""

    def __init__(self, store: SChunkStore) -> None:
        self._store = store

    @staticmethod
    def _value(raw: bytes) -> Union[str, bytes]:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw

    def __getitem__(self, key: str) -> Union[str, bytes]:
        items = self._store.handle.meta_items()
        if key not in items:
            raise KeyError(key)
        return self._value(items[key])

    def __setitem__(self, key: str, value: Union[str, bytes]) -> None:
        if isinstance(value, str):
            raw = value.encode("utf-8")
        elif isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
        else:
            raise TypeError("metadata values are str or bytes (json.dumps() a structure), "
                            f"not {type(value).__name__}")
        if not isinstance(key, str):
            raise TypeError(f"metadata keys are str, not {type(key).__name__}")
        self._store.handle.meta_set(key, raw)

    def __delitem__(self, key: str) -> None:
        if not isinstance(key, str) or key not in self._store.handle.meta_items():
            raise KeyError(key)
        self._store.handle.meta_delete(key)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._store.handle.meta_items()))

    def __len__(self) -> int:
        return len(self._store.handle.meta_items())

    def __repr__(self) -> str:
        return f"Metadata({dict(self)!r})"
