"""Issue 15 in Python: rollback() drops what was not committed; verify() tells a crash (an
uncommitted tail: no problem unless strict) from damage."""
import os

import pytest

from vlstore import ReadOnlyError
from vlstore.store import SChunkStore


def test_rollback_drops_uncommitted(tmp_path):
    path = str(tmp_path / "r.vls")
    s = SChunkStore(path, mode="w")
    s["a"] = b"1" * 100
    s.commit()
    size = os.path.getsize(path)
    s["b"] = b"2" * 100000  # full chunks reach the file
    del s["a"]
    s.rollback()
    assert os.path.getsize(path) == size
    assert "b" not in s and s["a"] == b"1" * 100
    s["c"] = b"3"
    s.close()
    r = SChunkStore(path, mode="r")
    assert sorted(r.keys()) == ["a", "c"]
    with pytest.raises(ReadOnlyError):
        r.rollback()
    r.close()


def test_verify_torn_tail_is_not_damage(tmp_path):
    path = str(tmp_path / "t.vls")
    s = SChunkStore(path, mode="w")
    s["one"] = b"1"
    s.commit()
    s["two"] = b"2"
    s.close()
    os.truncate(path, os.path.getsize(path) - 13)  # the last commit's trailer, torn
    r = SChunkStore(path, mode="r")
    assert list(r.keys()) == ["one"]
    assert r.verify() == []
    strict = r.verify(strict=True)
    assert len(strict) == 1 and "after the last valid commit" in strict[0]
    r.close()
