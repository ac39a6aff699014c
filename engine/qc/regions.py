"""Where each quality check looks, derived from the matte.

Every check compares parts of one composite frame: the foreground's solid core, the
edge band where foreground and background mix, and a ring of background around the
subject. All masks are bool (H, W); the matte is float32 (H, W) in [0, 1]. Distances
scale with the frame height (a 1080-line frame uses the ``*_px`` values as given, a
540-line frame half of them), so a shot checks the same at any resolution.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SOLID, CLEAR = 0.98, 0.02  # matte values of solid foreground / clear background
CORE_PX = 12  # the core stays this far inside the solid foreground (at 1080 lines)
RING_PX = 80  # width of the background ring around the subject (at 1080 lines)
RING_GAP_PX = 6  # the ring starts this far outside the subject, beyond any soft edge
LOCAL_PX = 16  # reach of the local foreground/background colour estimates in the edge band


def scaled(px: float, height: int) -> float:
    """``px`` at 1080 lines, for a frame ``height`` lines tall (at least 1)."""
    return max(1.0, px * height / 1080.0)


def disc(radius: float) -> np.ndarray:
    r = max(1, int(round(radius)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


@dataclass
class Regions:
    """``core``: solid foreground away from its edges; ``band``: the edge band (every
    partly transparent pixel, and the solid pixels near an edge); ``ring``: clear background
    near the subject; ``background``: all clear background away from the subject's edge."""

    core: np.ndarray
    band: np.ndarray
    ring: np.ndarray
    background: np.ndarray


def regions(alpha: np.ndarray) -> Regions:
    """The regions of one frame's matte (float32 (H, W) in [0, 1])."""
    h = alpha.shape[0]
    solid = (alpha > SOLID).astype(np.uint8)
    some = (alpha > CLEAR).astype(np.uint8)
    core = cv2.erode(solid, disc(scaled(CORE_PX, h))) > 0
    near = cv2.dilate(some, disc(scaled(RING_GAP_PX, h))) > 0
    reach = cv2.dilate(some, disc(scaled(RING_GAP_PX + RING_PX, h))) > 0
    band = (some > 0) & ~core
    return Regions(core=core, band=band, ring=reach & ~near, background=~near)


def local_mean(values: np.ndarray, mask: np.ndarray, sigma_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised convolution: the Gaussian-weighted mean of ``values`` ((H, W) or
    (H, W, C) float32) over ``mask`` around every pixel, and the weight found there
    ((H, W); near 0 where the mask is far away)."""
    m = mask.astype(np.float32)
    w = cv2.GaussianBlur(m, (0, 0), sigma_px)
    v = cv2.GaussianBlur(values * (m[..., None] if values.ndim == 3 else m), (0, 0), sigma_px)
    safe = np.maximum(w, 1e-6)
    return (v / (safe[..., None] if values.ndim == 3 else safe)).astype(np.float32), w


def outward_normals(alpha: np.ndarray, reach_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surface normals of the subject guessed from its silhouette, as if it were a rounded
    solid: within ``reach_px`` of the outline the normal turns from facing the camera to
    lying in the image plane, pointing out of the matte. Returns (nx, ny) float32 (H, W)
    in image axes (x right, y down) and the bool mask where they hold."""
    inside = (alpha > 0.5).astype(np.uint8)
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    smooth = cv2.GaussianBlur(dist, (0, 0), max(1.0, reach_px / 4))
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    norm = np.sqrt(gx * gx + gy * gy)
    ok = (inside > 0) & (dist < reach_px) & (norm > 1e-3)
    tilt = np.clip(1.0 - dist / reach_px, 0, 1)  # a sphere's profile: in the image plane at the outline
    nx = np.where(ok, -gx / np.maximum(norm, 1e-6) * tilt, 0).astype(np.float32)
    ny = np.where(ok, -gy / np.maximum(norm, 1e-6) * tilt, 0).astype(np.float32)
    return nx, ny, ok
