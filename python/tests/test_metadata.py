"""store.metadata: the store's key/value document (vls_meta_*), from Python."""
import json
import os
import subprocess

import pytest

import vlstore
from vlstore.store import SChunkStore


def test_metadata_roundtrip(tmp_path):
    path = str(tmp_path / "m.vls")
    with SChunkStore(path, mode="x") as s:
        assert dict(s.metadata) == {}
        s.metadata["units"] = "eV/Å"
        s.metadata["e0s"] = json.dumps({"H": -13.6, "O": -432.1})
        s.metadata["raw"] = b"\xff\x00binary"
        s.metadata.update(source="run1", level_of_theory="PBE")
        s["frame0"] = b"x"
        assert s.metadata["units"] == "eV/Å"
        assert len(s.metadata) == 5
        del s.metadata["source"]
        with pytest.raises(KeyError):
            del s.metadata["source"]
        with pytest.raises(TypeError):
            s.metadata["e0s"] = {"H": -13.6}
        with pytest.raises(KeyError):
            s.metadata["nope"]
    with SChunkStore(path, mode="r") as s:
        m = s.metadata
        assert sorted(m) == ["e0s", "level_of_theory", "raw", "units"]
        assert m["units"] == "eV/Å"
        assert json.loads(m["e0s"])["O"] == -432.1
        assert m["raw"] == b"\xff\x00binary"  # not UTF-8: bytes back
        assert "units" in m and "source" not in m
        with pytest.raises(vlstore.ReadOnlyError):
            m["units"] = "Ha"  # read-only store


def test_metadata_is_part_of_a_commit(tmp_path):
    path = str(tmp_path / "c.vls")
    s = SChunkStore(path, mode="x")
    s.metadata["v"] = "one"
    s.commit()
    s.metadata["v"] = "two"  # not committed
    r = SChunkStore(path, mode="r")
    assert r.metadata["v"] == "one"
    s.commit()
    r.refresh()
    assert r.metadata["v"] == "two"
    r.close()
    s.close()


def test_metadata_seen_by_the_cli(tmp_path):
    cli = os.environ.get("VLSTORE", "")  # ctest gives the shell tests the CLI's path
    if not os.path.exists(cli):
        pytest.skip("the vlstore command is not built")
    path = str(tmp_path / "cli.vls")
    with SChunkStore(path, mode="x") as s:
        s.metadata["units"] = "eV"
    out = subprocess.run([cli, "meta", path, "--json"], check=True, capture_output=True)
    assert json.loads(out.stdout) == {"units": "eV"}
    subprocess.run([cli, "meta", path, "units=Ha"], check=True)
    with SChunkStore(path, mode="r") as s:
        assert dict(s.metadata) == {"units": "Ha"}
