"""Per-pixel chains in one pass: the keyer's matte clean-ups, and the tail of replace (unmix,
despill, relight, spill light, grain, composite).

Each of these steps is a handful of arithmetic operations per pixel; done one array
operation at a time they cost a full trip through memory each (a 1080p float frame is
25 MB), which is what bounds them on a small machine. One compiled loop over the frame
(numba) does a whole chain in a single trip.

Arrays are float32 scene-linear Rec.709: colour (H, W, 3), alpha (H, W). ``tint`` and
``amp`` are low-resolution (h, w, 3) fields sampled bilinearly as ``cv2.resize`` with
``INTER_LINEAR`` would upscale them.
"""
from __future__ import annotations

import numba
import numpy as np

from engine.pixels import chroma_at

DESPILL_MODES = {"none": 0, "limit": 1, "subtract": 2}


@numba.njit(inline="always", fastmath=True)
def _bilinear(field, y: int, x: int, fy: float, fx: float, c: int) -> float:
    h, w = field.shape[0], field.shape[1]
    sy = min(max((y + 0.5) * fy - 0.5, 0.0), h - 1.0)
    sx = min(max((x + 0.5) * fx - 0.5, 0.0), w - 1.0)
    y0, x0 = int(sy), int(sx)
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    ty, tx = sy - y0, sx - x0
    top = field[y0, x0, c] * (1 - tx) + field[y0, x1, c] * tx
    bottom = field[y1, x0, c] * (1 - tx) + field[y1, x1, c] * tx
    return top * (1 - ty) + bottom * ty


@numba.njit(inline="always", fastmath=True)
def _despilled(img, plate, a, y, x, screen_channel, o1, o2, despill_mode, despill_strength):
    """Pixel (y, x)'s foreground unmixed, F = max((I - (1 - a) C) / a, 0) (0 where a <= 1e-3),
    with the screen channel's excess over the other two (``despill_mode`` 1: their maximum, 2:
    their mean, 0: none) times ``despill_strength`` taken off: (F_r, F_g, F_b, spill taken)."""
    inv = 1.0 / a if a > 1e-3 else 0.0
    f0 = max((img[y, x, 0] - (1.0 - a) * plate[y, x, 0]) * inv, 0.0)
    f1 = max((img[y, x, 1] - (1.0 - a) * plate[y, x, 1]) * inv, 0.0)
    f2 = max((img[y, x, 2] - (1.0 - a) * plate[y, x, 2]) * inv, 0.0)
    spill = 0.0
    if despill_mode != 0:
        fs = (f0, f1, f2)
        limit = max(fs[o1], fs[o2]) if despill_mode == 1 else 0.5 * (fs[o1] + fs[o2])
        spill = max(fs[screen_channel] - limit, 0.0) * despill_strength
        if screen_channel == 1:
            f1 -= spill
        elif screen_channel == 2:
            f2 -= spill
        else:
            f0 -= spill
    return f0, f1, f2, spill


@numba.njit(parallel=False, fastmath=True, cache=True, nogil=True)
def keyed_composite(img, plate, alpha, screen_channel, despill_mode, despill_strength, gains, tint, use_tint,
                    bg, noise, amp, use_grain, comp, relit, bg_out):
    """Fill ``comp``, ``relit`` (straight relit foreground) and ``bg_out`` (background with
    grain) from the picture ``img``, its clean plate and the matte.

    Per pixel: F = max((I - (1 - a) C) / a, 0) (0 where a <= 1e-3); the screen channel's
    excess over the other two (``despill_mode`` 1: their maximum, 2: their mean) times
    ``despill_strength`` is removed and, with ``use_tint``, comes back as ``spill * tint``;
    F is scaled by ``gains``; the background gets ``noise * amp`` with ``use_grain``; and
    comp = F a + B (1 - a).
    """
    h, w = alpha.shape
    o1 = 0 if screen_channel != 0 else 1
    o2 = 2 if screen_channel != 2 else 1
    fty, ftx = tint.shape[0] / h, tint.shape[1] / w
    fay, fax = amp.shape[0] / h, amp.shape[1] / w
    for y in numba.prange(h):
        for x in range(w):
            a = alpha[y, x]
            f0, f1, f2, spill = _despilled(img, plate, a, y, x, screen_channel, o1, o2, despill_mode,
                                           despill_strength)
            for c in range(3):
                fc = (f0, f1, f2)[c] * gains[c]
                if use_tint:
                    fc += spill * _bilinear(tint, y, x, fty, ftx, c)
                b = bg[y, x, c]
                if use_grain:
                    b += noise[y, x, c] * _bilinear(amp, y, x, fay, fax, c)
                relit[y, x, c] = fc
                bg_out[y, x, c] = b
                comp[y, x, c] = fc * a + b * (1.0 - a)


