"""Keep freed frame-sized buffers in the process instead of returning them to the OS.

glibc serves allocations above 128 KiB with fresh ``mmap`` pages and unmaps them on free,
so every new 1080p float array (25 MB) costs thousands of page faults: measured here, that
doubled the time of simple element-wise passes. Raising the mmap and trim thresholds lets
the heap reuse those buffers frame after frame. Memory stays flat: the same few buffers
are reused, not accumulated.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@functools.lru_cache(maxsize=1)
def reuse_large_buffers() -> bool:
    """Tune glibc's allocator once per process; False where that is not possible (not glibc)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, 512 << 20) == 1  # the heap serves blocks up to 512 MiB
    ok = mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1 and ok  # and keeps up to 1 GiB free for reuse
    return ok
