"""Codecs: objects to bytes and back.

``BackedAtomicData`` is one MD frame stored as a FlatBuffer of ``schema/fbsites.fbs`` (the
seed's record format; docs/FRAME.md). It is *backed* by the record's bytes: ``pos``,
``forces``, ``masses`` ... are numpy arrays that view the record memory, never copies.
Records are built by the C encoder (``vls_frame_encode``) and read through the C verifier
(``vls_frame_view``), so a damaged or foreign record raises ``CorruptError`` instead of giving
wrong arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Optional, TypeVar

import numpy as np

from . import _core

_T = TypeVar("_T")

_F32 = np.dtype("<f4")
_I32 = np.dtype("<i4")
_U8 = np.dtype("u1")

# _core.frame_view offsets tuple order
_TYPES, _MASSES, _POSITIONS, _FORCES, _CELL, _PBC, _CHARGES, _STRESS = range(8)
_OPTIONAL_ARRAYS = (("forces", _FORCES), ("cell", _CELL), ("pbc", _PBC), ("charges", _CHARGES),
                    ("stress", _STRESS))
# frame format v2: _core.frame_extras offsets of the float64 twins, by the float32 field's index
_F64 = np.dtype("<f8")
_TWIN = {_POSITIONS: 0, _FORCES: 1, _CELL: 2, _STRESS: 3, _MASSES: 4, _CHARGES: 5}


@dataclass(frozen=True)
class Codec(Generic[_T]):
    """Encode an object to bytes (``pack(obj, *, out=None)``) and back (``unpack(buffer)``)."""

    pack: Callable[..., Any]
    unpack: Callable[[Any], _T]


def _bytewise(data: Any) -> memoryview:
    mv = memoryview(data)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv


class BackedAtomicData:
    """One frame of particle data, backed by its FlatBuffer record.

    Build one with ``from_values(...)``; get one back from a store with
    ``BackedAtomicDataCodec.unpack(buffer)`` (what ``Depot.get`` does) or
    ``BackedAtomicData(buffer)``. The array properties are numpy views of ``raw``: zero-copy,
    read-only when the record is ``bytes``, writable (and then writing changes the record)
    when it is a ``bytearray``.

    Attributes: ``raw`` (memoryview of the record), ``name`` (str), ``n_sites``, ``ncodim``,
    ``masses`` (float32, n_sites), ``atom_types`` (int32, n_sites), ``pos`` and ``forces``
    (float32, (n_sites, ncodim); ``forces`` None when absent), and the optional fields of the
    C frame: ``energy`` (float or None), ``cell`` (float32 (3, 3) or None), ``pbc`` (uint8 (3,)
    or None), ``charges`` (float32 (n_sites,) or None), ``stress`` (float32 (3, 3) or None).
    """

    __slots__ = ("raw", "_name", "_nsites", "_ncodim", "_energy", "_offs", "_views", "_x",
                 "__weakref__")

    def __init__(self, raw: Any) -> None:
        mv = _bytewise(raw)
        name, nsites, ncodim, energy, offs = _core.frame_view(mv)
        self.raw = mv
        self._name = name
        self._nsites = nsites
        self._ncodim = ncodim
        self._energy = energy
        self._offs = offs
        self._views: list = [None] * 8  # each array is built on first use, then kept
        self._x = None  # frame v2 extras (float64 twins, properties), read on first use

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def from_buffer(cls, data: Any) -> "BackedAtomicData":
        """View a record (bytes, bytearray, memoryview ...): verified, not copied."""
        return cls(data)

    @classmethod
    def from_values(
        cls,
        name: Any = None,
        masses: Any = None,
        atom_types: Any = None,
        nsites: Optional[int] = None,
        positions: Any = None,
        forces: Any = None,
        *,
        types: Any = None,
        energy: Optional[float] = None,
        cell: Any = None,
        pbc: Any = None,
        charges: Any = None,
        stress: Any = None,
        check: bool = True,
        builder: Any = None,
        precision: int = 32,
        properties: Optional[dict] = None,
        atom_properties: Optional[dict] = None,
    ) -> "BackedAtomicData":
        """Encode a frame (one pass, one memcpy per array, in C) and return it.

        ``positions`` (and ``forces``) are (nsites, ncodim) arrays, or flat arrays of
        nsites*ncodim values; they are converted to float32, ``masses`` to float32 and
        ``atom_types`` (alias ``types``) to int32 (values must fit). ``nsites`` defaults to
        ``len(positions)``. Optional: ``forces``, ``energy``, ``cell`` (3x3), ``pbc`` (3
        booleans), ``charges`` (nsites), ``stress`` (3x3). ``check`` and ``builder`` are the
        seed's keywords; shapes are always checked and no builder is needed.
        ``precision=64`` stores masses, positions, forces, cell, charges and stress as float64
        (no narrowing); ``properties`` (per frame, like atoms.info) and ``atom_properties``
        (per atom, like atoms.arrays) are dicts stored with their dtype and shape (frame format
        v2, docs/FRAME.md).
        """
        if precision not in (32, 64):
            raise ValueError("precision must be 32 or 64")
        real_dtype = _F32 if precision == 32 else _F64
        if atom_types is None:
            atom_types = types
        elif types is not None:
            raise TypeError("give atom_types or types, not both")
        if positions is None:
            raise ValueError("positions are required")
        pos = np.ascontiguousarray(positions, dtype=real_dtype)
        if nsites is None:
            if pos.ndim != 2:
                raise ValueError("positions must be (nsites, ncodim) when nsites is not given")
            nsites = pos.shape[0]
        nsites = int(nsites)
        if nsites < 0:
            raise ValueError("nsites must be >= 0")
        if pos.ndim == 2:
            if pos.shape[0] != nsites:
                raise ValueError("Positions have the wrong number of entries; "
                                 f"Expected {nsites}, found {pos.shape[0]}.")
            ncodim = pos.shape[1]
        elif pos.ndim == 1 and nsites > 0 and pos.size % nsites == 0:
            ncodim = pos.size // nsites
        elif pos.ndim == 1 and nsites == 0 and pos.size == 0:
            ncodim = 3
        else:
            raise ValueError(f"positions of shape {pos.shape} do not fit nsites={nsites}")
        if ncodim < 1:
            raise ValueError("positions need at least one coordinate per site")
        f = None
        if forces is not None:
            f = np.ascontiguousarray(forces, dtype=real_dtype)
            if f.size != nsites * ncodim or (f.ndim == 2 and f.shape != (nsites, ncodim)) \
                    or f.ndim > 2:
                raise ValueError(f"forces of shape {f.shape} do not match positions "
                                 f"({nsites}, {ncodim})")
        if atom_types is None or masses is None:
            if nsites > 0:
                raise ValueError("atom_types and masses are required")
        t = None if atom_types is None else _int32_array(atom_types, "atom_types", nsites)
        m = None if masses is None else _f32_array(masses, "masses", nsites, real_dtype)
        c = None if cell is None else _f32_array(cell, "cell", 9, real_dtype)
        s = None if stress is None else _f32_array(stress, "stress", 9, real_dtype)
        q = None if charges is None else _f32_array(charges, "charges", nsites, real_dtype)
        p = None
        if pbc is not None:
            p = np.ascontiguousarray(np.asarray(pbc).reshape(-1) != 0, dtype=_U8)
            if p.size != 3:
                raise ValueError(f"pbc needs 3 values, got {p.size}")
        if name is None:
            nm = None
        elif isinstance(name, str):
            nm = name.encode("utf-8", "surrogateescape")
        else:
            nm = bytes(name)
        e = None if energy is None else float(energy)
        if precision == 32 and not properties and not atom_properties:
            return cls(_core.frame_encode(nsites, ncodim, nm, t, m, pos, f, e, c, p, q, s))
        from . import _props

        sfx = "" if precision == 32 else "64"
        arrays = {"types": t, "masses" + sfx: m, "positions" + sfx: pos, "forces" + sfx: f,
                  "cell" + sfx: c, "pbc": p, "charges" + sfx: q, "stress" + sfx: s}
        arrays = {k: v for k, v in arrays.items() if v is not None}
        return cls(_core.frame_encode_ex(nsites, ncodim, nm, arrays, e,
                                         _props.encode(properties or {}, None),
                                         _props.encode(atom_properties or {}, nsites)))

    # ---- scalar fields -------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The frame's name (UTF-8; undecodable bytes kept as surrogate escapes)."""
        return self._name.decode("utf-8", "surrogateescape")

    @property
    def name_bytes(self) -> bytes:
        return self._name

    @property
    def n_sites(self) -> int:
        return self._nsites

    nsites = n_sites

    @property
    def ncodim(self) -> int:
        return self._ncodim

    @property
    def energy(self) -> Optional[float]:
        return self._energy

    @property
    def nbytes(self) -> int:
        return self.raw.nbytes

    # ---- arrays (views of raw) ---------------------------------------------------------
    def _array(self, which: int, dtype: np.dtype, count: int) -> Optional[np.ndarray]:
        a = self._views[which]
        if a is None:
            off = self._offs[which]
            if off < 0:
                if dtype is not _F32 or which not in _TWIN:
                    return None
                off = self._extras()[0][_TWIN[which]]  # a float64 frame: its float64 array
                if off < 0:
                    return None
                dtype = _F64
            a = self._views[which] = np.frombuffer(self.raw, dtype=dtype, count=count,
                                                   offset=off)
        return a

    def _extras(self) -> tuple:
        if self._x is None:
            self._x = _core.frame_extras(self.raw)
        return self._x

    @property
    def precision(self) -> int:
        """64 when the frame stores float64 positions (and other real arrays), else 32."""
        return 64 if self._offs[_POSITIONS] < 0 and self._extras()[0][0] >= 0 else 32

    def _props(self, per_atom: int) -> dict:
        from . import _props

        return _props.decode(self.raw, self._extras()[1 + per_atom])

    @property
    def properties(self) -> dict:
        """The per-frame properties (ASE's atoms.info): name -> value. Numeric and bool arrays
        are read-only numpy views of the record (zero-copy); scalars are Python numbers; strings
        are str (arrays of them numpy str arrays); JSON properties are decoded."""
        return self._props(0)

    @property
    def atom_properties(self) -> dict:
        """The per-atom properties (ASE's atoms.arrays): name -> numpy array of n_sites rows
        (views of the record; strings copied)."""
        return self._props(1)

    @property
    def masses(self) -> np.ndarray:
        """float32 (n_sites,); float64 in a float64 frame (so are pos, forces, cell, charges,
        stress: whatever precision the writer gave)."""
        a = self._array(_MASSES, _F32, self._nsites)
        return a if a is not None else np.empty(0, _F32)

    @property
    def atom_types(self) -> np.ndarray:
        """int32 (n_sites,)."""
        a = self._array(_TYPES, _I32, self._nsites)
        return a if a is not None else np.empty(0, _I32)

    types = atom_types

    @property
    def pos(self) -> np.ndarray:
        """float32 (n_sites, ncodim)."""
        a = self._array(_POSITIONS, _F32, self._nsites * self._ncodim)
        if a is None:
            a = np.empty(0, _F32)
        return a.reshape(self._nsites, self._ncodim)

    positions = pos

    @property
    def forces(self) -> Optional[np.ndarray]:
        """float32 (n_sites, ncodim), or None when the frame has no forces."""
        a = self._array(_FORCES, _F32, self._nsites * self._ncodim)
        return None if a is None else a.reshape(self._nsites, self._ncodim)

    @property
    def cell(self) -> Optional[np.ndarray]:
        """float32 (3, 3), rows are the lattice vectors; None when absent."""
        a = self._array(_CELL, _F32, 9)
        return None if a is None else a.reshape(3, 3)

    @property
    def pbc(self) -> Optional[np.ndarray]:
        """uint8 (3,), nonzero = periodic; None when absent."""
        return self._array(_PBC, _U8, 3)

    @property
    def charges(self) -> Optional[np.ndarray]:
        """float32 (n_sites,), or None."""
        return self._array(_CHARGES, _F32, self._nsites)

    @property
    def stress(self) -> Optional[np.ndarray]:
        """float32 (3, 3), or None."""
        a = self._array(_STRESS, _F32, 9)
        return None if a is None else a.reshape(3, 3)

    def present_arrays(self) -> tuple:
        """Names of the optional arrays this frame has (of forces, cell, pbc, charges,
        stress), known from the verified view without building any array."""
        offs = self._offs
        return tuple(name for name, i in _OPTIONAL_ARRAYS if offs[i] >= 0)

    # ---- conveniences --------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The present fields (arrays are still views; float32 or float64 as stored)."""
        d = {"name": self.name, "n_sites": self.n_sites, "masses": self.masses,
             "atom_types": self.atom_types, "pos": self.pos}
        for k in ("forces", "energy", "cell", "pbc", "charges", "stress"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        return d

    def tobytes(self) -> bytes:
        return self.raw.tobytes()

    def copy(self) -> "BackedAtomicData":
        """A frame backed by its own copy of the record (independent of the loader/buffer)."""
        return type(self)(bytearray(self.raw))

    def __reduce__(self) -> Any:
        return (type(self), (self.raw.tobytes(),))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BackedAtomicData):
            return NotImplemented
        return self.raw == other.raw

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        extra = [k for k in ("forces", "energy", "cell", "pbc", "charges", "stress")
                 if getattr(self, k) is not None]
        return (f"<BackedAtomicData {self.name!r} n_sites={self.n_sites} "
                f"ncodim={self.ncodim} {'+'.join(extra) or 'no optional fields'}, "
                f"{self.nbytes} bytes>")


