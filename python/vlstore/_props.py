"""Frame properties (format v2, docs/FRAME.md) between Python values and the C encoder/view.

encode(values, nsites) turns a dict into the list _core.frame_encode_ex takes; decode(raw,
entries) turns _core.frame_extras' entries back into a dict, numeric arrays as zero-copy numpy
views of the record. The mapping, both ways:

    numpy array (float16/32/64, int8..64, uint8..32, bool,  -> that dtype and shape (strings
                 str, or objects that are all str)          come back as object arrays of str)
                                          (float16 as float32, small ints as int32, uint32
                                          as int64; uint64 and object arrays as JSON)
    numpy scalar, Python bool / int / float / str      -> a scalar of that type
    anything else (list, tuple, dict, None, ...)       -> JSON text (kind 1), decoded on
                                                          the way back: lists stay lists
Per-atom values (nsites given) must be arrays whose first dimension is nsites.
"""
from __future__ import annotations

import json
from typing import Any, Optional

import numpy as np

# vls_dtype codes
F32, F64, I32, I64, BOOL, STR = 1, 2, 3, 4, 5, 6
PLAIN, JSON = 0, 1
_NP = {F32: np.dtype("<f4"), F64: np.dtype("<f8"), I32: np.dtype("<i4"), I64: np.dtype("<i8"),
       BOOL: np.dtype("bool")}


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def _array_entry(name: str, a: np.ndarray) -> Optional[tuple]:
    k, size = a.dtype.kind, a.dtype.itemsize
    if k == "f":
        code = F64 if size == 8 else F32 if size <= 4 else None
    elif k == "b":
        code = BOOL
    elif k == "i":
        code = I32 if size <= 4 else I64
    elif k == "u":
        code = I32 if size <= 2 else I64 if size == 4 else None
    elif k in "US" or (k == "O" and all(isinstance(x, (str, bytes)) for x in a.flat)):
        strs = [x.decode("utf-8", "surrogateescape") if isinstance(x, bytes) else str(x)
                for x in a.reshape(-1).tolist()]
        return (name, STR, PLAIN, tuple(a.shape), strs)
    else:
        code = None
    if code is None:
        return None
    return (name, code, PLAIN, tuple(a.shape), np.ascontiguousarray(a, dtype=_NP[code]))


def entry(name: str, value: Any) -> tuple:
    """One property: (name, dtype code, kind, shape, data) for _core.frame_encode_ex."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"property names are non-empty str, not {name!r}")
    if isinstance(value, (np.ndarray, np.generic)):
        e = _array_entry(name, np.asarray(value))
        if e is not None:
            return e
    elif isinstance(value, bool):
        return (name, BOOL, PLAIN, (), np.array(value, dtype=bool))
    elif isinstance(value, int) and -(2**63) <= value < 2**63:
        return (name, I64, PLAIN, (), np.array(value, dtype="<i8"))
    elif isinstance(value, float):
        return (name, F64, PLAIN, (), np.array(value, dtype="<f8"))
    elif isinstance(value, str):
        return (name, STR, PLAIN, (), [value])
    try:
        text = json.dumps(value, default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise TypeError(f"property {name!r}: cannot store a {type(value).__name__}: {err}") \
            from None
    return (name, STR, JSON, (), [text])


def encode(values: dict, nsites: Optional[int]) -> list:
    out = []
    for name, value in values.items():
        e = entry(name, value)
        if nsites is not None and (e[2] != PLAIN or len(e[3]) < 1 or e[3][0] != nsites):
            raise ValueError(f"per-atom property {name!r} must be an array of {nsites} rows, "
                             f"not {type(value).__name__} of shape {e[3]}")
        out.append(e)
    return out


def decode(raw: Any, entries: list) -> dict:
    out = {}
    for name, dtype, kind, shape, data in entries:
        if kind == JSON:
            out[name] = json.loads(data[0])
        elif dtype == "str":
            # object arrays of str, as ase.io.read gives string columns
            out[name] = data[0] if not shape else np.array(data, dtype=object).reshape(shape)
        else:
            dt = np.dtype(dtype)
            count = int(np.prod(shape)) if shape else 1
            a = np.frombuffer(raw, dtype=dt, count=count, offset=data if count else 0)
            out[name] = a.reshape(shape).item() if not shape else a.reshape(shape)
    return out
