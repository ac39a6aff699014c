#!/usr/bin/env python3
"""Issue 4's bars for the classic replace engine, with the ffmpeg peer side by side (a script, not a test).

    python benchmarks/replace.py --data ../shared/bench [--shots gs02_pan_markers_relight ...] [--no-peer]
                                 [--skip-speed] [--json OUT]

1. Per shot: the engine's composite (BT.709-encoded) scored by engine.metrics against the
   ground truth (comp MSE / PSNR / SSIM, PSNR in the solid foreground and the pure
   background), cross-checked against the bench's score.py on 16-bit PNGs of the same
   frames; the camera's mean corner error against gt/camera.json; the foreground's PSNR
   again with harmonisation off (keep-lighting), for the relight bar; the peer's figures
   from ffmpeg_peer.py (chromakey + despill + overlay on the first still, grid-searched on
   the ground truth), run alongside.
2. Speed at 1920x1080: the engine's compute per frame (analysis + render, reference
   registration included, decode and encode excluded) against the ProRes HQ encode of its
   composites, both on frames held in memory.
3. Memory: peak RSS of ``paicli replace`` (children included) on 48- and 192-frame
   example shots; it must not grow with the shot's length.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.classic.harmonise import HarmoniseParams  # noqa: E402
from engine.classic.replace import ClassicReplaceEngine, ReplaceParams  # noqa: E402
from engine.classic.track import corner_error  # noqa: E402
from engine.colour import bt709_oetf, srgb_decode  # noqa: E402
from engine.interface import Reference  # noqa: E402
from engine.metrics import CompScorer  # noqa: E402
from paicli.media.probe import probe  # noqa: E402
from paicli.media.reader import open_source  # noqa: E402
from paicli.media.stills import write_png16  # noqa: E402

COMP_MSE_MAX = 0.0015  # every shot, BT.709-encoded [0, 1]
PEER_MARGIN_DB = 6.0  # moving-camera shots: composite PSNR at least this much above the peer's
CORNER_MAX_PX = 1.0  # marker shots: mean corner error of the camera
BG_PSNR_MIN_DB = 28.0  # every shot: PSNR in the pure background
RELIGHT_MIN_DB = 3.0  # relit shots: fg PSNR harmonised minus fg PSNR with the plate's lighting kept
SPEED_RATIO_MAX = 1.5  # engine compute per 1080p frame / ProRes HQ encode per frame
RSS_GROWTH_MAX = 0.25  # peak RSS growth from the short to the long example shot
RSS_LENGTHS = (48, 192)
COMP_KEYS = ("comp_MSE", "comp_PSNR", "comp_SSIM", "fg_PSNR", "bg_PSNR")
SIZE_1080P = (1920, 1080)
WARM_UP_FRAMES = 6  # run once on this many frames before timing (buffers touched, kernels loaded)


def read_png(path: str) -> np.ndarray:
    x = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    x = x.astype(np.float32) / (65535.0 if x.dtype == np.uint16 else 255.0)
    return x[..., ::-1] if x.ndim == 3 else x


def upscale(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic resize of a linear image to (w, h); the overshoot below 0 is cut (no negative light)."""
    return np.maximum(cv2.resize(img, size, interpolation=cv2.INTER_CUBIC), 0.0)


def references(folder: Path, size: tuple[int, int] | None = None) -> list[Reference]:
    """refs/ref.NNNN.png (sRGB) as scene-linear References anchored at frame NNNN, optionally resized."""
    out = []
    for p in sorted(folder.glob("ref.*.png")):
        img = srgb_decode(read_png(str(p))[..., :3])
        out.append(Reference(upscale(img, size) if size else img, int(p.name.split(".")[1])))
    return out


