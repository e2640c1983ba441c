#!/usr/bin/env python3
"""Batch diversity of the loader's block-shuffled epoch, before and after `compact --shuffle`.

Builds a dataset as MD produces it — T trajectories of F frames each, written in time order,
trajectory after trajectory (import-xyz of traj00.xyz, traj01.xyz, ...) — then runs one
`vlstore epoch --print-keys` over it and over `vlstore compact --shuffle` of it, and reports
per batch: how many distinct trajectories it draws from, and how many distinct windows of W
consecutive frames (a window's frames are near-duplicates in MD), next to what a uniformly
random batch gives. Also the loader's own displacement figure.

usage: scripts/shuffle_diversity.py VLSTORE_BINARY [--trajs 40] [--frames 1000] [--atoms 64]
                                    [--batch 64] [--read-size 4] [--window 100] [--dir DIR]
                                    [--chunk-size 4M] [--check]
--check (tests/test_dataset_cli.sh): exit 1 unless the shuffled store's batches draw from at
least 90 % of a uniform batch's distinct trajectories and time order's from fewer.
"""
import argparse, os, random, statistics, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("vlstore")
ap.add_argument("--trajs", type=int, default=40)
ap.add_argument("--frames", type=int, default=1000)
ap.add_argument("--atoms", type=int, default=64)
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--read-size", type=int, default=4)
ap.add_argument("--window", type=int, default=100)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--dir")
ap.add_argument("--chunk-size", default="4M")
ap.add_argument("--check", action="store_true")
a = ap.parse_args()

tmp = a.dir or tempfile.mkdtemp(prefix="shuffle_diversity.")
os.makedirs(tmp, exist_ok=True)
rng = random.Random(a.seed)
files = []
for t in range(a.trajs):
    path = os.path.join(tmp, f"traj{t:02d}.xyz")
    files.append(path)
    with open(path, "w") as f:
        pos = [[rng.uniform(0, 10) for _ in range(3)] for _ in range(a.atoms)]
        for i in range(a.frames):
            pos = [[x + rng.gauss(0, 0.01) for x in p] for p in pos]
            f.write(f"{a.atoms}\nProperties=species:S:1:pos:R:3 energy={-5.0 * a.atoms + rng.gauss(0, 1)!r}"
                    ' pbc="F F F"\n')
            f.writelines(f"{'H' if k % 3 else 'O'} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f}\n"
                         for k, p in enumerate(pos))

def run(*args):
    return subprocess.run([a.vlstore, *args], check=True, capture_output=True, text=True).stdout

store = os.path.join(tmp, "time_order.vls")
shuffled = os.path.join(tmp, "shuffled.vls")
for p in (store, shuffled):
    if os.path.exists(p):
        os.remove(p)
run("create", store, "--chunk-size", a.chunk_size)
run("import-xyz", store, *files)
run("compact", store, shuffled, "--shuffle", "7")

def measure(path):
    keys = run("epoch", path, "--print-keys", "--batch-size", str(a.batch),
               "--read-size", str(a.read_size), "--seed", "3").split()
    summary = run("epoch", path, "--batch-size", str(a.batch), "--read-size", str(a.read_size),
                  "--seed", "3").strip().splitlines()[-1]
    trajs, windows = [], []
    for b in range(0, len(keys) - a.batch + 1, a.batch):
        batch = [k.rsplit("/", 1) for k in keys[b:b + a.batch]]
        trajs.append(len({t for t, _ in batch}))
        windows.append(len({(t, int(i) // a.window) for t, i in batch}))
    return statistics.mean(trajs), min(trajs), statistics.mean(windows), min(windows), summary, len(keys)

def uniform(groups):
    # expected distinct groups among `batch` draws from `groups` equal groups (without
    # replacement from trajs*frames records; with replacement is close enough for the mean)
    n = a.trajs * a.frames
    per = n // groups
    # exact for sampling without replacement: groups * (1 - C(n-per, b) / C(n, b))
    p_absent = 1.0
    for j in range(a.batch):
        p_absent *= (n - per - j) / (n - j)
    return groups * (1 - p_absent)

info = run("info", store)
print(f"dataset: {a.trajs} trajectories x {a.frames} frames of {a.atoms} atoms, written in time order;"
      f" {info.split(chr(10))[5].split()[1]} chunks; batches of {a.batch}, read size {a.read_size}")
print(f"command: scripts/shuffle_diversity.py {' '.join(sys.argv[1:])}")
print(f"{'store':<24} {'trajectories/batch':>20} {'windows of %d/batch' % a.window:>22}   loader's figure")
means = []
for name, path in (("time order", store), ("compact --shuffle 7", shuffled)):
    t_mean, t_min, w_mean, w_min, summary, n = measure(path)
    assert n == a.trajs * a.frames, f"{name}: epoch served {n} keys"
    means.append(t_mean)
    print(f"{name:<24} {t_mean:>12.1f} (min {t_min:>2}) {w_mean:>14.1f} (min {w_min:>2})   {summary}")
print(f"{'uniform random batch':<24} {uniform(a.trajs):>12.1f} {'':>7} "
      f"{uniform(a.trajs * (a.frames // a.window)):>14.1f}")
if a.check and not (means[1] >= 0.9 * uniform(a.trajs) and means[0] < means[1]):
    sys.exit("check failed: shuffled batches are not diverse")
