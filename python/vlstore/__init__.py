"""vlstore: variable-length records (molecular-dynamics frames) in one compressed, chunked,
crash-safe file, on the vlstore C library.

Modules, as in the original Python vlstore ("the seed"):

- ``vlstore.store``: ``SChunkStore`` (bytes under keys, in memory or in a file) and ``Depot``
  (objects through a codec).
- ``vlstore.serialize``: ``BackedAtomicData``, ``BackedAtomicDataCodec``,
  ``flatfloatndarray_codec``, ``Codec``.
- ``vlstore.loader``: ``BlockShuffleBatch``, the block-shuffled batch loader.
- ``vlstore.torch``: ``FrameDataset``, a PyTorch ``IterableDataset`` (needs torch).
- ``vlstore.hash``: ``byte_hash``.

Errors from the C library are the exceptions of ``vlstore._errors`` (re-exported here), each
also a ``KeyError``, ``ValueError`` or ``OSError`` as appropriate.
"""
from ._errors import (  # noqa: F401
    ClosedError,
    CorruptError,
    Error,
    ExistsError,
    FailedError,
    InvalidArgumentError,
    LockedError,
    NotFoundError,
    ReadOnlyError,
    StoreIOError,
)
from . import _core

_core._set_errors(
    CorruptError,
    LockedError,
    NotFoundError,
    ExistsError,
    ReadOnlyError,
    InvalidArgumentError,
    StoreIOError,
    FailedError,
    ClosedError,
)

from .store import Depot, SChunkStore  # noqa: E402,F401

__version__ = _core.VERSION
C_VERSION = _core.VERSION
