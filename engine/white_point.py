"""The colour of the light on a subject: grey-world statistics of linear colours.

Shared by the classic engine's relighting (:mod:`engine.classic.harmonise`) and the QC's
harmony check (:mod:`engine.qc.harmony`), so both read a subject's light the same way.
Colours are float32 scene-linear Rec.709 (H, W, 3).
"""
from __future__ import annotations

import cv2
import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
SPREAD_TRUSTED = (0.08, 0.12)  # grey world is ignored below the first spread, fully trusted above the second


class WhitePoint:
    """Accumulates the statistics the gains come from, over sampled frames: the mean colour,
    and how varied the colours are (the spread of log chromaticity, measured after a small
    blur so sensor noise does not count as variety)."""

    def __init__(self):
        self._sum = np.zeros(3)
        self._n = 0
        self._chroma = np.zeros(4)  # sums of u, u^2, v, v^2 with u = log(R/G), v = log(B/G)

    def add(self, rgb: np.ndarray, weight: np.ndarray | None = None) -> None:
        """Add colours (H, W, 3); ``weight`` (H, W) selects them (e.g. the solid foreground)."""
        if weight is None:
            px, smooth = rgb.reshape(-1, 3), rgb.reshape(-1, 3)
        else:
            sel = weight > 0.5
            px, smooth = rgb[sel], cv2.GaussianBlur(rgb, (0, 0), 2.0)[sel]
        keep = (px.max(axis=1) < 0.95) & (px @ LUMA > 0.003)  # clipped and black pixels carry no colour
        px, smooth = px[keep], np.clip(smooth[keep], 1e-4, None)
        self._sum += px.sum(axis=0)
        self._n += len(px)
        u, v = np.log(smooth[:, 0] / smooth[:, 1]), np.log(smooth[:, 2] / smooth[:, 1])
        self._chroma += [u.sum(), (u * u).sum(), v.sum(), (v * v).sum()]

    @property
    def mean(self) -> np.ndarray | None:
        return self._sum / self._n if self._n else None

    @property
    def spread(self) -> float:
        """RMS spread of log chromaticity: about 0.05 for a subject of one flat colour, 0.15
        and up for varied ones."""
        if not self._n:
            return 0.0
        su, su2, sv, sv2 = self._chroma / self._n
        return float(np.sqrt(max(su2 - su * su, 0.0) + max(sv2 - sv * sv, 0.0)))
