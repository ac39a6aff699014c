#!/usr/bin/env python3
"""Does in-context training teach the DiT to use its conditions? (a script, not a test)

    python benchmarks/dit_train.py [--steps 3000] [--train 24] [--held-out 8] [--keep DIR] [--json OUT]

Makes synthetic triplets with moving cameras (a textured world the camera pans across at a
random speed and direction, a subject that sways in front; the plate is the subject over a
lit green screen with tracking markers that pans with the camera, the target the subject
over the world, the references the world at the triplet's first, middle and last frames),
writes them as a dataset in the format `paicli dataset build` writes, trains a small
in-context Wan (random weights, a real Wan layout) with `paicli model train`'s own code,
and measures on held-out triplets, the same fixed draws for every model:

- the flow-matching loss (fixed draws of window, noise level and noise) and the x0 error on
  background tokens (latent pixels the subject does not touch) of the target generated from
  noise (12 Euler steps of the flow-matching ODE), trained against untrained (the same weights before the LoRA learned
  anything). Bar: trained <= 0.5x untrained, both figures.
- the trained model with every reference at its anchored frame's position against the same
  model with every reference at temporal position 0 (the paper's position-encoding ablation),
  x0 error on background tokens. Bar: anchored <= 0.9x position 0.

The small model's VAE has random weights made to keep time as a trained one does (see
:func:`frame_sampling_vae`: latent frame k encodes pixel frame 4k, as a still of that frame
does); it is not trained to reconstruct pictures, so no composite PSNR is measured.
Prints one table; ``--json`` writes the figures.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LOSS_BAR = 0.5  # trained / untrained, loss and background x0 error
PE_BAR = 0.9  # anchored / every reference at position 0, background x0 error
FRAMES = 17  # 5 latent frames
SIZE = (64, 96)  # 4 x 6 tokens per latent frame with an 8x VAE and 2x2 patches
ANCHORS = (0, 8, 16)


def world(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A colourful texture (linear float32 (h, w, 3)) that differs from triplet to triplet, so
    a background can only come from the references: a random base colour and gradient, soft
    blobs and hard-edged blocks of random colours at 16-32 px (two to four latent pixels)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base, tilt = rng.uniform(0.05, 0.7, 3), rng.uniform(-0.3, 0.3, 3)
    img = base[None, None] + tilt[None, None] * (x / w)[..., None]
    for _ in range(int(w * h / 400)):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(5, 14)
        img += rng.uniform(-0.4, 0.4, 3)[None, None] * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))[..., None]
    for _ in range(int(w * h / 600)):
        y0, x0 = int(rng.uniform(0, h)), int(rng.uniform(0, w))
        img[y0:y0 + int(rng.uniform(16, 32)), x0:x0 + int(rng.uniform(16, 32))] = rng.uniform(0.02, 0.9, 3)
    return np.clip(img, 0.01, 1.0).astype(np.float32)


def triplet(rng: np.random.Generator) -> dict:
    """One synthetic triplet: plate, target, alpha per frame and the references at ANCHORS."""
    h, w = SIZE
    speed = rng.uniform(2.0, 4.0) * rng.choice([-1, 1])  # px per frame, left or right: 32-64 px over the shot
    span = int(abs(speed) * FRAMES) + 4
    big = world(rng, h, w + span)
    # the screen is on the set: it moves with the camera, its tracking markers show the move
    sw = w + span
    screen_set = np.float32([0.06, 0.45, 0.10]) * (0.8 + 0.2 * np.cos(np.linspace(-3, 3, sw))[None, :, None])
    screen_set = np.repeat(screen_set, h, 0).astype(np.float32)
    for mx in range(int(rng.integers(4, 16)), sw, 20):
        for my in (12, 40):
            screen_set[my - 1:my + 2, mx - 4:mx + 5] = (0.02, 0.05, 0.02)
            screen_set[my - 4:my + 5, mx - 1:mx + 2] = (0.02, 0.05, 0.02)
    colour = rng.uniform(0.2, 0.8, 3).astype(np.float32)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy, ax, ay = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.4, 0.6), w * 0.12, h * 0.25
    out = {"plate": [], "target": [], "alpha": [], "refs": {}}
    for i in range(FRAMES):
        x0 = int(round((span - 4) / 2 + speed * (i - FRAMES / 2))) + 2
        bg = big[:, x0:x0 + w]
        screen = screen_set[:, x0:x0 + w]
        sway = 3.0 * np.sin(i / 3.0)
        a = np.clip(1.5 - np.sqrt(((x - cx - sway) / ax) ** 2 + ((y - cy) / ay) ** 2) * 1.5, 0, 1)[..., None]
        out["target"].append((a * colour + (1 - a) * bg).astype(np.float32))
        out["plate"].append((a * colour + (1 - a) * screen).astype(np.float32))
        out["alpha"].append(a[..., 0].astype(np.float32))
        if i in ANCHORS:
            out["refs"][i] = bg.astype(np.float32)
    return out


def write_dataset(folder: Path, triplets: list[dict]) -> None:
    from paicli.media.exr import write_exr

    names = []
    for k, t in enumerate(triplets):
        name = f"t{k:04d}"
        d = folder / name
        for sub in ("plate", "target", "refs"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for i in range(FRAMES):
            write_exr(d / "plate" / f"plate.{i:04d}.exr", t["plate"][i], pixel_type="float")
            write_exr(d / "target" / f"target.{i:04d}.exr", t["target"][i], pixel_type="float")
        for a, still in t["refs"].items():
            write_exr(d / "refs" / f"ref.{a:04d}.exr", still, pixel_type="float")
        (d / "manifest.json").write_text(json.dumps({
            "version": 1, "id": name, "kind": "matted", "sources": [], "first_frame": 0, "frames": FRAMES,
            "width": SIZE[1], "height": SIZE[0], "fps": 24.0, "anchors": list(ANCHORS),
            "caption": "a subject in front of a landscape, the camera panning", "screen": "green", "seed": k}))
        names.append(name)
    (folder / "dataset.json").write_text(json.dumps({"version": 1, "triplets": names}))


def small_checkpoint(folder: Path, seed: int) -> None:
    """A Wan-layout checkpoint a little larger than ``paicli model init-tiny``'s (4 blocks,
    width 64), random weights, in the on-disk format real weights use."""
    from paicli.engines import checkpoints

    tiny = dict(checkpoints.TINY["transformer"])
    tiny.update(num_layers=4, num_attention_heads=4, attention_head_dim=16, ffn_dim=128, freq_dim=32)
    saved = checkpoints.TINY["transformer"]
    checkpoints.TINY["transformer"] = tiny
    try:
        checkpoints.init_tiny(folder, seed=seed)
    finally:
        checkpoints.TINY["transformer"] = saved
    frame_sampling_vae(folder)
    calibrate_latents(folder, seed)


def frame_sampling_vae(folder: Path) -> None:
    """Make the random tiny VAE keep time as a trained one does. A trained Wan VAE's latent
    frame k holds the picture of pixel frames 4k-3..4k, so a still of frame 4k encodes close
    to that latent frame; a random VAE's temporal convolutions scramble time instead (a still
    of frame 8 correlates ~0 with latent frame 2), which leaves the references nothing to
    match beyond latent frame 0. Here every causal convolution sees only its current frame
    and each temporal downsampling keeps the last frame of its stride (upsampling repeats
    it): latent frame k is the (random, spatial) encoding of pixel frame 4k exactly, the
    encoding of a still of that frame. Rewrites the VAE's safetensors in place."""
    import torch
    from safetensors.torch import load_file, save_file

    for path in sorted((folder / "vae").glob("*.safetensors")):
        state = load_file(path)
        for name, w in state.items():
            if w.dim() != 5 or w.shape[2] != 3:
                continue
            w = w.clone()
            if name.endswith("time_conv.weight"):  # (out, in, 3, 1, 1): out = in (down) or 2 x in (up)
                eye = torch.eye(w.shape[1], dtype=w.dtype)
                w.zero_()
                w[:, :, 2, 0, 0] = eye.repeat(w.shape[0] // w.shape[1], 1)
                state[name[:-len("weight")] + "bias"] = torch.zeros(w.shape[0], dtype=w.dtype)
            else:  # causal: tap 2 is the current frame, taps 0 and 1 the two before it
                w[:, :, :2] = 0
            state[name] = w
        save_file(state, path)


def calibrate_latents(folder: Path, seed: int) -> None:
    """Set the VAE's ``latents_mean`` / ``latents_std`` (per channel) to those of its latents of
    synthetic frames, as Wan's VAE configs hold the measured statistics of its latents: the
    transformer then sees latents of unit spread, where a picture's content stands out of the
    noise as much as a real VAE's does (a random tiny VAE's raw latents spread ~0.1)."""
    import torch

    from engine.dit.engine import encode_clip
    from paicli.engines.checkpoints import load_component

    vae = load_component(folder, "vae")
    rng = np.random.default_rng(seed + 99)
    with torch.no_grad():  # whole clips, encoded as training encodes them; the config's mean 0, std 1: raw
        raw = torch.cat([encode_clip(vae, triplet(rng)["target"], "cpu", SIZE) for _ in range(6)], 2)
    config_path = folder / "vae" / "config.json"
    config = json.loads(config_path.read_text())
    config["latents_mean"] = [round(float(v), 6) for v in raw.mean((0, 2, 3, 4))]
    config["latents_std"] = [round(float(v), 6) for v in raw.std((0, 2, 3, 4)).clamp(min=1e-3)]
    config_path.write_text(json.dumps(config, indent=1))


SAMPLE_STEPS = 12  # Euler steps of the flow-matching ODE when generating a held-out target


def evaluate(model, data: list[dict], seed: int, draws_per: int, at_zero: bool = False) -> dict:
    """On held-out triplets (every reference shown; ``at_zero``: every reference at temporal
    position 0): the mean flow-matching loss over fixed draws, and the x0 error on background
    tokens of the target generated from seeded noise (:data:`SAMPLE_STEPS` Euler steps of the
    flow-matching ODE, time-shifted as Wan samples): where the background can only come from
    the references, as in use."""
    import torch

    from engine.dit import train as T

    losses, errors = [], []
    with torch.no_grad():
        for k, item in enumerate(data):
            frames, shown = item["target"].shape[2], list(range(len(item["references"])))
            trip = T.Triplet(item["target"], item["plates"][0], item["references"], item["text"])
            refs = [(0, z) for _, z in item["references"]] if at_zero else None
            for j in range(draws_per):
                d = T.draw(seed, 1000 * k + j, frames, 99, len(shown), 3.0)
                d.references = shown
                losses.append(float(T.flow_matching_loss(model, trip, d, references=refs)))
            g = torch.Generator().manual_seed(seed + k)
            x = torch.randn(item["target"].shape, generator=g)
            sigmas = [T.shifted_sigma(u, 3.0) for u in np.linspace(1.0, 0.0, SAMPLE_STEPS + 1)]
            for now, after in zip(sigmas[:-1], sigmas[1:]):
                d = T.Draw(0, frames, float(now), shown, 0)
                x = x + (after - now) * T.velocity(model, trip, d, x, references=refs)
            bg = item["background"]
            errors.append(float((((x - item["target"]) ** 2).mean(1, keepdim=True) * bg).sum() / bg.sum()))
    return {"loss": float(np.mean(losses)), "bg_x0_error": float(np.mean(errors))}


def encoded(folder: Path, checkpoint: Path, triplets: list[dict]) -> list[dict]:
    """Held-out triplets encoded as training encodes them, with their background masks on the
    latent grid (1 where the subject touches no pixel of the latent pixel's 8x8 block)."""
    import torch

    from paicli.engines.checkpoints import load_component
    from paicli.train import run as R

    vae = load_component(checkpoint, "vae")
    transformer = load_component(checkpoint, "transformer")
    text = R._captions(checkpoint, ["a subject in front of a landscape, the camera panning"], None, "cpu",
                       torch.float32)[0]
    s = R.TrainSettings(perturb_light=0.0, variants=1)
    out = []
    for manifest, t in zip(R.read_dataset(folder), triplets):
        item = R._encode(manifest, vae, transformer, "cpu", s, text)
        alpha = np.stack(t["alpha"])  # (F, h, w)
        chunks = [alpha[:1]] + [alpha[i:i + 4] for i in range(1, FRAMES, 4)]
        touched = np.stack([c.max(0) for c in chunks])  # per latent frame
        hb, wb = touched.shape[1] // 8, touched.shape[2] // 8
        blocks = touched[:, :hb * 8, :wb * 8].reshape(len(chunks), hb, 8, wb, 8).max((2, 4))
        item["background"] = torch.from_numpy((blocks < 0.01).astype(np.float32))[None, None]
        out.append(item)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--train", type=int, default=24, help="training triplets")
    ap.add_argument("--held-out", type=int, default=8, help="held-out triplets")
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="keep the dataset, checkpoint and LoRA here")
    ap.add_argument("--json", type=Path, help="write the figures here")
    a = ap.parse_args()

    import torch

    from paicli.engines.checkpoints import load_component
    from paicli.engines.lora import apply_lora
    from paicli.train.run import TrainSettings, train

    torch.set_num_threads(2)
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="dit_train_"))
    rng = np.random.default_rng(a.seed)
    t0 = time.perf_counter()
    seen, unseen = [triplet(rng) for _ in range(a.train)], [triplet(rng) for _ in range(a.held_out)]
    write_dataset(root / "train", seen)
    write_dataset(root / "held_out", unseen)
    small_checkpoint(root / "model", seed=a.seed)
    settings = TrainSettings(steps=a.steps, learning_rate=a.lr, rank=a.rank, alpha=float(a.rank), window=99,
                             seed=a.seed, save_every=max(1, a.steps // 4), perturb_light=0.3, variants=2,
                             checkpointing=False, device="cpu")
    done = train(root / "train", root / "model", root / "lora", settings, resume=False)
    train_s = time.perf_counter() - t0

    data = encoded(root / "held_out", root / "model", unseen)
    base = load_component(root / "model", "transformer").eval()
    untrained = evaluate(base, data, a.seed + 1, 4)
    tuned = load_component(root / "model", "transformer").eval()
    apply_lora(tuned, root / "lora" / "lora.safetensors")
    trained = evaluate(tuned, data, a.seed + 1, 4)
    at_zero = evaluate(tuned, data, a.seed + 1, 4, at_zero=True)
    figures = {"train_seconds": round(train_s, 1), "steps": a.steps, "train_triplets": a.train,
               "held_out_triplets": a.held_out, "untrained": untrained, "trained": trained,
               "trained_refs_at_0": at_zero, "fixed_loss_before": done["summary"]["fixed_loss_before"],
               "fixed_loss_after": done["summary"]["fixed_loss_after"]}
    ratios = {"loss": trained["loss"] / untrained["loss"],
              "bg_x0": trained["bg_x0_error"] / untrained["bg_x0_error"],
              "pe": trained["bg_x0_error"] / at_zero["bg_x0_error"]}
    figures["ratios"] = ratios
    print(f"in-context training, small Wan layout on synthetic moving-camera triplets ({a.train} train, "
          f"{a.held_out} held out, {a.steps} steps, {train_s:.0f} s on this CPU)")
    print("| model | flow-matching loss | x0 error, background tokens |")
    print("|---|---|---|")
    for name, f in (("untrained", untrained), ("trained", trained), ("trained, references at position 0", at_zero)):
        print(f"| {name} | {f['loss']:.4f} | {f['bg_x0_error']:.4f} |")
    fails = []
    for key, value, bar, what in (("loss", ratios["loss"], LOSS_BAR, "loss trained/untrained"),
                                  ("bg_x0", ratios["bg_x0"], LOSS_BAR, "background x0 error trained/untrained"),
                                  ("pe", ratios["pe"], PE_BAR, "background x0 error anchored/position 0")):
        ok = value <= bar
        print(f"{what}: {value:.3f} (bar {bar}) {'PASS' if ok else 'FAIL'}")
        if not ok:
            fails.append(what)
    print("bars: all met" if not fails else "bars: NOT met: " + "; ".join(fails))
    if a.json:
        a.json.write_text(json.dumps(figures, indent=1) + "\n")
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