@numba.njit(cache=True, nogil=True)
def clip_matte(alpha, edge, gate, clip_black, span, floor):
    """Away from the edge band: (a - clip_black) / span, and 0 where the ``gate`` (the matte
    smoothed against noise, or ``alpha`` itself) is below clip_black; in it: (a - floor) /
    (1 - floor); both clipped to [0, 1]. float32 (H, W) out."""
    h, w = alpha.shape
    out = np.empty((h, w), np.float32)
    for y in range(h):
        for x in range(w):
            a = alpha[y, x]
            if edge[y, x]:
                v = (a - floor) / (1.0 - floor)
            elif gate[y, x] < clip_black:
                v = 0.0
            else:
                v = (a - clip_black) / span
            out[y, x] = min(max(v, 0.0), 1.0)
    return out


@numba.njit(cache=True, nogil=True)
def _nearest_spans(n, n_small):
    """For each of ``n_small`` samples, the span [start, stop) of the ``n`` samples that a
    nearest-neighbour upscale (as ``cv2.resize`` with ``INTER_NEAREST``) takes from it."""
    start = np.zeros(n_small, np.int64)
    stop = np.zeros(n_small, np.int64)
    ratio = n_small / n
    for i in range(n - 1, -1, -1):
        k = min(int(i * ratio), n_small - 1)
        if stop[k] == 0:
            stop[k] = i + 1
        start[k] = i
    return start, stop


@numba.njit(cache=True, nogil=True)
def apply_despot(alpha, speck, clear, fill):
    """The despot's verdicts, found at working scale (uint8 masks, nearest-neighbour sampled
    as ``cv2.resize`` with ``INTER_NEAREST`` would), applied to the full-size matte: specks
    and their faint surround (a < 0.5) become 0, small holes (a < 0.95) become 1. Verdicts
    are few: only the pixels under one are visited, the rest copied. A new (H, W) array."""
    h, w = alpha.shape
    hs, ws = speck.shape
    y0, y1 = _nearest_spans(h, hs)
    x0, x1 = _nearest_spans(w, ws)
    out = alpha.copy()
    for sy in range(hs):
        for sx in range(ws):
            is_speck, is_clear, is_fill = speck[sy, sx], clear[sy, sx], fill[sy, sx]
            if not (is_speck or is_clear or is_fill):
                continue
            for y in range(y0[sy], y1[sy]):
                for x in range(x0[sx], x1[sx]):
                    a = alpha[y, x]
                    v = a
                    if is_speck or (is_clear and a < 0.5):
                        v = 0.0
                    if is_fill and a < 0.95:
                        v = 1.0
                    out[y, x] = v
    return out


@numba.njit(cache=True, nogil=True)
def nearest_float(mask, out):
    """``out`` (H, W) float32: the uint8 ``mask`` (h, w) upscaled nearest-neighbour (as
    ``cv2.resize`` with ``INTER_NEAREST`` would), its values as floats."""
    h, w = out.shape
    hs, ws = mask.shape
    y0, y1 = _nearest_spans(h, hs)
    x0, x1 = _nearest_spans(w, ws)
    for sy in range(hs):
        for y in range(y0[sy], y1[sy]):
            for sx in range(ws):
                v = np.float32(mask[sy, sx])
                for x in range(x0[sx], x1[sx]):
                    out[y, x] = v


@numba.njit(cache=True, nogil=True)
def clear_where(alpha, mask):
    """Set the matte ``alpha`` (H, W) to 0, in place, under ``mask`` (uint8, at working scale
    or full size, nearest-neighbour sampled as ``cv2.resize`` with ``INTER_NEAREST`` would)."""
    h, w = alpha.shape
    hs, ws = mask.shape
    y0, y1 = _nearest_spans(h, hs)
    x0, x1 = _nearest_spans(w, ws)
    for sy in range(hs):
        for sx in range(ws):
            if mask[sy, sx]:
                alpha[y0[sy]:y1[sy], x0[sx]:x1[sx]] = 0.0


