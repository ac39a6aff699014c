"""``paicli model train``: in-context LoRA fine-tuning of a Wan checkpoint on a dataset of
triplets (``paicli dataset build``), resumable, writing a LoRA that ``--lora`` loads.

Files: the dataset is read (``dataset.json``, each triplet's ``manifest.json`` and EXR frames);
the output folder gets ``lora.safetensors`` (the adapter, diffusers names, its rank and alpha in
the file's metadata), ``train.json`` (settings, the loss of every step, timing) and
``checkpoint/`` (the adapter, AdamW's state and the step, all safetensors and JSON: never a
pickle), each written atomically. A run with ``resume`` continues from ``checkpoint/``: every
random choice of a step comes from (seed, step), so the loss curve is the one an uninterrupted
run gives. The compute is :mod:`engine.dit.train`.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from paicli.errors import BadDataError, ConfigError, MissingInputError, UsageError

CHECKPOINT = "checkpoint"
EVAL_DRAWS = 8  # fixed draws the loss is measured on before and after training


@dataclass
class TrainSettings:
    steps: int = 1000
    learning_rate: float = 1e-4
    rank: int = 16
    alpha: float = 16.0
    window: int = 21  # latent frames per training window
    shift: float = 3.0  # time shift of the drawn noise levels
    seed: int = 0
    save_every: int = 100
    perturb_light: float = 0.5  # strength of the plate's illumination perturbation (0 = none)
    variants: int = 4  # perturbed encodings of each plate drawn from
    checkpointing: bool = True  # gradient checkpointing
    weight_decay: float = 0.01
    device: str = "auto"
    dtype: str = "auto"


def read_dataset(folder: Path) -> list[dict]:
    """The dataset's triplet manifests (each with its ``folder``), checked: files present,
    frames and anchors consistent."""
    from paicli.dataset.build import INDEX, read_index

    folder = Path(folder)
    if not (folder / INDEX).is_file():
        raise MissingInputError(f"no dataset at {folder} (no {INDEX}; make one with `paicli dataset build`)")
    names = read_index(folder)
    if not names:
        raise BadDataError(f"{folder / INDEX}: lists no triplets")
    triplets = []
    for name in names:
        path = folder / name / "manifest.json"
        if not path.is_file():
            raise MissingInputError(f"{path}: missing")
        try:
            manifest = json.loads(path.read_text())
            frames, anchors = int(manifest["frames"]), [int(a) for a in manifest["anchors"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise BadDataError(f"{path}: not a triplet manifest ({e})") from None
        if frames < 1 or not anchors or any(not 0 <= a < frames for a in anchors):
            raise BadDataError(f"{path}: anchors {anchors} outside its {frames} frames")
        triplets.append({**manifest, "folder": folder / name})
    return triplets


def _frames(folder: Path, stem: str, indices) -> list[np.ndarray]:
    from paicli.media.exr import read_exr

    out = []
    for i in indices:
        path = folder / f"{stem}.{i:04d}.exr"
        if not path.is_file():
            raise MissingInputError(f"{path}: missing")
        out.append(np.ascontiguousarray(read_exr(path)[0][..., :3], np.float32))
    return out


def _clip_length(frames: int) -> int:
    """The longest causal-VAE length (4k + 1) within ``frames``."""
    return (frames - 1) // 4 * 4 + 1


def train(dataset: Path, model: Path, out: Path, s: TrainSettings, *, resume: bool = True,
          prompt_embeds: Path | None = None, progress=None) -> dict:
    """Train (or resume) a LoRA; returns {"summary": ..., "files": [(kind, path), ...]}."""
    import torch
    from safetensors.torch import load_file, save_file

    from engine.dit import train as T
    from paicli.engines.checkpoints import cast, load_component
    from paicli.engines.dit import check_layout, pick_device, pick_dtype
    from paicli.media.atomic import atomic_output, write_text

    if s.steps < 1 or s.rank < 1 or s.window < 1 or s.save_every < 1 or not math.isfinite(s.learning_rate):
        raise UsageError("steps, rank, window and save-every must be at least 1 and the learning rate a number")
    triplets = read_dataset(dataset)
    model = Path(model)
    if not model.is_dir():
        raise MissingInputError(f"no such checkpoint folder: {model}")
    if check_layout(model):
        raise ConfigError(f"{model}: training a two-expert Wan 2.2 is not supported yet (train each expert's "
                          "checkpoint folder on its own)")
    device = pick_device(s.device)
    dtype = pick_dtype(s.dtype, device)
    out = Path(out)
    try:
        (out / CHECKPOINT).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        from paicli.errors import OutputError
        raise OutputError(f"cannot create {out}: {e.strerror or e}") from None

    log = progress.log if progress is not None else (lambda *a, **k: None)
    t0 = time.perf_counter()
    log(f"train: loading {model}")
    transformer = cast(load_component(model, "transformer"), dtype).to(device)
    vae = load_component(model, "vae", torch.float32).to(device)
    texts = _captions(model, [t.get("caption", "") for t in triplets], prompt_embeds, device, dtype)
    log(f"train: encoding {len(triplets)} triplets ({s.variants} light variants of each plate)")
    data = [_encode(t, vae, transformer, device, s, texts[i]) for i, t in enumerate(triplets)]
    del vae
    with torch.random.fork_rng(devices=[]):  # the adapter's initial A from the seed, not the process's RNG
        torch.manual_seed(s.seed)
        params = T.add_lora(transformer, s.rank, s.alpha)
    for p in params:
        p.data = p.data.float()  # the adapter learns in float32 whatever the base weights are
    names = {p: n for n, p in transformer.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW(params, lr=s.learning_rate, weight_decay=s.weight_decay)
    losses: list[float] = []
    start = 0
    state_path = out / CHECKPOINT / "state.json"
    if resume and state_path.is_file():
        state = json.loads(state_path.read_text())
        if state.get("settings") != _comparable(s):
            raise ConfigError(f"{out}/{CHECKPOINT} was made with other settings: give the same ones, or --no-resume")
        T.load_lora_state(transformer, load_file(str(out / CHECKPOINT / "lora.safetensors")))
        T.load_optimizer_tensors(optimizer, names, load_file(str(out / CHECKPOINT / "optimizer.safetensors")))
        start, losses = int(state["step"]), [float(x) for x in state["losses"]]
        before = state.get("fixed_loss_before")
        log(f"train: resuming at step {start} of {s.steps}")

    def autocast():
        """bf16/fp16 autocast on a GPU; full precision elsewhere."""
        return torch.autocast("cuda", dtype=dtype) if device == "cuda" and dtype != torch.float32 else _nothing()

    def write_lora(path: Path) -> None:
        """The adapter as ``--lora`` loads it: diffusers names, its rank and alpha in the metadata."""
        meta = {"format": "pt", "lora_adapter_metadata": json.dumps({"r": s.rank, "lora_alpha": s.alpha,
                                                                     "target_modules": list(T.LORA_TARGETS)})}
        with atomic_output(path) as tmp:
            save_file(T.lora_state(transformer), str(tmp), metadata=meta)

    def on_device(item: dict, variant: int) -> T.Triplet:
        return T.Triplet(item["target"].to(device), item["plates"][variant].to(device),
                         [(a, z.to(device)) for a, z in item["references"]], item["text"].to(device))

    def save(step: int) -> None:
        write_lora(out / CHECKPOINT / "lora.safetensors")
        with atomic_output(out / CHECKPOINT / "optimizer.safetensors") as tmp:
            save_file(T.optimizer_tensors(optimizer, names), str(tmp), metadata={"format": "pt"})
        write_text(state_path, json.dumps({"step": step, "losses": losses, "settings": _comparable(s),
                                           "fixed_loss_before": before}) + "\n")

    def fixed_loss() -> float:
        """The mean loss over the same :data:`EVAL_DRAWS` draws at the start and at the end (the
        per-step loss swings with the drawn noise level; these do not)."""
        total = 0.0
        with torch.no_grad(), autocast():
            for k in range(EVAL_DRAWS):
                item = data[k % len(data)]
                d = T.draw(s.seed + 7919, k, item["target"].shape[2], s.window, len(item["references"]), s.shift)
                total += float(T.flow_matching_loss(transformer, on_device(item, 0), d, dtype))
        return total / EVAL_DRAWS

    if start == 0:
        before = fixed_loss()
    transformer.train()
    task_cm = progress.task("train", total=s.steps, unit="steps") if progress is not None else _nothing()
    with task_cm as task:
        if task is not None and start:
            task.advance(start)
        for step in range(start, s.steps):
            pick = np.random.default_rng([s.seed, step, 1])
            item = data[int(pick.integers(len(data)))]
            variant = int(pick.integers(len(item["plates"])))
            d = T.draw(s.seed, step, item["target"].shape[2], s.window, len(item["references"]), s.shift)
            with autocast():
                loss = T.flow_matching_loss(transformer, on_device(item, variant), d, dtype,
                                            checkpoint=s.checkpointing)
            if not torch.isfinite(loss):
                raise ConfigError(f"training diverged at step {step + 1} (loss {float(loss)}): lower the "
                                   "learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(round(float(loss.detach()), 6))
            if task is not None:
                task.advance()
            if (step + 1) % max(1, s.steps // 20) == 0 or step + 1 == s.steps:
                recent = losses[-max(1, s.steps // 20):]
                log(f"train: step {step + 1}/{s.steps} loss {np.mean(recent):.4f}", step=step + 1,
                    loss=float(np.mean(recent)))
            if (step + 1) % s.save_every == 0 or step + 1 == s.steps:
                save(step + 1)
    transformer.eval()
    after = fixed_loss()
    write_lora(out / "lora.safetensors")
    summary = {"dataset": str(dataset), "model": str(model), "triplets": len(triplets), "steps": s.steps,
               "resumed_at": start or None, "first_loss": losses[0] if losses else None,
               "fixed_loss_before": before, "fixed_loss_after": after,
               "final_loss": float(np.mean(losses[-max(1, s.steps // 20):])) if losses else None,
               "seconds": round(time.perf_counter() - t0, 2), "device": device,
               "dtype": {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32"),
               "settings": asdict(s)}
    write_text(out / "train.json", json.dumps({**summary, "losses": losses}, indent=1) + "\n")
    files = [("model", out / "lora.safetensors"), ("report", out / "train.json"),
             ("model", out / CHECKPOINT / "lora.safetensors"), ("model", out / CHECKPOINT / "optimizer.safetensors"),
             ("sidecar", state_path)]
    return {"summary": summary, "files": files}


def _comparable(s: TrainSettings) -> dict:
    """The settings a resumed run must share with the run it continues (not the device)."""
    return {k: v for k, v in asdict(s).items() if k not in ("device", "save_every")}


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _captions(model: Path, captions: list[str], prompt_embeds: Path | None, device: str, dtype) -> list:
    """Text embeddings (1, L, D) per caption: the checkpoint's text encoder (each distinct
    caption encoded once), or one precomputed embedding for all."""
    from safetensors.torch import load_file

    from paicli.engines.dit import encode_texts

    if prompt_embeds is None and (model / "text_encoder").is_dir():
        distinct = sorted(set(captions))
        encoded = encode_texts(model, distinct, dtype, device)
        by_caption = {c: encoded[i:i + 1].float().cpu() for i, c in enumerate(distinct)}
        return [by_caption[c] for c in captions]
    path = Path(prompt_embeds) if prompt_embeds is not None else model / "prompt_embeds.safetensors"
    if not path.is_file():
        raise MissingInputError(f"no text encoder in {model} and no prompt embeddings ({path})")
    embeds = load_file(str(path)).get("prompt_embeds")
    if embeds is None:
        raise ConfigError(f"{path} has no 'prompt_embeds' tensor")
    return [embeds.float()] * len(captions)


def _encode(t: dict, vae, transformer, device: str, s: TrainSettings, text) -> dict:
    """One triplet's latents (CPU): the target, ``s.variants`` illumination-perturbed plates
    (variant 0 as shot when ``perturb_light`` is 0), the references at their anchors."""
    import torch

    from engine.dit.engine import encode_clip, light_perturbation, padded_size
    from engine.dit.rope import latent_frame

    n = _clip_length(int(t["frames"]))
    folder = t["folder"]
    target = _frames(folder / "target", "target", range(n))
    plate = _frames(folder / "plate", "plate", range(n))
    h, w = target[0].shape[:2]
    if any(f.shape[:2] != (h, w) for f in target + plate):
        raise BadDataError(f"{folder}: plate and target frames differ in size")
    size = padded_size(vae, transformer, h, w)

    def encode(frames: list[np.ndarray]):
        with torch.no_grad():
            return encode_clip(vae, frames, device, size).cpu()

    plates = []
    for v in range(max(1, s.variants) if s.perturb_light > 0 else 1):
        gain = light_perturbation(h, w, s.perturb_light, s.seed + 1000 * v) if s.perturb_light > 0 else None
        plates.append(encode([f * gain for f in plate] if gain is not None else plate))
    anchors = [a for a in t["anchors"] if a < n]
    refs = []
    for a, still in zip(anchors, _frames(folder / "refs", "ref", anchors)):
        refs.append((latent_frame(a), encode([still])))
    return {"target": encode(target), "plates": plates, "references": refs, "text": text}
