#!/usr/bin/env python3
"""Media I/O throughput and memory at 1920x1080 (a script, not a test).

Prints: decode fps (ProRes HQ, H.264) to scene-linear float frames; ProRes HQ and 4444
encode fps from float frames (colour conversion included, then codec alone); EXR
ZIP/PIZ/DWAA write ms and MB per frame; peak RSS while streaming 50 and 200 frames
(decode ProRes -> encode ProRes), which must not grow with the number of frames.

    python benchmarks/io.py [--frames 200] [--width 1920 --height 1080] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RATE = Fraction(24000, 1001)


def synthetic_frame(h: int, w: int, i: int, rng: np.random.Generator) -> np.ndarray:
    """Plate-like content in scene-linear light: smooth gradients, edges and grain."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([0.3 + 0.2 * np.sin(xx / 97 + i * 0.1), 0.25 + 0.2 * np.cos(yy / 61),
                    0.2 + 0.15 * np.sin((xx + yy) / 143)], -1)
    img[(yy > h * 0.3) & (yy < h * 0.7) & (xx > w * 0.4 + i) & (xx < w * 0.6 + i)] = (0.6, 0.45, 0.35)
    img += rng.normal(0, 0.01, img.shape).astype(np.float32)
    return np.clip(img, 0, None).astype(np.float32)


def bench_encode(tmp: Path, frames: list[np.ndarray], profile: str, alpha: bool) -> tuple[float, float, Path]:
    """(writer fps incl. colour conversion, codec-only fps, path)."""
    import av

    from paicli.media.prores import ProResWriter, PROFILES

    h, w = frames[0].shape[:2]
    src = [np.concatenate([f, np.ones_like(f[..., :1])], -1) for f in frames] if alpha else frames
    path = tmp / f"enc_{profile}.mov"
    t = time.perf_counter()
    with ProResWriter(path, w, h, RATE, profile=profile) as wr:
        for f in src:
            wr.write(f)
    writer_fps = len(src) / (time.perf_counter() - t)
    # the codec alone, on pre-converted planes, for comparison
    pix = "yuva444p10le" if alpha else ("yuv444p10le" if PROFILES[profile][2] else "yuv422p10le")
    vf = av.VideoFrame(w, h, pix)
    with av.open(str(tmp / "codec_only.mov"), "w") as c:
        s = c.add_stream("prores_ks", rate=RATE)
        s.width, s.height, s.pix_fmt = w, h, pix
        s.codec_context.options = {"profile": str(PROFILES[profile][0])}
        from paicli.media.prores import _put_plane
        from paicli.media.ycbcr import rgb_to_ycbcr
        from engine.colour import bt709_oetf

        y, cb, cr = rgb_to_ycbcr(bt709_oetf(frames[0]), 10, subsampling="444" if PROFILES[profile][2] else "422")
        planes = [y, cb, cr] + ([np.full_like(y, 1023)] if alpha else [])
        for p, v in zip(vf.planes, planes):
            _put_plane(p, v)
        t = time.perf_counter()
        for i in range(len(frames)):
            vf.pts = i
            for pkt in s.encode(vf):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
        codec_fps = len(frames) / (time.perf_counter() - t)
    return writer_fps, codec_fps, path


def bench_h264(tmp: Path, frames: list[np.ndarray]) -> Path:
    import av

    from engine.colour import bt709_oetf

    h, w = frames[0].shape[:2]
    path = tmp / "h264.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=RATE)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.gop_size = 48
        s.codec_context.options = {"preset": "veryfast", "bf": "3"}
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray((np.clip(bt709_oetf(f), 0, 1) * 255).astype(np.uint8), format="rgb24")
            vf.pts = i
            for pkt in s.encode(vf):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def bench_decode(path: Path) -> float:
    from paicli.media.reader import open_source

    t = time.perf_counter()
    with open_source(path) as src:
        n = sum(1 for _ in src.frames())
    return n / (time.perf_counter() - t)


def bench_exr(tmp: Path, frame: np.ndarray, compression: str, repeats: int = 5) -> tuple[float, float]:
    from paicli.media.exr import write_exr

    rgba = np.concatenate([frame, np.ones_like(frame[..., :1])], -1)
    times, size = [], 0
    for i in range(repeats):
        p = tmp / f"x_{compression}.{i:04d}.exr"
        t = time.perf_counter()
        write_exr(p, rgba, compression=compression, rate=RATE)
        times.append(time.perf_counter() - t)
        size = p.stat().st_size
    return 1000 * float(np.median(times)), size / 1e6


