"""Calibration and pass/fail bars of ``paicli relight-check`` on ../shared/bench.

  python benchmarks/relight_check.py --data ../shared/bench [--skip-peer]

1. Harmony: the ground-truth composites with the foreground pushed off its light by random
   per-channel gains (0.6-1.4), frames 0/6/12/18 of every shot; Spearman correlation of the
   harmony score with the foreground error (fMSE: BT.709-encoded MSE where gt alpha > 0.01).
2. Spill: the same frames with screen-coloured light of increasing level added along the
   matte's edge; Spearman correlation of the spill score with the injected level.
3. Verdicts: ``paicli relight-check`` on every shot's ground-truth composite (must not fail)
   and on the ffmpeg peer's composite (``bench/ffmpeg_peer.py --keep``; must fail on motion
   where the camera moves), each with the plate, the ground-truth matte and the reference
   stills; the camera is solved from the plate.
4. Speed and memory: the check's time per frame and peak RSS at 1080p, 24 and 96 frames.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.colour import bt709_inverse_oetf, bt709_oetf  # noqa: E402
from engine.qc import edges, harmony  # noqa: E402
from engine.qc.regions import regions  # noqa: E402
from paicli.media.reader import open_source  # noqa: E402

FRAMES = (0, 6, 12, 18)
GAINS_PER_FRAME = 12
SPILL_LEVELS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)


def _png(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SystemExit(f"cannot read {path}")
    scale = 65535.0 if img.dtype == np.uint16 else 255.0
    img = img.astype(np.float32) / scale
    return img[..., ::-1] if img.ndim == 3 else img


def _screen_colour(plate: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Median linear colour of the clear screen, scaled to peak 1."""
    c = np.median(plate[..., :3][alpha < 0.001], axis=0)
    return (c / max(float(c.max()), 1e-6)).astype(np.float32)


def _edge_weight(alpha: np.ndarray, reach_px: float = 4.0) -> np.ndarray:
    """Where spill lands: the soft edge (4 a (1 - a)) and the solid pixels just inside it."""
    solid = (alpha > 0.98).astype(np.uint8)
    d = cv2.distanceTransform(solid, cv2.DIST_L2, 5)
    return (4 * alpha * (1 - alpha) + np.where(solid > 0, np.exp(-d / reach_px), 0)).astype(np.float32)


def sweep(data: Path) -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(7)
    h_rows, s_rows = [], []
    for shot in sorted(p for p in data.iterdir() if (p / "meta.json").is_file()):
        screen = json.loads((shot / "meta.json").read_text()).get("screen", "green")
        with open_source(str(shot / "plate.mov")) as src:
            plates = {i: f[..., :3] for i, f in enumerate(src.frames(0, max(FRAMES) + 1)) if i in FRAMES}
        for f in FRAMES:
            comp_enc = _png(shot / f"gt/comp.{f:04d}.png")
            comp, fg = bt709_inverse_oetf(comp_enc), bt709_inverse_oetf(_png(shot / f"gt/fg.{f:04d}.png"))
            alpha = _png(shot / f"gt/alpha.{f:04d}.png")
            reg = regions(alpha)
            sel = alpha > 0.01
            for k in range(GAINS_PER_FRAME):
                g = np.ones(3, np.float32) if k == 0 else rng.uniform(0.6, 1.4, 3).astype(np.float32)
                c = comp + alpha[..., None] * (g - 1) * fg
                fmse = float(np.square(bt709_oetf(c) - comp_enc)[sel].mean())
                cast = harmony.foreground_cast(c, reg.core)
                score = harmony.harmony_score(cast[0] if cast else None, harmony.exposure_shift(c, plates[f], reg.core))
                h_rows.append({"shot": shot.name, "frame": f, "gains": g.tolist(), "fmse": fmse, "score": score})
            colour = _screen_colour(plates[f], alpha)
            weight = _edge_weight(alpha)[..., None]
            for level in SPILL_LEVELS:
                c = comp + level * weight * colour
                s_rows.append({"shot": shot.name, "frame": f, "level": level,
                               "score": edges.spill(c, alpha, reg, screen)})
    return h_rows, s_rows


def _spearman(rows: list[dict], x: str, y: str) -> float:
    return float(spearmanr([r[x] for r in rows], [r[y] for r in rows])[0])


def calibration_table(h_rows: list[dict], s_rows: list[dict]) -> str:
    shots = sorted({r["shot"] for r in h_rows})
    lines = ["| calibration | samples | Spearman pooled | " + " | ".join(shots) + " | bar >= 0.8 |",
             "|---|---|---|" + "---|" * len(shots) + "---|"]
    for name, rows, x, y in (("harmony score vs fMSE", h_rows, "score", "fmse"),
                             ("spill score vs injected spill", s_rows, "score", "level")):
        pooled = _spearman(rows, x, y)
        per = [_spearman([r for r in rows if r["shot"] == s], x, y) for s in shots]
        lines.append(f"| {name} | {len(rows)} | {pooled:.3f} | " + " | ".join(f"{p:.3f}" for p in per)
                     + f" | {'PASS' if pooled >= 0.8 else 'FAIL'} |")
    return "\n".join(lines)


