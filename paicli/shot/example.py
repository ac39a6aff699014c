"""A small synthetic green-screen shot, so anyone can try paicli with no footage.

The shot: an uneven green screen with tracking markers, a soft-edged subject with fine
strands (a stand-in for hair) swaying in front of it, a slow camera pan, sensor noise and
green spill. Written as ProRes 422 HQ with a timecode track, plus background reference
stills (sRGB PNG) anchored at the first, middle and last frame, and the ground truth (alpha,
composite, tracking-marker footprints), so the result of any command can be checked.
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.colour import bt709_oetf, srgb_encode
from paicli.media.atomic import atomic_output
from paicli.media.prores import ProResWriter
from paicli.media.stills import write_png16
from paicli.media.timing import Timecode, format_rate, parse_rate
from paicli.paths import safe_output_path
from paicli.result import CommandResult, OutputFile


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A landscape in linear light (H, W, 3): sky gradient, sun glow, two ranges of hills."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    v = y / h
    sky = np.stack([0.25 + 0.35 * v, 0.45 + 0.3 * v, 0.9 - 0.2 * v], -1)
    sun = np.exp(-(((x - 0.7 * w) ** 2 + (y - 0.25 * h) ** 2) / (0.02 * w * w)))[..., None]
    img = sky + 0.3 * sun * np.array([1.0, 0.85, 0.6], np.float32)
    for k, (height, col) in enumerate([(0.55, (0.18, 0.3, 0.2)), (0.7, (0.08, 0.18, 0.06))]):
        ridge = h * (height + 0.06 * np.sin(x / w * (5 + 4 * k) + k) + 0.02 * np.sin(x / w * 31))
        mask = (y > ridge)[..., None]
        texture = 1 + 0.15 * rng.standard_normal((h, w, 1)).astype(np.float32)
        img = np.where(mask, np.array(col, np.float32) * texture, img)
    return np.clip(img, 0, None).astype(np.float32)


def _subject_alpha(h: int, w: int, t: float) -> np.ndarray:
    """Soft body with thin strands; ``t`` in [0, 1] drives the sway. Returns (H, W) float32."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = w * (0.45 + 0.03 * np.sin(2 * np.pi * t))
    body = np.clip(1.2 - np.sqrt(((x - cx) / (0.16 * w)) ** 2 + ((y - 0.95 * h) / (0.45 * h)) ** 2), 0, 1) * 4
    alpha = np.clip(body, 0, 1)
    for k in range(14):  # fine strands, partly transparent
        ang = -0.9 + k * 0.13 + 0.05 * np.sin(2 * np.pi * t + k)
        x0, y0 = cx + 0.1 * w * np.sin(ang), 0.55 * h
        d = np.abs((x - x0) * np.cos(ang) + (y - y0) * np.sin(ang))
        along = (y0 - y)
        strand = np.clip(1.2 - d / 1.2, 0, 1) * np.clip(along / (0.2 * h) + 1, 0, 1) * (along > -5) * (along < 0.12 * h)
        alpha = np.maximum(alpha, 0.7 * strand)
    return alpha.astype(np.float32)


