"""Shared fixtures: small synthetic frames and movies made on the fly (no shared/ data)."""
from __future__ import annotations

import shutil
from fractions import Fraction

import numpy as np
import pytest


def gradient_frames(n: int, h: int = 48, w: int = 64, alpha: bool = False, seed: int = 0, noise: float = 0.01) -> list[np.ndarray]:
    """``n`` distinct scene-linear frames (H, W, 3|4); RGBA ones are premultiplied."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for i in range(n):
        base = np.stack([xx / w, (yy / h + 0.05 * i) % 1.0, 0.5 + 0.4 * np.sin(xx / 7 + i)], -1).astype(np.float32)
        base = 0.05 + 0.85 * base + noise * rng.random(base.shape, dtype=np.float32)
        if alpha:
            a = np.clip((xx - 0.2 * w) / (0.6 * w), 0, 1)[..., None].astype(np.float32)
            base = np.concatenate([base * a, a], -1)
        out.append(base)
    return out


@pytest.fixture
def frames():
    return gradient_frames


@pytest.fixture
def write_prores(tmp_path):
    """Write a small ProRes movie and return its path."""
    from paicli.media.prores import ProResWriter
    from paicli.media.timing import Timecode

    def make(name="clip.mov", n=6, rate=Fraction(24), tc="01:00:00:00", reel="A001C001", profile="hq", alpha=False,
             h=48, w=64):
        path = tmp_path / name
        start = Timecode.parse(tc, rate) if tc else None
        with ProResWriter(path, w, h, rate, profile=profile, start_timecode=start, reel=reel) as wr:
            for f in gradient_frames(n, h, w, alpha=alpha):
                wr.write(f)
        return path

    return make


requires_ffprobe = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe (Debian ffmpeg) not installed")
