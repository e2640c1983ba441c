#!/usr/bin/python3
"""bench_py.py — the MD workload from Python: vlstore against h5py, msgpack and lmdb.

What a Python user of each tool would write, timed end to end (Python overhead included):

  write       frames from numpy arrays to a durable file (encode + store + fsync), MB/s
  size        bytes on disk (allocated blocks), and record bytes / disk bytes
  get         random single frames back as numpy arrays (decode included), p50 / p99 us
  epoch       every frame once in a shuffled order, batches of 64, arrays decoded, records/s

The workload follows bench/workload.c (not byte for byte: numpy's generator, not xoshiro):
systems with n atoms, n log-uniform in [8, 4096], 50..500 consecutive frames each; per atom a
type (1..8) and its mass, positions starting uniform in a box and following a gaussian random
walk (sigma 0.01), forces following an AR(1) process (0.8 f + 0.6 g): smooth like MD.

Engines and their record formats:
  vlstore      SChunkStore + Depot(BackedAtomicDataCodec): FlatBuffer frames from the C
               encoder, lz4 + byte shuffle (defaults); epoch = BlockShuffleBatch (read 4
               chunks, shuffle inside, batches of 64, prefetch on a C thread)
  vlstore-rnd  the same file; epoch = fully random batches of 64 with Depot.fused_get
  vlstore-ra   SChunkStore(random_access=True): 32 KiB Blosc blocks; epoch as vlstore
  h5py         the same FlatBuffer frame bytes in one ragged uint8 dataset (chunks of 1 MiB,
               no filter) + an offsets dataset; reads slice the dataset
  h5py-gzip    the same with gzip level 1 + shuffle (h5py's built-in compressed layout)
  msgpack      one file of msgpack maps {name, types, masses, pos, forces} (arrays as bin)
               + an offsets file; reads pread + unpackb + np.frombuffer
  lmdb         the FlatBuffer frame bytes under the keys, one write transaction, synced

Every engine's get and epoch decode frames to numpy arrays; every get is checked against the
source arrays (outside the timed region) and every epoch must serve each frame once. Reads
are warm (the files were just written; the page cache holds them).

The training suite (--suite train) measures what a training loop gets: one shuffled epoch
in batches of 64, each engine in its own process (so each peak RSS is its own), runs
interleaved engine after engine, the median of --repeat. Same work per frame everywhere:
the frame's positions, forces and atomic numbers delivered as arrays and touched (the first
element of each frame's pos, forces and atomic_numbers is read; a collated batch does that
with one fancy index per field over its `ptr`).
  vlstore-collate     BlockShuffleBatch(4, 64, path, collate=True): C-collated batch dicts
  vlstore-collate-1t  the same with prefetch=False: everything on the calling thread
  vlstore-collate-t2  the same with threads=2: two background readers decoding
  vlstore-lists       BlockShuffleBatch(4, 64, Depot).keyed(): one BackedAtomicData per frame
  lmdb-pickle         LMDB of pickled dicts of numpy arrays (the fairchem way), txn.get +
                      pickle.loads per frame, shuffled key order
  lmdb-msgpack        LMDB of msgpack maps (arrays as bin), unpackb + np.frombuffer
  msgpack-file        one msgpack file + offsets, pread + unpackb + np.frombuffer
  c-loader            `vlstore epoch` (the C loader alone, no frame decoding; prefetch on one
                      background thread) and c-loader-1t (--no-prefetch: one thread)
  torch-framebatches-wK   DataLoader(FrameBatches(path, 64), batch_size=None, num_workers=K)
  torch-lmdb-pickle-wK    DataLoader(map-style LMDB + pickle dataset, batch_size=64,
                          shuffle=True, num_workers=K, collate_fn=torch.cat of the fields)
Peak RSS is the worker process's VmHWM; "base" is its RSS just before the epoch (interpreter,
numpy, torch, the key list), so peak - base is at most what the epoch itself held. With
DataLoader workers only the main process is counted (each worker holds its own loader).

Usage:
  PYTHONPATH=<built vlstore> /usr/bin/python3 bench/python/bench_py.py [--suite store|train|all]
      [--size MiB] [--gets N] [--seed S] [--dir DIR] [--out DIR] [--engines a,b,...]
      [--repeat N] [--no-plot]
Writes OUT/results.md, .dat, .png (store suite) and OUT/train.md, .dat, .png (training
suite, gnuplot); OUT defaults to build/bench-python under the repository root (untracked:
give --out bench/python to refresh the published store-suite results). Debian packages:
python3-h5py python3-msgpack python3-lmdb gnuplot-nox (scripts/deps.sh bench), python3-torch.
"""
import argparse
import datetime
import json
import os
import pickle
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    import vlstore
    from vlstore.loader import BlockShuffleBatch
    from vlstore.serialize import BackedAtomicData, BackedAtomicDataCodec
    from vlstore.store import Depot, SChunkStore
except ImportError as e:  # pragma: no cover
    sys.exit(f"bench_py: cannot import vlstore ({e}). Build it first, e.g.\n"
             "  cmake -S . -B build && cmake --build build -j2\n"
             "  VLSTORE_BUILD_DIR=build python3 python/setup.py build --build-lib /tmp/vls-py\n"
             "  PYTHONPATH=/tmp/vls-py /usr/bin/python3 bench/python/bench_py.py")

TYPE_MASS = np.array([0, 1.008, 12.011, 14.007, 15.999, 32.06, 30.974, 22.990, 35.45],
                     dtype=np.float32)