@numba.njit(cache=True, nogil=True)
def smoothed_as_chroma(plane, sy, sx):
    """``plane`` (H, W) as a codec's chroma is: decimated to the chroma grid (``sx`` 2: a
    [1 2 1] / 4 filter co-sited with even columns; ``sy`` 2: the mean of each row pair) and
    brought back as the decoder brings chroma back (:func:`engine.pixels.chroma_at`); edges
    repeat. A new float32 (H, W)."""
    h, w = plane.shape
    ch, cw = (h + 1) // 2 if sy > 1 else h, (w + 1) // 2 if sx > 1 else w
    grid = np.empty((ch, cw), np.float32)
    for j in range(ch):
        for i in range(cw):
            total = np.float32(0.0)
            for t in range(2 if sy > 1 else 1):
                r = min(2 * j + t, h - 1) if sy > 1 else j
                if sx > 1:
                    x = 2 * i
                    left, right = plane[r, max(x - 1, 0)], plane[r, min(x + 1, w - 1)]
                    total += (left + 2 * plane[r, x] + right) * np.float32(0.25)
                else:
                    total += plane[r, i]
            grid[j, i] = total * np.float32(0.5) if sy > 1 else total
    out = np.empty((h, w), np.float32)
    for r in range(h):
        for x in range(w):
            out[r, x] = chroma_at(grid, r, x, sy > 1, sx > 1, h)
    return out


@numba.njit(cache=True, nogil=True, fastmath=True)
def rebuild_chroma(img, luma, smooth, along_y, along_x, eps, out, r0, r1):
    """The guided chroma rebuild of :func:`engine.key.chroma.luma_guided_chroma` in one pass
    per band: with Y the luma of ``img`` (H, W, 3) (``luma`` weights), S the luma ``smooth``
    (H, W) as the codec smoothed chroma (:func:`smoothed_as_chroma`) and D the colour differences
    R - Y, B - Y: the means of S, S^2, D, S D over 3 pixels along each flagged axis (edges
    reflected as ``cv2.BORDER_REFLECT``), the local fits D = a S + b (a = cov(S, D) / (var(S) +
    ``eps``), b = mean D - a mean S), those averaged over the same window and applied to the
    sharp luma: R - Y = a_R Y + b_R, B - Y = a_B Y + b_B, Y kept. Rows ``r0`` to ``r1`` of ``out``
    (H, W, 3); the rows around the band that they need are recomputed here."""
    h, w = img.shape[0], img.shape[1]
    vy = 1 if along_y else 0
    lo, hi = max(r0 - 2 * vy, 0), min(r1 + 2 * vy, h)
    n = hi - lo
    third = np.float32(1.0 / 3.0)
    # the six products, averaged across (3 pixels when along_x)
    stats = np.empty((n, 6, w), np.float32)
    prod = np.empty((6, w), np.float32)
    for y in range(lo, hi):
        for x in range(w):
            r, g, b = img[y, x, 0], img[y, x, 1], img[y, x, 2]
            lum = luma[0] * r + luma[1] * g + luma[2] * b
            sm = smooth[y, x]
            dr, db = r - lum, b - lum
            prod[0, x] = sm
            prod[1, x] = sm * sm
            prod[2, x] = dr
            prod[3, x] = db
            prod[4, x] = sm * dr
            prod[5, x] = sm * db
        _across(prod, stats[y - lo], along_x, third)
    # the fits from the means (down as well when along_y), averaged across
    clo, chi = max(r0 - vy, 0), min(r1 + vy, h)
    coef = np.empty((n, 4, w), np.float32)
    fit = np.empty((4, w), np.float32)
    for y in range(clo, chi):
        i = y - lo
        up, down = (max(i - 1, 0), min(i + 1, n - 1)) if along_y else (i, i)
        for x in range(w):
            ms = (stats[up, 0, x] + stats[i, 0, x] + stats[down, 0, x]) * third if along_y else stats[i, 0, x]
            mss = (stats[up, 1, x] + stats[i, 1, x] + stats[down, 1, x]) * third if along_y else stats[i, 1, x]
            var = mss - ms * ms + eps
            for k in range(2):
                if along_y:
                    md = (stats[up, 2 + k, x] + stats[i, 2 + k, x] + stats[down, 2 + k, x]) * third
                    msd = (stats[up, 4 + k, x] + stats[i, 4 + k, x] + stats[down, 4 + k, x]) * third
                else:
                    md, msd = stats[i, 2 + k, x], stats[i, 4 + k, x]
                a = (msd - ms * md) / var
                fit[2 * k, x] = a
                fit[2 * k + 1, x] = md - a * ms
        _across(fit, coef[i], along_x, third)
    kr, kg, kb = luma[0], luma[1], luma[2]
    for y in range(r0, r1):
        i = y - lo
        up, down = (max(i - 1, clo - lo), min(i + 1, chi - lo - 1)) if along_y else (i, i)
        for x in range(w):
            if along_y:
                c0 = (coef[up, 0, x] + coef[i, 0, x] + coef[down, 0, x]) * third
                c1 = (coef[up, 1, x] + coef[i, 1, x] + coef[down, 1, x]) * third
                c2 = (coef[up, 2, x] + coef[i, 2, x] + coef[down, 2, x]) * third
                c3 = (coef[up, 3, x] + coef[i, 3, x] + coef[down, 3, x]) * third
            else:
                c0, c1, c2, c3 = coef[i, 0, x], coef[i, 1, x], coef[i, 2, x], coef[i, 3, x]
            lum = kr * img[y, x, 0] + kg * img[y, x, 1] + kb * img[y, x, 2]
            r = lum + c0 * lum + c1
            b = lum + c2 * lum + c3
            out[y, x, 0] = r
            out[y, x, 1] = (lum - kr * r - kb * b) / kg
            out[y, x, 2] = b


