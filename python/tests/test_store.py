"""SChunkStore and Depot: the whole API, keys, modes, options, errors, threads."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import vlstore
from vlstore import (ClosedError, CorruptError, ExistsError, InvalidArgumentError, LockedError,
                     NotFoundError, ReadOnlyError)
from vlstore.serialize import flatfloatndarray_codec
from vlstore.store import Depot, SChunkStore, encode_key


# ---- keys ----------------------------------------------------------------------------------
def test_key_kinds_and_iteration():
    s = SChunkStore()
    s["text"] = b"1"
    s[b"\x00raw\xff"] = b"2"
    s[7] = b"3"
    s[np.int64(2**40)] = b"4"  # anything with __index__
    assert s["text"] == b"1" and s[b"text"] == b"1"  # str is its UTF-8 bytes
    assert s[b"\x00raw\xff"] == b"2"
    assert s[7] == b"3" and s[(7).to_bytes(8, "big")] == b"3"  # int is 8 bytes big-endian
    assert s[2**40] == b"4"
    assert encode_key(7) == b"\x00" * 7 + b"\x07"
    assert len(s) == 4
    # default key_type="str": UTF-8 keys as str, the rest as bytes
    keys = list(s)
    assert "text" in keys and b"\x00raw\xff" in keys
    assert s.keys() == keys
    assert dict(s.items())["text"] == b"1"


def test_key_type_int_and_bytes():
    s = SChunkStore(key_type="int")
    for i in (5, 1, 2**63, 0):
        s[i] = str(i).encode()
    s["name"] = b"x"
    ks = list(s)
    assert sorted(k for k in ks if isinstance(k, int)) == [0, 1, 5, 2**63]
    assert b"name" in ks  # not 8 bytes: comes back as bytes
    sb = SChunkStore(key_type="bytes")
    sb["a"] = b""
    assert list(sb) == [b"a"]
    with pytest.raises(ValueError):
        SChunkStore(key_type="float")


def test_bad_keys():
    s = SChunkStore()
    with pytest.raises(ValueError):
        s[""] = b"x"
    with pytest.raises(ValueError):
        s[-1] = b"x"
    with pytest.raises(ValueError):
        s[2**64] = b"x"
    with pytest.raises(TypeError):
        s[1.5] = b"x"
    with pytest.raises(ValueError):
        s[b"k" * (vlstore._core.MAX_KEY + 1)] = b"x"
    s[b"k" * vlstore._core.MAX_KEY] = b"longest key"
    assert s[b"k" * vlstore._core.MAX_KEY] == b"longest key"
    assert 1.5 not in s and "" not in s
    with pytest.raises(TypeError):
        s.put("a", "a str is not bytes")


# ---- records -------------------------------------------------------------------------------
def test_values_of_every_size_and_buffer_kind(rng):
    s = SChunkStore(chunksize=65536)
    vals = {
        "empty": b"",
        "one": b"\x01",
        "bytearray": bytearray(b"ba" * 1000),
        "memoryview": memoryview(b"mv" * 3),
        "numpy": rng.random((10, 3)),
        "big": rng.integers(0, 255, 300_000, dtype=np.uint8),  # spans several chunks
    }
    for k, v in vals.items():
        s.put(k, v)
    for k, v in vals.items():
        assert s[k] == bytes(memoryview(v).cast("B"))
        assert s.size(k) == memoryview(v).nbytes
    s.commit()
    for k, v in vals.items():
        assert s.get(k) == bytes(memoryview(v).cast("B"))


def test_get_into_out():
    s = SChunkStore()
    s["k"] = b"0123456789"
    out = bytearray(10)
    assert s.get("k", out=out) is out and out == b"0123456789"
    big = bytearray(16)
    r = s.get("k", out=big)
    assert bytes(r) == b"0123456789" and big[:10] == b"0123456789"
    a = np.zeros(5, dtype=np.uint16)
    s.get("k", out=a)
    assert a.tobytes() == b"0123456789"
    with pytest.raises(InvalidArgumentError, match="needs 10"):
        s.get("k", out=bytearray(3))
    with pytest.raises(BufferError):
        s.get("k", out=b"read-only bytes")


def test_overwrite_delete_contains_len():
    s = SChunkStore()
    s.put("a", b"1")
    s.put("a", b"22")
    assert s["a"] == b"22" and len(s) == 1
    with pytest.raises(ExistsError) as ei:
        s.put("a", b"333", overwrite=False)
    assert isinstance(ei.value, ValueError) and "already exists" in str(ei.value)
    assert s["a"] == b"22"
    del s["a"]
    assert "a" not in s and len(s) == 0
    with pytest.raises(KeyError):
        del s["a"]
    with pytest.raises(KeyError) as ei:
        s["a"]
    assert isinstance(ei.value, NotFoundError)
    assert ei.value.args[0] == "a" and ei.value.code == vlstore._core.E_NOTFOUND
    assert "a" in str(ei.value)  # the C message names the key


def test_fused_get(rng):
    s = SChunkStore(chunksize=8192)
    data = {f"k{i}": rng.integers(0, 255, int(rng.integers(0, 5000)), dtype=np.uint8).tobytes()
            for i in range(200)}
    for k, v in data.items():
        s[k] = v
    keys = list(data)[::-1][:150] + ["k3", "k3"]  # any order, duplicates allowed
    buf, slices = s.fused_get(keys)
    assert isinstance(buf, bytearray)
    assert s.fused_size(keys) == len(buf) == sum(len(data[k]) for k in keys)
    for k, sl in zip(keys, slices):
        assert buf[sl] == data[k]
    out = np.zeros(len(buf) + 10, dtype=np.uint8)
    buf2, slices2 = s.fused_get(keys, out=out)
    assert buf2 is out and slices2 == slices
    with pytest.raises(InvalidArgumentError):
        s.fused_get(keys, out=bytearray(10))
    views = s.get_many(keys[:3])
    assert [bytes(v) for v in views] == [data[k] for k in keys[:3]]
    assert s.fused_get([]) == (bytearray(), [])
    with pytest.raises(KeyError) as ei:
        s.fused_get(["k1", "nope", "k2", "nope2"])
    assert ei.value.args[0] == "nope" and "2 of 4 keys" in str(ei.value)
    with pytest.raises(TypeError):
        s.fused_get("k1")


@pytest.mark.parametrize("alignment", ["no_cross", "contiguous", "start"])
def test_alignments(alignment, rng):
    s = SChunkStore(chunksize=4096, alignment=alignment)
    assert s.alignment == alignment
    vals = [rng.integers(0, 255, int(n), dtype=np.uint8).tobytes()
            for n in rng.integers(1, 3000, 100)]
    for i, v in enumerate(vals):
        s[i] = v
    s.commit()
    buf, slices = s.fused_get(range(len(vals)))
    assert all(buf[sl] == v for sl, v in zip(slices, vals))
    chunks = s.stat()["chunks"]
    if alignment == "start":
        assert chunks == len(vals)
    else:
        assert chunks < len(vals)


def test_alignment_arguments():
    assert SChunkStore(start_aligned=True).alignment == "start"
    assert SChunkStore(start_aligned=False).alignment == "no_cross"
    assert SChunkStore().alignment == "no_cross"
    with pytest.raises(ValueError):
        SChunkStore(alignment="diagonal")
    with pytest.raises(ValueError):
        SChunkStore(alignment="contiguous", start_aligned=True)


def test_write_behind_on_and_off_write_the_same_records(tmp_path, rng):
    recs = {f"k{i}": rng.integers(0, 255, size=int(rng.integers(1, 40000)), dtype=np.uint8)
            .tobytes() for i in range(200)}
    chunks = []
    for wb in (True, False):
        with SChunkStore(tmp_path / f"wb{wb}.vls", chunksize=1 << 16, write_behind=wb) as s:
            assert s.settings["write_behind"] is wb
            for k, v in recs.items():
                s[k] = v
                assert s[k] == v  # the writer reads its own, possibly still compressing, chunk
        with SChunkStore(tmp_path / f"wb{wb}.vls", mode="r") as s:
            assert {k: s[k] for k in recs} == recs
            chunks.append(s.stat()["chunks"])
    assert chunks[0] == chunks[1] > 10


def test_options_are_stored_in_the_file(tmp_path):
    p = tmp_path / "o.vls"
    with SChunkStore(p, chunksize=1 << 16, codec="zstd", level=5, shuffle="bit", typesize=8,
                     blocksize=1 << 14, alignment="contiguous", threads=2,
                     cache_size=1 << 20) as s:
        s["a"] = b"x" * 100000
        st = s.settings
        assert (st["chunk_size"], st["codec"], st["level"], st["shuffle"], st["typesize"],
                st["block_size"], st["placement"], st["threads"], st["cache_bytes"]) == \
            (1 << 16, "zstd", 5, 2, 8, 1 << 14, "contiguous", 2, 1 << 20)
        assert s.chunksize == 1 << 16 and s.typesize == 8
    # reopening ignores creation options and reads the file's
    with SChunkStore(p, chunksize=1 << 20, codec="lz4") as s:
        assert s.settings["codec"] == "zstd" and s.chunksize == 1 << 16
        assert s["a"] == b"x" * 100000
        assert s.cratio > 10  # 100000 equal bytes compress very well
    with SChunkStore(codec="none", random_access=True, shuffle=False) as s:
        assert s.settings["codec"] == "none" and s.settings["block_size"] == 65536
        assert s.settings["shuffle"] == 0
    for bad in (dict(codec="snappy"), dict(shuffle="sideways"), dict(level=-1),
                dict(chunksize=2**31)):
        with pytest.raises(ValueError):
            SChunkStore(**bad)


# ---- files, modes, locking, durability -----------------------------------------------------
def test_modes(tmp_path):
    p = tmp_path / "m.vls"
    with pytest.raises(FileNotFoundError):
        SChunkStore(p, mode="r")
    s = SChunkStore(p)  # missing: created read-write (the seed's rule)
    assert not s.read_only
    s["a"] = b"1"
    s.close()
    s = SChunkStore(p)  # existing: read-only (the seed's rule)
    assert s.read_only and s["a"] == b"1"
    with pytest.raises(ReadOnlyError) as ei:
        s["b"] = b"2"
    assert isinstance(ei.value, ValueError)
    s.commit()  # harmless on a read-only store
    s.close()
    with SChunkStore(p, mode="a") as s:  # append to an existing store
        s["b"] = b"2"
        assert sorted(s) == ["a", "b"]
    with SChunkStore(p, mode="w") as s:  # start empty
        assert len(s) == 0
        s["c"] = b"3"
    with pytest.raises(ExistsError):
        SChunkStore(p, mode="x")
    with pytest.raises(ValueError):
        SChunkStore(p, mode="rw")
    with pytest.raises(ValueError):
        SChunkStore(tmp_path)  # a directory
    with pytest.raises(FileNotFoundError):
        SChunkStore(tmp_path / "no" / "dir.vls")
    with pytest.raises(ValueError):
        SChunkStore(None, mode="r")


def test_close_and_closed_errors(tmp_path):
    s = SChunkStore(tmp_path / "c.vls")
    s["a"] = b"1"
    s.close()
    s.close()  # twice is fine
    assert s.closed and "closed" in repr(s)
    for op in (lambda: s["a"], lambda: s.put("b", b""), lambda: len(s), lambda: list(s),
               lambda: s.fused_get(["a"]), lambda: s.commit()):
        with pytest.raises(ClosedError):
            op()
    with SChunkStore(tmp_path / "c.vls") as r:
        assert r["a"] == b"1"
    assert r.closed


def test_second_writer_is_locked_readers_are_not(tmp_path):
    p = tmp_path / "l.vls"
    w = SChunkStore(p, mode="a")
    w["a"] = b"1"
    w.commit()
    with pytest.raises(LockedError) as ei:
        SChunkStore(p, mode="a")
    assert isinstance(ei.value, OSError) and ei.value.code == vlstore._core.E_LOCKED
    # another process too
    code = ("import sys, vlstore\nfrom vlstore.store import SChunkStore\n"
            "try:\n    SChunkStore(sys.argv[1], mode='a')\n"
            "except vlstore.LockedError as e:\n    print('locked:', e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True,
                         env=dict(os.environ), check=True)
    assert out.stdout.startswith("locked:"), out.stderr
    r = SChunkStore(p)  # readers never wait, and see the last commit
    assert r.read_only and r["a"] == b"1"
    w["b"] = b"2"
    w.commit()
    assert "b" not in r
    r.refresh()
    assert r["b"] == b"2"
    w.close()
    SChunkStore(p, mode="a").close()  # the lock is gone with the writer


def test_commit_is_durable_without_close(tmp_path):
    """A process that commits and then dies without closing leaves the committed records."""
    p = tmp_path / "k.vls"
    code = ("import os, sys\nfrom vlstore.store import SChunkStore\n"
            "s = SChunkStore(sys.argv[1])\n"
            "s['kept'] = b'yes'\ns.commit()\ns['lost'] = b'no'\nos._exit(0)\n")
    subprocess.run([sys.executable, "-c", code, str(p)], check=True, env=dict(os.environ))
    with SChunkStore(p) as s:
        assert s["kept"] == b"yes" and "lost" not in s


def test_stat_verify_compact(tmp_path):
    p = tmp_path / "s.vls"
    with SChunkStore(p) as s:
        for i in range(100):
            s[i] = bytes([i]) * 1000
        for i in range(50):
            del s[i]
        s.commit()
        st = s.stat()
        assert st["records"] == 50 and st["logical_bytes"] == 50_000
        assert st["dead_bytes"] == 50_000 and st["format_version"] == 1
        assert s.verify() == []
        s.compact(tmp_path / "c.vls")
    with SChunkStore(tmp_path / "c.vls") as c:
        assert c.stat()["dead_bytes"] == 0 and len(c) == 50
        assert all(c[i] == bytes([i]) * 1000 for i in range(50, 100))


def test_verify_reads_nosync_nommap(tmp_path):
    p = tmp_path / "f.vls"
    with SChunkStore(p, verify_reads=True, sync=False, mmap=False) as s:
        s["a"] = b"abc" * 1000
        assert s["a"] == b"abc" * 1000
    with SChunkStore(p, verify_reads=True, mmap=False) as s:
        assert s["a"] == b"abc" * 1000


# ---- damaged files -----------------------------------------------------------------------
def test_foreign_and_truncated_files_raise_corrupt(tmp_path):
    junk = tmp_path / "junk.vls"
    junk.write_bytes(b"this is not a vlstore file at all" * 10)
    with pytest.raises(CorruptError) as ei:
        SChunkStore(junk)
    assert isinstance(ei.value, OSError) and ei.value.code == vlstore._core.E_BADMAGIC
    assert "junk.vls" in str(ei.value)
    good = tmp_path / "good.vls"
    with SChunkStore(good) as s:
        s["a"] = b"x" * 5000
    cut = tmp_path / "cut.vls"
    cut.write_bytes(good.read_bytes()[:40])
    with pytest.raises(CorruptError):
        SChunkStore(cut)


def test_flipped_bytes_never_give_wrong_records(tmp_path, rng):
    good = tmp_path / "good.vls"
    vals = {i: rng.integers(0, 255, 3000, dtype=np.uint8).tobytes() for i in range(40)}
    with SChunkStore(good, chunksize=16384, codec="none") as s:
        for k, v in vals.items():
            s[k] = v
    raw = bytearray(good.read_bytes())
    errors = 0
    for trial in range(20):
        bad = bytearray(raw)
        pos = int(rng.integers(64, len(raw) - 200))  # inside the data (not the trailer)
        bad[pos] ^= 0x5A
        path = tmp_path / f"bad{trial}.vls"
        path.write_bytes(bytes(bad))
        try:
            s = SChunkStore(path)
        except CorruptError:
            errors += 1
            continue
        with s:
            for k, v in vals.items():
                try:
                    got = s[k]
                except CorruptError as e:
                    assert e.code in (vlstore._core.E_CHECKSUM, vlstore._core.E_CORRUPT,
                                      vlstore._core.E_CODEC, vlstore._core.E_TRUNCATED)
                    errors += 1
                    continue
                assert got == v  # never wrong bytes
            problems = s.verify()
            assert problems, "verify() must notice a flipped byte"
    assert errors > 0


# ---- threads -------------------------------------------------------------------------------
def test_threads_read_one_store_at_once(rng):
    s = SChunkStore(chunksize=1 << 16, threads=2)
    vals = {i: rng.integers(0, 255, int(rng.integers(1, 20000)), dtype=np.uint8).tobytes()
            for i in range(300)}
    for k, v in vals.items():
        s[k] = v
    s.commit()
    failures = []

    def reader(seed):
        r = np.random.default_rng(seed)
        for _ in range(200):
            ks = [int(k) for k in r.integers(0, 300, 8)]
            if r.random() < 0.5:
                buf, sl = s.fused_get(ks)
                got = [bytes(buf[x]) for x in sl]
            else:
                got = [s[k] for k in ks]
            if got != [vals[k] for k in ks]:
                failures.append(ks)

    ts = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not failures


def test_iterate_while_another_thread_writes():
    """Iteration copies keys out of the index while a writer thread (GIL released inside
    put) keeps changing it: the two are serialized, so keys are never read after a change
    freed them (this would show up under the ASan build of test_python)."""
    s = SChunkStore(chunksize=4096)
    for i in range(2000):
        s[f"base{i}"] = b"x" * 50
    stop = threading.Event()
    errors = []

    def writer():
        i = 0
        while not stop.is_set():
            s[f"new{i}"] = b"y" * 100
            if i % 3 == 0:
                del s[f"new{i}"]
            if i % 97 == 0:
                s.commit()
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(20):
            keys = list(s)
            if len(set(keys)) != len(keys) or not all(
                    k.startswith(("base", "new")) for k in keys):
                errors.append(keys[:5])
            assert sum(k.startswith("base") for k in keys) == 2000
    finally:
        stop.set()
        t.join()
    assert not errors


def test_gil_is_released_during_reads(rng):
    """While one thread is inside a long fused_get, another Python thread keeps running."""
    s = SChunkStore(chunksize=1 << 22, codec="zstd", level=3, cache_size=0)
    block = rng.random(1 << 19).astype(np.float32).tobytes()  # 2 MiB
    for i in range(24):
        s[i] = block
    s.commit()
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.5)  # a GIL-holding call would starve the other thread
    try:
        counter = [0]
        stop = threading.Event()
        started = threading.Event()

        def spin():
            started.set()
            while not stop.is_set():
                counter[0] += 1

        t = threading.Thread(target=spin)
        t.start()
        started.wait()
        progressed = 0
        for _ in range(3):
            c0 = counter[0]
            s.fused_get(range(24))  # ~48 MiB of zstd decoding
            if counter[0] > c0:
                progressed += 1
        stop.set()
        t.join()
    finally:
        sys.setswitchinterval(old)
    assert progressed >= 2


def test_close_refused_while_in_use():
    s = SChunkStore()
    s["a"] = b"1"
    h = s.handle
    assert h.nloaders == 0
    s.close()
    assert h.closed


# ---- Depot -------------------------------------------------------------------------------
def test_depot_api(tmp_path, rng):
    p = tmp_path / "d.vls"
    arrays = {f"a{i}": rng.random(int(rng.integers(1, 1000)), dtype=np.float32)
              for i in range(30)}
    with Depot(flatfloatndarray_codec, p) as d:  # a path: the Depot opens and owns the store
        for k, v in arrays.items():
            d.put(k, v)
        d["extra"] = np.ones(3, np.float32)
        assert "extra" in d and len(d) == 31
        del d["extra"]
        assert sorted(d.keys()) == sorted(arrays) and sorted(d) == sorted(arrays)
    assert d.backing.closed  # owned backing closed at exit
    store = SChunkStore(p)
    with Depot(codec=flatfloatndarray_codec, backing=store) as d:
        for k, v in arrays.items():
            assert np.array_equal(d.get(k), v)
            assert np.array_equal(d[k], v)
        keys = list(arrays)[::-1]
        got = d.fused_get(keys)
        assert all(np.array_equal(g, arrays[k]) for g, k in zip(got, keys))
        buf = bytearray(store.fused_size(keys))
        got = d.fused_get(keys, buffer=buf)
        assert all(np.shares_memory(g, np.frombuffer(buf, np.uint8)) for g in got if g.size)
    assert not store.closed  # a store passed in stays open after the with block
    d.close()
    assert store.closed
    with pytest.raises(ValueError):
        flatfloatndarray_codec.pack(np.ones(3))  # float64
    with pytest.raises(ValueError):
        flatfloatndarray_codec.pack(np.ones((4, 4), np.float32)[:, 1])  # not contiguous


def test_depot_default_backing_is_memory():
    d = Depot(codec=flatfloatndarray_codec)
    d.put("x", np.arange(4, dtype=np.float32))
    assert d.backing.location is None
    assert np.array_equal(d.get("x"), np.arange(4))
    assert "Depot" in repr(d)
