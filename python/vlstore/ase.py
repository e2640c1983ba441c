"""ASE Atoms <-> vlstore frames (needs python3-ase).

    from vlstore import ase as vase
    frame = vase.to_frame(atoms)             # a BackedAtomicData (float64 by default)
    atoms = vase.to_atoms(frame)             # equal to `atoms` in every field
    vase.write("data.vls", images)           # like ase.io.write; keys "0", "1", ... or yours
    images = vase.read("data.vls", ":")      # like ase.io.read: ":" "-1" "2:10:2" 3 slice(...)
    Depot(vase.AtomsCodec, "data.vls")       # a Depot of Atoms

What a frame keeps (docs/FRAME.md, "ASE mapping"):
  numbers -> types, positions -> positions, cell (when not all zero), pbc, masses (all of
  them; an explicit ``masses`` array is also kept as such), ``initial_charges`` -> charges;
  the calculator's energy / forces / stress -> the frame's energy / forces / stress (stress
  as a full 3x3), its other results -> properties "calc:<name>"; every ``info`` entry ->
  a per-frame property and every other ``arrays`` entry -> a per-atom property, with dtype
  and shape (lists, dicts and None as JSON). Frames imported by ``vlstore import-xyz`` from
  keys such as REF_energy (property "vlstore:energy_key") give the value back under that key,
  as ase.io.read of the file does.
to_atoms(to_frame(a)) equals a: numbers, positions (float64, bit for bit), cell, pbc,
every info and arrays entry (numpy scalars come back as Python numbers; stress as Voigt 6,
what SinglePointCalculator keeps), calculator results.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, List, Optional, Union

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from .serialize import BackedAtomicData, Codec
from .store import SChunkStore

__all__ = ["to_frame", "to_atoms", "write", "read", "AtomsCodec"]

#: calculator results that are per-atom arrays (as ase.io.extxyz lists them)
PER_ATOM_RESULTS = ("forces", "stresses", "charges", "magmoms", "energies")


def _voigt_to_3x3(s: np.ndarray) -> np.ndarray:
    xx, yy, zz, yz, xz, xy = s
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]], dtype=np.float64)


def to_frame(atoms: Atoms, name: Optional[str] = None, precision: int = 64) -> BackedAtomicData:
    """The frame of `atoms`: see the module docstring for what goes where. precision=32
    stores the real arrays as float32 (explicit narrowing, for compactness)."""
    n = len(atoms)
    arrays = atoms.arrays
    atom_props = {k: v for k, v in arrays.items()
                  if k not in ("numbers", "positions", "initial_charges")}
    props = dict(atoms.info)
    for k in props:
        if not isinstance(k, str) or k.startswith(("vlstore:", "calc:")):
            raise ValueError(f"info key {k!r}: keys are str, and vlstore: / calc: are reserved")
    energy = forces = stress = None
    calc = atoms.calc
    results = dict(getattr(calc, "results", {}) or {}) if calc is not None else {}
    for key, value in results.items():
        if key == "energy":
            energy = float(value)
        elif key == "forces":
            forces = np.asarray(value, dtype=np.float64)
        elif key == "stress":
            s = np.asarray(value, dtype=np.float64)
            # stored as in an extended-XYZ stress= (Fortran order; symmetric in practice)
            stress = (_voigt_to_3x3(s) if s.shape == (6,) else s.reshape(3, 3)).reshape(-1, order="F")
        elif key in PER_ATOM_RESULTS and np.ndim(value) >= 1 and np.shape(value)[0] == n:
            atom_props["calc:" + key] = np.asarray(value)
        else:
            props["calc:" + key] = value
    cell = atoms.cell.array
    charges = arrays.get("initial_charges")
    return BackedAtomicData.from_values(
        name=name, nsites=n, atom_types=atoms.numbers, masses=atoms.get_masses(),
        positions=atoms.positions, forces=forces, energy=energy,
        cell=cell if cell.any() else None, pbc=atoms.pbc, charges=charges, stress=stress,
        precision=precision, properties=props, atom_properties=atom_props)


def _str(props: dict, key: str) -> Optional[str]:
    v = props.get(key)
    return v if isinstance(v, str) else None


def _own(v: Any) -> Any:
    """A copy for the Atoms (frame arrays are read-only views of the record)."""
    return np.array(v) if isinstance(v, np.ndarray) else v


def to_atoms(frame: Any) -> Atoms:
    """The Atoms of a frame (a BackedAtomicData, or a record's bytes)."""
    if not isinstance(frame, BackedAtomicData):
        frame = BackedAtomicData(frame)
    if frame.ncodim != 3:
        raise ValueError(f"frame {frame.name!r} has {frame.ncodim} coordinates per site; "
                         "Atoms need 3")
    props = frame.properties
    aprops = frame.atom_properties
    cell = frame.cell
    pbc = frame.pbc
    atoms = Atoms(numbers=np.array(frame.atom_types, dtype=int),
                  positions=np.array(frame.pos, dtype=np.float64),
                  cell=np.zeros((3, 3)) if cell is None else np.array(cell, dtype=np.float64),
                  pbc=False if pbc is None else np.array(pbc, dtype=bool))
    if frame.charges is not None:
        atoms.set_initial_charges(np.array(frame.charges, dtype=np.float64))
    if not props and not aprops and len(atoms):  # a frame from elsewhere: its masses are data
        atoms.set_masses(np.array(frame.masses, dtype=np.float64))
    results = {}
    for k, v in props.items():
        if k.startswith("vlstore:"):
            continue
        if k.startswith("calc:"):
            results[k[5:]] = _own(v)
        else:
            atoms.info[k] = _own(v)
    for k, v in aprops.items():
        if k.startswith("calc:"):
            results[k[5:]] = _own(v)
        elif k == "masses":
            atoms.set_masses(np.array(v, dtype=np.float64))
        else:
            atoms.arrays[k] = _own(v)
    if frame.energy is not None:
        key = _str(props, "vlstore:energy_key")
        if key and key != "energy":
            atoms.info[key] = frame.energy
        else:
            results["energy"] = frame.energy
    if frame.forces is not None:
        forces = np.array(frame.forces, dtype=np.float64)
        key = _str(props, "vlstore:forces_key")
        if key and key != "forces":
            atoms.arrays[key] = forces
        else:
            results["forces"] = forces
    if frame.stress is not None:
        s = np.array(frame.stress, dtype=np.float64).reshape(-1)  # extended-XYZ order
        key = _str(props, "vlstore:stress_key")
        if key and key != "stress":
            atoms.info[key] = s
        else:
            m = s.reshape((3, 3), order="F")
            results["stress"] = np.array([m[0, 0], m[1, 1], m[2, 2], m[1, 2], m[0, 2], m[0, 1]])
    if results:
        known = {k: v for k, v in results.items() if k in _ALL_PROPERTIES}
        atoms.calc = SinglePointCalculator(atoms, **known)
        atoms.calc.results.update(results)  # names ASE does not list, kept as well
    return atoms


def _all_properties() -> frozenset:
    from ase.calculators.calculator import all_properties

    return frozenset(all_properties)


_ALL_PROPERTIES = _all_properties()


def _pack_atoms(atoms: Atoms, *, out: Any = None) -> Any:
    raw = to_frame(atoms).raw
    if out is None:
        return raw
    view = memoryview(out).cast("B")
    view[: len(raw)] = raw
    return out


#: A Depot codec: Depot(AtomsCodec, "data.vls") stores and returns ase.Atoms.
AtomsCodec: Codec[Atoms] = Codec(pack=_pack_atoms, unpack=to_atoms)


def write(path: Union[str, os.PathLike, SChunkStore], images: Union[Atoms, Iterable[Atoms]],
          keys: Optional[Iterable[Any]] = None, *, overwrite: bool = False, **store_args: Any) \
        -> List[Any]:
    """Writes one Atoms or several into the store at `path` (created if missing, appended to
    otherwise; or an open SChunkStore), under `keys` (default: "0", "1", ... after the
    store's last record count), and commits. An existing key is refused (ExistsError) unless
    overwrite=True. store_args go to SChunkStore (codec, level, chunksize ...).
    @return the keys written."""
    if isinstance(images, Atoms):
        images = [images]
    own = not isinstance(path, SChunkStore)
    store = SChunkStore(path, mode="a", **store_args) if own else path
    try:
        start = len(store.keys()) if keys is None else 0
        keys = list(keys) if keys is not None else None
        written = []
        for i, atoms in enumerate(images):
            if keys is not None and i >= len(keys):
                raise ValueError(f"{len(keys)} keys for more images")
            key = keys[i] if keys is not None else str(start + i)
            store.put(key, to_frame(atoms).raw, overwrite=overwrite)
            written.append(key)
        if keys is not None and len(written) != len(keys):
            raise ValueError(f"{len(keys)} keys for {len(written)} images")
        store.commit()
        return written
    finally:
        if own:
            store.close()


def _select(n: int, index: Any) -> Union[int, List[int]]:
    if isinstance(index, str):
        if ":" not in index:
            index = int(index)
        else:
            parts = [int(p) if p.strip() else None for p in index.split(":")]
            index = slice(*parts)
    if isinstance(index, slice):
        return list(range(n))[index]
    i = int(index)
    if not -n <= i < n:
        raise IndexError(f"index {index} out of range for {n} frames")
    return i % n


def read(path: Union[str, os.PathLike, SChunkStore], index: Any = ":") -> Union[Atoms, List[Atoms]]:
    """Reads frames as Atoms, in storage order, selected like ase.io.read: an int (one Atoms),
    or a slice / ":"-string (a list). index=None means the last frame, as in ase.io.read."""
    own = not isinstance(path, SChunkStore)
    store = SChunkStore(path, mode="r") if own else path
    try:
        keys = store.keys()
        sel = _select(len(keys), -1 if index is None else index)
        if isinstance(sel, int):
            return to_atoms(bytes(store.get(keys[sel])))
        return [to_atoms(bytes(store.get(keys[i]))) for i in sel]
    finally:
        if own:
            store.close()
