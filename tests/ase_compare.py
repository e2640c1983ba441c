import sys, numpy as np, ase.io
def same(x, y):
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        x, y = np.asarray(x), np.asarray(y)
        return x.shape == y.shape and x.dtype == y.dtype and (np.array_equal(x, y) or (x.dtype.kind == 'f' and np.array_equal(x, y, equal_nan=True)))
    return type(x) == type(y) and (x == y or (x != x and y != y))
a = ase.io.read(sys.argv[1], ":"); b = ase.io.read(sys.argv[2], ":")
bad = 0
assert len(a) == len(b), (len(a), len(b))
for i, (x, y) in enumerate(zip(a, b)):
    checks = [("numbers", x.numbers, y.numbers), ("positions", x.positions, y.positions), ("cell", x.cell.array, y.cell.array), ("pbc", x.pbc, y.pbc)]
    checks += [("info keys", sorted(x.info), sorted(y.info)), ("arrays keys", sorted(x.arrays), sorted(y.arrays))]
    checks += [("info " + k, x.info[k], y.info.get(k)) for k in x.info]
    checks += [("arrays " + k, x.arrays[k], y.arrays.get(k)) for k in x.arrays]
    rx = x.calc.results if x.calc else {}; ry = y.calc.results if y.calc else {}
    checks += [("calc keys", sorted(rx), sorted(ry))] + [("calc " + k, rx[k], ry.get(k)) for k in rx]
    for what, u, v in checks:
        if not same(u, v):
            bad += 1; print(f"frame {i}: {what}: {u!r} != {v!r}")
print(f"{len(a)} frames, {bad} differences")
sys.exit(1 if bad else 0)
