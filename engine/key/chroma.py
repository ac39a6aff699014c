"""Chroma of subsampled camera codecs (4:2:0, 4:2:2) rebuilt along the picture's luma edges.

Images are float32 (H, W, 3) scene-linear Rec.709. A 4:2:0 source carries colour at half the
resolution of its luma in both directions (4:2:2: across only); decoded, its colour edges
are twice as wide as its brightness edges and sit between them, and a colour-difference
key turns them into a soft, stepped matte edge (a thin strand of hair loses half its colour).
Within a few pixels the colour difference is, to a good approximation, a linear function
of luma (one edge between two colours), so a guided filter (He et al.) puts the colour edge
back where the luma edge is. The fit is against luma smoothed as the codec smoothed the
colour: the decoded colour is the true colour smoothed, so regressing it on the sharp luma
would find too weak a slope and give back only part of the edge.
"""
from __future__ import annotations

import cv2
import numpy as np

LUMA = np.float32([0.2126, 0.7152, 0.0722])  # Rec.709 luminance weights of linear R, G, B


def luma_guided_chroma(img: np.ndarray, subsampling: tuple[int, int], eps: float = 1e-5) -> np.ndarray:
    """``img`` with its colour (R - Y, B - Y) re-estimated from its luma Y, float32 (H, W, 3).

    ``subsampling``: the source's chroma factors (vertical, horizontal), e.g. (2, 2) for
    4:2:0, (1, 2) for 4:2:2; (1, 1) returns ``img`` itself. The local linear model (colour
    difference = a Y + b) is fitted, per pixel over 3 pixels along each subsampled axis, to the
    decoded colour against the luma smoothed as the codec smoothed the colour
    (:func:`engine.key.fused.smoothed_as_chroma`), its coefficients averaged over the same
    window, then applied to the sharp luma. ``eps`` (linear luminance squared) is the luma
    variance below which a window counts as flat and its colour is only averaged. Luma is kept
    exactly.
    """
    from engine.key import fused  # numba: loaded to key a subsampled source, not with KeyParams
    from engine.key.bands import in_bands

    sy, sx = subsampling
    if sy <= 1 and sx <= 1:
        return img
    h, w = img.shape[:2]
    img = np.ascontiguousarray(img, np.float32)
    smooth = fused.smoothed_as_chroma(cv2.transform(img, LUMA[None]), sy, sx)
    out = np.empty_like(img)
    in_bands(fused.rebuild_chroma, h, img, LUMA, smooth, sy > 1, sx > 1, np.float32(eps), out)
    return out
