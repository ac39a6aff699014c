"""A small synthetic composite for the quality checks: a textured background, a soft-edged
textured subject (a disc), both float32 scene-linear (H, W, 3), the matte (H, W)."""
from __future__ import annotations

import cv2
import numpy as np


def texture(h: int, w: int, seed: int, colour=(0.3, 0.25, 0.2), amount: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 2.0)
    n = n / (np.abs(n).max() + 1e-6)
    return (np.array(colour, np.float32) * (1.0 + amount * n[..., None])).astype(np.float32)


def disc_matte(h: int, w: int, cx: float, cy: float, r: float, soft: float = 2.0) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
    return np.clip((r - d) / soft + 0.5, 0, 1).astype(np.float32)


def scene(h: int = 180, w: int = 320, seed: int = 0):
    """(comp, fg, bg, alpha) with a varied (grey-world neutral) subject over a green-free background."""
    bg = texture(h, w, seed, (0.25, 0.22, 0.2))
    rng = np.random.default_rng(seed + 1)
    patches = cv2.resize(rng.uniform(0.1, 0.6, (6, 8, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    alpha = disc_matte(h, w, w / 2, h / 2, h / 3)
    fg = (patches / patches[alpha > 0.98].mean(0) * 0.3).astype(np.float32)  # varied colours, neutral on average
    comp = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    return comp.astype(np.float32), fg, bg, alpha
