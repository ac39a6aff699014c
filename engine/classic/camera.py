"""Camera paths as per-frame homographies: sub-frame sampling, anchoring, parallax.

A camera path is a list of float64 3x3 homographies ``frame_to_frame0[t]`` mapping frame-t
pixel coordinates (x, y, 1) (OpenCV convention: pixel centres at integers, origin top
left, y down) to frame-0 pixel coordinates, normalised so ``h[2, 2] == 1``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


def normalised(h: np.ndarray) -> np.ndarray:
    h = np.asarray(h, np.float64)
    return h / h[2, 2]


def blend(h0: np.ndarray, h1: np.ndarray, s: float) -> np.ndarray:
    """Homography a fraction ``s`` of the way from ``h0`` to ``h1`` (elementwise on normalised
    matrices: exact for translations, a close approximation for the small steps between
    neighbouring frames). ``s`` outside [0, 1] extrapolates."""
    return normalised((1.0 - s) * normalised(h0) + s * normalised(h1))


def at_time(path: list[np.ndarray], t: float) -> np.ndarray:
    """The camera at fractional frame ``t``: interpolated between neighbouring frames and
    extrapolated linearly beyond the ends (the camera kept moving while the shutter was open)."""
    n = len(path)
    if n == 1:
        return normalised(path[0])
    i = int(np.clip(np.floor(t), 0, n - 2))
    return blend(path[i], path[i + 1], t - i)


def corner_motion_px(h: np.ndarray, width: int, height: int) -> float:
    """Largest displacement (px) of a frame corner under ``h``."""
    c = np.array([[[0, 0]], [[width - 1, 0]], [[width - 1, height - 1]], [[0, height - 1]]], np.float64)
    return float(np.linalg.norm(cv2.perspectiveTransform(c, np.asarray(h, np.float64)) - c, axis=-1).max())


def shutter_offsets(path: list[np.ndarray], t: int, shutter: float, width: int, height: int,
                    px_per_sample: float = 1.5, max_samples: int = 16) -> list[float]:
    """Sub-frame times (in frames, relative to ``t``) at which to sample the camera so a
    shutter open for ``shutter`` of a frame (0.5 = 180 degrees), centred on the frame, is
    integrated with samples about ``px_per_sample`` apart. [0.0] when nothing moves."""
    if shutter <= 0 or len(path) < 2:
        return [0.0]
    a, b = at_time(path, t - shutter / 2), at_time(path, t + shutter / 2)
    travel = corner_motion_px(np.linalg.inv(a) @ b, width, height)
    n = int(np.clip(np.ceil(travel / px_per_sample) + 1, 1, max_samples))
    if n == 1:
        return [0.0]
    return list(np.linspace(-shutter / 2, shutter / 2, n))


@dataclass
class AnchorReport:
    """How far the tracked camera and the registered references disagreed at each anchor."""

    frames: list[int] = field(default_factory=list)
    disagreement_px: list[float] = field(default_factory=list)
    applied: bool = False
    reason: str = ""


def _corner_distance(a: np.ndarray, b: np.ndarray, width: int, height: int) -> float:
    c = np.array([[[0, 0]], [[width - 1, 0]], [[width - 1, height - 1]], [[0, height - 1]]], np.float64)
    return float(np.linalg.norm(cv2.perspectiveTransform(c, a) - cv2.perspectiveTransform(c, b), axis=-1).mean())


def anchor_path(path: list[np.ndarray], anchors: dict[int, np.ndarray], width: int, height: int,
                max_disagreement_px: float) -> tuple[list[np.ndarray], AnchorReport]:
    """Pin the tracked path to camera positions known at some frames.

    ``anchors`` maps frame -> the true frame-to-frame0 homography there (from registering
    the reference stills to each other: each still is the background as the camera saw it
    at its anchor frame, and stills are sharp where the tracked plate is motion-blurred).
    The correction ``E_k = anchor_k @ inv(path[k])`` (frame-0 coordinates as tracked -> as
    the stills have them) is interpolated linearly between anchors and held beyond them, so
    drift and blur bias vanish at the anchors. If any anchor disagrees with the track by
    more than ``max_disagreement_px`` (the stills were not taken from the shot's camera
    positions), the path is returned unchanged and the report says why.
    """
    report = AnchorReport()
    frames = sorted(f for f in anchors if 0 <= f < len(path))
    for f in frames:
        report.frames.append(f)
        report.disagreement_px.append(round(_corner_distance(path[f], anchors[f], width, height), 3))
    if len(frames) < 2:
        report.reason = "fewer than two anchors inside the shot"
        return path, report
    worst = max(report.disagreement_px)
    if worst > max_disagreement_px:
        report.reason = (f"the references disagree with the tracked camera by up to {worst:.1f} px "
                         f"(limit {max_disagreement_px:.1f}): not pinned to them")
        return path, report
    corr = {f: normalised(anchors[f] @ np.linalg.inv(path[f])) for f in frames}
    out = []
    for t, h in enumerate(path):
        if t <= frames[0]:
            e = corr[frames[0]]
        elif t >= frames[-1]:
            e = corr[frames[-1]]
        else:
            k = int(np.searchsorted(frames, t, side="right")) - 1
            a, b = frames[k], frames[k + 1]
            e = blend(corr[a], corr[b], (t - a) / (b - a))
        out.append(normalised(e @ h))
    report.applied = True
    return out, report


def default_focal_px(width: int, height: int) -> float:
    """A normal lens when nothing better is known: horizontal field of view of about 40 degrees."""
    return 1.4 * max(width, height)


def rotation_part(h: np.ndarray, focal_px: float, centre: tuple[float, float]) -> np.ndarray:
    """The pure-rotation homography ``K R K^-1`` in ``h``: how a background at infinity moves
    when the camera moves as ``h`` says the screen plane did.

    For a screen facing the camera (plane normal along the optical axis) ``K^-1 h K`` is
    ``R + t e3^T / d`` up to scale: the camera's translation only touches the third column,
    so R is read from the first two (orthonormalised) and completed by their cross product.
    """
    k = np.array([[focal_px, 0, centre[0]], [0, focal_px, centre[1]], [0, 0, 1.0]])
    m = np.linalg.inv(k) @ normalised(h) @ k
    u, _, vt = np.linalg.svd(m[:, :2], full_matrices=False)
    r12 = u @ vt  # the nearest pair of orthonormal columns
    r = np.column_stack([r12, np.cross(r12[:, 0], r12[:, 1])])
    return normalised(k @ r @ np.linalg.inv(k))


def with_parallax(h: np.ndarray, parallax: float, focal_px: float, centre: tuple[float, float]) -> np.ndarray:
    """``parallax`` 1: the background is glued to the screen plane (moves exactly as tracked);
    0: it is at infinity (only the camera's rotation moves it); between: a mix."""
    if parallax >= 1.0:
        return normalised(h)
    r = rotation_part(h, focal_px, centre)
    return normalised(r + parallax * (normalised(h) - r))
