"""Whole-frame per-pixel conversions in one compiled pass (numba).

A 1080p float frame is 25 MB; the same conversions written as array operations take a
trip through memory for each step, which on a small machine costs more than the arithmetic.
Imported where a frame is converted, not with :mod:`engine.colour`, so that commands that
convert nothing do not load numba.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, fastmath=True)
def tabulated(x, table, slope, out) -> int:
    """``out`` = the transfer tabulated on [0, 1] (``table`` and its per-step ``slope``, N
    entries) at ``x`` by linear interpolation, both flat float32; below 0 clips to 0. Returns
    how many values were above 1 (the caller evaluates those exactly: :func:`above_one`)."""
    n = table.shape[0]
    scale = np.float32(n - 1)
    over = 0
    for i in range(x.shape[0]):
        v = x[i]
        if v > 1.0:
            over += 1
            v = 1.0
        elif not v > 0.0:  # also NaN
            v = 0.0
        pos = v * scale
        k = min(int(pos), n - 1)
        out[i] = table[k] + slope[k] * (pos - k)
    return over


@numba.njit(cache=True, nogil=True)
def above_one(x, count):
    """The positions (``count`` of them) of the values of flat ``x`` above 1, int64."""
    where = np.empty(count, np.int64)
    k = 0
    for i in range(x.shape[0]):
        if x[i] > 1.0:
            where[k] = i
            k += 1
    return where


@numba.njit(cache=True, nogil=True)
def unpremultiply(img, out):
    """Premultiplied RGBA ``img`` (H, W, 4) -> straight RGBA ``out``; colour stays 0 where
    alpha is not above 1e-8."""
    h, w = img.shape[0], img.shape[1]
    for y in range(h):
        for x in range(w):
            a = img[y, x, 3]
            inv = 1.0 / a if a > 1e-8 else 0.0
            out[y, x, 0] = img[y, x, 0] * inv
            out[y, x, 1] = img[y, x, 1] * inv
            out[y, x, 2] = img[y, x, 2] * inv
            out[y, x, 3] = a
