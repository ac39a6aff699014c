#!/usr/bin/env python3
"""Seconds per step and peak memory of the DiT engine's transformer, training and sampling,
at real model shapes (a script, not a test; random weights, nothing downloaded).

    python benchmarks/dit_gpu.py [--cases tiny,1.3b-480p,1.3b-720p,5b-480p,5b-720p,5b-1080p]
                                 [--device auto] [--steps 3] [--json OUT]

Each case builds a Wan transformer of that shape (Wan2.1-T2V-1.3B: width 1536, 30 blocks;
Wan2.2-TI2V-5B: width 3072, 30 blocks, 48 latent channels, a 16x VAE) and times, on one
window of 21 latent frames (81 pixel frames) with the plate and three reference stills in
context, exactly as `paicli replace --engine dit` and `paicli model train` build it:

- a fine-tune step: LoRA (rank 32) forward and backward with gradient checkpointing, bf16
  autocast on a GPU, AdamW step;
- a sampling step: two forwards (classifier-free guidance), bf16 on a GPU.

Prints seconds per step and the peak GPU memory (or the process's peak RSS on a CPU). The
``tiny`` case runs on a CPU in seconds (CI runs it); the others need a GPU with the memory
they report.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# name: (transformer config, pixels per latent, frames per window (latent), picture size (h, w))
SHAPES = {
    "1.3b": dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16,
                 out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, rope_max_seq_len=1024),
    "5b": dict(patch_size=(1, 2, 2), num_attention_heads=24, attention_head_dim=128, in_channels=48,
               out_channels=48, text_dim=4096, freq_dim=256, ffn_dim=14336, num_layers=30, rope_max_seq_len=1024),
    "tiny": dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=4, out_channels=4,
                 text_dim=16, freq_dim=16, ffn_dim=32, num_layers=2, rope_max_seq_len=64),
}
CASES = {  # shape, pixels per latent, latent frames per window, picture (h, w)
    "tiny": ("tiny", 8, 3, (64, 96)),
    "1.3b-480p": ("1.3b", 8, 21, (480, 832)),
    "1.3b-720p": ("1.3b", 8, 21, (720, 1280)),
    "5b-480p": ("5b", 16, 21, (480, 832)),
    "5b-720p": ("5b", 16, 21, (704, 1280)),
    "5b-1080p": ("5b", 16, 21, (1088, 1920)),
}
TEXT_TOKENS = 512


def run_case(name: str, device: str, steps: int) -> dict:
    import torch
    from diffusers import WanTransformer3DModel

    from engine.dit import train as T
    from paicli.engines.checkpoints import cast

    shape, scale, frames, (h, w) = CASES[name]
    cfg = SHAPES[shape]
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    with torch.device(device):
        model = cast(WanTransformer3DModel(**cfg), dtype)  # norms and time embedding stay float32
    z, lh, lw = cfg["in_channels"], h // scale, w // scale
    g = torch.Generator(device="cpu").manual_seed(0)
    lat = lambda f: torch.randn(1, z, f, lh, lw, generator=g).to(device)  # noqa: E731
    refs = [(a, lat(1)) for a in (0, frames // 2, frames - 1)]
    trip = T.Triplet(lat(frames), lat(frames), refs, torch.randn(1, TEXT_TOKENS, cfg["text_dim"], generator=g).to(device))
    d = T.Draw(0, frames, 0.7, [0, 1, 2], 1)
    autocast = torch.autocast("cuda", dtype=dtype) if device == "cuda" else torch.autocast("cpu", enabled=False)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    # sampling: two forwards per step (classifier-free guidance)
    model.eval()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    with torch.no_grad():
        xt = T.noisy_window(trip, d)[2]
        for _ in range(steps + 1):
            sync()
            t0 = time.perf_counter()
            for _ in range(2):
                T.velocity(model, trip, d, xt, dtype)
            sync()
            times.append(time.perf_counter() - t0)
    sample_s = min(times[1:]) if len(times) > 1 else times[0]
    sample_mem = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None

    # fine-tuning: LoRA forward + backward with gradient checkpointing, AdamW
    params = T.add_lora(model, rank=32, alpha=32.0)
    for p in params:
        p.data = p.data.float()
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    model.train()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps + 1):
        sync()
        t0 = time.perf_counter()
        with autocast:
            loss = T.flow_matching_loss(model, trip, d, dtype, checkpoint=True)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync()
        times.append(time.perf_counter() - t0)
    train_s = min(times[1:]) if len(times) > 1 else times[0]
    train_mem = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    tokens = (frames * 2 + len(refs)) * (lh // 2) * (lw // 2)
    del model, optimizer
    if device == "cuda":
        torch.cuda.empty_cache()
    return {"case": name, "device": device, "dtype": str(dtype).replace("torch.", ""), "tokens": tokens,
            "sample_step_s": round(sample_s, 3), "train_step_s": round(train_s, 3),
            "sample_peak_gib": None if sample_mem is None else round(sample_mem, 2),
            "train_peak_gib": None if train_mem is None else round(train_mem, 2),
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="tiny,1.3b-480p,1.3b-720p,5b-480p,5b-720p,5b-1080p")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--steps", type=int, default=3, help="timed steps per case (after one warm-up)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device
    names = [c for c in a.cases.split(",") if c]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        sys.exit(f"unknown case(s) {', '.join(unknown)}: use {', '.join(CASES)}")
    if device == "cpu":
        skipped = [c for c in names if c != "tiny"]
        names = [c for c in names if c == "tiny"]
        if skipped:
            print(f"no GPU here: {', '.join(skipped)} skipped (they need a GPU); timing the tiny case on the CPU")
    rows = []
    print(f"| case | device | tokens per forward | sampling s/step (2 forwards) | peak | fine-tune s/step | peak |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        try:
            r = run_case(name, device, a.steps)
        except torch.cuda.OutOfMemoryError:  # report the case, go on with the next
            r = {"case": name, "device": device, "error": "out of GPU memory"}
            torch.cuda.empty_cache()
        rows.append(r)
        if "error" in r:
            print(f"| {name} | {device} | | {r['error']} | | | |")
            continue
        mem = (lambda k: f"{r[k]} GiB") if device == "cuda" else (lambda k: f"{r['peak_rss_gib']} GiB RSS")
        print(f"| {name} | {device} {r['dtype']} | {r['tokens']} | {r['sample_step_s']} | {mem('sample_peak_gib')} | "
              f"{r['train_step_s']} | {mem('train_peak_gib')} |", flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
