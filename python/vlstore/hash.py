"""Content hashes of records, computed by the C library (libxxhash)."""
from typing import Any

from . import _core


def byte_hash(content: Any, /) -> str:
    """XXH3-128 (seed 0) of a buffer's bytes, as 32 hex digits (big-endian canonical form,
    as ``xxhash.xxh3_128(content).hexdigest()``). The seed project hashed with its own seed
    (617491234), so its digests differ from these; compare digests made by one version."""
    return _core.hash128(content).hex()


def hash64(content: Any, /) -> int:
    """XXH3-64 (seed 0): the hash the store keeps for every record."""
    return _core.hash64(content)