@numba.njit(cache=True, nogil=True, fastmath=True)
def _across(src, dst, along_x, third):
    """``dst`` (P, W) = the mean over 3 samples across of ``src`` (P, W) when ``along_x`` (edges
    reflected: the edge sample repeats), else a copy."""
    p, w = src.shape
    for k in range(p):
        if along_x and w > 1:
            dst[k, 0] = (src[k, 0] + src[k, 0] + src[k, 1]) * third
            for x in range(1, w - 1):
                dst[k, x] = (src[k, x - 1] + src[k, x] + src[k, x + 1]) * third
            dst[k, w - 1] = (src[k, w - 2] + src[k, w - 1] + src[k, w - 1]) * third
        else:
            for x in range(w):
                dst[k, x] = src[k, x]


@numba.njit(cache=True, nogil=True)
def marker_colours(img, plate, greyness, shade, hue_loose, hue_strict):
    """Per pixel of ``img`` against its clean ``plate`` (both (H, W, 3)): ``shade``, the
    brightness ratio (R + G + B) / (R_C + G_C + B_C); ``hue_strict``, the chromaticity
    distance (in r, g) to the plate's; ``hue_loose``, to the segment from the plate's towards
    neutral, ``greyness`` of the way. All (H, W) float32 outputs."""
    h, w = img.shape[0], img.shape[1]
    third = 1.0 / 3.0
    for y in range(h):
        for x in range(w):
            si = img[y, x, 0] + img[y, x, 1] + img[y, x, 2]
            sp = plate[y, x, 0] + plate[y, x, 1] + plate[y, x, 2]
            shade[y, x] = si / max(sp, 1e-6)
            ii, ip = 1.0 / max(si, 1e-6), 1.0 / max(sp, 1e-6)
            pr, pg = plate[y, x, 0] * ip, plate[y, x, 1] * ip
            dr, dg = img[y, x, 0] * ii - pr, img[y, x, 1] * ii - pg
            hue_strict[y, x] = np.sqrt(dr * dr + dg * dg)
            vr, vg = third - pr, third - pg
            t = (dr * vr + dg * vg) / max(vr * vr + vg * vg, 1e-6)
            t = min(max(t, 0.0), greyness)
            er, eg = dr - t * vr, dg - t * vg
            hue_loose[y, x] = np.sqrt(er * er + eg * eg)


@numba.njit(cache=True, nogil=True)
def least_ratio(picture, plate, out):
    """``out`` (H, W) = min over channels of picture / max(plate, 1e-3), both (H, W, 3)."""
    h, w = out.shape
    for y in range(h):
        for x in range(w):
            m = picture[y, x, 0] / max(plate[y, x, 0], 1e-3)
            for c in range(1, 3):
                m = min(m, picture[y, x, c] / max(plate[y, x, c], 1e-3))
            out[y, x] = m


