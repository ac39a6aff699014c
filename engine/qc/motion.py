"""Does the background move with the camera, and does the foreground flicker?

Frames are float32 scene-linear Rec.709 (H, W, 3). Camera steps are float64 3x3
homographies mapping frame t-1 pixels to frame t pixels (OpenCV axes), derived from a
camera track's ``frame_to_frame0`` by :func:`camera_step`.
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.optical_flow import lucas_kanade, to_gray8

MIN_POINTS = 8


def camera_step(previous_to_frame0: np.ndarray, current_to_frame0: np.ndarray) -> np.ndarray:
    """The frame t-1 -> frame t homography from two ``frame_to_frame0`` matrices."""
    h = np.linalg.solve(current_to_frame0, previous_to_frame0)
    return h / h[2, 2]


def _apply(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(pts.astype(np.float64).reshape(-1, 1, 2), h).reshape(-1, 2)


class BackgroundMotion:
    """Tracks features on the composite's background from frame to frame and measures how
    far they land from where the camera says they should (pixels of the frame given)."""

    def __init__(self, max_points: int = 400):
        self.max_points = max_points
        self._prev: np.ndarray | None = None
        self._prev_mask: np.ndarray | None = None

    def add(self, comp: np.ndarray, background: np.ndarray, step: np.ndarray | None) -> tuple[float, int] | None:
        """Add frame t (its clear-background mask bool (H, W)); ``step`` is the camera's
        t-1 -> t homography (identity for a locked-off camera). Returns the median residual
        in pixels and the number of features it is taken over, or ``None`` for the first
        frame, an unknown camera or a background too plain to track."""
        gray = to_gray8(comp)
        mask = np.where(background, 255, 0).astype(np.uint8)
        out = None
        if self._prev is not None and step is not None:
            pts = cv2.goodFeaturesToTrack(self._prev, self.max_points, 0.01, 7, mask=self._prev_mask, blockSize=7)
            if pts is not None and len(pts) >= MIN_POINTS:
                tracked, ok = lucas_kanade(self._prev, gray, pts.astype(np.float32))
                tracked = tracked.reshape(-1, 2)
                predicted = _apply(step, pts.reshape(-1, 2))
                h, w = gray.shape
                xi = np.clip(np.round(tracked[:, 0]).astype(int), 0, w - 1)
                yi = np.clip(np.round(tracked[:, 1]).astype(int), 0, h - 1)
                inside = (tracked[:, 0] >= 0) & (tracked[:, 0] < w) & (tracked[:, 1] >= 0) & (tracked[:, 1] < h)
                keep = ok & inside & background[yi, xi]
                if int(keep.sum()) >= MIN_POINTS:
                    err = np.linalg.norm(tracked[keep] - predicted[keep], axis=1)
                    out = (float(np.median(err)), int(keep.sum()))
        self._prev, self._prev_mask = gray, mask
        return out


def flicker(levels: list[float | None]) -> tuple[float | None, list[float | None]]:
    """Temporal flicker of a per-frame level series (natural-log luminance): the noise of
    the series about its local trend, in percent (the RMS of the second difference
    ``y[t] - (y[t-1] + y[t+1]) / 2``, divided by sqrt(1.5) so white noise of sigma s reads
    s), and the per-frame second differences in percent (``None`` at the ends and gaps)."""
    per: list[float | None] = [None] * len(levels)
    for t in range(1, len(levels) - 1):
        a, b, c = levels[t - 1], levels[t], levels[t + 1]
        if a is not None and b is not None and c is not None:
            per[t] = 100.0 * (b - 0.5 * (a + c))
    vals = [v for v in per if v is not None]
    if not vals:
        return None, per
    return float(np.sqrt(np.mean(np.square(vals)) / 1.5)), per
