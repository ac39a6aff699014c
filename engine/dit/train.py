"""In-context LoRA fine-tuning of a Wan DiT: the flow-matching objective on one window.

PAI-Studio fine-tunes the stock model with LoRA so it learns to use the plate and reference
tokens it has never seen. One training step takes a triplet's latents (target video, plate
video, reference stills at their anchor frames) and a caption's text embeddings, draws a
random window, a random subset of 1-3 references and a noise level, builds the window's
sequence exactly as sampling does (:func:`engine.dit.sequence.window_segments`) and regresses
the model's velocity on the target's tokens only (the conditions are clean and not scored):

    x_t = (1 - sigma) x_0 + sigma eps,   t = 1000 sigma,   loss = |v(x_t, t) - (eps - x_0)|^2

with sigma drawn uniformly and time-shifted as Wan's sampler is (more high-noise steps at
higher resolutions). Every draw of a step comes from (seed, step) alone, so a run resumed
from a checkpoint continues the same loss curve.

Latents (B, C, F, h, w) float32; the transformer may run in bf16 under autocast.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.dit.incontext import in_context_forward
from engine.dit.sequence import Reference, window_segments

LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "net.0.proj", "net.2")  # attention and feed-forward linears


@dataclass
class Triplet:
    """One training example in latent space: ``target`` and ``plate`` (1, C, F, h, w), the
    ``references`` (anchor latent frame, (1, C, 1, h, w)) it offers, ``text`` (1, L, D)."""

    target: torch.Tensor
    plate: torch.Tensor
    references: list[Reference]
    text: torch.Tensor


@dataclass
class Draw:
    """A step's random choices: the window [start, end), the noise level ``sigma`` (0..1),
    which of the triplet's references are shown (indices) and the noise's seed."""

    start: int
    end: int
    sigma: float
    references: list[int]
    noise_seed: int


def shifted_sigma(u: float, shift: float) -> float:
    """Wan's time shift of a uniform noise level ``u`` in (0, 1): shift u / (1 + (shift - 1) u)."""
    return shift * u / (1.0 + (shift - 1.0) * u)


def draw(seed: int, step: int, frames: int, window: int, available: int, shift: float = 3.0,
         max_references: int = 3) -> Draw:
    """The random choices of training step ``step`` (from ``seed`` and ``step`` alone): a window
    of ``window`` latent frames (the whole triplet when shorter) at a random start, a noise
    level, and 1 .. min(``max_references``, ``available``) of the triplet's references."""
    rng = np.random.default_rng([seed, step])
    n = min(window, frames)
    start = int(rng.integers(0, frames - n + 1))
    sigma = shifted_sigma(float(rng.uniform(0.001, 0.999)), shift)
    count = int(rng.integers(1, min(max_references, available) + 1)) if available else 0
    picked = sorted(int(i) for i in rng.choice(available, count, replace=False)) if count else []
    return Draw(start, start + n, sigma, picked, int(rng.integers(0, 2**31 - 1)))


def noisy_window(triplet: Triplet, d: Draw) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_0, eps, x_t) of the drawn window, float32 on the triplet's device."""
    x0 = triplet.target[:, :, d.start:d.end].float()
    g = torch.Generator(device="cpu").manual_seed(d.noise_seed)
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float32).to(x0.device)
    return x0, eps, (1.0 - d.sigma) * x0 + d.sigma * eps


def velocity(model, triplet: Triplet, d: Draw, xt: torch.Tensor, dtype: torch.dtype | None = None,
             references: list[Reference] | None = None, checkpoint: bool = False) -> torch.Tensor:
    """The model's velocity for the drawn window's noisy latents ``xt`` in context with the
    plate's window and the drawn references (``references`` overrides them), float32."""
    refs = [triplet.references[i] for i in d.references] if references is None else references
    table = int(model.rope.max_seq_len)
    t = torch.full((xt.shape[0],), 1000.0 * d.sigma, dtype=torch.float32)
    segments, _ = window_segments(xt, triplet.plate, refs, d.start, d.end, t, table, dtype)
    return in_context_forward(model, segments, triplet.text.to(dtype or xt.dtype), checkpoint=checkpoint)[0].float()


def flow_matching_loss(model, triplet: Triplet, d: Draw, dtype: torch.dtype | None = None,
                       checkpoint: bool = False, references: list[Reference] | None = None) -> torch.Tensor:
    """Mean squared error of the model's velocity against eps - x_0 on the target's tokens."""
    x0, eps, xt = noisy_window(triplet, d)
    pred = velocity(model, triplet, d, xt, dtype, references, checkpoint)
    return torch.mean((pred - (eps - x0)) ** 2)


def predicted_clean(model, triplet: Triplet, d: Draw, references: list[Reference] | None = None,
                    dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_0 as the model predicts it from one step, x_t - sigma v; the true x_0), float32."""
    x0, _, xt = noisy_window(triplet, d)
    pred = velocity(model, triplet, d, xt, dtype, references)
    return xt - d.sigma * pred, x0


def add_lora(model, rank: int, alpha: float, targets: tuple[str, ...] = LORA_TARGETS) -> list[torch.nn.Parameter]:
    """Inject a LoRA adapter (peft, B initialised to zero: the model is unchanged until trained)
    into the transformer's attention and feed-forward linears; freeze everything else.
    Returns the trainable parameters."""
    from peft import LoraConfig, inject_adapter_in_model

    model.requires_grad_(False)
    inject_adapter_in_model(LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(targets), init_lora_weights=True),
                            model)
    params = [p for n, p in model.named_parameters() if "lora_" in n]
    for p in params:
        p.requires_grad_(True)
    return params


def lora_state(model) -> dict[str, torch.Tensor]:
    """The adapter's weights under diffusers' LoRA names (``blocks.0.attn1.to_q.lora_A.weight``),
    float32 on the CPU: what ``--lora`` loads."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().float().cpu().contiguous() for k, v in get_peft_model_state_dict(model).items()}


def load_lora_state(model, state: dict[str, torch.Tensor]) -> None:
    """Put saved adapter weights (:func:`lora_state`) back into an injected adapter."""
    from peft import set_peft_model_state_dict

    result = set_peft_model_state_dict(model, state)
    unexpected = getattr(result, "unexpected_keys", None) or []
    if unexpected:
        raise ValueError(f"adapter weights for layers the model does not have: {unexpected[:3]}")


def optimizer_tensors(optimizer: torch.optim.Optimizer, names: dict[torch.nn.Parameter, str]) -> dict:
    """AdamW's state as named tensors (``{name}.exp_avg``, ``{name}.exp_avg_sq``,
    ``{name}.step``), so a checkpoint is safetensors, never a pickle."""
    out = {}
    for param, state in optimizer.state.items():
        for key, value in state.items():
            out[f"{names[param]}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return out


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, names: dict[torch.nn.Parameter, str],
                           tensors: dict[str, torch.Tensor]) -> None:
    """Restore :func:`optimizer_tensors` into ``optimizer`` (same parameters, same names)."""
    for param, name in names.items():
        state = {key[len(name) + 1:]: value for key, value in tensors.items() if key.startswith(name + ".")}
        if state:
            optimizer.state[param] = {k: (v.to(param.device) if k != "step" else v) for k, v in state.items()}
