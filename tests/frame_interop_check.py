#!/usr/bin/python3
"""Compares FBFrame values decoded by the official FlatBuffers tools with expected values.

Used by tests/test_frame_interop.c and tests/test_frame_flatc.sh (not a test by itself).

    frame_interop_check.py GENDIR MODE EXPECTED ACTUAL [MODE EXPECTED ACTUAL ...]

EXPECTED is a JSON object as printed by vls_frame_write_json() (floats with 9 significant
digits, so float32 values round-trip exactly; NaN allowed). MODE is
  json  ACTUAL is the output of `flatc --json --strict-json`; flatc prints floats in fixed
        notation with 6 decimals (doubles with 12), so floats compare within 1e-6 (+1e-6 rel).
  bin   ACTUAL is a frame file, read with the Python `flatbuffers` package and the code that
        `flatc --python` generated into GENDIR; values must be bit-identical.
Exits 0 when every pair matches, 1 otherwise (printing each difference).
"""
import json
import math
import struct
import sys

REQUIRED_VECTORS = ("types",)
OPTIONAL_VECTORS = ("masses", "positions", "forces", "cell", "pbc", "charges", "stress")
FLOAT_VECTORS = ("masses", "positions", "forces", "cell", "charges", "stress")
DOUBLE_VECTORS = tuple(k + "64" for k in FLOAT_VECTORS)
PROPERTY_LISTS = ("properties", "atom_properties")
TYPED = ("f32", "f64", "i32", "i64", "b", "s")


