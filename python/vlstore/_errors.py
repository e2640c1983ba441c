"""Exceptions raised for the C library's VLS_E_* codes.

Each class also derives from the built-in exception a Python user would expect, so existing
``except KeyError`` / ``except ValueError`` / ``except OSError`` code keeps working:

============================  ===============================  ===============================
C code                        vlstore class                    also a
============================  ===============================  ===============================
NOTFOUND (missing key)        NotFoundError                    KeyError
(missing file at open)        FileNotFoundError (built-in)     OSError
CORRUPT, CHECKSUM, VERSION,   CorruptError                     OSError
BADMAGIC, TRUNCATED, CODEC
LOCKED                        LockedError                      OSError
IO, NOSPC                     StoreIOError                     OSError
FAILED                        FailedError                      OSError
EXISTS (put, overwrite=False) ExistsError                      ValueError (as the seed)
READONLY                      ReadOnlyError                    ValueError (as the seed)
INVAL, TOOBIG, TOOSMALL       InvalidArgumentError             ValueError
NOMEM                         MemoryError (built-in)
NOTDIR                        NotADirectoryError (built-in)
(operation on a closed store) ClosedError                      ValueError (as closed files)
============================  ===============================  ===============================

Every vlstore exception carries ``code`` (the negative C code, or None) and its message is
``vls_errmsg()``'s detail, e.g. ``chunk 17 at offset 73400320: checksum mismatch``.
"""


class Error(Exception):
    """Base class of vlstore's exceptions."""

    code = None


class CorruptError(Error, OSError):
    """A damaged or foreign file: bad magic, unknown version, checksum mismatch, truncation."""


class LockedError(Error, OSError):
    """Another writer (in this process or another) holds the store."""


class StoreIOError(Error, OSError):
    """A read, write or sync failed (VLS_E_IO), or the disk is full (VLS_E_NOSPC)."""


class FailedError(Error, OSError):
    """An earlier write failed; this handle takes no more writes (reopen the file)."""


class NotFoundError(Error, KeyError):
    """No record under the key. ``args[0]`` is the key (as for a dict); ``message`` the detail."""

    message = None

    def __str__(self):
        # KeyError's str() is the repr of its argument; show the C message when there is one.
        if self.message:
            return str(self.message)
        return super().__str__()


class ExistsError(Error, ValueError):
    """The key exists and overwriting was refused."""


class ReadOnlyError(Error, ValueError):
    """The store was opened read-only."""


class InvalidArgumentError(Error, ValueError):
    """A bad argument: empty key, absurd option, buffer too small, size out of range."""


class ClosedError(Error, ValueError):
    """The store or loader was closed."""