def make_example_shot(out_dir: Path, *, width: int = 640, height: int = 360, frames: int = 48,
                      rate: Fraction = Fraction(24000, 1001), start_tc: str = "01:00:00:00",
                      reel: str = "A001C001", seed: int = 7) -> dict:
    """Write ``plate.mov``, ``refs/ref.NNNN.png`` and the ground truth into ``out_dir``:
    ``gt/alpha.NNNN.png`` (16-bit), ``gt/comp.NNNN.png`` (the clean subject over the new
    background, BT.709-encoded like the plate, 16-bit) and ``gt/markers.NNNN.png`` (where the
    tracking markers are in that frame, 8-bit 0/255).

    Returns a description (also written as ``meta.json``).
    """
    import cv2

    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    (out_dir / "refs").mkdir(parents=True, exist_ok=True)
    (out_dir / "gt").mkdir(parents=True, exist_ok=True)
    pan = 0.15 * width  # total camera travel in pixels over the shot
    pad = int(pan) + 8
    big_h, big_w = height, width + pad
    world_bg = _background(big_h, big_w, rng)
    yy, xx = np.mgrid[0:big_h, 0:big_w].astype(np.float32)
    light = 0.75 + 0.25 * np.exp(-(((xx - big_w / 2) / big_w) ** 2 + ((yy - big_h / 2) / big_h) ** 2) * 3)
    screen = np.array([0.05, 0.42, 0.08], np.float32) * light[..., None]
    markers = np.zeros((big_h, big_w), bool)
    for mx in range(40, big_w, 120):  # tracking markers: small dark crosses on the screen
        for my in range(40, big_h, 110):
            markers[my - 1:my + 2, mx - 8:mx + 9] = True
            markers[my - 8:my + 9, mx - 1:mx + 2] = True
    screen[markers] = (0.02, 0.05, 0.02)
    fg_colour = np.array([0.55, 0.38, 0.28], np.float32)
    tc = Timecode.parse(start_tc, rate)
    anchors = [0, frames // 2, frames - 1]
    with ProResWriter(out_dir / "plate.mov", width, height, rate, profile="hq", start_timecode=tc, reel=reel) as w:
        for i in range(frames):
            t = i / max(1, frames - 1)
            x0 = int(round(pan * t))
            a = _subject_alpha(height, width, t)[..., None]
            plate_screen = screen[:, x0:x0 + width]
            spill = 0.15 * (1 - a) * np.array([0, 1, 0], np.float32) * a * 4
            fg = fg_colour * (0.8 + 0.2 * (1 - np.linspace(0, 1, height, dtype=np.float32)[:, None, None]))
            plate = a * (fg + spill * 0.1) + (1 - a) * plate_screen
            plate = plate + rng.normal(0, 0.004, plate.shape).astype(np.float32)
            w.write(np.clip(plate, 0, None).astype(np.float32))
            write_png16(out_dir / "gt" / f"alpha.{i:04d}.png", a[..., 0])
            comp = a * fg + (1 - a) * world_bg[:, x0:x0 + width]  # the clean subject over the new background
            write_png16(out_dir / "gt" / f"comp.{i:04d}.png", bt709_oetf(comp))
            with atomic_output(out_dir / "gt" / f"markers.{i:04d}.png") as tmp:
                cv2.imwrite(str(tmp), markers[:, x0:x0 + width].astype(np.uint8) * 255)
            if i in anchors:
                ref = np.clip(srgb_encode(world_bg[:, x0:x0 + width]), 0, 1)
                with atomic_output(out_dir / "refs" / f"ref.{i:04d}.png") as tmp:
                    cv2.imwrite(str(tmp), np.round(ref[..., ::-1] * 65535).astype(np.uint16))
    meta = {"width": width, "height": height, "frames": frames, "fps": format_rate(rate), "tc": start_tc,
            "reel": reel, "screen": "green", "camera": "pan", "pan_px": pan, "refs_at": anchors}
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def example(directory: Path, frames: int = 48) -> CommandResult:
    """``paicli example``: the example shot written into ``directory``, every file reported."""
    plate = safe_output_path(directory, "plate.mov")
    meta = make_example_shot(directory, frames=frames)
    rate = parse_rate(meta["fps"])
    tc = Timecode.parse(meta["tc"], rate)
    result = CommandResult(command="example", summary=meta)
    result.add_output(OutputFile(kind="media", path=str(plate), frames=(0, frames - 1), timecode=(tc, tc + frames - 1),
                                 rate=rate, format="prores_hq"))
    for a in meta["refs_at"]:
        result.add_output(OutputFile(kind="media", path=str(directory / "refs" / f"ref.{a:04d}.png"), frames=(a, a)))
    result.add_output(OutputFile(kind="matte", path=str(directory / "gt" / "alpha.####.png"), frames=(0, frames - 1)))
    result.add_output(OutputFile(kind="comp", path=str(directory / "gt" / "comp.####.png"), frames=(0, frames - 1)))
    result.add_output(OutputFile(kind="matte", path=str(directory / "gt" / "markers.####.png"), frames=(0, frames - 1)))
    result.add_output(OutputFile(kind="sidecar", path=str(directory / "meta.json")))
    return result
