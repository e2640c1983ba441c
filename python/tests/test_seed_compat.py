"""The seed's API details its own tests use: TYPE_ALIGNMENT, SChunkStore.lookup (a read-only
mapping of keys to Locations), get(..., return_location=True) and get(method=...)."""
import typing

import pytest

from vlstore import NotFoundError
from vlstore.store import TYPE_ALIGNMENT, Location, SChunkStore


def test_type_alignment_names_the_alignments():
    assert set(typing.get_args(TYPE_ALIGNMENT)) == {"no_cross", "contiguous", "start"}
    for a in typing.get_args(TYPE_ALIGNMENT):
        with SChunkStore(alignment=a) as s:
            assert s.alignment == a


def test_location_arithmetic():
    loc = Location.from_start_end(10, 25, block_size=8)
    assert (loc.start_block, loc.end_block, loc.start_offset, loc.end_offset) == (1, 4, 2, -7)
    assert (loc.start, loc.end, loc.length, len(loc), loc.n_blocks) == (10, 25, 15, 15, 3)
    whole = Location.from_start_end(8, 16, block_size=8)
    assert (whole.start_block, whole.end_block, whole.end_offset) == (1, 2, 0)


@pytest.mark.parametrize("alignment", ["contiguous", "start"])
def test_lookup_is_a_read_only_mapping_of_locations(tmp_path, alignment):
    path = tmp_path / "s.vls"
    sizes = {f"k{i}": 100 + 37 * i for i in range(60)}
    with SChunkStore(path, alignment, chunksize=4096, mode="w") as s:
        for k, n in sizes.items():
            s.put(k, bytes([len(k)]) * n)
        s.commit()
        lk = s.lookup
        assert len(lk) == 60 and "k3" in lk and "nope" not in lk
        assert list(lk) == list(sizes)
        for k, n in sizes.items():
            loc = lk[k]
            assert loc.length == n and loc.block_size == 4096
            if alignment == "start":
                assert loc.start_offset == 0
        assert dict(lk.items())["k5"] == lk["k5"]
        with pytest.raises(KeyError):
            lk["nope"]
        with pytest.raises(TypeError):
            lk["k1"] = lk["k2"]  # read-only
        # non-overlapping, in storage order
        locs = [lk[k] for k in sizes]
        assert all(a.end <= b.start for a, b in zip(locs, locs[1:]))
        # the mapping follows changes
        s.put("late", b"x" * 10)
        s.commit()
        assert "late" in lk and lk["late"].length == 10
        del s["k0"]
        assert "k0" not in lk and len(lk) == 60


def test_get_return_location_and_method(tmp_path):
    with SChunkStore(tmp_path / "g.vls", chunksize=4096, mode="w") as s:
        s.put("a", b"hello world")
        s.commit()
        loc = s.get("a", return_location=True)
        assert isinstance(loc, Location) and loc.length == 11 and loc == s.lookup["a"]
        assert s.get("a", method="slice") == s.get("a", method="chunk") == b"hello world"
        with pytest.raises(ValueError, match="method"):
            s.get("a", method="mmap")
        with pytest.raises(NotFoundError):
            s.get("missing", return_location=True)
