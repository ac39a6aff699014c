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


def in_context_forward(model, segments: Sequence[Segment], encoder_hidden_states: torch.Tensor,
                       checkpoint: bool = False) -> list[torch.Tensor]:
    """The model's output for every segment with ``predict`` set, each shaped like its latents
    (with the model's output channels). ``checkpoint``: recompute each block's activations in
    the backward pass instead of keeping them (gradient checkpointing, for training)."""
    rope = install(model)
    p_t, p_h, p_w = model.config.patch_size
    tokens, positions, shapes = [], [], []
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
        shapes.append((pf, ph, pw))
    hidden = torch.cat(tokens, dim=1).contiguous()
    rotary = rope.at(*(torch.cat(parts) for parts in zip(*positions)))
    # modulation per segment, not per token: every segment has one timestep, so its six
    # modulation vectors are (B, 6, D) and are applied to its slice of the sequence (a
    # per-token table would be (B, N, 6, D): gigabytes at 1080p)
    spans, start = [], 0
    for x in tokens:
        spans.append((start, start + x.shape[1]))
        start += x.shape[1]
    temb, proj, context = [], [], None
    for seg in segments:
        te, tp, ctx, _ = model.condition_embedder(seg.timestep.reshape(-1), encoder_hidden_states, None)
        temb.append(te)
        proj.append(tp.unflatten(1, (6, -1)))
        context = ctx if context is None else context
    for block in model.blocks:
        if checkpoint and torch.is_grad_enabled():
            hidden = torch.utils.checkpoint.checkpoint(_block, block, hidden, context, proj, spans, rotary,
                                                       use_reentrant=False)
        else:
            hidden = _block(block, hidden, context, proj, spans, rotary)
    normed, parts = model.norm_out(hidden.float()), []
    for (a, b), te in zip(spans, temb):
        shift, scale = (model.scale_shift_table.to(te.device) + te.unsqueeze(1)).chunk(2, dim=1)
        parts.append(normed[:, a:b] * (1 + scale) + shift)
    hidden = model.proj_out(torch.cat(parts, 1).type_as(hidden))
    outputs, start = [], 0
    for seg, (pf, ph, pw) in zip(segments, shapes):
        count = pf * ph * pw
        if seg.predict:
            x = hidden[:, start:start + count].reshape(hidden.shape[0], pf, ph, pw, p_t, p_h, p_w, -1)
            outputs.append(x.permute(0, 7, 1, 4, 2, 5, 3, 6).flatten(6, 7).flatten(4, 5).flatten(2, 3))
        start += count
    return outputs


def _modulated(x: torch.Tensor, table: torch.Tensor, proj: list[torch.Tensor], spans, shift_i: int,
               scale_i: int) -> torch.Tensor:
    """``x * (1 + scale) + shift`` with each segment's own modulation vectors (float32; a new
    tensor, never ``x`` changed in place, which autograd keeps for the backward pass)."""
    x = x.float()
    parts = []
    for (a, b), p in zip(spans, proj):
        mod = table + p.float()  # (B, 6, D)
        parts.append(x[:, a:b] * (1 + mod[:, scale_i:scale_i + 1]) + mod[:, shift_i:shift_i + 1])
    return torch.cat(parts, 1)


def _gated(h: torch.Tensor, y: torch.Tensor, table: torch.Tensor, proj: list[torch.Tensor], spans,
           gate_i: int) -> torch.Tensor:
    """``h + y * gate`` with each segment's own gate (float32; a new tensor)."""
    h = h.float()
    parts = []
    for (a, b), p in zip(spans, proj):
        gate = (table + p.float())[:, gate_i:gate_i + 1]
        parts.append(h[:, a:b] + y[:, a:b].float() * gate)
    return torch.cat(parts, 1)


def _block(block, hidden: torch.Tensor, context: torch.Tensor, proj: list[torch.Tensor], spans, rotary) -> torch.Tensor:
    """``WanTransformerBlock.forward`` with per-segment modulation (same order of operations,
    same sub-modules): self-attention, cross-attention to the text, feed-forward."""
    table = block.scale_shift_table  # (1, 6, D): shift, scale, gate (attention); shift, scale, gate (ffn)
    norm = _modulated(block.norm1(hidden.float()), table, proj, spans, 0, 1).type_as(hidden)
    hidden = _gated(hidden, block.attn1(norm, None, None, rotary), table, proj, spans, 2).type_as(hidden)
    hidden = hidden + block.attn2(block.norm2(hidden.float()).type_as(hidden), context, None, None)
    norm = _modulated(block.norm3(hidden.float()), table, proj, spans, 3, 4).type_as(hidden)
    return _gated(hidden, block.ffn(norm), table, proj, spans, 5).type_as(hidden)
