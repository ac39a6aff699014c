"""Point tracking shared by the camera tracker (:mod:`engine.classic.track`) and the QC's
background-motion check (:mod:`engine.qc.motion`): 8-bit grey frames and pyramidal
Lucas-Kanade (KLT) with a forward-backward check.

Frames are float32 (H, W, >=3) scene-linear Rec.709; points are float32 (N, 1, 2) pixel
coordinates (x, y), OpenCV's layout.
"""
from __future__ import annotations

import cv2
import numpy as np

_LK = dict(winSize=(21, 21), maxLevel=4, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 0.01))


def to_gray8(img: np.ndarray) -> np.ndarray:
    """Display-like 8-bit grey (square root of linear luminance) for feature tracking."""
    lum = cv2.transform(np.ascontiguousarray(img[..., :3], np.float32), np.array([[0.2126, 0.7152, 0.0722]], np.float32))
    return np.clip(np.sqrt(np.clip(lum, 0, None)) * 255.0, 0, 255).astype(np.uint8)


def lucas_kanade(prev: np.ndarray, cur: np.ndarray, pts: np.ndarray, guess: np.ndarray | None = None,
                 fb_px: float = 0.5, levels: int = _LK["maxLevel"]) -> tuple[np.ndarray, np.ndarray]:
    """Track ``pts`` float32 (N, 1, 2) pixel coordinates (x, y) from ``prev`` to ``cur``, uint8
    (H, W) images (:func:`to_gray8`), with pyramidal Lucas-Kanade over ``levels`` levels,
    starting at ``guess`` (N, 1, 2) if given, and a forward-backward check.

    Returns the tracked points float32 (N, 1, 2) and bool (N,): found both ways and back
    within ``fb_px`` pixels of where it started."""
    flags = 0
    nxt = None
    lk = {**_LK, "maxLevel": levels}
    if guess is not None:
        nxt, flags = guess.astype(np.float32).copy(), cv2.OPTFLOW_USE_INITIAL_FLOW
    fwd, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, nxt, flags=flags, **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, fwd, pts.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **lk)
    err = np.linalg.norm((back - pts).reshape(-1, 2), axis=1)
    ok = (st1.ravel() == 1) & (st2.ravel() == 1) & (err < fb_px)
    return fwd, ok