@numba.njit(cache=True, nogil=True, fastmath=True)
def unmix_despill(img, alpha, plate, screen_channel, despill_mode, despill_strength, replace, use_replace,
                  fg, spill_out, r0, r1):
    """The keyer's foreground in one pass: F = max((I - (1 - a) C) / a, 0) (0 where a <= 1e-3),
    then the screen channel's excess over the other two (``despill_mode`` 1: their maximum,
    2: their mean; 0: none) times ``despill_strength`` removed into ``spill_out`` and, with
    ``use_replace``, added back as that much ``replace`` colour. ``fg`` (H, W, 3) and
    ``spill_out`` (H, W) are filled, rows ``r0`` to ``r1`` (a band)."""
    w = alpha.shape[1]
    o1 = 0 if screen_channel != 0 else 1
    o2 = 2 if screen_channel != 2 else 1
    for y in range(r0, r1):
        for x in range(w):
            f0, f1, f2, spill = _despilled(img, plate, alpha[y, x], y, x, screen_channel, o1, o2, despill_mode,
                                           despill_strength)
            fg[y, x, 0], fg[y, x, 1], fg[y, x, 2] = f0, f1, f2
            if use_replace:
                for c in range(3):
                    fg[y, x, c] += spill * replace[c]
            spill_out[y, x] = spill


@numba.njit(cache=True, nogil=True)
def screen_amount(img, plate, screen_channel, balance, complement, out, r0, r1):
    """``out`` (H, W): how much of the plate's colour each pixel holds (see
    :func:`engine.key.keyer.screen_amount`): the minimum over the other channels of the
    screen channel's excess relative to the plate's (``balance`` 1), the excess over their
    mean (0), or a mix; with ``complement``, 1 minus that float32 amount (the raw matte).

    The ratios are float64 rounded to float32 once. For the pure vector key where the plate's
    excesses are at least the 1e-3 floor (a screen, nearly everywhere) they are divided in
    float32 instead: the quotient of two float32 values rounds to the same float32 either way,
    and the minimum commutes with the rounding. Rows ``r0`` to ``r1`` (a band)."""
    w = out.shape[1]
    o1 = 0 if screen_channel != 0 else 1
    o2 = 2 if screen_channel != 2 else 1
    one = np.float32(1.0)
    for y in range(r0, r1):
        for x in range(w):
            s, a, b = img[y, x, screen_channel], img[y, x, o1], img[y, x, o2]
            cs, ca, cb = plate[y, x, screen_channel], plate[y, x, o1], plate[y, x, o2]
            excess_a, excess_b = cs - ca, cs - cb
            if balance == 1.0 and excess_a >= 1e-3 and excess_b >= 1e-3:
                amount = min((s - a) / excess_a, (s - b) / excess_b)
            else:
                t_pair = min((s - a) / max(excess_a, 1e-3), (s - b) / max(excess_b, 1e-3))
                t_mean = (s - 0.5 * (a + b)) / max(cs - 0.5 * (ca + cb), 1e-3)
                amount = np.float32(balance * t_pair + (1.0 - balance) * t_mean)
            out[y, x] = one - amount if complement else amount


@numba.njit(cache=True, nogil=True)
def temporal_blend(hold, prev, alpha):
    """``hold * prev + (1 - hold) * alpha`` in float32, as the array expression gives it: the
    matte held towards the previous frame's by the weight ``hold``; all (H, W) float32, a new
    array."""
    h, w = alpha.shape
    out = np.empty((h, w), np.float32)
    one = np.float32(1.0)
    for y in range(h):
        for x in range(w):
            out[y, x] = hold[y, x] * prev[y, x] + (one - hold[y, x]) * alpha[y, x]
    return out


@numba.njit(cache=True, nogil=True)
def screen_excess(img, screen_channel, out):
    """``out`` (H, W) float32: the screen channel of ``img`` (H, W, 3) less the larger other
    channel (:func:`engine.key.screen.screen_difference`)."""
    h, w = out.shape
    o1 = 0 if screen_channel != 0 else 1
    o2 = 2 if screen_channel != 2 else 1
    for y in range(h):
        for x in range(w):
            out[y, x] = img[y, x, screen_channel] - max(img[y, x, o1], img[y, x, o2])


