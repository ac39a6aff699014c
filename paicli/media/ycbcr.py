"""Y'CbCr <-> R'G'B' with an explicit matrix and range (never an implicit BT.601 guess).

Planes are integer code values as stored by the codec (uint16 arrays, ``bits`` deep);
R'G'B' arrays are float32 (H, W, 3), *encoded* (non-linear) values nominally in [0, 1].
Chroma of 4:2:2 material is co-sited with even luma columns (ITU-R BT.709 / SMPTE 274M);
4:2:0 chroma is taken as sited between rows.
"""
from __future__ import annotations

import numpy as np

# (Kr, Kb) per matrix coefficients name, as in ITU-T H.273.
MATRICES = {
    "bt709": (0.2126, 0.0722),
    "bt601": (0.299, 0.114),
    "bt2020": (0.2627, 0.0593),
}


def _range_scale(bits: int, full_range: bool) -> tuple[float, float, float]:
    """(luma offset, luma span, chroma span) in code values."""
    if full_range:
        peak = float((1 << bits) - 1)
        return 0.0, peak, peak
    s = float(1 << (bits - 8))
    return 16.0 * s, 219.0 * s, 224.0 * s


def _downsample_h(c: np.ndarray) -> np.ndarray:
    """Co-sited horizontal 2:1 decimation with a [1 2 1]/4 filter."""
    padded = np.concatenate([c[:, :1], c, c[:, -1:]], axis=1)
    out = 0.25 * padded[:, 0:-2] + 0.5 * padded[:, 1:-1] + 0.25 * padded[:, 2:]
    return out[:, ::2]


