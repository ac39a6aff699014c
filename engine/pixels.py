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


@numba.njit(cache=True, nogil=True, inline="always")
def chroma_at(c, r, x, sub_v, sub_h, h):
    """Chroma plane ``c`` (code values) at luma row ``r``, column ``x``: 4:2:0 rows sited
    between luma rows (3/4 nearest, 1/4 next), 4:2:2 columns co-sited with even luma
    columns (odd columns the mean of both neighbours); edges repeat."""
    ch, cw = c.shape
    if sub_v:
        j = r // 2
        k = j - 1 if r % 2 == 0 else j + 1
        k = min(max(k, 0), ch - 1)
        rows = (j, k)
        wts = (np.float32(0.75), np.float32(0.25))
    else:
        rows = (r, r)
        wts = (np.float32(1.0), np.float32(0.0))
    total = np.float32(0.0)
    for t in range(2):
        row = rows[t]
        if sub_h:
            i = x // 2
            if x % 2 == 0:
                v = np.float32(c[row, i])
            else:
                v = np.float32(0.5) * (np.float32(c[row, i]) + np.float32(c[row, min(i + 1, cw - 1)]))
        else:
            v = np.float32(c[row, x])
        total += wts[t] * v
    return total


@numba.njit(cache=True, nogil=True, fastmath=True)
def ycbcr_to_rgb(y, cb, cr, off, yspan, cspan, mid, kr, kb, table, slope, out) -> int:
    """Code-value planes (any unsigned integer type; chroma at full, half-width or
    half-width-and-height resolution) -> R'G'B' float32 ``out`` (H, W, 3) in one pass
    (chroma siting as :func:`chroma_at`), each channel then decoded through the transfer
    tabulated on [0, 1] (``table``/``slope`` as :func:`tabulated`, ``table`` None: left
    encoded, unclipped). Values above 1 are left encoded and counted; the caller decodes
    those exactly (:func:`above_one` finds them: nothing else is above 1). Returns the count."""
    h, w = y.shape
    sub_v = cb.shape[0] != h
    sub_h = cb.shape[1] != w
    iy = np.float32(1.0 / yspan)
    ic = np.float32(1.0 / cspan)
    kr32, kb32 = np.float32(kr), np.float32(kb)
    ikg = np.float32(1.0 / (1.0 - kr - kb))
    rcr = np.float32(2.0 * (1.0 - kr))
    bcb = np.float32(2.0 * (1.0 - kb))
    off32, mid32 = np.float32(off), np.float32(mid)
    over = 0
    n = table.shape[0] if table is not None else 1
    scale = np.float32(n - 1)
    for r in range(h):
        for x in range(w):
            yf = (np.float32(y[r, x]) - off32) * iy
            cbf = (chroma_at(cb, r, x, sub_v, sub_h, h) - mid32) * ic
            crf = (chroma_at(cr, r, x, sub_v, sub_h, h) - mid32) * ic
            red = yf + rcr * crf
            blue = yf + bcb * cbf
            out[r, x, 0] = red
            out[r, x, 1] = (yf - kr32 * red - kb32 * blue) * ikg
            out[r, x, 2] = blue
            if table is not None:
                for c in range(3):
                    v = out[r, x, c]
                    if v > 1.0:
                        over += 1
                        continue
                    if not v > 0.0:  # also NaN
                        v = np.float32(0.0)
                    pos = v * scale
                    k = min(int(pos), n - 1)
                    out[r, x, c] = table[k] + slope[k] * (pos - k)
    return over


@numba.njit(cache=True, nogil=True, fastmath=True)
def rgb_to_ycbcr(rgb, alpha, premultiplied, table, slope, off, yspan, cspan, mid, peak, kr, kb,
                 y_out, cb_out, cr_out, a_out):
    """Scene-linear (or already encoded) RGB float32 ``rgb`` (H, W, >=3) -> quantised
    Y'CbCr code-value planes in one pass, uint16.

    Each channel goes through the transfer tabulated on [0, 1] (``table``/``slope`` as
    :func:`tabulated`; an identity table for encoded input), clipped to [0, 1] like any
    video encoding. ``alpha`` (H, W) is the frame's alpha (``premultiplied``: ``rgb`` is
    premultiplied by it and is divided here; else straight) or a (0, 0) array for none;
    colour is 0 where alpha is not above 1e-8. Chroma goes to ``cb_out``/``cr_out``, whose
    shape says the subsampling: half width is a co-sited [1 2 1]/4 decimation, half height
    the mean of two rows. ``a_out`` (H, W) gets the quantised alpha when there is one.
    """
    h, w = rgb.shape[0], rgb.shape[1]
    has_alpha = alpha.shape[0] == h and alpha.shape[1] == w
    sub_v = cb_out.shape[0] != h
    sub_h = cb_out.shape[1] != w
    n = table.shape[0]
    scale = np.float32(n - 1)
    kr32, kb32 = np.float32(kr), np.float32(kb)
    kg32 = np.float32(1.0 - kr - kb)
    icb = np.float32(1.0 / (2.0 * (1.0 - kb)))
    icr = np.float32(1.0 / (2.0 * (1.0 - kr)))
    cw = cb_out.shape[1]
    row_cb = np.empty(w, np.float32)
    row_cr = np.empty(w, np.float32)
    acc_cb = np.zeros(cw, np.float32)
    acc_cr = np.zeros(cw, np.float32)
    enc = np.empty(3, np.float32)
    for r in range(h):
        for x in range(w):
            inv = np.float32(1.0)
            if has_alpha:
                a = alpha[r, x]
                if not a > 1e-8:
                    inv = np.float32(0.0)
                elif premultiplied:
                    inv = np.float32(1.0) / a
                qa = np.float32(min(max(a, 0.0), 1.0)) * np.float32(peak)
                a_out[r, x] = np.uint16(np.rint(qa))
            for c in range(3):
                v = rgb[r, x, c] * inv
                if v > 1.0:
                    v = np.float32(1.0)
                elif not v > 0.0:  # also NaN
                    v = np.float32(0.0)
                pos = v * scale
                k = min(int(pos), n - 1)
                e = table[k] + slope[k] * (pos - k)
                enc[c] = min(max(e, np.float32(0.0)), np.float32(1.0))
            yy = kr32 * enc[0] + kg32 * enc[1] + kb32 * enc[2]
            y_out[r, x] = np.uint16(min(max(np.rint(off + yspan * yy), 0.0), peak))
            row_cb[x] = (enc[2] - yy) * icb
            row_cr[x] = (enc[0] - yy) * icr
        for j in range(cw):
            if sub_h:
                x0 = 2 * j
                left = max(x0 - 1, 0)
                right = min(x0 + 1, w - 1)
                vb = np.float32(0.25) * row_cb[left] + np.float32(0.5) * row_cb[x0] + np.float32(0.25) * row_cb[right]
                vr = np.float32(0.25) * row_cr[left] + np.float32(0.5) * row_cr[x0] + np.float32(0.25) * row_cr[right]
            else:
                vb = row_cb[j]
                vr = row_cr[j]
            if sub_v:
                if r % 2 == 0:
                    acc_cb[j] = vb
                    acc_cr[j] = vr
                    if r + 1 < h:
                        continue
                vb = np.float32(0.5) * (acc_cb[j] + vb)
                vr = np.float32(0.5) * (acc_cr[j] + vr)
            cr_row = r // 2 if sub_v else r
            cb_out[cr_row, j] = np.uint16(min(max(np.rint(mid + cspan * vb), 0.0), peak))
            cr_out[cr_row, j] = np.uint16(min(max(np.rint(mid + cspan * vr), 0.0), peak))