BATCH = 64


# ---- workload -----------------------------------------------------------------------------
def generate(size_mib, seed):
    """List of (key, types, masses, pos, forces) frames totalling ~size_mib of array bytes."""
    rng = np.random.default_rng(seed)
    target = size_mib << 20
    frames, total, sysid = [], 0, 0
    while total < target:
        n = int(round(np.exp(rng.uniform(np.log(8), np.log(4096)))))
        n = min(max(n, 8), 4096)
        nframes = int(rng.integers(50, 501))
        nframes = min(nframes, -(-(target - total) // (32 * n)))
        types = rng.integers(1, 9, n, dtype=np.int32)
        masses = TYPE_MASS[types]
        box = 3.0 * n ** (1 / 3)
        pos = (rng.random((n, 3)) * box).astype(np.float32)
        frc = rng.standard_normal((n, 3)).astype(np.float32)
        for f in range(nframes):
            if f:
                pos = pos + (0.01 * rng.standard_normal((n, 3))).astype(np.float32)
                frc = (0.8 * frc + 0.6 * rng.standard_normal((n, 3))).astype(np.float32)
            frames.append((f"sys{sysid:05d}/{f:05d}", types, masses, pos, frc))
            total += 32 * n
        sysid += 1
    return frames


def encode_frame(fr):
    key, types, masses, pos, frc = fr
    return BackedAtomicData.from_values(name=key, masses=masses, atom_types=types,
                                        nsites=len(types), positions=pos, forces=frc)


def disk_bytes(path):
    """Allocated bytes of a file or of every file under a directory."""
    if os.path.isdir(path):
        return sum(disk_bytes(os.path.join(path, p)) for p in os.listdir(path))
    return os.stat(path).st_blocks * 512


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- engines ------------------------------------------------------------------------------
class VlstoreEngine:
    def __init__(self, name, options, epoch_mode):
        self.name, self.options, self.epoch_mode = name, options, epoch_mode

    def write(self, frames, path):
        self.path = path + ".vls"
        with SChunkStore(self.path, mode="w", **self.options) as s:
            d = Depot(BackedAtomicDataCodec, s)
            for fr in frames:
                d.put(fr[0], encode_frame(fr))
        return [self.path]

    def open(self):
        self.store = SChunkStore(self.path, mode="r")
        self.depot = Depot(BackedAtomicDataCodec, self.store)

    def get(self, key):
        return self.depot.get(key)

    def epoch(self, keys, rng):
        if self.epoch_mode == "block":
            with BlockShuffleBatch(4, BATCH, self.depot, seed=int(rng.integers(1 << 30))) as ld:
                for batch in ld.keyed():
                    yield [(k, f) for k, f in batch]
            return
        order = list(keys)
        rng.shuffle(order)
        for i in range(0, len(order), BATCH):
            ks = order[i:i + BATCH]
            yield list(zip(ks, self.depot.fused_get(ks)))

    def close(self):
        self.store.close()

    def settings(self):
        with SChunkStore(self.path, mode="r") as s:
            o = s.settings
        return (f"chunk {o['chunk_size'] >> 10} KiB, {o['codec']} level {o['level']}, "
                f"shuffle {o['shuffle']}, block {o['block_size'] >> 10} KiB, "
                f"placement {o['placement']}, cache 64 MiB; Depot.put per frame, close "
                f"(commit + fsync); epoch: "
                + ("BlockShuffleBatch(read_size=4, batch_size=64)"
                   if self.epoch_mode == "block" else "random batches, Depot.fused_get"))


class H5Engine:
    def __init__(self, name, gzip):
        self.name, self.gzip = name, gzip

    def write(self, frames, path):
        import h5py

        self.path = path + ".h5"
        kw = dict(compression="gzip", compression_opts=1, shuffle=True) if self.gzip else {}
        with h5py.File(self.path, "w") as f:
            ds = f.create_dataset("data", shape=(0,), maxshape=(None,), dtype=np.uint8,
                                  chunks=(1 << 20,), **kw)
            offsets, buf, at = [0], bytearray(), 0

            def flush():
                nonlocal at
                if buf:
                    ds.resize((at + len(buf),))
                    ds[at:at + len(buf)] = np.frombuffer(buf, np.uint8)
                    at += len(buf)
                    buf.clear()

            for fr in frames:
                raw = encode_frame(fr).raw
                buf += raw
                offsets.append(offsets[-1] + len(raw))
                if len(buf) >= 4 << 20:
                    flush()
            flush()
            f.create_dataset("offsets", data=np.array(offsets, dtype=np.int64))
            f.create_dataset("keys", data=np.array([fr[0].encode() for fr in frames]))
        fsync_path(self.path)
        return [self.path]

    def open(self):
        import h5py

        self.f = h5py.File(self.path, "r")
        self.ds = self.f["data"]
        off = self.f["offsets"][:]
        keys = [k.decode() for k in self.f["keys"][:]]
        self.index = {k: (int(off[i]), int(off[i + 1])) for i, k in enumerate(keys)}

    def get(self, key):
        a, b = self.index[key]
        return BackedAtomicData(self.ds[a:b])

    def epoch(self, keys, rng):
        order = list(keys)
        rng.shuffle(order)
        for i in range(0, len(order), BATCH):
            yield [(k, self.get(k)) for k in order[i:i + BATCH]]

    def close(self):
        self.f.close()

    def settings(self):
        return ("h5py %s (HDF5 %s): one uint8 dataset, chunks of 1 MiB%s, written in 4 MiB "
                "slices, offsets + keys datasets; close + fsync; get = dataset slice"
                % (__import__("h5py").version.version, __import__("h5py").version.hdf5_version,
                   ", gzip 1 + shuffle" if self.gzip else ", no filter"))


class _MsgFrame:
    """What a msgpack user gets back: the map's arrays as numpy views of the message."""

    __slots__ = ("name", "atom_types", "masses", "pos", "forces")

    def __init__(self, m):
        n = len(m["types"]) // 4
        self.name = m["name"]
        self.atom_types = np.frombuffer(m["types"], np.int32)
        self.masses = np.frombuffer(m["masses"], np.float32)
        self.pos = np.frombuffer(m["pos"], np.float32).reshape(n, 3)
        self.forces = np.frombuffer(m["forces"], np.float32).reshape(n, 3)


class MsgpackEngine:
    name = "msgpack"

    def write(self, frames, path):
        import msgpack

        self.path = path + ".msgpack"
        offsets = [0]
        with open(self.path, "wb") as f:
            for key, types, masses, pos, frc in frames:
                b = msgpack.packb({"name": key, "types": types.tobytes(),
                                   "masses": masses.tobytes(), "pos": pos.tobytes(),
                                   "forces": frc.tobytes()})
                f.write(b)
                offsets.append(offsets[-1] + len(b))
            f.flush()
            os.fsync(f.fileno())
        with open(self.path + ".idx", "wb") as f:
            np.array(offsets, dtype=np.int64).tofile(f)
            f.flush()
            os.fsync(f.fileno())
        self.keys = [fr[0] for fr in frames]  # key -> position: the frame order
        return [self.path, self.path + ".idx"]

    def open(self):
        import msgpack

        self.unpackb = msgpack.unpackb
        off = np.fromfile(self.path + ".idx", dtype=np.int64)
        self.index = {k: (int(off[i]), int(off[i + 1] - off[i])) for i, k in enumerate(self.keys)}
        self.fd = os.open(self.path, os.O_RDONLY)

    def get(self, key):
        o, n = self.index[key]
        return _MsgFrame(self.unpackb(os.pread(self.fd, n, o)))

    def epoch(self, keys, rng):
        order = list(keys)
        rng.shuffle(order)
        for i in range(0, len(order), BATCH):
            yield [(k, self.get(k)) for k in order[i:i + BATCH]]

    def close(self):
        os.close(self.fd)

    def settings(self):
        import msgpack

        return ("msgpack %s: one file of packb({name, types, masses, pos, forces}) maps "
                "(arrays as bin), an int64 offsets file; fsync both; get = pread + unpackb + "
                "np.frombuffer" % ".".join(map(str, msgpack.version)))


class LmdbEngine:
    name = "lmdb"

    def write(self, frames, path):
        import lmdb

        self.path = path + ".lmdb"
        total = sum(32 * len(fr[1]) + 256 for fr in frames)
        env = lmdb.open(self.path, map_size=max(4 * total, 1 << 26))
        with env.begin(write=True) as txn:
            for fr in frames:
                txn.put(fr[0].encode(), encode_frame(fr).raw)
        env.sync(True)
        env.close()
        return [self.path]

    def open(self):
        import lmdb

        self.env = lmdb.open(self.path, readonly=True, lock=False)
        self.txn = self.env.begin()

    def get(self, key):
        return BackedAtomicData(self.txn.get(key.encode()))

    def epoch(self, keys, rng):
        order = list(keys)
        rng.shuffle(order)
        for i in range(0, len(order), BATCH):
            yield [(k, self.get(k)) for k in order[i:i + BATCH]]

    def close(self):
        self.txn.abort()
        self.env.close()

    def settings(self):
        import lmdb

        return ("py-lmdb %s (LMDB %s): FlatBuffer frames under the keys, one write "
                "transaction, env.sync; get = txn.get (a copy) + BackedAtomicData"
                % (lmdb.__version__, ".".join(map(str, lmdb.version()))))


ENGINES = {
    "vlstore": lambda: VlstoreEngine("vlstore", {}, "block"),
    "vlstore-rnd": lambda: VlstoreEngine("vlstore-rnd", {}, "random"),
    "vlstore-ra": lambda: VlstoreEngine("vlstore-ra", {"random_access": True}, "block"),
    "h5py": lambda: H5Engine("h5py", False),
    "h5py-gzip": lambda: H5Engine("h5py-gzip", True),
    "msgpack": MsgpackEngine,
    "lmdb": LmdbEngine,
}


# ---- measuring ----------------------------------------------------------------------------
def run_engine(eng, frames, record_bytes, dirpath, get_keys, seed, limit, repeat):
    src = {fr[0]: fr for fr in frames}
    t_writes = []
    for _ in range(repeat):  # each write starts from scratch (the files are replaced)
        for p in os.listdir(dirpath):
            q = os.path.join(dirpath, p)
            shutil.rmtree(q) if os.path.isdir(q) else os.unlink(q)
        t0 = time.perf_counter()
        files = eng.write(frames, os.path.join(dirpath, eng.name))
        t_writes.append(time.perf_counter() - t0)
    t_write = float(np.median(t_writes))
    size = sum(disk_bytes(p) for p in files)

    eng.open()
    lat = np.empty(len(get_keys))
    bad = 0
    ngets = 0
    t_end = time.perf_counter() + limit
    for i, k in enumerate(get_keys):
        t = time.perf_counter_ns()
        fr = eng.get(k)
        fr.pos[0, 0]  # arrays reachable
        lat[i] = (time.perf_counter_ns() - t) / 1000
        ngets += 1
        if not np.array_equal(fr.pos, src[k][3]) or not np.array_equal(fr.forces, src[k][4]):
            bad += 1
        if time.perf_counter() > t_end:
            break
    lat = lat[:ngets]

    rng = np.random.default_rng(seed)
    rates = []
    epoch_cut = False
    for _ in range(repeat):  # median of `repeat` epochs (one when the first is cut short)
        seen = set()
        n = 0
        t0 = time.perf_counter()
        it = eng.epoch(src.keys(), rng)
        for batch in it:
            for k, fr in batch:
                fr.pos[0, 0]
                n += 1
            seen.update(k for k, _ in batch)
            if time.perf_counter() - t0 > limit:
                epoch_cut = True
                break
        rates.append(n / (time.perf_counter() - t0))
        if hasattr(it, "close"):
            it.close()
        if epoch_cut or len(seen) != n or n != len(frames):
            break
    eng.close()
    ok = bad == 0 and len(seen) == n and (epoch_cut or n == len(frames))
    return {
        "cut": (f"{ngets} of {len(get_keys)} gets, " if ngets < len(get_keys) else "")
        + (f"{n} of {len(frames)} epoch records" if epoch_cut else ""),
        "engine": eng.name,
        "write_MBps": record_bytes / t_write / 1e6,
        "size_MiB": size / 2**20,
        "ratio": record_bytes / size,
        "get_p50_us": float(np.percentile(lat, 50)),
        "get_p99_us": float(np.percentile(lat, 99)),
        "epoch_recps": float(np.median(rates)),
        "check": "ok" if ok else f"FAILED ({bad} bad gets, {n} epoch records, {len(seen)} keys)",
        "get_cut": ngets < len(get_keys),
        "epoch_cut": epoch_cut,
        "settings": eng.settings(),
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=256, help="MiB of frame arrays (default 256)")
    ap.add_argument("--gets", type=int, default=5000, help="random gets (default 5000)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dir", default=None, help="where the files go (default: a new temp dir)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(here)),
                                                  "build", "bench-python"),
                    help="results go here (default: build/bench-python, untracked)")
    ap.add_argument("--suite", choices=("store", "train", "all"), default="all",
                    help="store: write/get/epoch vs h5py, msgpack, lmdb; train: the training "
                    "path (batches of 64) vs LMDB + pickle/msgpack, separate processes; "
                    "all: both (default)")
    ap.add_argument("--vlstore-cli", default=None,
                    help="the vlstore command, for the C loader's own rate (default: "
                    "build/vlstore under the repository root)")
    ap.add_argument("--train-worker", nargs=3, metavar=("ENGINE", "DIR", "SEED"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--engines", default=None,
                    help="comma-separated engines of the chosen suite (default: all)")
    ap.add_argument("--limit", type=float, default=30.0,
                    help="seconds after which the get and epoch phases stop (default 30; "
                    "such results are marked ~)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="writes and epochs per engine; the median is reported (default 3)")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()
    if args.train_worker:
        return train_worker(*args.train_worker)
    if args.suite in ("train", "all"):
        train_suite(args, here)
    if args.suite in ("store", "all"):
        store_suite(args, here)


def store_suite(args, here):
    names = [e for e in (args.engines or ",".join(ENGINES)).split(",") if e]
    if args.suite == "all":
        names = [e for e in names if e in ENGINES]
    for e in names:
        if e not in ENGINES:
            sys.exit(f"bench_py: unknown engine {e!r} (known: {', '.join(ENGINES)})")
    t0 = time.perf_counter()
    frames = generate(args.size, args.seed)
    t_gen = time.perf_counter() - t0
    sizes = [32 * len(fr[1]) for fr in frames]
    # MB counts the FlatBuffer record bytes (what vlstore, h5py and lmdb store)
    record_bytes = sum(encode_frame(fr).nbytes for fr in frames)
    keys = [fr[0] for fr in frames]
    get_keys = random.Random(args.seed).choices(keys, k=args.gets)

    own_dir = args.dir is None
    dirpath = tempfile.mkdtemp(prefix="vls_bench_py.") if own_dir else args.dir
    os.makedirs(dirpath, exist_ok=True)
    print(f"workload: {len(frames)} frames, {sum(sizes) / 2**20:.1f} MiB of arrays, "
          f"{record_bytes / 2**20:.1f} MiB as FlatBuffer records (min {min(sizes)} B, "
          f"mean {sum(sizes) // len(sizes)} B, max {max(sizes)} B), seed {args.seed}, "
          f"generated in {t_gen:.1f} s; files in {dirpath}", flush=True)
    rows = []
    try:
        for e in names:
            eng = ENGINES[e]()
            r = run_engine(eng, frames, record_bytes, dirpath, get_keys, args.seed, args.limit,
                           max(1, args.repeat))
            rows.append(r)
            print(f"  {e:12s} write {r['write_MBps']:8.1f} MB/s  size {r['size_MiB']:7.1f} MiB"
                  f"  get p50 {r['get_p50_us']:7.1f} us  epoch {r['epoch_recps']:9.0f} rec/s"
                  f"  {r['check']}", flush=True)
            for p in os.listdir(dirpath):
                q = os.path.join(dirpath, p)
                shutil.rmtree(q) if os.path.isdir(q) else os.unlink(q)
    finally:
        if own_dir:
            shutil.rmtree(dirpath, ignore_errors=True)

    header = ("| engine | write MB/s | size MiB | ratio | get p50 us | get p99 us | "
              "epoch rec/s | check |\n|:--|--:|--:|--:|--:|--:|--:|:--|")
    def g(r):
        return "~" if r["get_cut"] else ""

    def e(r):
        return "~" if r["epoch_cut"] else ""

    table = "\n".join(
        f"| {r['engine']} | {r['write_MBps']:.1f} | {r['size_MiB']:.1f} | {r['ratio']:.3f} | "
        f"{g(r)}{r['get_p50_us']:.1f} | {g(r)}{r['get_p99_us']:.1f} | "
        f"{e(r)}{r['epoch_recps']:.0f} | {r['check']} |" for r in rows)
    cuts = [f"{r['engine']}: {r['cut'].rstrip(', ')}" for r in rows if r["cut"]]
    print()
    print(header)
    print(table)

    os.makedirs(args.out, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    dat = os.path.join(args.out, "results.dat")
    with open(dat, "w") as f:
        f.write(f"# bench_py.py, {now}\n# engine write_MBps ratio get_p50_us get_p99_us "
                "epoch_recps size_MiB\n")
        for r in rows:
            f.write(f"{r['engine']} {r['write_MBps']:.2f} {r['ratio']:.4f} {r['get_p50_us']:.2f} "
                    f"{r['get_p99_us']:.2f} {r['epoch_recps']:.1f} {r['size_MiB']:.2f}\n")
    png = os.path.join(args.out, "results.png")
    plotted = False
    if not args.no_plot and shutil.which("gnuplot"):
        plot = os.path.join(here, "plot.gnuplot")
        r = subprocess.run(["gnuplot", "-e", f"datafile='{dat}'; outfile='{png}'", plot],
                           capture_output=True, text=True)
        plotted = r.returncode == 0
        if not plotted:
            print(f"gnuplot failed: {r.stderr}", file=sys.stderr)
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cmd = "bench/python/bench_py.py " + " ".join(sys.argv[1:])
    try:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        load = "unknown"
    md = [
        "# vlstore from Python: against h5py, msgpack and lmdb",
        "",
        f"Generated by `{cmd.strip()}` on {now}. How each engine is used and what each "
        "column measures: the docstring of [bench_py.py](bench_py.py).",
        "",
        "## Run",
        "",
        f"- Workload: {len(frames)} MD frames, {sum(sizes) / 2**20:.1f} MiB of arrays "
        f"(types, masses, positions, forces; atoms per frame log-uniform 8..4096), "
        f"{record_bytes / 2**20:.1f} MiB as FlatBuffer records; seed {args.seed}",
        f"- Write and epoch: median of {args.repeat} runs; random gets: {args.gets} keys "
        f"(the same for every engine); epoch: every frame once, shuffled, batches of "
        f"{BATCH}; every read decodes to numpy arrays and is checked",
        f"- Reads are warm (files just written, in the page cache); one Python thread; a "
        f"get or epoch phase stops after {args.limit:g} s (then marked ~)",
        f"- Load average when the run ended: {load}",
        "",
        "## Machine",
        "",
        f"- CPU: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, numpy "
        f"{np.__version__}, vlstore {vlstore.__version__}",
        "",
        "## Results",
        "",
        "MB = 10^6 bytes of FlatBuffer frame records; ratio = record bytes / bytes allocated on "
        "disk; us = microseconds per get, decode included.",
        "",
        header,
        table,
        "",
    ]
    if cuts:
        md += ["Phases cut short (~): " + "; ".join(cuts) + ".", ""]
    if plotted:
        md += ["![results](results.png)", ""]
    md += ["## Engine settings", ""] + [f"- **{r['engine']}**: {r['settings']}" for r in rows]
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print(f"\nwrote {os.path.join(args.out, 'results.md')}, {dat}"
          + (f", {png}" if plotted else ""))
    if any(r["check"] != "ok" for r in rows):
        sys.exit(1)


# ---- the training suite ------------------------------------------------------------------
TRAIN_ENGINES = ("vlstore-collate", "vlstore-collate-1t", "vlstore-collate-t2", "vlstore-lists",
                 "lmdb-pickle",
                 "lmdb-msgpack", "msgpack-file", "c-loader", "c-loader-1t",
                 "torch-framebatches-w0", "torch-lmdb-pickle-w0", "torch-framebatches-w2",
                 "torch-lmdb-pickle-w2")


def frame_energy(i):
    return -1000.0 - 0.5 * i


def train_write(frames, d):
    """Writes every engine's files into d; returns {engine family: (paths, seconds)}."""
    import lmdb
    import msgpack

    out = {}
    t = time.perf_counter()
    p = os.path.join(d, "frames.vls")
    with SChunkStore(p, mode="w") as s:
        for i, (key, types, masses, pos, frc) in enumerate(frames):
            s.put(key, BackedAtomicData.from_values(
                name=key, masses=masses, atom_types=types, nsites=len(types), positions=pos,
                forces=frc, energy=frame_energy(i)).raw)
    out["vlstore"] = ([p], time.perf_counter() - t)
    total = sum(32 * len(fr[1]) + 512 for fr in frames)
    for fam, pack in (("lmdb-pickle", lambda i, fr: pickle.dumps(
                          {"pos": fr[3], "forces": fr[4],
                           "atomic_numbers": fr[1].astype(np.int64), "masses": fr[2],
                           "natoms": len(fr[1]), "energy": frame_energy(i)},
                          protocol=pickle.HIGHEST_PROTOCOL)),
                      ("lmdb-msgpack", lambda i, fr: msgpack.packb(
                          {"types": fr[1].tobytes(), "masses": fr[2].tobytes(),
                           "pos": fr[3].tobytes(), "forces": fr[4].tobytes(),
                           "energy": frame_energy(i)}))):
        t = time.perf_counter()
        p = os.path.join(d, fam + ".lmdb")
        env = lmdb.open(p, map_size=max(4 * total, 1 << 26), subdir=True)
        with env.begin(write=True) as txn:
            for i, fr in enumerate(frames):
                txn.put(fr[0].encode(), pack(i, fr))
        env.sync(True)
        env.close()
        out[fam] = ([p], time.perf_counter() - t)
    t = time.perf_counter()
    p = os.path.join(d, "frames.msgpack")
    offsets = [0]
    with open(p, "wb") as f:
        for i, (key, types, masses, pos, frc) in enumerate(frames):
            b = msgpack.packb({"types": types.tobytes(), "masses": masses.tobytes(),
                               "pos": pos.tobytes(), "forces": frc.tobytes(),
                               "energy": frame_energy(i)})
            f.write(b)
            offsets.append(offsets[-1] + len(b))
        f.flush()
        os.fsync(f.fileno())
    np.array(offsets, dtype=np.int64).tofile(p + ".idx")
    out["msgpack-file"] = ([p, p + ".idx"], time.perf_counter() - t)
    with open(os.path.join(d, "keys.json"), "w") as f:
        json.dump([fr[0] for fr in frames], f)
    return out


def _msg_arrays(m):
    return {"atomic_numbers": np.frombuffer(m["types"], np.int32),
            "masses": np.frombuffer(m["masses"], np.float32),
            "pos": np.frombuffer(m["pos"], np.float32).reshape(-1, 3),
            "forces": np.frombuffer(m["forces"], np.float32).reshape(-1, 3),
            "energy": m["energy"]}


def _touch_frame(pos, forces, z):
    """The per-frame work every engine does: read the frame's first position, force and type."""
    return float(pos[0, 0]) + float(forces[0, 0]) + int(z[0])


def _touch_batch(b):
    """The same work for a collated batch (numpy or torch): one index per field."""
    first = b["ptr"][:-1]
    return (float(b["pos"][first, 0].sum()) + float(b["forces"][first, 0].sum())
            + int(b["atomic_numbers"][first].sum()))


def _shuffled_batches(keys, seed):
    order = list(keys)
    random.Random(seed).shuffle(order)
    return [order[i:i + BATCH] for i in range(0, len(order), BATCH)]


class _LmdbPickleDataset:
    """The fairchem way: a map-style dataset of pickled dicts in LMDB (opened per process)."""

    def __init__(self, path, keys):
        self.path, self.keys, self.txn = path, [k.encode() for k in keys], None

    def __len__(self):
        return len(self.keys)

    def __getitem__(self, i):
        import torch
        if self.txn is None:
            import lmdb
            self.txn = lmdb.open(self.path, readonly=True, lock=False, subdir=True).begin()
        d = pickle.loads(self.txn.get(self.keys[i]))
        return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in d.items()}

    def __getstate__(self):
        return {"path": self.path, "keys": self.keys, "txn": None}


def _cat_collate(samples):
    import torch
    natoms = torch.tensor([s["natoms"] for s in samples], dtype=torch.int64)
    ptr = torch.zeros(len(samples) + 1, dtype=torch.int64)
    ptr[1:] = torch.cumsum(natoms, 0)
    return {"pos": torch.cat([s["pos"] for s in samples]),
            "forces": torch.cat([s["forces"] for s in samples]),
            "atomic_numbers": torch.cat([s["atomic_numbers"] for s in samples]),
            "masses": torch.cat([s["masses"] for s in samples]),
            "natoms": natoms, "ptr": ptr,
            "batch": torch.repeat_interleave(torch.arange(len(samples)), natoms),
            "energy": torch.tensor([s["energy"] for s in samples], dtype=torch.float64)}


def _rss_kib(field):
    """VmHWM (peak) or VmRSS (now) of this process, KiB. Not ru_maxrss: Linux carries that
    across execve, so a worker would report its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def train_worker(engine, d, seed):
    """One epoch of one engine in this process; prints a JSON line."""
    seed = int(seed)
    keys = json.load(open(os.path.join(d, "keys.json")))
    if engine.startswith("torch"):
        import torch
        torch.set_num_threads(1)
    rss_base = _rss_kib("VmRSS")
    n = atoms = 0
    t0 = time.perf_counter()
    if engine.startswith("vlstore-collate"):
        with BlockShuffleBatch(4, BATCH, os.path.join(d, "frames.vls"), collate=True,
                               seed=seed, prefetch=engine != "vlstore-collate-1t",
                               threads=2 if engine == "vlstore-collate-t2" else 1) as ld:
            for b in ld:
                _touch_batch(b)
                n += len(b["natoms"])
                atoms += int(b["ptr"][-1])
    elif engine == "vlstore-lists":
        with SChunkStore(os.path.join(d, "frames.vls"), mode="r") as s:
            with BlockShuffleBatch(4, BATCH, Depot(BackedAtomicDataCodec, s), seed=seed) as ld:
                for batch in ld.keyed():
                    for _k, f in batch:
                        _touch_frame(f.pos, f.forces, f.atom_types)
                        n += 1
                        atoms += f.n_sites
    elif engine in ("lmdb-pickle", "lmdb-msgpack"):
        import lmdb
        import msgpack
        txn = lmdb.open(os.path.join(d, engine + ".lmdb"), readonly=True, lock=False).begin()
        for ks in _shuffled_batches(keys, seed):
            if engine == "lmdb-pickle":
                batch = [pickle.loads(txn.get(k.encode())) for k in ks]
            else:
                batch = [_msg_arrays(msgpack.unpackb(txn.get(k.encode()))) for k in ks]
            for f in batch:
                _touch_frame(f["pos"], f["forces"], f["atomic_numbers"])
                n += 1
                atoms += len(f["atomic_numbers"])
    elif engine == "msgpack-file":
        import msgpack
        p = os.path.join(d, "frames.msgpack")
        off = np.fromfile(p + ".idx", dtype=np.int64)
        where = {k: (int(off[i]), int(off[i + 1] - off[i])) for i, k in enumerate(keys)}
        fd = os.open(p, os.O_RDONLY)
        for ks in _shuffled_batches(keys, seed):
            batch = [_msg_arrays(msgpack.unpackb(os.pread(fd, where[k][1], where[k][0])))
                     for k in ks]
            for f in batch:
                _touch_frame(f["pos"], f["forces"], f["atomic_numbers"])
                n += 1
                atoms += len(f["atomic_numbers"])
        os.close(fd)
    elif engine.startswith("torch-"):
        from torch.utils.data import DataLoader
        workers = int(engine.rsplit("-w", 1)[1])
        if engine.startswith("torch-framebatches"):
            from vlstore.torch import FrameBatches
            dl = DataLoader(FrameBatches(os.path.join(d, "frames.vls"), batch_size=BATCH,
                                         read_size=4, seed=seed),
                            batch_size=None, num_workers=workers)
        else:
            ds = _LmdbPickleDataset(os.path.join(d, "lmdb-pickle.lmdb"), keys)
            g = torch.Generator().manual_seed(seed)
            dl = DataLoader(ds, batch_size=BATCH, shuffle=True, generator=g,
                            num_workers=workers, collate_fn=_cat_collate)
        t0 = time.perf_counter()  # workers start with the first next()
        for b in dl:
            _touch_batch(b)
            n += len(b["natoms"])
            atoms += int(b["ptr"][-1])
    else:
        sys.exit(f"bench_py: unknown training engine {engine!r}")
    dt = time.perf_counter() - t0
    print(json.dumps({"engine": engine, "recps": n / dt, "n": n, "atoms": atoms,
                      "rss_peak_kib": _rss_kib("VmHWM"),
                      "rss_base_kib": rss_base}), flush=True)


def c_loader_rate(cli, path, seed, one_thread):
    cmd = [cli, "epoch", path, "--batch-size", str(BATCH), "--read-size", "4", "--seed",
           str(seed)] + (["--no-prefetch"] if one_thread else [])
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench_py: {' '.join(cmd)} failed: {r.stderr}")
    import re
    m = re.search(r"([0-9]+) records/s", r.stdout)
    n = re.search(r": ([0-9]+) records in", r.stdout)
    return {"engine": "c-loader-1t" if one_thread else "c-loader", "recps": float(m.group(1)),
            "n": int(n.group(1)), "atoms": -1, "rss_peak_kib": 0, "rss_base_kib": 0,
            "wall": time.perf_counter() - t, "cmd": " ".join(cmd)}


def train_suite(args, here):
    names = [e for e in (args.engines or ",".join(TRAIN_ENGINES)).split(",") if e]
    if args.suite == "all":
        names = [e for e in names if e in TRAIN_ENGINES]
    for e in names:
        if e not in TRAIN_ENGINES:
            sys.exit(f"bench_py: unknown training engine {e!r} (known: "
                     f"{', '.join(TRAIN_ENGINES)})")
    root = os.path.dirname(os.path.dirname(here))
    cli = args.vlstore_cli or os.path.join(root, "build", "vlstore")
    frames = generate(args.size, args.seed)
    nframes, natoms = len(frames), sum(len(fr[1]) for fr in frames)
    own_dir = args.dir is None
    d = tempfile.mkdtemp(prefix="vls_bench_train.") if own_dir else args.dir
    os.makedirs(d, exist_ok=True)
    try:
        written = train_write(frames, d)
        del frames
        sizes = {fam: sum(disk_bytes(p) for p in paths) for fam, (paths, _t) in written.items()}
        print(f"training suite: {nframes} frames, {natoms} atoms; files in {d}: "
              + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sizes.items()), flush=True)
        runs = {e: [] for e in names}
        env = dict(os.environ, OMP_NUM_THREADS="1")
        for rep in range(max(1, args.repeat)):  # interleaved: engine after engine, per round
            for e in names:
                if e.startswith("c-loader"):
                    r = c_loader_rate(cli, os.path.join(d, "frames.vls"), args.seed + rep,
                                      e == "c-loader-1t")
                else:
                    p = subprocess.run([sys.executable, os.path.abspath(__file__),
                                        "--train-worker", e, d, str(args.seed + rep)],
                                       capture_output=True, text=True, env=env)
                    if p.returncode != 0:
                        sys.exit(f"bench_py: training worker {e} failed:\n{p.stderr}")
                    r = json.loads(p.stdout.strip().splitlines()[-1])
                r["ok"] = r["n"] == nframes and r["atoms"] in (-1, natoms)
                runs[e].append(r)
                print(f"  round {rep + 1}: {e:24s} {r['recps']:9.0f} rec/s  peak RSS "
                      f"{r['rss_peak_kib'] / 1024:7.1f} MiB  {'ok' if r['ok'] else 'WRONG COUNT'}",
                      flush=True)
    finally:
        if own_dir:
            shutil.rmtree(d, ignore_errors=True)
    rows = []
    for e in names:
        rs = runs[e]
        rows.append({"engine": e, "recps": float(np.median([r["recps"] for r in rs])),
                     "min": min(r["recps"] for r in rs), "max": max(r["recps"] for r in rs),
                     "peak": max(r["rss_peak_kib"] for r in rs) / 1024,
                     "base": max(r["rss_base_kib"] for r in rs) / 1024,
                     "ok": all(r["ok"] for r in rs)})
    write_train_report(args, here, rows, sizes, nframes, natoms)


def write_train_report(args, here, rows, sizes, nframes, natoms):
    by = {r["engine"]: r for r in rows}

    def ratio(a, b):
        return by[a]["recps"] / by[b]["recps"] if a in by and b in by else float("nan")

    def size_ratio(fam):
        return sizes[fam] / sizes["vlstore"]

    goals = [
        ("collate epoch >= 2x LMDB + pickle", ratio("vlstore-collate", "lmdb-pickle"), 2.0),
        ("collate epoch >= 1.5x LMDB + msgpack", ratio("vlstore-collate", "lmdb-msgpack"), 1.5),
        ("collate epoch >= 1.5x msgpack file", ratio("vlstore-collate", "msgpack-file"), 1.5),
        ("file >= 1.6x smaller than LMDB + pickle", size_ratio("lmdb-pickle"), 1.6),
        ("file >= 1.6x smaller than LMDB + msgpack", size_ratio("lmdb-msgpack"), 1.6),
        ("file >= 1.6x smaller than the msgpack file", size_ratio("msgpack-file"), 1.6),
        ("collate >= 80 % of the C loader (prefetch, 1 decode thread)",
         ratio("vlstore-collate", "c-loader"), 0.8),
        ("collate-1t >= 80 % of the C loader on one thread (no prefetch)",
         ratio("vlstore-collate-1t", "c-loader-1t"), 0.8),
        ("DataLoader(FrameBatches, 0 workers) >= 2x LMDB + pickle map-style",
         ratio("torch-framebatches-w0", "torch-lmdb-pickle-w0"), 2.0),
        ("DataLoader(FrameBatches, 2 workers) vs LMDB + pickle map-style, 2 workers",
         ratio("torch-framebatches-w2", "torch-lmdb-pickle-w2"), None),
    ]
    cmd = "bench/python/bench_py.py " + " ".join(sys.argv[1:])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        load = "unknown"
    table = ["| engine | epoch frames/s (median) | min .. max | peak RSS MiB | base RSS MiB "
             "| check |", "|:--|--:|--:|--:|--:|:--|"]
    for r in rows:
        peak = f"{r['peak']:.0f}" if r["peak"] else "-"
        base = f"{r['base']:.0f}" if r["base"] else "-"
        table.append(f"| {r['engine']} | {r['recps']:.0f} | {r['min']:.0f} .. {r['max']:.0f} | "
                     f"{peak} | {base} | {'ok' if r['ok'] else 'WRONG COUNT'} |")
    gl = ["| goal | measured | met |", "|:--|--:|:--|"]
    for text, v, want in goals:
        if v != v:  # NaN: an engine was not run
            continue
        met = "-" if want is None else ("yes" if v >= want else "no")
        gl.append(f"| {text} | {v:.2f}x | {met} |")
    sz = ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sizes.items())
    md = ["# vlstore's training path from Python: against LMDB + pickle / msgpack", "",
          f"Generated by `{cmd.strip()}` on {now}; the engines and the work per frame are in "
          "the docstring of [bench_py.py](bench_py.py).", "",
          f"- {nframes} frames, {natoms} atoms (seed {args.seed}), batches of {BATCH}; each "
          f"engine in its own process, {args.repeat} interleaved rounds, median; warm page "
          f"cache; load average at the end: {load}; {os.cpu_count()} cores",
          f"- Files: {sz}", "", *table, "", "## Goals of issue 12", "", *gl, ""]
    os.makedirs(args.out, exist_ok=True)
    dat = os.path.join(args.out, "train.dat")
    with open(dat, "w") as f:
        f.write("# engine frames_per_s peak_rss_mib\n")
        for r in rows:
            f.write(f"{r['engine']} {r['recps']:.1f} {r['peak']:.1f}\n")
    png = os.path.join(args.out, "train.png")
    if not args.no_plot and shutil.which("gnuplot"):
        p = subprocess.run(["gnuplot", "-e", f"datafile='{dat}'; outfile='{png}'",
                            os.path.join(here, "plot_train.gnuplot")],
                           capture_output=True, text=True)
        if p.returncode == 0:
            md += ["![training path](train.png)", ""]
        else:
            print(f"gnuplot failed: {p.stderr}", file=sys.stderr)
    with open(os.path.join(args.out, "train.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print()
    print("\n".join(table))
    print()
    print("\n".join(gl))
    print(f"\nwrote {os.path.join(args.out, 'train.md')}, {dat}")


if __name__ == "__main__":
    main()