def _upsample_h(c: np.ndarray, width: int) -> np.ndarray:
    """Inverse of :func:`_downsample_h` siting: even columns exact, odd columns interpolated."""
    out = np.empty((c.shape[0], width), dtype=np.float32)
    out[:, 0::2] = c[:, : (width + 1) // 2]
    right = np.concatenate([c[:, 1:], c[:, -1:]], axis=1)
    out[:, 1::2] = (0.5 * (c + right))[:, : width // 2]
    return out


def _downsample_v(c: np.ndarray) -> np.ndarray:
    if c.shape[0] % 2:
        c = np.concatenate([c, c[-1:]], axis=0)
    return 0.5 * (c[0::2] + c[1::2])


def _upsample_v(c: np.ndarray, height: int) -> np.ndarray:
    up = np.concatenate([c[:1], c, c[-1:]], axis=0)
    out = np.empty((2 * c.shape[0], c.shape[1]), dtype=np.float32)
    out[0::2] = 0.75 * up[1:-1] + 0.25 * up[:-2]
    out[1::2] = 0.75 * up[1:-1] + 0.25 * up[2:]
    return out[:height]


def rgb_to_ycbcr(rgb: np.ndarray, bits: int, *, matrix: str = "bt709", full_range: bool = False,
                 subsampling: str = "422") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encoded R'G'B' float32 (H, W, 3) -> (Y, Cb, Cr) uint16 code-value planes.

    ``subsampling``: ``444``, ``422`` (chroma width ceil(W/2)) or ``420``. Values are clipped
    to [0, 1]; NaN counts as 0.
    """
    kr, kb = MATRICES[matrix]
    kg = 1.0 - kr - kb
    # NaN -> 0 as the compiled pass does (a NaN cast to uint16 is undefined), +-Inf clip
    rgb = np.nan_to_num(np.clip(rgb, 0.0, 1.0), nan=0.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = kr * r + kg * g + kb * b
    cb = (b - y) / (2.0 * (1.0 - kb))
    cr = (r - y) / (2.0 * (1.0 - kr))
    if subsampling in ("422", "420"):
        cb, cr = _downsample_h(cb), _downsample_h(cr)
    if subsampling == "420":
        cb, cr = _downsample_v(cb), _downsample_v(cr)
    off, yspan, cspan = _range_scale(bits, full_range)
    mid = float(1 << (bits - 1))
    peak = (1 << bits) - 1

    def q(v):
        return np.clip(np.rint(v), 0, peak).astype(np.uint16)

    return q(off + yspan * y), q(mid + cspan * cb), q(mid + cspan * cr)


_COMPILED_FROM = 1 << 16  # pixels: frames this large convert in one compiled pass (engine.pixels)


def frame_to_planes(rgb: np.ndarray, bits: int, *, alpha: np.ndarray | None = None, premultiplied: bool = False,
                    transfer: str | None = None, matrix: str = "bt709", full_range: bool = False,
                    subsampling: str = "422") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """A float32 (H, W, >=3) frame -> (Y, Cb, Cr, A) uint16 code-value planes in one pass.

    ``rgb`` is scene-linear and encoded here with the built-in ``transfer`` (``bt709``,
    ``srgb``), or already encoded (``transfer`` None or ``linear``); either way clipped to
    [0, 1] after encoding. ``alpha`` (H, W), when given, is quantised to A (else A is None);
    with ``premultiplied`` the colour is divided by it first. Colour is 0 where alpha is not
    above 1e-8. Non-finite values never fail: NaN colour or alpha counts as 0, +-Inf clips. Same results as :func:`rgb_to_ycbcr` on the encoded, straight colour (code
    values within 1).
    """
    from engine import pixels  # numba: loaded to convert a frame
    from engine.colour import encoding_table

    h, w = rgb.shape[:2]
    kr, kb = MATRICES[matrix]
    off, yspan, cspan = _range_scale(bits, full_range)
    ch = (h + 1) // 2 if subsampling == "420" else h
    cw = (w + 1) // 2 if subsampling in ("422", "420") else w
    y = np.empty((h, w), np.uint16)
    cb, cr = np.empty((ch, cw), np.uint16), np.empty((ch, cw), np.uint16)
    a = np.empty((h, w), np.uint16) if alpha is not None else np.empty((0, 0), np.uint16)
    table, slope = encoding_table(transfer)
    pixels.rgb_to_ycbcr(np.asarray(rgb, np.float32), np.empty((0, 0), np.float32) if alpha is None
                        else np.asarray(alpha, np.float32), premultiplied, table, slope, off, yspan, cspan,
                        float(1 << (bits - 1)), float((1 << bits) - 1), kr, kb, y, cb, cr, a)
    return y, cb, cr, (a if alpha is not None else None)


def ycbcr_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, bits: int, *, matrix: str = "bt709",
                 full_range: bool = False, transfer: str | None = None) -> np.ndarray:
    """Code-value planes -> encoded R'G'B' float32 (H, W, 3), unclipped; with a built-in
    ``transfer`` (``bt709``, ``srgb``) decoded to scene-linear in the same pass (below 0
    clips to 0, as :func:`engine.colour.decode`).

    Chroma planes may be subsampled horizontally and/or vertically; their shape says how.
    """
    kr, kb = MATRICES[matrix]
    kg = 1.0 - kr - kb
    h, w = y.shape
    off, yspan, cspan = _range_scale(bits, full_range)
    mid = float(1 << (bits - 1))
    if y.size >= _COMPILED_FROM:
        from engine import pixels  # numba: loaded to convert a frame

        from engine.colour import decoding_table

        out = np.empty((h, w, 3), dtype=np.float32)
        tab = decoding_table(transfer)
        over = pixels.ycbcr_to_rgb(y, cb, cr, off, yspan, cspan, mid, kr, kb, *(tab[:2] if tab else (None, None)), out)
        if over:
            flat = out.reshape(-1)
            where = pixels.above_one(flat, over)
            flat[where] = tab[2](flat[where])
        return out
    yf = (y.astype(np.float32) - off) * (1.0 / yspan)
    cbf = (cb.astype(np.float32) - mid) * (1.0 / cspan)
    crf = (cr.astype(np.float32) - mid) * (1.0 / cspan)
    if cbf.shape[0] != h:
        cbf, crf = _upsample_v(cbf, h), _upsample_v(crf, h)
    if cbf.shape[1] != w:
        cbf, crf = _upsample_h(cbf, w), _upsample_h(crf, w)
    out = np.empty((h, w, 3), dtype=np.float32)
    out[..., 0] = yf + (2.0 * (1.0 - kr)) * crf
    out[..., 2] = yf + (2.0 * (1.0 - kb)) * cbf
    out[..., 1] = (yf - kr * out[..., 0] - kb * out[..., 2]) * (1.0 / kg)
    if transfer not in (None, "linear"):
        from engine.colour import decode

        out = decode(out, transfer)
    return out