def _f32_array(x: Any, what: str, n: int, dtype: np.dtype = _F32) -> np.ndarray:
    a = np.ascontiguousarray(x, dtype=dtype).reshape(-1)
    if a.size != n:
        raise ValueError(f"{what} needs {n} values, got {a.size}")
    return a


def _int32_array(x: Any, what: str, n: int) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iub" and a.size:
        raise ValueError(f"{what} must be integers, not {a.dtype}")
    a = a.reshape(-1)
    if a.size != n:
        raise ValueError(f"{what} needs {n} values, got {a.size}")
    if a.dtype != _I32:
        if a.size and (a.min() < -(2**31) or a.max() >= 2**31):
            raise ValueError(f"{what} values do not fit in int32")
        a = a.astype(_I32)
    return np.ascontiguousarray(a)


def create_fbframe_buffer(name: Any, atom_types: Any, masses: Any, nsites: int,
                          positions: Any, forces: Any = None, builder: Any = None,
                          check: bool = True, **optional: Any) -> bytes:
    """The seed's function: the encoded record of a frame (see BackedAtomicData.from_values)."""
    return BackedAtomicData.from_values(name=name, masses=masses, atom_types=atom_types,
                                        nsites=nsites, positions=positions, forces=forces,
                                        **optional).raw.tobytes()


