"""The in-context sequence of one temporal window: what inference and training both feed the
transformer (one code path, so a LoRA learns exactly what sampling will ask of it).

A window of latent frames [start, end) of the target (noisy, at the sampler's timestep, the
only segment predicted), the same window of the plate (the foreground condition, clean:
timestep 0) and every background reference (one latent frame each, clean), each reference at
the temporal rotary position of the latent frame it anchors relative to the window (temporal
PE cloning, PAI-Studio §3): before the window's first frame, inside it or after its last.
Rotary attention depends only on differences of positions, so all positions are moved up
together to start at 0 (the tables have no negative rows); a reference that would put the
span beyond the model's rotary table is left out of that window.

Latents are (B, C, F, h, w) tensors; timesteps float32 (B,) on the flow-matching scale
(0 clean .. 1000 pure noise), never rounded to the transformer's dtype.
"""
from __future__ import annotations

from typing import Sequence

import torch

from engine.dit.incontext import Segment

Reference = tuple[int, torch.Tensor]  # (anchor latent frame, latents (B, C, 1, h, w))


def reference_positions(anchors: Sequence[int], start: int, end: int, table: int) -> tuple[list[int | None], int]:
    """Temporal rotary positions for the window [``start``, ``end``) and its references (see
    the module notes): the window's frames at ``shift`` .. ``shift`` + n - 1 and each anchor at
    ``anchor - start + shift``, or None when keeping it would make the span longer than the
    ``table``'s rows (the nearest anchors are kept first). Returns (a position or None per
    anchor, ``shift``)."""
    n = end - start
    if n > table:
        raise ValueError(f"a window of {n} latent frames is longer than the rotary table ({table})")
    low, high = 0, n - 1
    placed: list[int | None] = [None] * len(anchors)
    for i in sorted(range(len(anchors)), key=lambda i: max(start - anchors[i], anchors[i] - (end - 1), 0)):
        rel = anchors[i] - start
        lo, hi = min(low, rel), max(high, rel)
        if hi - lo < table:
            low, high, placed[i] = lo, hi, rel
    return [None if r is None else r - low for r in placed], -low


def window_segments(target: torch.Tensor, plate: torch.Tensor, references: Sequence[Reference], start: int,
                    end: int, timestep: torch.Tensor, table: int, dtype: torch.dtype | None = None
                    ) -> tuple[list[Segment], list[int]]:
    """The segments of the window [``start``, ``end``): ``target`` is that window's noisy
    latents (B, C, end - start, h, w), ``plate`` the whole shot's plate latents (sliced here),
    ``references`` (anchor latent frame, latents) pairs, ``timestep`` the target's (B,) or
    scalar, ``table`` the rotary table's rows, ``dtype`` the transformer's (latents are cast
    to it; timesteps stay float32). Returns (segments, the anchors left out of this window)."""
    dtype = dtype or target.dtype
    placed, shift = reference_positions([a for a, _ in references], start, end, table)
    frames = list(range(shift, shift + end - start))
    t = timestep.float().reshape(-1).to(target.device)
    zero = torch.zeros_like(t)
    segments = [Segment(target.to(dtype), frames, t, predict=True),
                Segment(plate[:, :, start:end].to(dtype), frames, zero)]
    segments += [Segment(z.to(dtype), [at], zero) for (_, z), at in zip(references, placed) if at is not None]
    return segments, [a for (a, _), at in zip(references, placed) if at is None]
