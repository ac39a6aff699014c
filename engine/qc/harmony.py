"""Does the foreground's light match? Colour cast, exposure, zones and light direction.

All inputs are float32 scene-linear Rec.709: frames (H, W, 3), masks bool (H, W) from
:mod:`engine.qc.regions`. Chromaticities are compared as log colour ratios with their
mean over the channels removed (so only the colour of the light counts, not its level).

The harmony score is what the bench calibrates (``benchmarks/relight_check.py``):
:func:`foreground_cast` (how far the subject's grey-world white is from the white it
should have) combined with :func:`exposure_shift` (the subject's level against the
source plate's). A foreground pushed off its light by per-channel gains raises it in step
with its colour error (Spearman 0.86 against fMSE on the bench's ground truth).
"""
from __future__ import annotations

import math

import numpy as np

from engine.qc.regions import outward_normals, scaled
from engine.white_point import LUMA, SPREAD_TRUSTED, WhitePoint

EXPOSURE_WEIGHT = 1.5  # natural-log exposure error counted against log chromaticity error
SHADES_OF_GREY_P = 6  # Minkowski norm of the illuminant estimate (Finlayson & Trezzi 2004)
MIN_PIXELS = 200
LIGHT_REACH_PX = 60  # how far inside the outline the silhouette's normals are trusted (at 1080 lines)
MIN_LIGHT_STRENGTH = 0.08  # shading amplitude (fraction of the mean) below which no direction is read


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec.709 luminance (H, W) float32 of linear (H, W, 3)."""
    return (rgb[..., :3] @ LUMA).astype(np.float32)


def _chroma(white: np.ndarray) -> np.ndarray:
    lw = np.log(np.clip(np.asarray(white, np.float64), 1e-6, None))
    return lw - lw.mean()


def foreground_cast(comp: np.ndarray, core: np.ndarray, *, adapt: float = 0.0,
                    background_white: np.ndarray | None = None) -> tuple[float, float] | None:
    """How far the subject's light is off colour: the log-chromaticity distance (L2) of its
    grey-world white from the white it should have, and how far grey world can be trusted.

    The expected white is neutral moved ``adapt`` of the way (geometrically) to
    ``background_white``: the same convention as ``replace``'s relighting (``adapt`` 0 by
    default). A subject of one flat colour tells little about its light (see
    :func:`engine.classic.harmonise.relight_gains`), so the distance is scaled by that
    confidence (0-1). ``None`` when the core has too few usable pixels."""
    if int(core.sum()) < MIN_PIXELS:
        return None
    wp = WhitePoint()
    wp.add(comp[..., :3], core.astype(np.float32))
    if wp.mean is None:
        return None
    lo, hi = SPREAD_TRUSTED
    confidence = float(np.clip((wp.spread - lo) / (hi - lo), 0.0, 1.0))
    expected = adapt * _chroma(background_white) if background_white is not None else np.zeros(3)
    return float(np.linalg.norm(_chroma(wp.mean) - expected)) * confidence, confidence


def exposure_shift(comp: np.ndarray, plate: np.ndarray, core: np.ndarray) -> float | None:
    """|ln| of the subject's mean luminance in the result over the same pixels of the source
    plate: how far its exposure moved (0 = unchanged). ``None`` without enough pixels."""
    if int(core.sum()) < MIN_PIXELS:
        return None
    yc = float(luminance(comp)[core].mean())
    yp = float(luminance(plate)[core].mean())
    if yc <= 1e-6 or yp <= 1e-6:
        return None
    return abs(math.log(yc / yp))


def harmony_score(cast: float | None, exposure: float | None) -> float | None:
    """The calibrated harmony score: ``hypot(cast, EXPOSURE_WEIGHT * exposure)``; the cast
    alone when there is no plate to read the exposure from."""
    if cast is None:
        return None
    return float(math.hypot(cast, EXPOSURE_WEIGHT * (exposure or 0.0)))


def illuminant(rgb: np.ndarray, mask: np.ndarray, p: int = SHADES_OF_GREY_P) -> np.ndarray | None:
    """Shades-of-grey illuminant colour (3,) of the pixels under ``mask``; None if too few."""
    px = rgb[..., :3][mask]
    px = px[(px.max(axis=1) < 0.98) & (px.min(axis=1) > 1e-5)]  # clipped and black pixels carry no colour
    if len(px) < MIN_PIXELS:
        return None
    return np.power(np.mean(np.power(px.astype(np.float64), p), axis=0), 1.0 / p)


def illuminant_mismatch(subject: np.ndarray | None, surroundings: np.ndarray | None) -> float | None:
    """Log-chromaticity distance (L2) between the light on the subject and the light around
    it: their :func:`illuminant` estimates (the core's and the background ring's); None
    when either is unknown. The caller scales it by how far the subject's colours can tell
    its light (:func:`foreground_cast`'s confidence), as the cast is."""
    if subject is None or surroundings is None:
        return None
    return float(np.linalg.norm(_chroma(subject) - _chroma(surroundings)))


def zones(comp: np.ndarray, core: np.ndarray, ring: np.ndarray) -> dict[str, float] | None:
    """Luminance by zones, subject against its surroundings, in stops: ``key`` =
    log2(median subject / median ring), ``contrast`` = difference of their log2(p90/p10)
    ranges (positive: the subject is contrastier than its surroundings)."""
    if int(core.sum()) < MIN_PIXELS or int(ring.sum()) < MIN_PIXELS:
        return None
    y = np.maximum(luminance(comp), 1e-4)
    fp = np.percentile(y[core], (10, 50, 90))
    bp = np.percentile(y[ring], (10, 50, 90))
    return {"key": float(np.log2(fp[1] / bp[1])),
            "contrast": float(np.log2(fp[2] / fp[0]) - np.log2(bp[2] / bp[0]))}


def _direction(kx: float, ky: float) -> float:
    """Angle in degrees of a light direction in image axes: 0 = from the right, 90 = from above."""
    return math.degrees(math.atan2(-ky, kx)) % 360.0


def light_directions(comp: np.ndarray, alpha: np.ndarray, ring: np.ndarray) -> dict[str, float | None]:
    """Where the light comes from, on the subject and in its surroundings (degrees, 0 = from
    the right, 90 = from above; ``None`` where the shading is too flat to tell).

    Subject: the luminance near its outline fitted as ``k0 + k . n`` against normals guessed
    from the silhouette (:func:`engine.qc.regions.outward_normals`). Surroundings: the ring's
    luminance fitted the same way against the direction from the subject's centre, so the
    brighter side of the background reads as the side the light comes from. ``difference``
    is the angle between the two (0-180) when both are read."""
    y = luminance(comp)
    nx, ny, ok = outward_normals(alpha, scaled(LIGHT_REACH_PX, alpha.shape[0]))
    out: dict[str, float | None] = {"subject": None, "surroundings": None, "difference": None}
    solid = ok & (alpha > 0.98)
    if int(solid.sum()) >= MIN_PIXELS:
        out["subject"] = _fit_direction(y[solid], nx[solid], ny[solid])
    if int(ring.sum()) >= MIN_PIXELS and int((alpha > 0.5).sum()) > 0:
        yy, xx = np.nonzero(alpha > 0.5)
        cy, cx = yy.mean(), xx.mean()
        ry, rx = np.nonzero(ring)
        d = np.hypot(rx - cx, ry - cy)
        d[d == 0] = 1.0
        out["surroundings"] = _fit_direction(y[ring], (rx - cx) / d, (ry - cy) / d)
    if out["subject"] is not None and out["surroundings"] is not None:
        diff = abs(out["subject"] - out["surroundings"]) % 360.0
        out["difference"] = min(diff, 360.0 - diff)
    return out


def _fit_direction(y: np.ndarray, nx: np.ndarray, ny: np.ndarray) -> float | None:
    a = np.stack([np.ones_like(nx), nx, ny], axis=1).astype(np.float64)
    k, *_ = np.linalg.lstsq(a, y.astype(np.float64), rcond=None)
    if k[0] <= 1e-6 or math.hypot(k[1], k[2]) / k[0] < MIN_LIGHT_STRENGTH:
        return None
    return _direction(float(k[1]), float(k[2]))