# Peak RSS is sampled after every frame with psutil: ru_maxrss of a forked child would
# include the parent's pages at fork time, which says nothing about streaming.
STREAM_CHILD = r"""
import sys, psutil
sys.path.insert(0, sys.argv[4])
from paicli.media.reader import open_source
from paicli.media.prores import ProResWriter
src_path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
proc, peak = psutil.Process(), 0
with open_source(src_path) as src:
    info = src.info
    with ProResWriter(out, info.width, info.height, info.rate, profile="hq") as w:
        for f in src.frames(0, n):
            w.write(f)
            peak = max(peak, proc.memory_info().rss)
print(peak / 2**20)
"""


def bench_stream_rss(tmp: Path, source: Path, n: int) -> tuple[float, float]:
    """(peak RSS MiB, fps) of a child process streaming ``n`` frames source -> ProRes HQ."""
    root = str(Path(__file__).resolve().parent.parent)
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", STREAM_CHILD, str(source), str(n), str(tmp / f"stream_{n}.mov"), root],
                         check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1]), n / (time.perf_counter() - t)


def make_long_source(tmp: Path, frames: list[np.ndarray], n: int) -> Path:
    from paicli.media.prores import ProResWriter

    h, w = frames[0].shape[:2]
    path = tmp / "long_source.mov"
    with ProResWriter(path, w, h, RATE, profile="hq") as wr:
        for i in range(n):
            wr.write(frames[i % len(frames)])
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200, help="frames streamed for the peak-RSS measurement")
    ap.add_argument("--sample", type=int, default=24, help="frames used for the throughput figures")
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--json", help="also write the figures as JSON here")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    frames = [synthetic_frame(a.height, a.width, i, rng) for i in range(a.sample)]
    rows: list[tuple[str, str]] = []
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for profile, alpha in (("hq", False), ("4444", True)):
            wfps, cfps, path = bench_encode(tmp, frames, profile, alpha)
            figures[f"prores_{profile}_encode_fps"] = wfps
            figures[f"prores_{profile}_codec_only_fps"] = cfps
            rows.append((f"ProRes {profile.upper()} encode (float linear -> file)", f"{wfps:.1f} fps"))
            rows.append((f"ProRes {profile.upper()} encode (codec only)", f"{cfps:.1f} fps"))
            if profile == "hq":
                figures["prores_hq_decode_fps"] = bench_decode(path)
                rows.append(("ProRes HQ decode (file -> float linear)", f"{figures['prores_hq_decode_fps']:.1f} fps"))
        h264 = bench_h264(tmp, frames)
        figures["h264_decode_fps"] = bench_decode(h264)
        rows.append(("H.264 decode (file -> float linear)", f"{figures['h264_decode_fps']:.1f} fps"))
        for comp in ("zip", "piz", "dwaa"):
            ms, mb = bench_exr(tmp, frames[0], comp)
            figures[f"exr_{comp}_write_ms"], figures[f"exr_{comp}_mb_per_frame"] = ms, mb
            rows.append((f"EXR {comp.upper()} half RGBA write", f"{ms:.0f} ms, {mb:.2f} MB/frame"))
        source = make_long_source(tmp, frames, a.frames)
        short = max(1, a.frames // 4)
        for n in (short, a.frames):
            rss, fps = bench_stream_rss(tmp, source, n)
            figures[f"stream_{n}_peak_rss_mib"], figures[f"stream_{n}_fps"] = rss, fps
            rows.append((f"stream {n} frames ProRes -> ProRes HQ", f"peak RSS {rss:.0f} MiB, {fps:.1f} fps"))
    growth = figures[f"stream_{a.frames}_peak_rss_mib"] - figures[f"stream_{short}_peak_rss_mib"]
    figures["rss_growth_mib"] = growth
    rows.append((f"peak RSS growth {short} -> {a.frames} frames", f"{growth:+.0f} MiB"))
    width = max(len(r[0]) for r in rows)
    print(f"paicli media I/O at {a.width}x{a.height}, {os.cpu_count()} CPU cores")
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for k, v in rows:
        print(f"| {k.ljust(width)} | {v} |")
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
