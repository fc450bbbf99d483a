"""Give freed heap pages back to the system while a long file's codes are gathered.

A window's codes are arrays of a few MiB. Once glibc has freed one mmap'ed block
that size, its mmap threshold rises past it (up to 32 MiB), and the next ones
come from the heap instead; freeing those leaves their pages resident, so when
the windows' parts are merged into whole-file arrays (which, bigger still, are
mmap'ed afresh) the process holds the codes twice. ``malloc_trim(0)`` hands the
free pages back (madvise), so what stays resident is what is still in use.
Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_TRIM = None


def _load():
    global _TRIM
    if _TRIM is None:
        _TRIM = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                trim = libc.malloc_trim
                trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
                _TRIM = trim
            except (OSError, AttributeError):  # (musl and others: no malloc_trim)
                pass
    return _TRIM


def release_free_memory() -> None:
    """Return the heap's free pages to the system (glibc ``malloc_trim(0)``; a no-op elsewhere)."""
    trim = _load()
    if trim:
        trim(0)
