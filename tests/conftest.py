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


@pytest.fixture(autouse=True)
def _no_sources_from_other_tests():
    """Each test starts with no registered sources (paicli.sources: a process-wide registry,
    one command per process in use; tests run many commands in one process)."""
    from paicli.sources import SOURCES

    SOURCES.clear()
    yield
    SOURCES.clear()


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


def make_check_shot(folder, w: int = 240, h: int = 136, n: int = 8, pan_px: int = 3) -> dict:
    """A panning green-screen shot with known answers for ``relight-check``: ``plate.mov`` (screen
    with markers), ``good.mov`` (the subject over a background that pans with the camera),
    ``static.mov`` (over a background that does not move), ``matte.####.png``, reference
    stills ``refs/ref.0000.png`` and ``ref.NNNN.png`` (last frame) and ``camera.json``."""
    import cv2

    from engine.colour import srgb_encode
    from paicli.shot.camera_files import write_camera_json
    from paicli.media.prores import ProResWriter
    from paicli.media.timing import Timecode

    rng = np.random.default_rng(3)
    ww = w + pan_px * n + 8
    noise = cv2.GaussianBlur(rng.standard_normal((h, ww)).astype(np.float32), (0, 0), 2.0)
    world = np.stack([0.22 + 0.12 * noise, 0.2 + 0.1 * noise, 0.25 + 0.08 * noise], -1).clip(0.01, None).astype(np.float32)
    screen = np.tile(np.array([0.05, 0.42, 0.08], np.float32), (h, ww, 1))
    for mx in range(20, ww, 40):
        for my in range(20, h, 40):
            screen[my - 1:my + 2, mx - 6:mx + 7] = (0.02, 0.05, 0.02)
            screen[my - 6:my + 7, mx - 1:mx + 2] = (0.02, 0.05, 0.02)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    alpha = np.clip((h * 0.32 - np.sqrt((xx - w / 2) ** 2 + (yy - h * 0.55) ** 2)) / 2 + 0.5, 0, 1).astype(np.float32)
    patches = cv2.resize(rng.uniform(0.1, 0.6, (5, 7, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    fg = (patches / patches[alpha > 0.98].mean(0) * 0.3).astype(np.float32)
    rate = Fraction(24)
    tc = Timecode.parse("01:00:00:00", rate)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(exist_ok=True)
    a = alpha[..., None]
    writers = {k: ProResWriter(folder / f"{k}.mov", w, h, rate, start_timecode=tc) for k in ("plate", "good", "static")}
    for t in range(n):
        x0 = pan_px * t
        frames = {"plate": a * fg + (1 - a) * screen[:, x0:x0 + w], "good": a * fg + (1 - a) * world[:, x0:x0 + w],
                  "static": a * fg + (1 - a) * world[:, :w]}
        for k, wr in writers.items():
            wr.write(frames[k].astype(np.float32))
        cv2.imwrite(str(folder / f"matte.{t:04d}.png"), np.round(alpha * 65535).astype(np.uint16))
        if t in (0, n - 1):
            ref = np.clip(srgb_encode(world[:, x0:x0 + w]), 0, 1)
            cv2.imwrite(str(folder / "refs" / f"ref.{t:04d}.png"), np.round(ref[..., ::-1] * 65535).astype(np.uint16))
    for wr in writers.values():
        wr.close()
    mats = [np.array([[1, 0, pan_px * t], [0, 1, 0], [0, 0, 1]], np.float64) for t in range(n)]
    write_camera_json(folder / "camera.json", mats, width=w, height=h)
    return {"w": w, "h": h, "n": n, "folder": folder}


@pytest.fixture(scope="session")
def check_shot(tmp_path_factory):
    return make_check_shot(tmp_path_factory.mktemp("check_shot"))
