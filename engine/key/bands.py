"""A compiled per-row pass split into row bands that run on the machine's cores at once.

The keyer's compiled kernels (:mod:`engine.key.fused`) release the GIL, so threads running
one kernel over the top and bottom halves of a frame use two cores, as the codecs' own
slice threads do. A kernel that takes part ends its arguments with ``r0, r1`` (the rows it
fills) and writes only those rows of its outputs. The threads are plain Python threads,
not numba's threading layer, so kernels may be called from several threads at once (the
keyer prepares one frame while another is finished).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

MIN_BAND_ROWS = 64  # below this many rows a band is not worth a thread
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()


def cores() -> int:
    """The cores this process may run on, at most 4 bands."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


def in_bands(kernel, rows: int, *args) -> None:
    """``kernel(*args, r0, r1)`` over rows [0, ``rows``) in contiguous bands, one per core,
    at once: this thread runs the first band, pool threads the others."""
    n = min(cores(), rows // MIN_BAND_ROWS)
    if n <= 1:
        kernel(*args, 0, rows)
        return
    edges = [rows * i // n for i in range(n + 1)]
    pool = _threads(n - 1)
    others = [pool.submit(kernel, *args, edges[i], edges[i + 1]) for i in range(1, n)]
    try:
        kernel(*args, edges[0], edges[1])
    finally:
        for f in others:
            f.result()


def _threads(n: int) -> ThreadPoolExecutor:
    """A pool of at least ``n`` threads (made once per process, larger if ever needed)."""
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool_size = max(n, cores() - 1)
            _pool = ThreadPoolExecutor(_pool_size, thread_name_prefix="paicli-band")
        return _pool


def _forget_threads() -> None:
    """In a forked child the parent's threads do not exist: start new ones when needed."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_threads)
