"""Camera tracking of the screen: per-frame homographies to the first frame.

The screen (its tracking markers and weave) is planar and, for a camera that pans, tilts,
rolls or zooms, moves by one homography per frame. Points are tracked outside the
foreground matte with pyramidal KLT and a forward-backward check; a robust (MAGSAC)
homography is fitted frame to frame and chained, and every frame is also re-anchored
directly against the first frame, starting from the chained estimate, so drift stays
bounded over long shots.

Images are float32 (H, W, 3) scene-linear; homographies are float64 3x3 mapping frame-t
pixel coordinates (x, y, 1) to frame-0 pixel coordinates, as in the bench's camera.json.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from engine.optical_flow import lucas_kanade, to_gray8

RANSAC_PX = 1.0  # MAGSAC inlier threshold
# A regular grid of markers looks the same shifted by one period, and the coarse pyramid
# levels alias it (a 40 px grid is 2.5 px at 1/16 scale): from a good guess, points can land
# a whole period away. When they stray from the guess by more than ALIAS_CHECK_PX (median),
# or most fail, they are tracked again with GUIDED_LEVELS levels (reach +-40 px), and the
# answer nearer the guess is kept.
GUIDED_LEVELS = 2
ALIAS_CHECK_PX = 6.0


def _track_mask(alpha: np.ndarray | None, shape: tuple[int, int], margin_px: int = 12) -> np.ndarray:
    """uint8 mask of where screen features may be taken: away from the foreground."""
    if alpha is None:
        return np.full(shape, 255, np.uint8)
    fg = (alpha > 0.02).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin_px + 1, 2 * margin_px + 1))
    return np.where(cv2.dilate(fg, k) > 0, 0, 255).astype(np.uint8)


def _lk_near(prev: np.ndarray, cur: np.ndarray, pts: np.ndarray, guess: np.ndarray | None,
             fb_px: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lucas_kanade` from ``guess``, kept from slipping a period of a regular marker grid (see
    :data:`ALIAS_CHECK_PX`); plain :func:`lucas_kanade` without one."""
    def stray(fwd, ok):
        return float(np.median(np.linalg.norm((fwd - guess)[ok].reshape(-1, 2), axis=1))) if ok.any() else np.inf

    fwd, ok = lucas_kanade(prev, cur, pts, guess, fb_px)
    if guess is None:
        return fwd, ok
    off = stray(fwd, ok)
    if off > ALIAS_CHECK_PX or ok.sum() < len(pts) // 2:  # slipped, or most points lost their way
        fwd2, ok2 = lucas_kanade(prev, cur, pts, guess, fb_px, levels=GUIDED_LEVELS)
        off2 = stray(fwd2, ok2)
        nearer = off2 < off - 0.5 or (off2 <= off + 0.5 and ok2.sum() > ok.sum())
        if nearer and ok2.sum() >= max(MIN_SIMILARITY, ok.sum() // 2):
            return fwd2, ok2
    return fwd, ok


MIN_SIMILARITY = 4  # fewer points than ``min_inliers`` but at least this: fit a similarity instead


def fit_motion(src: np.ndarray, dst: np.ndarray, min_homography: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Robust 3x3 model mapping ``src`` to ``dst`` points (N, 1, 2), and its inlier mask.

    A full homography (MAGSAC) when there are at least ``min_homography`` points; with
    fewer (a sparsely marked screen) a similarity (rotation, scale, translation), which
    needs fewer points to be trusted; None below :data:`MIN_SIMILARITY`.
    """
    n = len(src)
    if n >= min_homography:
        h, inl = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, RANSAC_PX)
        if h is not None and inl is not None and inl.sum() >= min_homography:
            return h, inl
    if n >= MIN_SIMILARITY:
        m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX)
        if m is not None and inl is not None and inl.sum() >= MIN_SIMILARITY:
            return np.vstack([m, [0.0, 0.0, 1.0]]), inl
    return None, None


def _apply(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(pts.astype(np.float64), h).astype(np.float32)


@dataclass
class TrackResult:
    """Per-frame homographies (frame t -> frame 0) and how well each frame was tracked."""

    frame_to_frame0: list[np.ndarray] = field(default_factory=list)
    inliers: list[int] = field(default_factory=list)
    residual_px: list[float] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)  # width, height of the frames

    @property
    def static(self) -> bool:
        """True when the camera did not move (every corner within half a pixel of frame 0)."""
        w, h = self.size
        return bool(self.frame_to_frame0) and max(_corner_motion(m, w, h) for m in self.frame_to_frame0) < 0.5


def _corner_motion(h: np.ndarray, w: int, hgt: int) -> float:
    c = np.array([[[0, 0]], [[w, 0]], [[w, hgt]], [[0, hgt]]], np.float64)
    return float(np.abs(cv2.perspectiveTransform(c, h) - c).max())


class ScreenTracker:
    """Feed frames in order with :meth:`add`; read ``result`` at the end."""

    def __init__(self, max_points: int = 800, min_inliers: int = 12):
        self.max_points, self.min_inliers = max_points, min_inliers
        self.result = TrackResult()
        self._ref: np.ndarray | None = None  # frame 0, grey
        self._ref_pts: np.ndarray | None = None
        self._prev: np.ndarray | None = None
        self._prev_pts: np.ndarray | None = None
        self._prev_mask: np.ndarray | None = None

    def _features(self, gray: np.ndarray, mask: np.ndarray) -> np.ndarray:
        pts = cv2.goodFeaturesToTrack(gray, self.max_points, 0.01, 7, mask=mask, blockSize=7)
        return pts if pts is not None else np.zeros((0, 1, 2), np.float32)

    def add(self, img: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
        """Track one frame (float32 (H, W, 3) linear; ``alpha`` (H, W) masks the foreground out).

        Returns the frame's homography to frame 0.
        """
        gray = to_gray8(img)
        mask = _track_mask(alpha, gray.shape)
        self.result.size = (gray.shape[1], gray.shape[0])
        if self._ref is None:
            self._ref, self._ref_pts = gray, self._features(gray, mask)
            self._prev, self._prev_pts, self._prev_mask = gray, self._ref_pts, mask
            h = np.eye(3)
            self._record(h, len(self._ref_pts), 0.0)
            return h
        done = None
        hist = self.result.frame_to_frame0
        if len(hist) >= 2 and self.result.inliers[-1] > 0:
            # a steadily moving camera: the last step repeated predicts this frame well enough
            # for the direct re-anchor, and the frame-to-frame pass can be skipped
            predicted = hist[-1] @ np.linalg.inv(hist[-2]) @ hist[-1]
            done = self._reanchor(gray, mask, predicted / predicted[2, 2])
            if done is not None and not done[2] < 0.5 * RANSAC_PX:
                done = None
        if done is None:
            chained = self._chained(gray)
            done = self._reanchor(gray, mask, chained) or (chained, 0, float("nan"))
        h_final, n_inl, resid = done
        h_final = h_final / h_final[2, 2]
        self._prev, self._prev_pts, self._prev_mask = gray, None, mask
        self._record(h_final, n_inl, resid)
        return h_final

    def _chained(self, gray: np.ndarray) -> np.ndarray:
        """This frame's homography from the previous frame's, by frame-to-frame tracking."""
        hist = self.result.frame_to_frame0
        h_prev = hist[-1]
        if self._prev_pts is None:  # found when first needed
            self._prev_pts = self._features(self._prev, self._prev_mask)
        if len(self._prev_pts) < MIN_SIMILARITY:
            return h_prev
        guesses = [None]
        if len(hist) >= 2:  # the last step repeated first: a marker grid aliases without a guess
            guesses.insert(0, _apply(np.linalg.inv(h_prev) @ hist[-2], self._prev_pts))
        for guess in guesses:
            cur, ok = _lk_near(self._prev, gray, self._prev_pts, guess)
            if ok.sum() >= MIN_SIMILARITY:
                h_step, _ = fit_motion(cur[ok], self._prev_pts[ok], self.min_inliers)
                if h_step is not None:
                    return h_prev @ h_step
        return h_prev

    def _reanchor(self, gray: np.ndarray, mask: np.ndarray, guess_h: np.ndarray):
        """Frame 0's points tracked straight into this frame from the guess ``guess_h``:
        (homography, inliers, mean residual px), or None when too few points hold."""
        if not len(self._ref_pts):
            return None
        guess = _apply(np.linalg.inv(guess_h), self._ref_pts)
        inside = ((guess[:, 0, 0] >= 0) & (guess[:, 0, 0] < gray.shape[1] - 1) &
                  (guess[:, 0, 1] >= 0) & (guess[:, 0, 1] < gray.shape[0] - 1))
        gi = guess[inside].astype(np.int32)
        visible = inside.copy()
        visible[inside] = mask[gi[:, 0, 1], gi[:, 0, 0]] > 0  # not behind the foreground now
        if visible.sum() < MIN_SIMILARITY:
            return None
        cur, ok = _lk_near(self._ref, gray, self._ref_pts[visible], guess[visible], fb_px=1.0)
        if ok.sum() < MIN_SIMILARITY:
            return None
        h, inl = fit_motion(cur[ok], self._ref_pts[visible][ok], self.min_inliers)
        if h is None:
            return None
        keep = inl.ravel() > 0
        proj = _apply(h, cur[ok][keep])
        resid = float(np.linalg.norm((proj - self._ref_pts[visible][ok][keep]).reshape(-1, 2), axis=1).mean())
        return h, int(keep.sum()), resid

    def _record(self, h: np.ndarray, inliers: int, resid: float) -> None:
        self.result.frame_to_frame0.append(h)
        self.result.inliers.append(inliers)
        self.result.residual_px.append(resid)


def corner_error(estimated: list[np.ndarray], truth: list[np.ndarray], width: int, height: int) -> float:
    """Mean distance (px) between the frame corners mapped by estimated and true homographies."""
    c = np.array([[[0, 0]], [[width - 1, 0]], [[width - 1, height - 1]], [[0, height - 1]]], np.float64)
    errs = [np.linalg.norm(cv2.perspectiveTransform(c, np.asarray(e, np.float64))
                           - cv2.perspectiveTransform(c, np.asarray(t, np.float64)), axis=-1).mean()
            for e, t in zip(estimated, truth)]
    return float(np.mean(errs))
