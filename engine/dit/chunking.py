"""Sampling a shot longer than the model's window: overlapping temporal windows, one scheduler.

At every denoising step the model is evaluated on each window of the latent video (its
own references and conditions included), the predictions are blended where windows
overlap with linear ramps (so no seam shows and every latent frame's weights sum to 1),
and the scheduler then steps once on the whole latent. Stepping once matters: multistep
schedulers (UniPC) keep a history of past predictions, which would be corrupted if they
stepped per window. Memory is that of one window, however long the shot.

Latents are (B, C, F, H, W) tensors, F counted in latent frames.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

Window = tuple[int, int]  # latent frames [start, end)


def plan_windows(frames: int, window: int, overlap: int) -> list[Window]:
    """Windows of ``window`` latent frames overlapping by at least ``overlap``, covering
    ``frames``; one window when the shot fits. The last window ends at the shot's end."""
    if frames < 1 or window < 1:
        raise ValueError("frames and window must be positive")
    if frames <= window:
        return [(0, frames)]
    if not 0 <= overlap < window:
        raise ValueError(f"overlap {overlap} must be below the window {window}")
    stride = window - overlap
    count = -(-(frames - overlap) // stride)  # ceil
    starts = [round(i * (frames - window) / (count - 1)) for i in range(count)]  # spread evenly
    return [(s, s + window) for s in starts]


def blend_weights(frames: int, windows: Sequence[Window]) -> list[torch.Tensor]:
    """Per window, a (window length,) weight per latent frame: 1 inside, linear ramps across
    each overlap, so the weights of every frame sum to 1."""
    raw = []
    for i, (s, e) in enumerate(windows):
        w = torch.ones(e - s, dtype=torch.float64)
        if i > 0:  # ramp up across the overlap with the previous window
            ov = windows[i - 1][1] - s
            if ov > 0:
                w[:ov] = torch.arange(1, ov + 1, dtype=torch.float64) / (ov + 1)
        if i + 1 < len(windows):  # ramp down across the overlap with the next window
            ov = e - windows[i + 1][0]
            if ov > 0:
                w[-ov:] = torch.minimum(w[-ov:], torch.arange(ov, 0, -1, dtype=torch.float64) / (ov + 1))
        raw.append(w)
    total = torch.zeros(frames, dtype=torch.float64)
    for (s, e), w in zip(windows, raw):
        total[s:e] += w
    return [(w / total[s:e]).float() for (s, e), w in zip(windows, raw)]


def predict(model: Callable[[torch.Tensor, Window, torch.Tensor], torch.Tensor], latents: torch.Tensor,
            timestep: torch.Tensor, windows: Sequence[Window], weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """The model's prediction for the whole latent, window by window, blended.

    ``model(window_latents, (start, end), timestep)`` returns the prediction for that window
    (classifier-free guidance, references and conditions are the callable's business).
    """
    out = torch.zeros_like(latents)
    for (s, e), w in zip(windows, weights):
        pred = model(latents[:, :, s:e], (s, e), timestep)
        out[:, :, s:e] += pred * w.to(pred.dtype).to(pred.device).view(1, 1, -1, 1, 1)
    return out


def sample(model: Callable[[torch.Tensor, Window, torch.Tensor], torch.Tensor], scheduler, noise: torch.Tensor,
           steps: int, window: int, overlap: int, callback: Callable[[dict], None] | None = None) -> torch.Tensor:
    """Denoise ``noise`` with ``scheduler`` (any diffusers scheduler with ``set_timesteps`` and
    ``step``) in ``steps`` steps, the model evaluated per window and the scheduler stepped once
    per step on the whole latent."""
    frames = noise.shape[2]
    windows = plan_windows(frames, window, overlap)
    weights = blend_weights(frames, windows)
    scheduler.set_timesteps(steps, device=noise.device)
    latents = noise * getattr(scheduler, "init_noise_sigma", 1.0)
    for i, t in enumerate(scheduler.timesteps):
        pred = predict(model, latents, t.reshape(1).expand(noise.shape[0]), windows, weights)
        latents = scheduler.step(pred, t, latents, return_dict=False)[0]
        if callback:
            callback({"stage": "sample", "step": i, "total": len(scheduler.timesteps), "windows": len(windows)})
    return latents
