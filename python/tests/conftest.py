"""Shared helpers for the vlstore Python tests.

Run with the extension importable, e.g. (what tests/test_python.sh does):
    VLSTORE_BUILD_DIR=build python3 setup.py build --build-lib /tmp/x && \
    PYTHONPATH=/tmp/x python3 -m pytest python/tests
"""
import os

import numpy as np
import pytest


def make_frame(rng, i, nsites=None, **extra):
    """A frame with random arrays; returns (BackedAtomicData, dict of the source arrays)."""
    from vlstore.serialize import BackedAtomicData

    n = int(nsites if nsites is not None else rng.integers(1, 200))
    vals = dict(
        name=f"frame_{i}",
        masses=rng.random(n, dtype=np.float32),
        atom_types=rng.integers(1, 100, n, dtype=np.int32),
        nsites=n,
        positions=rng.random((n, 3), dtype=np.float32),
        forces=rng.random((n, 3), dtype=np.float32),
    )
    vals.update(extra)
    return BackedAtomicData.from_values(**vals), vals


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def cli():
    """Path of the vlstore command-line tool when the test runs under ctest, else skip."""
    path = os.environ.get("VLSTORE")
    if not path or not os.path.exists(path):
        pytest.skip("VLSTORE (the CLI) not given; run through ctest for CLI interop")
    return path
