"""Convert datasets into a vlstore file of frames: `vlstore convert SRC OUT.vls` runs this.

    python3 -m vlstore.convert SRC OUT.vls [--replace] [--float32] [--quiet]

SRC is
  - an ASE database (``.db``: SQLite, or any backend ase.db.connect reads by file name):
    each row's Atoms with its calculator results, its key_value_pairs and data (into
    atoms.info), keyed ``<db file stem>/<row id>``;
  - an LMDB of pickled ase.Atoms, the layout of fairchem's LmdbDataset: a ``.lmdb`` file
    (or an LMDB directory holding data.mdb, or a directory of ``*.lmdb`` shards), values
    ``pickle.dumps(atoms)`` under keys ``b"0"``, ``b"1"``, ..., plus an optional ``b"length"``
    entry; keyed ``<lmdb file stem>/<lmdb key>``.
    Unpickling runs code chosen by whoever wrote the file: convert only LMDBs you trust.
Frames are written with vlstore.ase.to_frame (float64 unless --float32). Entries that cannot
be read (not unpicklable, not an Atoms, a row ASE cannot build) are listed on stderr with
their key; the others are still converted, and the exit status is then 1. An existing key is
never overwritten unless --replace (exit status 1 at the first one). Progress goes to stderr
when it is a terminal (not with --quiet); the final count to stdout.
"""
from __future__ import annotations

import argparse
import glob
import os
import pickle
import sys
import time
from typing import Iterator, Tuple

MAX_LISTED = 50


class Progress:
    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.t0 = total, 0, time.monotonic()
        self.live = not quiet and sys.stderr.isatty()
        self.last = 0.0

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.live and (now - self.last > 0.2 or self.done == self.total):
            self.last = now
            rate = self.done / max(now - self.t0, 1e-9)
            left = (self.total - self.done) / rate if rate > 0 and self.total else 0
            sys.stderr.write(f"\r{self.done}/{self.total} frames, {rate:.0f}/s, "
                             f"{left:.0f} s left   ")
            sys.stderr.flush()

    def end(self) -> None:
        if self.live:
            sys.stderr.write("\n")


def _stem(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    stem, ext = os.path.splitext(base)
    return stem if ext and stem else base


def ase_db_entries(path: str) -> Tuple[int, Iterator]:
    """(count, iterator of (key, Atoms or an Exception))."""
    import ase.db

    db = ase.db.connect(path)
    stem = _stem(path)

    def rows():
        for row in db.select():
            try:
                atoms = row.toatoms()
                atoms.info.update(row.key_value_pairs)
                for k, v in (row.get("data") or {}).items():
                    atoms.info.setdefault(k, v)
                yield f"{stem}/{row.id}", atoms
            except Exception as err:  # a row ASE cannot turn into Atoms
                yield f"{stem}/{row.id}", err

    return db.count(), rows()


def lmdb_files(path: str) -> list:
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, "data.mdb")):
        shards = sorted(glob.glob(os.path.join(path, "*.lmdb")))
        if not shards:
            raise ValueError(f"{path}: a directory without data.mdb or *.lmdb files")
        return shards
    return [path]


def lmdb_entries(path: str) -> Tuple[int, Iterator]:
    import lmdb
    from ase import Atoms

    envs = []
    for f in lmdb_files(path):
        try:
            envs.append((f, lmdb.open(f, subdir=os.path.isdir(f), readonly=True, lock=False,
                                      readahead=False, meminit=False)))
        except lmdb.Error as err:
            raise ValueError(f"{f}: not an LMDB: {err}") from None
    total = sum(env.stat()["entries"] for _, env in envs)

    def entries():
        for f, env in envs:
            stem = _stem(f)
            with env.begin() as txn:
                for k, v in txn.cursor():
                    name = k.decode("utf-8", "backslashreplace")
                    try:
                        obj = pickle.loads(v)
                    except Exception as err:
                        yield f"{stem}/{name}", ValueError(f"cannot unpickle: {err}")
                        continue
                    if k == b"length" and isinstance(obj, int):
                        continue  # LmdbDataset's entry count
                    if not isinstance(obj, Atoms):
                        yield f"{stem}/{name}", TypeError(
                            f"a pickled {type(obj).__module__}.{type(obj).__name__}, "
                            "not an ase.Atoms")
                        continue
                    yield f"{stem}/{name}", obj
            env.close()

    return total, entries()


def open_source(path: str) -> Tuple[int, Iterator]:
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such file or directory")
    low = path.lower().rstrip("/")
    if low.endswith((".db", ".json", ".sqlite")) and not os.path.isdir(path):
        return ase_db_entries(path)
    if low.endswith((".lmdb", ".aselmdb")) or os.path.isdir(path):
        return lmdb_entries(path)
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"SQLite format 3"):
        return ase_db_entries(path)
    raise ValueError(f"{path}: not an ASE database (.db) or an LMDB (.lmdb / LMDB directory)")


def convert(src: str, out: str, replace: bool = False, precision: int = 64,
            quiet: bool = False) -> int:
    from .ase import to_frame
    from .store import SChunkStore
    from ._errors import ExistsError

    try:
        total, entries = open_source(src)
    except (ValueError, OSError) as err:
        print(f"vlstore convert: {err}", file=sys.stderr)
        return 1
    bad = []
    n = 0
    progress = Progress(total, quiet)
    t0 = time.monotonic()
    status = 0
    with SChunkStore(out, mode="a") as store:
        for key, atoms in entries:
            progress.step()
            if isinstance(atoms, Exception):
                bad.append((key, atoms))
                continue
            try:
                raw = to_frame(atoms, precision=precision).raw
            except (TypeError, ValueError) as err:
                bad.append((key, err))
                continue
            try:
                store.put(key, raw, overwrite=replace)
            except ExistsError:
                progress.end()
                print(f"vlstore convert: key {key} already exists in {out} (not overwritten; "
                      "--replace overwrites)", file=sys.stderr)
                status = 1
                break
            n += 1
        store.commit()
    progress.end()
    dt = time.monotonic() - t0
    for key, err in bad[:MAX_LISTED]:
        print(f"vlstore convert: {src}: entry {key}: {err}", file=sys.stderr)
    if len(bad) > MAX_LISTED:
        print(f"vlstore convert: ... and {len(bad) - MAX_LISTED} more unreadable entries",
              file=sys.stderr)
    print(f"converted {n} frames from {src} into {out} in {dt:.3f} s "
          f"({n / max(dt, 1e-9):.0f} frames/s); {len(bad)} unreadable entries")
    return 1 if bad or status else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="vlstore convert", description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--replace", action="store_true", help="overwrite existing keys")
    ap.add_argument("--float32", action="store_true", help="store real arrays as float32")
    ap.add_argument("--quiet", action="store_true", help="no progress line")
    a = ap.parse_args(argv)
    return convert(a.src, a.out, a.replace, 32 if a.float32 else 64, a.quiet)


if __name__ == "__main__":
    sys.exit(main())