@numba.njit(cache=True, nogil=True)
def screen_pixels(img, blurred, screen_channel, min_excess, c0, c1, radius, out):
    """``out`` (H, W) uint8: 1 where ``img``'s screen-channel excess exceeds ``min_excess``
    and the chromaticity (r, g) = (R, G) / (R + G + B) of ``blurred`` lies within ``radius``
    of (``c0``, ``c1``), else 0 (:func:`engine.key.screen.screen_mask`'s test). Images (H, W, 3)
    and the thresholds float32; the distance as ``np.hypot`` gives it in float32 (the root
    of float64 squares, rounded once)."""
    h, w = out.shape
    o1 = 0 if screen_channel != 0 else 1
    o2 = 2 if screen_channel != 2 else 1
    one, eps = np.float32(1.0), np.float32(1e-6)
    for y in range(h):
        for x in range(w):
            excess = img[y, x, screen_channel] - max(img[y, x, o1], img[y, x, o2])
            r, g, b = blurred[y, x, 0], blurred[y, x, 1], blurred[y, x, 2]
            inv = one / max(r + g + b, eps)
            dr, dg = np.float64(r * inv - c0), np.float64(g * inv - c1)
            distance = np.float32(np.sqrt(dr * dr + dg * dg))
            out[y, x] = 1 if excess > min_excess and distance < radius else 0


@numba.njit(inline="always")
def _lerp(a, b, t):
    """a + t (b - a) in float32 with one rounding of the multiply-add (a fused multiply-add,
    as OpenCV's bilinear remap computes it)."""
    return np.float32(np.float64(t) * np.float64(b - a) + np.float64(a))


@numba.njit(cache=True, nogil=True)
def refine_band(picture, plate, alpha, band, subject, f, out):
    """The colour re-solve of :func:`engine.key.keyer.refine_with_colours` in one pass: where
    ``band`` (H, W) is set, ``out`` = clip(<I - C, F - C> / max(|F - C|^2, 1e-4), 0, 1) with I
    the ``picture`` and C the ``plate`` (H, W, 3), F the ``subject`` colour (h, w, 3) at
    working scale ``f`` sampled bilinearly (edges repeated; as ``cv2.remap`` samples it at
    ((x + 0.5) / f - 0.5, (y + 0.5) / f - 0.5)); elsewhere ``out`` = ``alpha``. float32
    throughout, dot products summed in channel order as ``np.einsum`` does."""
    h, w = alpha.shape
    hs, ws = subject.shape[0], subject.shape[1]
    half, scale, eps = np.float32(0.5), np.float32(f), np.float32(1e-4)
    fc = np.empty(3, np.float32)
    for y in range(h):
        sy = (np.float32(y) + half) / scale - half
        fy = np.float32(sy - np.floor(sy))
        y0 = int(np.floor(sy))
        ya, yb = min(max(y0, 0), hs - 1), min(max(y0 + 1, 0), hs - 1)
        for x in range(w):
            if not band[y, x]:
                out[y, x] = alpha[y, x]
                continue
            sx = (np.float32(x) + half) / scale - half
            fx = np.float32(sx - np.floor(sx))
            x0 = int(np.floor(sx))
            xa, xb = min(max(x0, 0), ws - 1), min(max(x0 + 1, 0), ws - 1)
            for k in range(3):
                top = _lerp(subject[ya, xa, k], subject[ya, xb, k], fx)
                bottom = _lerp(subject[yb, xa, k], subject[yb, xb, k], fx)
                fc[k] = _lerp(top, bottom, fy) - plate[y, x, k]
            ic0 = picture[y, x, 0] - plate[y, x, 0]
            ic1 = picture[y, x, 1] - plate[y, x, 1]
            ic2 = picture[y, x, 2] - plate[y, x, 2]
            den = max(fc[0] * fc[0] + fc[1] * fc[1] + fc[2] * fc[2], eps)
            a = (ic0 * fc[0] + ic1 * fc[1] + ic2 * fc[2]) / den
            out[y, x] = min(max(a, np.float32(0.0)), np.float32(1.0))


