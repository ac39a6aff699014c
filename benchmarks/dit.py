#!/usr/bin/env python3
"""The DiT engine's time and peak memory on a CPU with the tiny random checkpoint (a script, not a test).

    python benchmarks/dit.py [--lengths 48 96 192] [--sizes 256 512 1024] [--json OUT]

1. Shot length: `paicli replace --engine dit` on synthetic shots of each length (256x144,
   window 5 latent frames, overlap 2): wall time and peak RSS of the process. Chunked
   sampling and streaming VAE keep memory flat in the length.
2. Frame size: one 9-frame shot at each square size, decoded with and without VAE tiling:
   wall time and peak RSS.

3. Sequence plan of full-size configs (Wan 1.3B, 14B and 5B shapes, built on the meta device:
   exact parameter counts, nothing allocated): windows and in-context tokens per window at
   480p/720p/1080p for 81 and 241 frames, the counts a GPU run would face. Computed, not timed.

Each run is a separate process whose peak RSS (children included) is polled. The tiny
checkpoint exercises the machinery, not the model: its pictures are noise. GPU figures for
full-size configs need a session lent a GPU (see README).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def peak(cmd: list[str], poll_s: float = 0.05, ok: tuple[int, ...] = (0,)) -> dict:
    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    top = 0
    while proc.poll() is None:
        try:
            top = max(top, sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))
        except psutil.Error:
            pass
        time.sleep(poll_s)
    err = proc.stderr.read().decode(errors="replace").strip()
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.splitlines()[-1:] or ''}")
    return {"peak_rss_mib": top / 2**20, "wall_s": time.perf_counter() - t0}


def make_shot(folder: Path, frames: int, width: int, height: int) -> Path:
    code = ("import sys; from pathlib import Path; from paicli.shot.example import make_example_shot; "
            f"make_example_shot(Path(sys.argv[1]), width={width}, height={height}, frames={frames})")
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True)
    return folder


def replace_cmd(shot: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "paicli.cli", "replace", str(shot / "plate.mov"), "--bg", str(shot / "refs"),
            "-o", str(out), "--engine", "dit", "--model", str(model), "--steps", "2", "--guidance", "2",
            "--format", "exr", "--progress", "none", *extra]


SHAPES = {  # diffusers WanTransformer3DModel configs of the released models; VAE px per latent px
    "Wan2.1-1.3B": (dict(num_attention_heads=12, ffn_dim=8960, num_layers=30, in_channels=16, out_channels=16), 8),
    "Wan2.1-14B": (dict(num_attention_heads=40, ffn_dim=13824, num_layers=40, in_channels=16, out_channels=16), 8),
    "Wan2.2-TI2V-5B": (dict(num_attention_heads=24, ffn_dim=14336, num_layers=30, in_channels=48, out_channels=48), 16),
}
SIZES = {"480p": (480, 832), "720p": (720, 1280), "1080p": (1080, 1920)}


def sequence_plan(references: int = 3, window: int = 21, overlap: int = 4) -> list[dict]:
    """Per config, size and length: parameters, windows and tokens per window (target + plate + refs)."""
    from diffusers import WanTransformer3DModel

    from engine.dit.chunking import plan_windows
    from engine.dit.rope import TEMPORAL_COMPRESSION
    from paicli.engines.checkpoints import _ParametersOnMeta

    rows = []
    for name, (cfg, scale) in SHAPES.items():
        with _ParametersOnMeta():
            model = WanTransformer3DModel(attention_head_dim=128, text_dim=4096, freq_dim=256, patch_size=(1, 2, 2),
                                          cross_attn_norm=True, qk_norm="rms_norm_across_heads", **cfg)
        params = sum(p.numel() for p in model.parameters())
        step = scale * 2
        for size, (h, w) in SIZES.items():
            per_frame = (-(-h // step)) * (-(-w // step))
            for frames in (81, 241):
                latent = (frames - 1) // TEMPORAL_COMPRESSION + 1
                spans = plan_windows(latent, window, overlap)
                longest = max(e - s for s, e in spans)
                rows.append({"config": name, "parameters": params, "size": size, "frames": frames,
                             "latent_frames": latent, "windows": len(spans),
                             "tokens_per_window": (2 * longest + references) * per_frame,
                             "tokens_unchunked": (2 * latent + references) * per_frame})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="*", default=[48, 96, 192])
    ap.add_argument("--sizes", type=int, nargs="*", default=[256, 512, 1024])
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    figures: dict = {"lengths": [], "sizes": []}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        model = d / "tiny"
        subprocess.run([sys.executable, "-m", "paicli.cli", "model", "init-tiny", str(model)], check=True,
                       stdout=subprocess.DEVNULL)
        for n in a.lengths:
            shot = make_shot(d / f"len{n}", n, 256, 144)
            r = peak(replace_cmd(shot, model, d / f"out{n}", "--window", "5", "--overlap", "2"))
            figures["lengths"].append({"frames": n, **r})
        for s in a.sizes:
            shot = make_shot(d / f"size{s}", 9, s, s)
            for tiled in (False, True):
                cmd = replace_cmd(shot, model, d / f"o{s}{tiled}", "--window", "3", "--overlap", "1",
                                  "--vae-tile", "32" if tiled else "0")
                figures["sizes"].append({"size": s, "vae_tiling": tiled, **peak(cmd)})
    print("DiT engine, tiny random checkpoint, CPU: time and peak RSS against shot length (256x144, window 5, "
          "overlap 2, 2 steps)")
    print("| frames | wall s | peak RSS MiB |")
    print("|---|---|---|")
    for f in figures["lengths"]:
        print(f"| {f['frames']} | {f['wall_s']:.1f} | {f['peak_rss_mib']:.0f} |")
    if len(figures["lengths"]) > 1:
        a0, a1 = figures["lengths"][0], figures["lengths"][-1]
        print(f"peak RSS growth {a0['frames']} -> {a1['frames']} frames: "
              f"{100 * (a1['peak_rss_mib'] / a0['peak_rss_mib'] - 1):+.1f}%")
    print("\nagainst frame size (9 frames), VAE encode and decode whole frames vs 32-latent-px tiles (256 px, 4 latent px overlap)")
    print("| size | VAE tiling | wall s | peak RSS MiB |")
    print("|---|---|---|---|")
    for f in figures["sizes"]:
        print(f"| {f['size']}x{f['size']} | {'yes' if f['vae_tiling'] else 'no'} | {f['wall_s']:.1f} | "
              f"{f['peak_rss_mib']:.0f} |")
    figures["plan"] = sequence_plan()
    print("\nsequence plan of full-size configs (computed; window 21 latent frames, overlap 4, 3 references; "
          "bf16 weights)")
    print("| config | parameters | weights GiB | size | frames | latent frames | windows | tokens per window | "
          "tokens unchunked |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in figures["plan"]:
        print(f"| {f['config']} | {f['parameters'] / 1e9:.2f} B | {2 * f['parameters'] / 2**30:.1f} | {f['size']} | "
              f"{f['frames']} | {f['latent_frames']} | {f['windows']} | {f['tokens_per_window']:,} | "
              f"{f['tokens_unchunked']:,} |")
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
