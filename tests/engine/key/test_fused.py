"""The compiled one-pass loops give what the array-at-a-time steps they replace give."""
from __future__ import annotations

import cv2
import numpy as np

from engine.key import fused


def test_clip_matte_clips_black_and_white_away_from_edges_and_only_the_floor_near_them():
    rng = np.random.default_rng(0)
    alpha = rng.uniform(-0.2, 1.2, (37, 53)).astype(np.float32)
    edge = rng.random((37, 53)) > 0.5
    got = fused.clip_matte(alpha, edge, 0.04, 0.96, 0.01)
    want = np.where(edge, np.clip((alpha - 0.01) / 0.99, 0, 1), np.clip((alpha - 0.04) / 0.96, 0, 1))
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_despot_verdicts_from_working_scale_land_on_the_pixels_a_nearest_upscale_gives():
    rng = np.random.default_rng(1)
    h, w = 1080, 200
    alpha = rng.random((h, w), dtype=np.float32)
    speck, clear, fill = ((rng.random((h // 2, w // 2)) > t).astype(np.uint8) for t in (0.9, 0.7, 0.8))
    up = [cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) > 0 for m in (speck, clear, fill)]
    want = alpha.copy()
    want[up[1] & (alpha < 0.5)] = 0.0
    want[up[0]] = 0.0
    want[up[2] & (alpha < 0.95)] = 1.0
    np.testing.assert_array_equal(fused.apply_despot(alpha, speck, clear, fill), want)
