#!/usr/bin/env python3
"""Keyer quality and speed on the bench, with the ffmpeg peer side by side (a script, not a test).

    python benchmarks/key.py --data ../shared/bench [--shots gs01_static_green ...] [--no-peer] [--json OUT]

Per shot: alpha SAD / MSE / Grad / Conn / dtSSD against the ground truth, and the composite
of the keyed, despilled foreground over the first reference still (composite MSE / PSNR /
SSIM), computed by engine.metrics and cross-checked against the bench's score.py; the
peer's figures from ffmpeg_peer.py (chromakey + despill, grid-searched on the ground truth)
in the same run, and the ratios the bars are stated in. Then speed at 1920x1080: the
keyer's processing per frame (decode and encode excluded) against the ProRes 4444 encode
of the same frames, and peak RSS; and ``paicli key`` to ProRes 4444 as a whole process
against the peer's ffmpeg pipeline (chromakey + despill + 4444 encode) on the same movie.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.key.keyer import Keyer, KeyParams  # noqa: E402
from engine.key.screen import detect_screen  # noqa: E402
from engine.colour import bt709_oetf, srgb_decode  # noqa: E402
from engine.metrics import AlphaScorer, CompScorer  # noqa: E402
from paicli.media.reader import open_source  # noqa: E402

BARS = {"SAD": 0.50, "Grad": 0.40, "dtSSD": 0.60}  # at most this fraction of the peer's
PROCESS_BAR = 1.5  # `paicli key` to ProRes 4444, whole process, at most this multiple of the ffmpeg pipeline
PSNR_MARGIN_DB = 2.0  # locked-off shot: composite PSNR at least this much above the peer's


def read_png(path: str) -> np.ndarray:
    x = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    x = x.astype(np.float32) / (65535.0 if x.dtype == np.uint16 else 255.0)
    return x[..., ::-1] if x.ndim == 3 else x


def key_and_score(shot: Path, params: KeyParams, keep: Path | None) -> dict:
    """Key every frame of the shot, score matte and composite; optionally keep the mattes as PNGs."""
    gt_alpha = sorted(glob.glob(str(shot / "gt" / "alpha.*.png")))
    gt_comp = sorted(glob.glob(str(shot / "gt" / "comp.*.png")))
    bg = srgb_decode(read_png(sorted(glob.glob(str(shot / "refs" / "*.png")))[0])[..., :3])
    alpha_sc, comp_sc = AlphaScorer(), CompScorer()
    seconds, n = 0.0, 0
    with open_source(str(shot / "plate.mov")) as src:
        keyer = None
        for i, img in enumerate(src.frames()):
            rgb = img[..., :3]
            t = time.perf_counter()
            if keyer is None:
                keyer = Keyer(dataclasses.replace(params, chroma_subsampling=src.info.chroma_subsampling),  # as paicli key
                              detect_screen(rgb))
            res = keyer.key(rgb)
            seconds += time.perf_counter() - t
            n += 1
            g = read_png(gt_alpha[i])
            alpha_sc.add(res.alpha, g)
            comp = res.premultiplied[..., :3] + (1.0 - res.alpha[..., None]) * bg
            comp_sc.add(bt709_oetf(comp), read_png(gt_comp[i]), g)
            if keep is not None:
                cv2.imwrite(str(keep / f"a.{i:04d}.png"), np.round(np.clip(res.alpha, 0, 1) * 65535).astype(np.uint16))
    out = {**alpha_sc.result(), **comp_sc.result(), "key_ms_per_frame": 1000 * seconds / n, "screen": keyer.screen.kind}
    return out


def reference_score(shot: Path, alpha_dir: Path, score_py: Path) -> dict:
    r = subprocess.run([sys.executable, str(score_py), str(shot), "--alpha", str(alpha_dir)],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def peer(shot: Path, peer_py: Path) -> dict:
    r = subprocess.run([sys.executable, str(peer_py), str(shot)], capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def speed_1080p(shot: Path, params: KeyParams, frames: int, warmup: int = 2) -> dict:
    """Keyer ms/frame vs ProRes 4444 encode ms/frame of the same 1920x1080 frames; peak RSS.

    Frames stream one at a time (key, then encode), so peak RSS is what a real run holds.
    The first ``warmup`` frames are keyed and encoded but not timed: a shot is long, and
    its steady state is what sets the overnight render time.
    """
    from paicli.media.prores import ProResWriter

    proc = psutil.Process()
    t_key = t_enc = 0.0
    peak = proc.memory_info().rss
    timed = 0
    with open_source(str(shot / "plate.mov")) as src, tempfile.TemporaryDirectory() as d:
        n = min(frames + warmup, src.info.frame_count)
        keyer = None
        with ProResWriter(Path(d) / "enc.mov", 1920, 1080, src.info.rate, profile="4444") as w:
            for i, f in enumerate(src.frames(0, n)):
                plate = cv2.resize(f[..., :3], (1920, 1080), interpolation=cv2.INTER_LINEAR)
                if keyer is None:
                    keyer = Keyer(params, detect_screen(plate))
                t0 = time.perf_counter()
                res = keyer.key(plate)
                t1 = time.perf_counter()
                w.write_straight(res.fg, res.alpha)
                t2 = time.perf_counter()
                if i >= warmup:
                    t_key += t1 - t0
                    t_enc += t2 - t1
                    timed += 1
                peak = max(peak, proc.memory_info().rss)
    return {"key_ms": 1000 * t_key / timed, "prores4444_ms": 1000 * t_enc / timed, "key_fps": timed / t_key,
            "prores4444_fps": timed / t_enc, "peak_rss_mib": peak / 2**20, "frames": timed}


def process_speed_1080p(shot: Path, frames: int) -> dict:
    """Wall time of the whole ``paicli key`` process writing ProRes 4444 with alpha (decode, key,
    encode) against the peer's ffmpeg pipeline (chromakey + despill + ProRes 4444 encode) on the
    same 1920x1080 ProRes 422 HQ movie (the bench shot scaled up), each run twice, the faster kept."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as d, open_source(str(shot / "plate.mov")) as src:
        first = next(iter(src.frames(0, 1)))[..., :3]
        screen = detect_screen(first)
        hexcol = "0x" + "".join(f"{round(255 * v):02X}" for v in bt709_oetf(np.array(screen.colour, np.float32)))
        movie = Path(d) / "hd.mov"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(shot / "plate.mov"), "-frames:v", str(frames),
                        "-vf", "scale=1920:1080:flags=bicubic", "-c:v", "prores_ks", "-profile:v", "3",
                        "-pix_fmt", "yuv422p10le", str(movie)], check=True)
        ours_cmd = [sys.executable, "-m", "paicli.cli", "key", str(movie), "-o", str(Path(d) / "k"), "--format",
                    "prores", "--outputs", "rgba", "--progress", "none"]
        peer_cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(movie), "-vf",
                    f"format=yuva444p10le,chromakey={hexcol}:0.12:0.08,despill=type={screen.kind},format=yuva444p10le",
                    "-c:v", "prores_ks", "-profile:v", "4", "-pix_fmt", "yuva444p10le", str(Path(d) / "peer.mov")]
        env = {**os.environ, "PYTHONPATH": str(root)}
        walls = {}
        for name, cmd in (("paicli", ours_cmd), ("ffmpeg", peer_cmd)):
            best = float("inf")
            for _ in range(2):
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, env=env, capture_output=True)
                best = min(best, time.perf_counter() - t0)
            walls[name] = best
    return {"frames": frames, "paicli_s": walls["paicli"], "ffmpeg_s": walls["ffmpeg"],
            "ratio": walls["paicli"] / walls["ffmpeg"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the bench folder (../shared/bench)")
    ap.add_argument("--shots", nargs="*", help="shot folder names (default: all)")
    ap.add_argument("--no-peer", action="store_true", help="skip the ffmpeg peer (no side-by-side ratios)")
    ap.add_argument("--speed-frames", type=int, default=20, help="frames timed for the 1080p speed figure")
    ap.add_argument("--process-frames", type=int, default=24, help="frames of the 1080p whole-process comparison")
    ap.add_argument("--json", help="also write all figures as JSON here")
    a = ap.parse_args()
    data = Path(a.data)
    shots = [data / s for s in a.shots] if a.shots else sorted(p.parent for p in data.glob("*/plate.mov"))
    params = KeyParams()
    table, everything, failures = [], {}, []
    for shot in shots:
        with tempfile.TemporaryDirectory() as d:
            ours = key_and_score(shot, params, Path(d))
            ref = reference_score(shot, Path(d), data / "score.py")
        agree = all(abs(ours[k] - ref[k]) <= 5e-4 * max(abs(ref[k]), 1e-12) for k in ("SAD", "MSE", "Grad", "dtSSD"))
        theirs = None if a.no_peer else peer(shot, data / "ffmpeg_peer.py")
        everything[shot.name] = {"paicli": ours, "score_py": ref, "peer": theirs, "agree_3_digits": agree}
        row = {"shot": shot.name, **{k: ours[k] for k in ("SAD", "MSE", "Grad", "Conn", "dtSSD", "comp_PSNR")},
               "agree": agree}
        if theirs:
            for k, frac in BARS.items():
                ratio = ours[k] / max(theirs[k], 1e-12)
                row[f"{k}_ratio"] = ratio
                if ratio > frac:
                    failures.append(f"{shot.name}: {k} {ratio:.0%} of the peer's (bar {frac:.0%})")
            row["peer"] = {k: theirs[k] for k in ("SAD", "Grad", "dtSSD", "comp_PSNR")}
            meta = json.loads((shot / "meta.json").read_text())
            if meta.get("camera") == "static" and ours["comp_PSNR"] < theirs["comp_PSNR"] + PSNR_MARGIN_DB:
                failures.append(f"{shot.name}: composite PSNR {ours['comp_PSNR']:.2f} dB, bar peer + {PSNR_MARGIN_DB} = "
                                f"{theirs['comp_PSNR'] + PSNR_MARGIN_DB:.2f} dB")
        if not agree:
            failures.append(f"{shot.name}: project metrics disagree with score.py")
        table.append(row)
    speed = speed_1080p(shots[0], params, a.speed_frames)
    everything["speed_1080p"] = speed
    if speed["key_ms"] > speed["prores4444_ms"]:
        failures.append(f"speed: key {speed['key_ms']:.0f} ms/frame > ProRes 4444 encode {speed['prores4444_ms']:.0f} ms/frame")
    process = process_speed_1080p(shots[0], a.process_frames)
    everything["process_1080p"] = process
    if process["ratio"] > PROCESS_BAR:
        failures.append(f"speed: paicli key as a whole process {process['ratio']:.2f}x the ffmpeg pipeline "
                        f"(bar {PROCESS_BAR}x)")

    print("paicli key vs ffmpeg chromakey+despill (peer grid-searched on the ground truth)")
    print("| shot | SAD (peer) | ratio | Grad (peer) | ratio | dtSSD (peer) | ratio | Conn | comp PSNR (peer) | "
          "metrics = score.py |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in table:
        p = r.get("peer")

        def cell(k, fmt):
            if not p:
                return f"{r[k]:{fmt}} (-) | -"
            return f"{r[k]:{fmt}} ({p[k]:{fmt}}) | {r[k + '_ratio']:.1%}"

        psnr = f"{r['comp_PSNR']:.2f}" + (f" ({p['comp_PSNR']:.2f})" if p else "")
        print(f"| {r['shot']} | {cell('SAD', '.3f')} | {cell('Grad', '.4f')} | {cell('dtSSD', '.3f')} | "
              f"{r['Conn']:.3f} | {psnr} | {'yes' if r['agree'] else 'NO'} |")
    print(f"\nspeed at 1920x1080 ({speed['frames']} frames): key {speed['key_ms']:.0f} ms/frame ({speed['key_fps']:.2f} fps), "
          f"ProRes 4444 encode {speed['prores4444_ms']:.0f} ms/frame ({speed['prores4444_fps']:.2f} fps); "
          f"peak RSS {speed['peak_rss_mib']:.0f} MiB")
    print(f"whole process at 1920x1080 ({process['frames']} frames, ProRes 4444 with alpha): paicli key "
          f"{process['paicli_s']:.1f} s, ffmpeg chromakey+despill+encode {process['ffmpeg_s']:.1f} s: "
          f"{process['ratio']:.2f}x (bar {PROCESS_BAR}x)")
    print("bars: " + ("all met" if not failures else "NOT met:\n  " + "\n  ".join(failures)))
    if a.json:
        Path(a.json).write_text(json.dumps(everything, indent=1, default=float))


if __name__ == "__main__":
    main()
