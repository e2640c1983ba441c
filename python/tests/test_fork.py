"""Handles inherited through fork() (what DataLoader workers get): the child neither uses nor
closes the parent's Store or Loader (their threads exist only in the parent; closing one
there used to wait forever on the write-behind thread's condition variable)."""
import gc
import os
import time

import pytest

from vlstore import _core
from vlstore.store import SChunkStore


def _wait(pid):
    """The child's exit code; a child still running after two minutes is a hang."""
    for _ in range(1200):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.1)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the child hung on an inherited handle")


def test_inherited_store_and_loader_are_refused_and_abandoned(tmp_path):
    path = str(tmp_path / "f.vls")
    s = SChunkStore(path, mode="w", write_behind=True)
    for i in range(50):
        s.put(f"k{i}", bytes([i]) * 20000)
    s.commit()
    ld = _core.Loader([path], batch_size=8)  # a prefetch thread in the parent
    ld.start_epoch(0)
    pid = os.fork()
    if pid == 0:  # the child: every use raises, close and free return
        code = 0
        try:
            for use in (lambda: s.get("k1"), lambda: ld.next()):
                try:
                    use()
                    code = 3
                except ValueError as e:
                    if "fork" not in str(e):
                        code = 4
            s.close()
            ld.close()
            del s, ld
            gc.collect()
        except BaseException:
            code = 5
        os._exit(code)
    assert _wait(pid) == 0
    # the parent's handles are untouched
    assert ld.next() is not None
    ld.close()
    s.put("after", b"x")
    assert s.get("k7") == bytes([7]) * 20000
    s.close()