@numba.njit(cache=True, nogil=True, fastmath=True)
def smooth_matte(alpha, band, range_sigma, space_sigma, radius, out, r0, r1):
    """Edge-preserving smoothing of a matte (H, W) float32 into ``out``: where ``band`` (H, W)
    is set and the matte is above 0, the average of the (2 ``radius`` + 1)^2 neighbourhood
    weighted by exp(-d^2 / 2 ``space_sigma``^2) for a neighbour d px away and by
    exp(-(a_n - a)^2 / 2 ``range_sigma``^2) for its matte's difference (a bilateral filter:
    differences well above ``range_sigma`` are structure and keep their edge); elsewhere
    ``out`` = ``alpha``, so a pixel keyed as screen stays exactly 0. Rows ``r0`` to ``r1``."""
    h, w = alpha.shape
    n = 2 * radius + 1
    space = np.empty((n, n), np.float32)
    for dy in range(n):
        for dx in range(n):
            d2 = (dy - radius) ** 2 + (dx - radius) ** 2
            space[dy, dx] = np.exp(-np.float32(d2) / np.float32(2.0 * space_sigma * space_sigma))
    inv = np.float32(-0.5 / (range_sigma * range_sigma))
    for y in range(r0, r1):
        for x in range(w):
            a = alpha[y, x]
            if a <= 0.0 or not band[y, x]:
                out[y, x] = a
                continue
            total = np.float32(0.0)
            weight = np.float32(0.0)
            for dy in range(max(0, y - radius) - y, min(h - 1, y + radius) - y + 1):
                for dx in range(max(0, x - radius) - x, min(w - 1, x + radius) - x + 1):
                    v = alpha[y + dy, x + dx]
                    d = v - a
                    k = space[dy + radius, dx + radius] * np.exp(inv * d * d)
                    total += k * v
                    weight += k
            out[y, x] = total / weight


@numba.njit(cache=True, nogil=True)
def floor_kept(alpha, before, floor):
    """Raise the matte ``alpha`` to ``floor``, in place, where ``before`` exceeds 0.02; all
    (H, W) float32 (``before`` may be ``alpha`` itself)."""
    h, w = alpha.shape
    kept = np.float32(0.02)
    for y in range(h):
        for x in range(w):
            if before[y, x] > kept:
                alpha[y, x] = max(alpha[y, x], floor[y, x])


@numba.njit(cache=True, nogil=True)
def weigh(img, weight, out):
    """``out`` = ``img`` times ``weight`` per pixel: (H, W, C) by (H, W), float32."""
    h, w, c = img.shape
    for y in range(h):
        for x in range(w):
            for k in range(c):
                out[y, x, k] = img[y, x, k] * weight[y, x]


@numba.njit(cache=True, nogil=True)
def pull_level(up, num, weight, out):
    """One pull step of :func:`engine.key.screen.fill_holes`: the level's own average
    ``here = num / max(weight, 1e-6)`` trusted by ``conf = min(4 weight, 1)`` over the coarser
    estimate ``up``: ``out = up + conf (here - up)``; float32 as the array steps give it
    (the reciprocal once per pixel). ``up``, ``num``, ``out`` (h, w, C); ``weight`` (h, w)."""
    h, w, c = up.shape
    one, tiny, four = np.float32(1.0), np.float32(1e-6), np.float32(4.0)
    for y in range(h):
        for x in range(w):
            inv = one / max(weight[y, x], tiny)
            conf = min(weight[y, x] * four, one)
            for k in range(c):
                out[y, x, k] = up[y, x, k] + conf * (num[y, x, k] * inv - up[y, x, k])


@numba.njit(cache=True, nogil=True)
def component_stats(labels, n):
    """What ``cv2.connectedComponentsWithStats`` reports of the ``n`` components of
    ``labels`` (int32 (H, W), 0..n-1), in one pass: int32 (n, 5) rows of left, top, width,
    height and area (the ``cv2.CC_STAT_*`` columns); a label with no pixels has area 0."""
    h, w = labels.shape
    left = np.full(n, w, np.int64)
    top = np.full(n, h, np.int64)
    right = np.full(n, -1, np.int64)
    bottom = np.full(n, -1, np.int64)
    area = np.zeros(n, np.int64)
    for y in range(h):
        x = 0
        while x < w:  # a row is runs of one label: one update per run
            k = labels[y, x]
            start = x
            while x < w and labels[y, x] == k:
                x += 1
            area[k] += x - start
            left[k] = min(left[k], start)
            right[k] = max(right[k], x - 1)
            top[k] = min(top[k], y)
            bottom[k] = y
    stats = np.zeros((n, 5), np.int32)
    for k in range(n):
        if area[k] > 0:
            stats[k, 0], stats[k, 1] = left[k], top[k]
            stats[k, 2], stats[k, 3] = right[k] - left[k] + 1, bottom[k] - top[k] + 1
            stats[k, 4] = area[k]
    return stats