def f32(x):
    """The float32 nearest to x, as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def normalize(d):
    """Fills FlatBuffers defaults so absent-vs-default differences do not matter."""
    out = dict(d)
    out.setdefault("name", "")
    out.setdefault("nsites", 0)
    out.setdefault("ncodim", 3)
    for k in REQUIRED_VECTORS:
        out.setdefault(k, [])
    # An empty masses/positions vector and an absent one mean the same (nsites == 0).
    for k in ("masses", "positions"):
        if out.get(k) == [] and k + "64" not in out:
            del out[k]
    return out


def compare_props(exp, act, exact, label):
    """Compares two lists of FBProperty objects (dicts with flatc's field names)."""
    errors = []
    if len(exp) != len(act):
        return [f"{label}: {len(exp)} properties expected, got {len(act)}"]
    for e, a in zip(exp, act):
        what = f"{label}: property {e.get('name')!r}"
        for k in ("name", "shape", "kind"):
            ev, av = e.get(k, 0 if k == "kind" else None), a.get(k, 0 if k == "kind" else None)
            if ev != av:
                errors.append(f"{what}: {k}: expected {ev!r}, got {av!r}")
        te = [k for k in TYPED if k in e]
        ta = [k for k in TYPED if k in a]
        if te != ta or len(te) != 1:
            errors.append(f"{what}: typed vectors {te} expected, got {ta}")
            continue
        t = te[0]
        if len(e[t]) != len(a[t]):
            errors.append(f"{what}: {len(e[t])} values expected, got {len(a[t])}")
            continue
        diff = first_difference(e[t], a[t], t, exact)
        if diff:
            errors.append(f"{what}[{diff[0]}]: expected {diff[1]!r}, got {diff[2]!r}")
    return errors


def first_difference(expected, actual, kind, exact):
    """(index, expected, actual) of the first element that differs, or None. kind "f32"
    compares as float32 (the expected value rounded to it), "f64" as float64, anything else
    with ==."""
    for i, (x, y) in enumerate(zip(expected, actual)):
        if kind == "f32":
            ok = same_float(f32(float(x)), y, exact)
        elif kind == "f64":
            ok = same_float(float(x), y, exact)
        else:
            ok = x == y
        if not ok:
            return i, x, y
    return None


def same_float(a, b, exact):
    if isinstance(a, str) or isinstance(b, str):  # flatc may print nan/inf as strings
        a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if exact:
        return a == b
    return abs(a - b) <= 1e-6 + 1e-6 * abs(b)


def compare(exp, act, exact, label):
    errors = []
    exp, act = normalize(exp), normalize(act)
    for k in ("name", "nsites", "ncodim"):
        if exp[k] != act[k]:
            errors.append(f"{label}: {k}: expected {exp[k]!r}, got {act[k]!r}")
    for k in OPTIONAL_VECTORS + DOUBLE_VECTORS + PROPERTY_LISTS + ("energy",):
        if (k in exp) != (k in act):
            errors.append(f"{label}: {k}: present in {'expected' if k in exp else 'actual'} only")
    if "energy" in exp and "energy" in act:
        if not same_float(exp["energy"], act["energy"], exact):
            errors.append(f"{label}: energy: expected {exp['energy']!r}, got {act['energy']!r}")
    for k in PROPERTY_LISTS:
        if k in exp and k in act:
            errors += compare_props(exp[k], act[k], exact, f"{label}: {k}")
    for k in REQUIRED_VECTORS + OPTIONAL_VECTORS + DOUBLE_VECTORS:
        if k not in exp or k not in act:
            continue
        e, a = exp[k], act[k]
        if len(e) != len(a):
            errors.append(f"{label}: {k}: expected {len(e)} values, got {len(a)}")
            continue
        kind = "f32" if k in FLOAT_VECTORS else "f64" if k in DOUBLE_VECTORS else None
        diff = first_difference(e, a, kind, exact)
        if diff:
            errors.append(f"{label}: {k}[{diff[0]}]: expected {diff[1]!r}, got {diff[2]!r}")
    return errors


def read_with_generated_code(path):
    from FBSites.FBFrame import FBFrame  # generated by flatc --python into GENDIR

    with open(path, "rb") as fh:
        buf = bytearray(fh.read())
    fr = FBFrame.GetRootAs(buf, 0)
    d = {"nsites": fr.Nsites(), "ncodim": fr.Ncodim()}
    name = fr.Name()
    d["name"] = name.decode("utf-8", "surrogateescape") if name is not None else ""
    d["types"] = [fr.Types(i) for i in range(fr.TypesLength())]
    if not fr.MassesIsNone():
        d["masses"] = [fr.Masses(i) for i in range(fr.MassesLength())]
    if not fr.PositionsIsNone():
        d["positions"] = [fr.Positions(i) for i in range(fr.PositionsLength())]
    if not fr.ForcesIsNone():
        d["forces"] = [fr.Forces(i) for i in range(fr.ForcesLength())]
    if fr.Energy() is not None:
        d["energy"] = fr.Energy()
    if not fr.CellIsNone():
        d["cell"] = [fr.Cell(i) for i in range(fr.CellLength())]
    if not fr.PbcIsNone():
        d["pbc"] = [fr.Pbc(i) for i in range(fr.PbcLength())]
    if not fr.ChargesIsNone():
        d["charges"] = [fr.Charges(i) for i in range(fr.ChargesLength())]
    if not fr.StressIsNone():
        d["stress"] = [fr.Stress(i) for i in range(fr.StressLength())]
    for k in DOUBLE_VECTORS:  # positions64 -> Positions64, Positions64Length, ...
        m = k[0].upper() + k[1:]
        if not getattr(fr, m + "IsNone")():
            d[k] = [getattr(fr, m)(i) for i in range(getattr(fr, m + "Length")())]
    for k, m in (("properties", "Properties"), ("atom_properties", "AtomProperties")):
        if getattr(fr, m + "IsNone")():
            continue
        lst = []
        for i in range(getattr(fr, m + "Length")()):
            p = getattr(fr, m)(i)
            e = {"name": p.Name().decode("utf-8", "surrogateescape")}
            if not p.ShapeIsNone():
                e["shape"] = [p.Shape(j) for j in range(p.ShapeLength())]
            if p.Kind():
                e["kind"] = p.Kind()
            for t in TYPED:
                m2 = t.upper()
                if getattr(p, m2 + "IsNone")():
                    continue
                vals = [getattr(p, m2)(j) for j in range(getattr(p, m2 + "Length")())]
                if t == "s":
                    vals = [v.decode("utf-8", "surrogateescape") for v in vals]
                e[t] = vals
            lst.append(e)
        d[k] = lst
    return d


def main(argv):
    if len(argv) < 5 or (len(argv) - 2) % 3:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, argv[1])
    errors = []
    n = 0
    for i in range(2, len(argv), 3):
        mode, exp_path, act_path = argv[i : i + 3]
        with open(exp_path) as fh:
            exp = json.load(fh)
        if mode == "json":
            with open(act_path) as fh:
                act = json.load(fh)
            errors += compare(exp, act, False, act_path)
        elif mode == "bin":
            errors += compare(exp, read_with_generated_code(act_path), True, act_path + " (python)")
        else:
            print(f"unknown mode {mode}", file=sys.stderr)
            return 2
        n += 1
    for e in errors[:50]:
        print(e)
    print(f"frame_interop_check: {n} frames compared, {len(errors)} differences")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