def _peer_frames(shot: Path, cache: Path) -> Path:
    """The ffmpeg peer's composite of ``shot`` as ``comp.NNNN.png`` from 0 (made once, cached)."""
    out = cache / shot.name
    if not (out / "comp.0000.png").is_file():
        keep = cache / (shot.name + "_keep")
        subprocess.run([sys.executable, str(shot.parent / "ffmpeg_peer.py"), str(shot), "--keep", str(keep)],
                       check=True, capture_output=True)
        out.mkdir(parents=True, exist_ok=True)
        for i, f in enumerate(sorted((keep / "c").glob("*.png"))):
            os.replace(f, out / f"comp.{i:04d}.png")
    return out


def verdicts(data: Path, cache: Path | None, with_peer: bool) -> str:
    """``paicli relight-check --json`` on the ground truth and the peer of every shot."""
    from paicli.cli import run

    cache = cache or Path(tempfile.mkdtemp(prefix="qc_peer_"))
    rows = ["| shot | camera | composite | verdict | score | harmony | spill | halo | chatter | bg motion px "
            "| identity dB | bg dB | failed on |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for shot in sorted(p for p in data.iterdir() if (p / "meta.json").is_file()):
        cam = json.loads((shot / "meta.json").read_text()).get("camera")
        comps = [("ground truth", shot / "gt")]
        if with_peer:
            comps.append(("ffmpeg peer", _peer_frames(shot, cache)))
        for label, folder in comps:
            with tempfile.TemporaryDirectory() as out:
                import contextlib
                import io

                buf = io.StringIO()
                with contextlib.redirect_stdout(buf):
                    code = run(["relight-check", str(folder / "comp.%04d.png"), "--input-colorspace", "bt709",
                                "--matte", str(shot / "gt" / "alpha.%04d.png"), "--plate", str(shot / "plate.mov"),
                                "--bg", str(shot / "refs"), "-o", out, "--progress", "none", "--json"])
                doc = json.loads(buf.getvalue())["summary"]
            m = doc["metrics"]
            fmt = lambda k, p=3: "-" if m[k]["value"] is None else f"{m[k]['value']:.{p}f}"  # noqa: E731
            failed = ", ".join(k for k, v in m.items() if v["verdict"] == "fail") or "-"
            rows.append(f"| {shot.name} | {cam} | {label} | {doc['verdict']} (exit {code}) | {doc['score']} | "
                        f"{fmt('harmony')} | {fmt('spill')} | {fmt('halo')} | {fmt('chatter', 2)} | "
                        f"{fmt('bg_motion', 2)} | {fmt('identity_psnr', 1)} | {fmt('bg_psnr', 1)} | {failed} |")
    return "\n".join(rows)


def speed(lengths=(24, 96), width=1920, height=1080) -> str:
    """Wall time per frame and peak RSS of ``paicli relight-check`` at 1080p (a generated
    example shot checked against its own plate, ground-truth matte and references)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dit import make_shot, peak  # the same shot generator and RSS polling as the DiT benchmark

    rows = ["| frames (1920x1080) | wall s | ms / frame | peak RSS MiB |", "|---|---|---|---|"]
    peaks = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in lengths:
            shot = make_shot(Path(tmp) / f"shot{n}", n, width, height)
            got = peak([sys.executable, "-m", "paicli.cli", "relight-check", str(shot / "plate.mov"), "--matte",
                        str(shot / "gt" / "alpha.%04d.png"), "--plate", str(shot / "plate.mov"), "--bg",
                        str(shot / "refs"), "-o", str(Path(tmp) / f"qc{n}"), "--progress", "none"],
                       ok=(0, 1))  # a plate over its screen fails the check; the timing is what counts
            peaks.append(got["peak_rss_mib"])
            rows.append(f"| {n} | {got['wall_s']:.1f} | {1000 * got['wall_s'] / n:.0f} | {got['peak_rss_mib']:.0f} |")
    rows.append(f"\npeak RSS growth {lengths[0]} -> {lengths[-1]} frames: {100 * (peaks[-1] / peaks[0] - 1):+.1f} %")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "bench")
    ap.add_argument("--skip-peer", action="store_true", help="check the ground truth only")
    ap.add_argument("--peer-cache", type=Path, help="keep the peer's composites here (made once)")
    ap.add_argument("--skip-speed", action="store_true", help="leave out the 1080p speed and memory run")
    args = ap.parse_args(argv)
    t = time.time()
    h_rows, s_rows = sweep(args.data)
    print(calibration_table(h_rows, s_rows))
    print(f"\n(sweeps: {time.time() - t:.1f} s)\n")
    t = time.time()
    print(verdicts(args.data, args.peer_cache, not args.skip_peer))
    print(f"\n(checks: {time.time() - t:.1f} s)\n")
    if not args.skip_speed:
        print(speed())
    return 0


if __name__ == "__main__":
    sys.exit(main())
