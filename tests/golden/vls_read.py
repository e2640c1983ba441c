#!/usr/bin/env python3
"""vls_read.py — an independent reader of vlstore format version 1, written from docs/FORMAT.md
and nothing else (it shares no code with the library). test_golden.sh runs it on the golden
files, so the document and the files the library writes are checked against each other.

    vls_read.py STORE              list live records: KEY <TAB> LENGTH <TAB> XXH3_64 hex
    vls_read.py STORE --dump DIR   also write each record's bytes to DIR/<index>.bin
    vls_read.py STORE --json       a summary (commit, chunks, records, metadata) as JSON

XXH3_64 comes from libxxhash and Blosc decoding from libblosc (c-blosc 1.x), both through
ctypes. Exit status: 0 when the file reads and every check in FORMAT.md passes, 1 otherwise.
"""
import ctypes
import ctypes.util
import json
import os
import struct
import sys

HEADER_SIZE, FRAME_SIZE, SEG_SIZE, TRAILER_SIZE = 64, 32, 56, 64
FILE_MAGIC = b"\x89VLS\r\n\x1a\n"
FRAME_MAGIC, SEG_MAGIC, TRAILER_MAGIC = b"VLCK", b"VLIX", b"VLSCOMMT"
META_MAGIC, META_SIZE = b"VLMD", 32
CODEC_RAW = 15
SEG_FULL, SEG_COMPRESSED = 1, 2
OP_PUT, OP_DELETE = 1, 2
MAX_KEY = 65536


class Bad(Exception):
    pass


def _lib(names):
    for n in names:
        try:
            return ctypes.CDLL(n)
        except OSError:
            continue
    found = ctypes.util.find_library(names[0].split(".")[0][3:])
    if found:
        return ctypes.CDLL(found)
    raise SystemExit("vls_read.py: cannot load " + names[0])


_xx = _lib(["libxxhash.so.0", "libxxhash.so"])
_xx.XXH3_64bits.restype = ctypes.c_uint64
_xx.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_blosc = _lib(["libblosc.so.1", "libblosc.so"])
_blosc.blosc_decompress_ctx.restype = ctypes.c_int
_blosc.blosc_decompress_ctx.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t,
                                        ctypes.c_int]


def xxh3(b):
    return _xx.XXH3_64bits(bytes(b), len(b))


def u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


def u64(b, o):
    return struct.unpack_from("<Q", b, o)[0]


def varint(p, i):
    """Unsigned LEB128, at most 10 bytes, value < 2^64. Returns (value, next index)."""
    v, shift = 0, 0
    while True:
        if i >= len(p):
            raise Bad("varint runs past the end of the payload")
        b = p[i]
        i += 1
        if shift == 63 and b > 1:
            raise Bad("varint longer than 64 bits")
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, i
        shift += 7
        if shift > 63:
            raise Bad("varint longer than 10 bytes")


def unzigzag(v):
    return (v >> 1) ^ -(v & 1)


def blosc_check_and_decode(src, raw):
    """FORMAT.md, "Blosc buffers": the header must agree with the index before decoding."""
    stored = len(src)
    if stored < 16:
        raise Bad("Blosc buffer shorter than its header")
    version, flags, typesize = src[0], src[2], src[3]
    nbytes, bs, cbytes = u32(src, 4), u32(src, 8), u32(src, 12)
    if not 1 <= version <= 3 or nbytes != raw or cbytes != stored or bs == 0 or bs > nbytes \
            or typesize == 0:
        raise Bad("Blosc header disagrees with the index")
    if not flags & 0x02:
        nblocks = (nbytes + bs - 1) // bs
        if 16 + 4 * nblocks > stored:
            raise Bad("Blosc block table runs past the buffer")
        for k in range(nblocks):
            start = u32(src, 16 + 4 * k)
            if start < 16 + 4 * nblocks or start >= stored:
                raise Bad("Blosc block starts outside the buffer")
    out = ctypes.create_string_buffer(max(raw, 1))
    n = _blosc.blosc_decompress_ctx(bytes(src), out, raw, 1)
    if n != raw:
        raise Bad("Blosc could not decode (%d)" % n)
    return out.raw[:raw]


