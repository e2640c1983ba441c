"""Collated frame batches: a batch of frames as one dict of contiguous numpy arrays.

The arrays are built in C (``vls_frame_batch_collate``, include/vlstore_loader.h) straight from
the records, with no Python object per frame. Names follow PyTorch Geometric / fairchem:

==================  =========  ============  ==================================================
key                 dtype      shape         meaning
==================  =========  ============  ==================================================
``pos``             float32    (ΣN, 3)       positions, all frames' atoms back to back
``forces``          float32    (ΣN, 3)       forces; NaN rows where ``has_forces`` is False
``atomic_numbers``  int64      (ΣN,)         the frames' site types
``masses``          float32    (ΣN,)
``charges``         float32    (ΣN,)         NaN where ``has_charges`` is False
``batch``           int64      (ΣN,)         atom -> frame index
``natoms``          int64      (B,)          atoms per frame
``ptr``             int64      (B+1,)        frame i's atoms are ``ptr[i]:ptr[i+1]``
``energy``          float64    (B,)          NaN where ``has_energy`` is False
``cell``            float32    (B, 3, 3)     lattice vectors as rows; zeros where absent
``pbc``             bool       (B, 3)        False where absent
``stress``          float32    (B, 3, 3)     NaN where ``has_stress`` is False
``has_energy`` ...  bool       (B,)          per-frame presence: energy, forces, cell, pbc,
                                             stress, charges
``keys``            BatchKeys  B             the records' keys, decoded when accessed
==================  =========  ============  ==================================================

(3 is the frames' ``ncodim``; every frame of a batch must share it.) A field some frames lack
is never dropped for the whole batch: it is filled and masked.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, Sequence, Union

import numpy as np

from .store import _decode_key

#: Every key of a collated batch dict, in the C layout's order (``keys`` last).
BATCH_KEYS = ("pos", "forces", "atomic_numbers", "masses", "charges", "batch", "natoms", "ptr",
              "energy", "cell", "pbc", "stress", "has_energy", "has_forces", "has_cell",
              "has_pbc", "has_stress", "has_charges", "keys")


class BatchKeys:
    """The keys of a batch, in batch order: ``len``, indexing, slicing and iteration, each key
    decoded only when asked for (``str`` for a store of str keys, ``int`` for int keys, else
    ``bytes``). Holds one bytes object and the key offsets, so it is cheap to build, to keep
    and to pickle. Deliberately not a ``collections.abc.Sequence``: PyTorch's DataLoader
    rebuilds sequences element by element, which would decode every key of every batch."""

    __slots__ = ("_blob", "_ptr", "_key_type")

    def __init__(self, blob: bytes, ptr: Any, key_type: str = "bytes") -> None:
        self._blob = blob
        self._ptr = ptr.tolist() if isinstance(ptr, np.ndarray) else list(ptr)
        self._key_type = key_type

    def __len__(self) -> int:
        return len(self._ptr) - 1

    def raw(self, i: int) -> bytes:
        """Key i as stored (bytes)."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("batch key index out of range")
        return self._blob[self._ptr[i]:self._ptr[i + 1]]

    def __getitem__(self, i: Union[int, slice]) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return _decode_key(self.raw(i), self._key_type)

    def __iter__(self) -> Iterator[Any]:
        blob, p, kt = self._blob, self._ptr, self._key_type
        for j in range(len(p) - 1):
            yield _decode_key(blob[p[j]:p[j + 1]], kt)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BatchKeys):
            return list(self) == list(other)
        if isinstance(other, (list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"BatchKeys({list(self)!r})"


def batch_dict(mem: Any, layout: Sequence[tuple], key_type: str = "bytes",
               copy: bool = False) -> Dict[str, Any]:
    """The dict of a collated batch from ``_core`` (its memory and layout). Without ``copy``
    the arrays view ``mem`` (they keep it alive; the loader reuses a memory only when nothing
    references it any more); with ``copy`` each is an independent copy."""
    out: Dict[str, Any] = {}
    for name, dtype, offset, shape in layout:
        a = np.ndarray(shape, dtype, buffer=mem, offset=offset)
        out[name] = a.copy() if copy else a
    out["keys"] = BatchKeys(out["keys"].tobytes(), out.pop("key_ptr"), key_type)
    return out
