"""Is it still the same subject, and the same background? Fidelity against the sources.

Frames are float32 scene-linear Rec.709 (H, W, 3), masks bool (H, W). Comparisons are
made on BT.709-encoded values in [0, 1] (as the bench scores composites), after removing
a global grade: one gain per channel, fitted in linear light by least squares, so a
relit subject is not counted as a changed one.
"""
from __future__ import annotations

import numpy as np

from engine.colour import bt709_oetf
from engine.metrics import psnr, ssim_map

MIN_PIXELS = 200


def graded_to(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``source`` times the per-channel gains (3,) that best match it to ``target`` under ``mask``."""
    s = source[..., :3][mask].astype(np.float64)
    t = target[..., :3][mask].astype(np.float64)
    g = (s * t).sum(axis=0) / np.maximum((s * s).sum(axis=0), 1e-12)
    return (source[..., :3] * g.astype(np.float32)).astype(np.float32)


def fidelity(result: np.ndarray, source: np.ndarray, mask: np.ndarray) -> dict[str, float] | None:
    """PSNR (dB) and mean SSIM of ``result`` against ``source`` graded to it, over ``mask``
    (SSIM averaged over the mask's pixels and the three channels). ``None`` with too few pixels."""
    if int(mask.sum()) < MIN_PIXELS:
        return None
    graded = graded_to(source, result, mask)
    r, s = np.clip(bt709_oetf(result[..., :3]), 0, 1), np.clip(bt709_oetf(graded), 0, 1)
    mse = float(np.square(r - s)[mask].mean(dtype=np.float64))
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = max(ys.min() - 4, 0), ys.max() + 5, max(xs.min() - 4, 0), xs.max() + 5
    sm = ssim_map(r[y0:y1, x0:x1], s[y0:y1, x0:x1]).mean(axis=-1)
    return {"psnr": psnr(mse), "ssim": float(sm[mask[y0:y1, x0:x1]].mean(dtype=np.float64))}


def background_fidelity(result: np.ndarray, reference: np.ndarray, background: np.ndarray) -> float | None:
    """PSNR (dB) of the result's clear background against the reference still the camera
    sees at this frame (both linear, compared BT.709-encoded, no grade removed)."""
    if int(background.sum()) < MIN_PIXELS:
        return None
    r = np.clip(bt709_oetf(result[..., :3]), 0, 1)
    s = np.clip(bt709_oetf(reference[..., :3]), 0, 1)
    return psnr(float(np.square(r - s)[background].mean(dtype=np.float64)))