def start(script: Path, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def last_json(proc: subprocess.Popen) -> dict:
    """Wait for a started script and parse the JSON object on its last output line."""
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"{' '.join(proc.args[1:])} failed ({proc.returncode}):\n{err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])


def replace_and_score(shot: Path, params: ReplaceParams, keep: Path | None) -> tuple[dict, ClassicReplaceEngine]:
    """Replace the shot's background, score every composite and the camera; optionally keep 16-bit PNGs."""
    gt_comp = sorted(glob.glob(str(shot / "gt" / "comp.*.png")))
    gt_alpha = sorted(glob.glob(str(shot / "gt" / "alpha.*.png")))
    count = len(gt_comp)

    def frames():
        with open_source(str(shot / "plate.mov")) as src:
            yield from src.frames(0, count)

    params.key.chroma_subsampling = probe(str(shot / "plate.mov")).chroma_subsampling  # as paicli replace does
    engine, scorer = ClassicReplaceEngine(params), CompScorer()
    for t, layers in enumerate(engine.replace(frames, count, references(shot / "refs"))):
        comp = bt709_oetf(np.clip(layers.comp, 0.0, 1.0))
        scorer.add(comp, read_png(gt_comp[t]), read_png(gt_alpha[t]))
        if keep is not None:
            write_png16(keep / f"c.{t:04d}.png", comp)
    truth = [np.array(m) for m in json.loads((shot / "gt" / "camera.json").read_text())["frame_to_frame0"]]
    h, w = layers.comp.shape[:2]
    return {**scorer.result(), "corner_error_px": corner_error(engine.path, truth, w, h)}, engine


def verdict(applies: bool, ok: bool | None) -> str:
    """'-' where the bar is not stated for this shot, 'n/a' where it could not be measured."""
    return "-" if not applies else "n/a" if ok is None else "PASS" if ok else "FAIL"


def evaluate_shot(shot: Path, data: Path, with_peer: bool) -> dict:
    meta = json.loads((shot / "meta.json").read_text())
    peer_run = start(data / "ffmpeg_peer.py", shot) if with_peer else None  # runs while the engine does
    with tempfile.TemporaryDirectory() as d:
        ours, engine = replace_and_score(shot, ReplaceParams(), Path(d))
        ref = last_json(start(data / "score.py", shot, "--comp", d, "--no-conn"))
    keep_light, _ = replace_and_score(shot, ReplaceParams(harmonise=HarmoniseParams(strength=0.0)), None)
    peer = last_json(peer_run) if peer_run else None
    relight_db = ours["fg_PSNR"] - keep_light["fg_PSNR"]
    bars = {
        "comp_MSE": verdict(True, ours["comp_MSE"] <= COMP_MSE_MAX),
        "vs_peer": verdict(meta["camera"] != "static",
                           peer and ours["comp_PSNR"] >= peer["comp_PSNR"] + PEER_MARGIN_DB),
        "bg_PSNR": verdict(True, ours["bg_PSNR"] >= BG_PSNR_MIN_DB),
        "relight": verdict(bool(meta.get("relight")), relight_db >= RELIGHT_MIN_DB),
        "corner": verdict(bool(meta.get("markers")), ours["corner_error_px"] <= CORNER_MAX_PX),
    }
    return {"paicli": ours, "keep_lighting": keep_light, "relight_gain_db": relight_db, "peer": peer,
            "score_py": ref, "score_py_max_abs_diff": max(abs(ours[k] - ref[k]) for k in COMP_KEYS),
            "report": engine.report, "timing": engine.timing, "camera_kind": meta["camera"], "bars": bars}


def highlights(report: dict) -> str:
    """The engine report in one line: camera, pinning to the references, relight gains."""
    cam = report["camera"]
    why = f" ({cam['why']})" if "why" in cam else ""
    pinned = cam.get("pinned_to_references", "-")
    disagree = cam.get("reference_disagreement_px")
    return (f"screen {report['screen']['kind']}, camera {cam['mode']}{why}, pinned_to_references {pinned}"
            + (f" (disagreement px {disagree})" if disagree else "")
            + f", relight gains {report['relight']['gains']}, grain {report.get('grain_sigma')}")


def speed_1080p(shot: Path, frames: int) -> dict:
    """Engine compute per 1920x1080 frame (analysis + render) vs the ProRes HQ encode of its composites.

    The upscaled plate is held in memory, so the engine's wall time includes no decoding; the
    engine runs with nothing else consuming its frames (its worker threads keep both cores),
    then the composites it made are encoded on their own, close included.
    """
    from paicli.media.prores import ProResWriter

    with open_source(str(shot / "plate.mov")) as src:
        n, rate = min(frames, src.info.frame_count), src.info.rate
        plate = [upscale(f[..., :3], SIZE_1080P) for f in src.frames(0, n)]
    refs = [r for r in references(shot / "refs", SIZE_1080P) if r.anchor < n]
    # both sides warmed up first on a few frames (first-touch of the 1080p buffers, codec set-up)
    warm = min(WARM_UP_FRAMES, n)
    for _ in ClassicReplaceEngine(ReplaceParams()).replace(lambda: iter(plate[:warm]), warm,
                                                           [r for r in refs if r.anchor < warm] or refs[:1]):
        pass
    engine = ClassicReplaceEngine(ReplaceParams())
    t0 = time.perf_counter()
    comps = [layers.comp for layers in engine.replace(lambda: iter(plate), n, refs)]
    engine_ms = 1000 * (time.perf_counter() - t0) / n
    with tempfile.TemporaryDirectory() as d:
        with ProResWriter(Path(d) / "warm.mov", *SIZE_1080P, rate, profile="hq") as w:
            for comp in comps[:warm]:
                w.write(comp)
        t0 = time.perf_counter()
        with ProResWriter(Path(d) / "comp.mov", *SIZE_1080P, rate, profile="hq") as w:
            for comp in comps:
                w.write(comp)
        prores_ms = 1000 * (time.perf_counter() - t0) / n
    ms = {k: 1000 * engine.timing[f"{k}_s"] / n for k in ("analysis", "render")}
    return {"shot": shot.name, "frames": n, "analysis_ms": ms["analysis"], "render_ms": ms["render"],
            "engine_ms": engine_ms, "prores_hq_ms": prores_ms, "ratio": engine_ms / prores_ms,
            "bar": verdict(True, engine_ms <= SPEED_RATIO_MAX * prores_ms)}


def tree_rss(proc: psutil.Process) -> int:
    """RSS of a process and all its descendants, bytes; those gone mid-count add nothing."""
    total = 0
    with contextlib.suppress(psutil.Error):
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
    return total


def peak_rss(cmd: list[str], poll_s: float = 0.05) -> dict:
    """Run a command, polling its process tree's RSS; the peak in MiB and the wall time."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = psutil.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc))
            time.sleep(poll_s)
        if proc.returncode:
            log.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{log.read().decode()[-2000:]}")
    return {"peak_rss_mib": peak / 2**20, "wall_s": time.perf_counter() - t0}


def rss_vs_length() -> dict:
    """Peak RSS of ``paicli replace`` on example shots of RSS_LENGTHS frames, and its growth."""
    paicli = shutil.which("paicli") or "paicli"
    if subprocess.run([paicli, "replace", "--help"], capture_output=True).returncode != 0:
        return {"available": False}
    runs = {}
    with tempfile.TemporaryDirectory() as d:
        for n in RSS_LENGTHS:
            shot = Path(d) / f"shot{n}"
            subprocess.run([paicli, "example", str(shot), "--frames", str(n)], check=True, capture_output=True)
            runs[n] = peak_rss([paicli, "replace", str(shot / "plate.mov"), "--bg", str(shot / "refs"),
                                "-o", str(Path(d) / f"out{n}"), "--json", "--progress", "none"])
    growth = runs[RSS_LENGTHS[1]]["peak_rss_mib"] / runs[RSS_LENGTHS[0]]["peak_rss_mib"] - 1
    return {"available": True, "runs": runs, "growth": growth, "bar": verdict(True, growth < RSS_GROWTH_MAX)}


def print_shots(shots: dict) -> None:
    print("paicli replace (classic engine) vs ffmpeg chromakey+despill+overlay (peer grid-searched on the ground truth)")
    print(f"| shot | camera | comp MSE (peer) | <= {COMP_MSE_MAX} | comp PSNR (peer) | >= peer + {PEER_MARGIN_DB:g} dB | "
          f"SSIM (peer) | bg PSNR (peer) | >= {BG_PSNR_MIN_DB:g} dB | fg PSNR (peer) | fg keep-lighting | relight gain | "
          f">= {RELIGHT_MIN_DB:g} dB | corner err px | <= {CORNER_MAX_PX:g} px | max abs diff vs score.py |")
    print("|---" * 16 + "|")
    for name, s in shots.items():
        ours, peer, b = s["paicli"], s["peer"], s["bars"]

        def cell(k, fmt):
            return f"{ours[k]:{fmt}} ({peer[k]:{fmt}})" if peer else f"{ours[k]:{fmt}}"

        print(f"| {name} | {s['camera_kind']} | {cell('comp_MSE', '.5f')} | {b['comp_MSE']} | {cell('comp_PSNR', '.2f')} | "
              f"{b['vs_peer']} | {cell('comp_SSIM', '.4f')} | {cell('bg_PSNR', '.2f')} | {b['bg_PSNR']} | "
              f"{cell('fg_PSNR', '.2f')} | {s['keep_lighting']['fg_PSNR']:.2f} | {s['relight_gain_db']:+.2f} dB | "
              f"{b['relight']} | {ours['corner_error_px']:.3f} | {b['corner']} | {s['score_py_max_abs_diff']:.1e} |")
    print("('-': the bar is not stated for this shot; n/a: not measured)")
    for name, s in shots.items():
        print(f"  {name}: {highlights(s['report'])}")


def print_speed(sp: dict | None) -> None:
    print(f"\nspeed at {SIZE_1080P[0]}x{SIZE_1080P[1]}: engine wall time per frame (both passes, reference "
          f"registration included, no decode) vs ProRes HQ encode of the same composites, each after a "
          f"{WARM_UP_FRAMES}-frame warm-up")
    if sp is None:
        print("skipped (--skip-speed)")
        return
    print(f"| shot | frames | analysis ms/frame | render ms/frame | engine ms/frame | ProRes HQ ms/frame | ratio | "
          f"<= {SPEED_RATIO_MAX:g}x |")
    print("|---" * 8 + "|")
    print(f"| {sp['shot']} | {sp['frames']} | {sp['analysis_ms']:.0f} | {sp['render_ms']:.0f} | {sp['engine_ms']:.0f} | "
          f"{sp['prores_hq_ms']:.0f} | {sp['ratio']:.2f}x | {sp['bar']} |")


def print_rss(rss: dict) -> None:
    print("\npeak RSS of `paicli replace` (children included) against the shot's length")
    if not rss["available"]:
        print("n/a (paicli replace not available)")
        return
    short, long = (rss["runs"][n] for n in RSS_LENGTHS)
    print(f"| {RSS_LENGTHS[0]} frames MiB | {RSS_LENGTHS[1]} frames MiB | growth | < {RSS_GROWTH_MAX:.0%} | wall s |")
    print("|---" * 5 + "|")
    print(f"| {short['peak_rss_mib']:.0f} | {long['peak_rss_mib']:.0f} | {rss['growth']:+.1%} | {rss['bar']} | "
          f"{short['wall_s']:.1f} / {long['wall_s']:.1f} |")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the bench folder (../shared/bench)")
    ap.add_argument("--shots", nargs="*", help="shot folder names (default: all)")
    ap.add_argument("--no-peer", action="store_true", help="skip the ffmpeg peer (the PSNR-vs-peer bar shows n/a)")
    ap.add_argument("--skip-speed", action="store_true", help="skip the 1920x1080 speed section")
    ap.add_argument("--speed-shot", default="gs02_pan_markers_relight", help="bench shot upscaled for the speed figure")
    ap.add_argument("--speed-frames", type=int, default=24, help="frames of it held in memory and timed")
    ap.add_argument("--json", help="also write all figures as JSON here")
    return ap.parse_args()


def main() -> None:
    a = parse_args()
    data = Path(a.data)
    names = a.shots or sorted(p.parent.name for p in data.glob("*/plate.mov"))
    results = {name: evaluate_shot(data / name, data, not a.no_peer) for name in names}
    speed = None if a.skip_speed else speed_1080p(data / a.speed_shot, a.speed_frames)
    rss = rss_vs_length()
    print_shots(results)
    print_speed(speed)
    print_rss(rss)
    verdicts = [f"{name}: {bar}" for name, s in results.items() for bar, v in s["bars"].items() if v == "FAIL"]
    verdicts += [what for what, part in (("speed", speed), ("rss", rss)) if part and part.get("bar") == "FAIL"]
    print("\nbars: " + ("all met that were measured" if not verdicts else "NOT met: " + ", ".join(verdicts)))
    if a.json:
        Path(a.json).write_text(json.dumps({"shots": results, "speed_1080p": speed, "rss": rss}, indent=1, default=float))


if __name__ == "__main__":
    main()