def _pack_backed_atomic_data(target: BackedAtomicData, *, out: Any = None) -> Any:
    data = target.raw
    if out is None:
        return data.toreadonly()
    view = _bytewise(out)
    view[: len(data)] = data
    return out


def _unpack_backed_atomic_data(data: Any) -> BackedAtomicData:
    return BackedAtomicData(data)


BackedAtomicDataCodec: Codec[BackedAtomicData] = Codec(
    pack=_pack_backed_atomic_data, unpack=_unpack_backed_atomic_data
)


def _pack_f32(x: np.ndarray, *, out: Any = None) -> Any:
    if not isinstance(x, np.ndarray):
        raise ValueError("Only numpy arrays may be serialized.")
    if not x.flags["C_CONTIGUOUS"]:
        raise ValueError("Only C-contiguous arrays may be serialized.")
    if x.dtype != np.dtype("float32"):
        raise ValueError("Data must be float32.")
    data = _bytewise(x)
    if out is None:
        return data
    view = _bytewise(out)
    view[:] = data
    return view


def _unpack_f32(data: Any) -> np.ndarray:
    return np.frombuffer(_bytewise(data), dtype=np.dtype("float32"))


flatfloatndarray_codec: Codec[np.ndarray] = Codec(pack=_pack_f32, unpack=_unpack_f32)
