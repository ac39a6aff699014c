"""In-context forward of a Wan DiT: several latent inputs in one bidirectional token sequence.

PAI-Studio conditions the generator by concatenation, not by adapters: the noisy target
video, the foreground video and each background reference are patchified into one token
sequence and attend to each other in every block. Each input is a :class:`Segment` with
its own temporal positions (:mod:`engine.dit.rope`) and its own timestep (condition
segments are clean: timestep 0, and their outputs are not used).

The forward reuses the model's own components (patch embedding, condition embedder,
blocks, output norm and projection) in the order ``WanTransformer3DModel.forward`` uses
them; only the token sequence and the rotary positions are built here. With a single
segment at positions 0..n-1 it reproduces the stock forward.

Latents are (B, C, F, H, W) tensors; F, H, W divisible by the model's patch size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from engine.dit.rope import grid_positions, install


@dataclass
class Segment:
    latents: torch.Tensor  # (B, C, F, H, W)
    t_positions: Sequence[int]  # temporal rotary position of each latent frame (after patching in time)
    timestep: torch.Tensor  # (B,) this segment's diffusion timestep; 0 for clean conditions
    predict: bool = False  # return the model's prediction for this segment


def in_context_forward(model, segments: Sequence[Segment], encoder_hidden_states: torch.Tensor) -> list[torch.Tensor]:
    """The model's output for every segment with ``predict`` set, each shaped like its latents
    (with the model's output channels)."""
    rope = install(model)
    p_t, p_h, p_w = model.config.patch_size
    tokens, positions, steps, shapes = [], [], [], []
    for seg in segments:
        b, _, f, h, w = seg.latents.shape
        if f % p_t or h % p_h or w % p_w:
            raise ValueError(f"latents {tuple(seg.latents.shape)} are not divisible by the patch size {(p_t, p_h, p_w)}")
        pf, ph, pw = f // p_t, h // p_h, w // p_w
        if len(seg.t_positions) != pf:
            raise ValueError(f"{len(seg.t_positions)} temporal positions for {pf} latent frames")
        x = model.patch_embedding(seg.latents).flatten(2).transpose(1, 2)
        tokens.append(x)
        positions.append(grid_positions(seg.t_positions, ph, pw))
        steps.append(seg.timestep.reshape(b, 1).expand(b, x.shape[1]))
        shapes.append((pf, ph, pw))
    hidden = torch.cat(tokens, dim=1).contiguous()
    n = hidden.shape[1]
    rotary = rope.at(*(torch.cat(parts) for parts in zip(*positions)))
    timestep = torch.cat(steps, dim=1)  # (B, N): per-token timesteps, as Wan 2.2's TI2V path takes them
    temb, timestep_proj, context, _ = model.condition_embedder(timestep.flatten(), encoder_hidden_states, None,
                                                                timestep_seq_len=n)
    timestep_proj = timestep_proj.unflatten(2, (6, -1))
    for block in model.blocks:
        hidden = block(hidden, context, timestep_proj, rotary)
    shift, scale = (model.scale_shift_table.unsqueeze(0).to(temb.device) + temb.unsqueeze(2)).chunk(2, dim=2)
    hidden = (model.norm_out(hidden.float()) * (1 + scale.squeeze(2)) + shift.squeeze(2)).type_as(hidden)
    hidden = model.proj_out(hidden)
    outputs, start = [], 0
    for seg, (pf, ph, pw) in zip(segments, shapes):
        count = pf * ph * pw
        if seg.predict:
            x = hidden[:, start:start + count].reshape(hidden.shape[0], pf, ph, pw, p_t, p_h, p_w, -1)
            outputs.append(x.permute(0, 7, 1, 4, 2, 5, 3, 6).flatten(6, 7).flatten(4, 5).flatten(2, 3))
        start += count
    return outputs
