#!/usr/bin/env python3
"""The README demo as a new user runs it, measured against the ground truth it ships with
(a script, not a test).

    python benchmarks/demo.py [--frames 48] [--keep DIR] [--json OUT]

Runs ``paicli example demo``, ``paicli replace demo/plate.mov --bg demo/refs -o demo/out``
(and ``paicli key`` for the matte replace keys with, same defaults) and ``paicli
relight-check demo/out``, then measures, per frame and over the shot:

- markers: the matte's largest value over every tracking marker's footprint outside the
  subject (``gt/markers`` where ``gt/alpha`` is 0). Bar: at most 0.02.
- edge band: the composite's PSNR (BT.709-encoded, against ``gt/comp``) in the subject's edge
  band (soft ground-truth alpha, grown by 3 px either way) beside its PSNR over the whole
  frame. Bar: the band at most 2 dB below the frame (no fringe or rim that the rest of the
  picture does not have). Also the edge band's screen-coloured residue: the mean excess of
  green over the larger of red and blue, ours against the ground truth's.
- what relight-check says about the result's edges: spill, fringe (screen-coloured residue
  in the edge band), halo and specks (tracking markers left in the composite).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.colour import bt709_oetf  # noqa: E402
from paicli.media.reader import open_source  # noqa: E402

MARKER_BAR = 0.02  # largest matte value over a marker outside the subject
BAND_DB = 2.0  # the edge band's composite PSNR at most this far below the whole frame's
BAND_PX = 3
PAICLI = shutil.which("paicli") or "paicli"  # the installed command, as the README runs it


def paicli(*args: str, cwd: Path) -> dict:
    r = subprocess.run([PAICLI, *args, "--json"], cwd=cwd, capture_output=True, text=True)
    if r.returncode not in (0, 1):  # relight-check exits 1 when a check fails: still a result
        raise SystemExit(f"paicli {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    return json.loads(r.stdout)


def read_png(path: Path) -> np.ndarray:
    x = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    x = x.astype(np.float32) / (65535.0 if x.dtype == np.uint16 else 255.0)
    return x[..., ::-1] if x.ndim == 3 else x


def edge_band(alpha: np.ndarray, px: int = BAND_PX) -> np.ndarray:
    soft = ((alpha > 0.0) & (alpha < 1.0)).astype(np.uint8)
    return cv2.dilate(soft, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))).astype(bool)


def green_excess(img: np.ndarray) -> np.ndarray:
    return img[..., 1] - np.maximum(img[..., 0], img[..., 2])


def measure(work: Path, frames: int) -> dict:
    paicli("example", "demo", "--frames", str(frames), cwd=work)
    replace = paicli("replace", "demo/plate.mov", "--bg", "demo/refs", "-o", "demo/out", cwd=work)
    key = paicli("key", "demo/plate.mov", "-o", "demo/key", cwd=work)
    check = paicli("relight-check", "demo/out", cwd=work)
    gt = work / "demo" / "gt"
    comp_path = next(o["path"] for o in replace["outputs"] if o["kind"] == "comp")
    matte_pattern = next(o["sequence"] for o in key["outputs"] if o["kind"] == "matte")
    marker_max, band_sq, band_n, frame_sq, frame_n = 0.0, 0.0, 0, 0.0, 0
    ours_excess, gt_excess, per_frame = [], [], []
    with open_source(str(work / comp_path)) as comps, open_source(str(work / matte_pattern)) as mattes:
        for i, (comp, matte) in enumerate(zip(comps.frames(), mattes.frames())):
            alpha_gt = read_png(gt / f"alpha.{i:04d}.png")
            markers = read_png(gt / f"markers.{i:04d}.png") > 0.5
            comp_gt = read_png(gt / f"comp.{i:04d}.png")
            ours = np.clip(bt709_oetf(np.clip(comp[..., :3], 0, None)), 0, 1)
            alpha = matte[..., 0] if matte.ndim == 3 else matte
            outside = markers & (alpha_gt <= 0.0)
            m = float(alpha[outside].max()) if outside.any() else 0.0
            marker_max = max(marker_max, m)
            band = edge_band(alpha_gt)
            err = (ours - comp_gt) ** 2
            band_sq += float(err[band].sum())
            band_n += int(band.sum()) * 3
            frame_sq += float(err.sum())
            frame_n += err.size
            ours_excess.append(float(green_excess(ours)[band].mean()))
            gt_excess.append(float(green_excess(comp_gt)[band].mean()))
            per_frame.append(m)
    band_psnr = 10 * np.log10(1.0 / max(band_sq / band_n, 1e-12))
    frame_psnr = 10 * np.log10(1.0 / max(frame_sq / frame_n, 1e-12))
    metrics = check.get("summary", {}).get("metrics", {})
    edges = {k: {"value": metrics[k]["value"], "verdict": metrics[k]["verdict"]}
             for k in ("spill", "fringe", "halo", "specks") if k in metrics}
    return {"frames": len(per_frame), "marker_max_alpha": marker_max,
            "frames_with_marker_residue": int(sum(v > MARKER_BAR for v in per_frame)),
            "band_psnr_db": band_psnr, "frame_psnr_db": frame_psnr, "band_drop_db": frame_psnr - band_psnr,
            "band_green_excess": float(np.mean(ours_excess)), "band_green_excess_gt": float(np.mean(gt_excess)),
            "relight_check": {"verdict": check.get("summary", {}).get("verdict"), "edges": edges}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--keep", type=Path, help="run in this folder and keep it")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        r = measure(args.keep, args.frames)
    else:
        with tempfile.TemporaryDirectory() as d:
            r = measure(Path(d), args.frames)
    ok_markers = r["marker_max_alpha"] <= MARKER_BAR
    ok_band = r["band_drop_db"] <= BAND_DB
    print("README demo: paicli example demo && paicli replace demo/plate.mov --bg demo/refs -o demo/out")
    print("| frames | marker max alpha | <= 0.02 | frames with a marker | edge band PSNR | frame PSNR | "
          "band below frame | <= 2 dB | band G-max(R,B) (gt) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {r['frames']} | {r['marker_max_alpha']:.4f} | {'PASS' if ok_markers else 'FAIL'} | "
          f"{r['frames_with_marker_residue']} | {r['band_psnr_db']:.2f} dB | {r['frame_psnr_db']:.2f} dB | "
          f"{r['band_drop_db']:+.2f} dB | {'PASS' if ok_band else 'FAIL'} | "
          f"{r['band_green_excess']:+.4f} ({r['band_green_excess_gt']:+.4f}) |")
    rc = r["relight_check"]
    print(f"relight-check demo/out: {rc['verdict']}; " + ", ".join(
        f"{k} {v['value']:.4f} ({v['verdict']})" if v["value"] is not None else f"{k} n/a"
        for k, v in rc["edges"].items()))
    print(f"\nbars: {'all met' if ok_markers and ok_band else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1, default=str))


if __name__ == "__main__":
    os.environ.setdefault("PAICLI_PROGRESS", "plain")
    main()