class Store:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.f = f.read()
        self.read_header()
        self.trailer = self.find_trailer()
        self.chunks = []      # (file_off, payload, raw, codec, hash, logical)
        self.logical_end = 0
        self.records = {}     # key -> [order, off, len, hash]
        self.order = 0
        self.segments = []
        self.metadata = {}    # key bytes -> value bytes
        if self.trailer:
            self.load_chain()
            self.load_metadata()

    # ---- file header
    def read_header(self):
        h = self.f[:HEADER_SIZE]
        if len(self.f) < 8 or h[:8] != FILE_MAGIC:
            raise Bad("not a vlstore file")
        if len(h) < HEADER_SIZE:
            raise Bad("truncated header")
        self.version = u32(h, 8)
        if self.version != 1:
            raise Bad("unsupported format version %d" % self.version)
        if u64(h, 56) != xxh3(h[:56]):
            raise Bad("header checksum mismatch")
        if u32(h, 12) != HEADER_SIZE:
            raise Bad("header size field is not 64")
        self.file_id = u64(h, 16)
        self.chunk_size, self.block_size = u32(h, 24), u32(h, 28)
        self.codec, self.level, self.shuffle, self.typesize, self.placement = h[32:37]
        if not 4096 <= self.chunk_size <= 1 << 30 or self.level > 9 or self.shuffle > 2 \
                or self.typesize == 0 or self.placement > 2 \
                or self.codec not in (0, 1, 2, 4, 5, CODEC_RAW):
            raise Bad("header settings out of range")

    # ---- commit trailer
    def trailer_at(self, at):
        t = self.f[at:at + TRAILER_SIZE]
        if len(t) < TRAILER_SIZE or t[:8] != TRAILER_MAGIC or u64(t, 56) != xxh3(t[:56]):
            return None
        file_id, seq, index_offset, self_offset, records, meta_offset = \
            struct.unpack_from("<6Q", t, 8)
        if file_id != self.file_id or self_offset != at or not HEADER_SIZE <= index_offset < at \
                or seq == 0:
            return None
        return dict(seq=seq, index_offset=index_offset, self_offset=at, records=records,
                    meta_offset=meta_offset)

    # ---- metadata block (RM1 - RM4)
    def load_metadata(self):
        off, at = self.trailer["meta_offset"], self.trailer["self_offset"]
        if off == 0:
            return
        if off % 8 or off < HEADER_SIZE or off + META_SIZE > at:
            raise Bad("metadata block offset %d outside its commit" % off)
        h = self.f[off:off + META_SIZE]
        if h[:4] != META_MAGIC or u32(h, 4) != 0:
            raise Bad("metadata block at %d: bad magic or flags" % off)
        if u64(h, 24) != xxh3(h[:24]):
            raise Bad("metadata block at %d: header checksum mismatch" % off)
        size, phash = u64(h, 8), u64(h, 16)
        if size > 1 << 24 or off + META_SIZE + size > at:
            raise Bad("metadata block at %d: size out of range" % off)
        p = self.f[off + META_SIZE:off + META_SIZE + size]
        if xxh3(p) != phash:
            raise Bad("metadata block at %d: checksum mismatch" % off)
        count, i = varint(p, 0)
        if count > size:
            raise Bad("metadata block at %d: count out of range" % off)
        prev = None
        for _ in range(count):
            klen, i = varint(p, i)
            key = p[i:i + klen]
            if not 1 <= klen <= 4096 or len(key) != klen or b"\0" in key:
                raise Bad("metadata block at %d: bad key" % off)
            if prev is not None and key <= prev:
                raise Bad("metadata block at %d: keys out of order" % off)
            vlen, i = varint(p, i + klen)
            value = p[i:i + vlen]
            if len(value) != vlen:
                raise Bad("metadata block at %d: value runs past the payload" % off)
            i += vlen
            self.metadata[key] = value
            prev = key
        if i != len(p):
            raise Bad("metadata block at %d: bytes after the last entry" % off)

    def find_trailer(self):
        end = len(self.f)
        if end < HEADER_SIZE + TRAILER_SIZE:
            return None
        at = end - TRAILER_SIZE
        if at % 8 == 0:
            t = self.trailer_at(at)
            if t:
                return t
        p = at & ~7
        while p >= HEADER_SIZE:
            t = self.trailer_at(p)
            if t:
                return t
            p -= 8
        return None

    # ---- index segments
    def seg_header(self, off):
        h = self.f[off:off + SEG_SIZE]
        if len(h) < SEG_SIZE or h[:4] != SEG_MAGIC:
            raise Bad("segment at %d: bad magic" % off)
        if u64(h, 48) != xxh3(h[:48]):
            raise Bad("segment at %d: header checksum mismatch" % off)
        flags, stored, raw, prev, seq, phash = struct.unpack_from("<I5Q", h, 4)
        if flags & ~(SEG_FULL | SEG_COMPRESSED):
            raise Bad("segment at %d: unknown flags" % off)
        return dict(off=off, flags=flags, stored=stored, raw=raw, prev=prev, seq=seq, hash=phash)

    def load_chain(self):
        t = self.trailer
        offs, off = [], t["index_offset"]
        while True:
            if off < HEADER_SIZE or off + SEG_SIZE > t["self_offset"]:
                raise Bad("index chain points outside the file")
            s = self.seg_header(off)
            offs.append(s)
            if s["flags"] & SEG_FULL:
                break
            if s["prev"] >= off or len(offs) > 4096:
                raise Bad("segment at %d: bad link" % off)
            off = s["prev"]
        for i in range(len(offs) - 1, -1, -1):
            s = offs[i]
            limit = offs[i - 1]["off"] if i else t["self_offset"]
            data = s["off"] + SEG_SIZE
            if s["stored"] > limit - data:
                raise Bad("segment payload runs past the next structure")
            if s["flags"] & SEG_COMPRESSED:
                if s["raw"] > 256 * s["stored"] + 4096:
                    raise Bad("segment sizes out of range")
            elif s["raw"] != s["stored"]:
                raise Bad("uncompressed segment with raw != stored")
            if s["raw"] > 1 << 40:
                raise Bad("segment too large")
            stored = self.f[data:data + s["stored"]]
            if xxh3(stored) != s["hash"]:
                raise Bad("segment at %d: payload checksum mismatch" % s["off"])
            payload = blosc_check_and_decode(stored, s["raw"]) \
                if s["flags"] & SEG_COMPRESSED else stored
            self.apply(payload, s["off"])
            self.segments.append(dict(s, nbytes=len(payload)))

    def apply(self, p, max_off):
        n, i = varint(p, 0)
        if n > len(p):
            raise Bad("chunk count unreadable")
        for _ in range(n):
            off, i = varint(p, i)
            payload, i = varint(p, i)
            raw, i = varint(p, i)
            if len(p) - i < 9:
                raise Bad("chunk entry truncated")
            codec, h = p[i], u64(p, i + 1)
            i += 9
            if off < HEADER_SIZE or off >= max_off or payload > 1 << 31 or raw > 1 << 30 \
                    or raw == 0 or off + FRAME_SIZE + payload > max_off \
                    or (codec > 5 and codec != CODEC_RAW):
                raise Bad("chunk entry out of range")
            self.chunks.append((off, payload, raw, codec, h, self.logical_end))
            self.logical_end += raw
        n, i = varint(p, i)
        if n > len(p):
            raise Bad("record count unreadable")
        prev_end = 0
        for _ in range(n):
            if i >= len(p):
                raise Bad("record entry truncated")
            op = p[i]
            i += 1
            if op not in (OP_PUT, OP_DELETE):
                raise Bad("unknown op %d" % op)
            klen, i = varint(p, i)
            if klen == 0 or klen > MAX_KEY or len(p) - i < klen:
                raise Bad("record entry malformed")
            key = bytes(p[i:i + klen])
            i += klen
            if op == OP_DELETE:
                self.records.pop(key, None)
                continue
            delta, i = varint(p, i)
            rlen, i = varint(p, i)
            if len(p) - i < 8:
                raise Bad("record entry truncated")
            h = u64(p, i)
            i += 8
            roff = (prev_end + unzigzag(delta)) % (1 << 64)
            if roff > self.logical_end or rlen > self.logical_end - roff:
                raise Bad("record outside the stored chunks")
            prev_end = roff + rlen
            self.records.pop(key, None)
            self.records[key] = [self.order, roff, rlen, h]
            self.order += 1
        if i != len(p):
            raise Bad("%d unexpected bytes after the last entry" % (len(p) - i))

    # ---- chunks and records
    def chunk(self, k, cache={}):
        if k in cache:
            return cache[k]
        off, payload, raw, codec, h, _ = self.chunks[k]
        fh = self.f[off:off + FRAME_SIZE]
        if len(fh) < FRAME_SIZE or fh[:4] != FRAME_MAGIC or u64(fh, 24) != xxh3(fh[:24]):
            raise Bad("chunk %d: bad frame header" % k)
        if (u32(fh, 4), u32(fh, 8), fh[12], u64(fh, 16)) != (payload, raw, codec, h):
            raise Bad("chunk %d: frame header disagrees with the index" % k)
        src = self.f[off + FRAME_SIZE:off + FRAME_SIZE + payload]
        if len(src) != payload or xxh3(src) != h:
            raise Bad("chunk %d: payload checksum mismatch" % k)
        if codec == CODEC_RAW:
            data = src
        else:
            data = blosc_check_and_decode(src, raw)
        cache[k] = data
        return data

    def read(self, off, length):
        out = bytearray()
        k = 0
        while length > 0:
            while k < len(self.chunks) and self.chunks[k][5] + self.chunks[k][2] <= off:
                k += 1
            if k == len(self.chunks):
                raise Bad("no chunk holds logical offset %d" % off)
            start = self.chunks[k][5]
            data = self.chunk(k)
            n = min(length, len(data) - (off - start))
            out += data[off - start:off - start + n]
            off += n
            length -= n
        return bytes(out)

    def live(self):
        return sorted(self.records.items(), key=lambda kv: kv[1][0])


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    try:
        s = Store(argv[1])
        out = []
        for n, (key, (_, off, length, h)) in enumerate(s.live()):
            data = s.read(off, length)
            if xxh3(data) != h:
                raise Bad("record %r: hash mismatch" % key)
            out.append((key, length, h, data))
            if "--dump" in argv:
                d = argv[argv.index("--dump") + 1]
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, "%d.bin" % n), "wb") as f:
                    f.write(data)
    except Bad as e:
        print("vls_read.py: %s: %s" % (argv[1], e), file=sys.stderr)
        return 1
    if "--json" in argv:
        t = s.trailer or {}
        print(json.dumps(dict(commit=t.get("seq", 0), records=len(out),
                              trailer_records=t.get("records"), chunks=len(s.chunks),
                              logical_end=s.logical_end,
                              segments=[dict(off=g["off"], full=bool(g["flags"] & SEG_FULL),
                                             compressed=bool(g["flags"] & SEG_COMPRESSED),
                                             seq=g["seq"]) for g in s.segments],
                              logical_bytes=sum(r[1] for r in out),
                              metadata={k.decode("utf-8", "backslashreplace"):
                                        v.decode("utf-8", "backslashreplace")
                                        for k, v in s.metadata.items()})))
    else:
        for key, length, h, _ in out:
            sys.stdout.write("%s\t%d\t%016x\n" % (key.decode("utf-8", "backslashreplace"),
                                                  length, h))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
