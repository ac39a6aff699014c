"""Wan's 3-D rotary position embedding, indexed by explicit per-token positions.

diffusers' ``WanRotaryPosEmbed`` derives every token's (frame, row, column) position from
the shape of one latent video, so it cannot place tokens from several inputs in one
sequence. In-context generation needs exactly that: the target and the foreground share
the target's positions, and each background reference gets the temporal position of the
latent frame it anchors (temporal PE cloning, PAI-Studio §3). :class:`PositionalRope` is
the same module with the same tables (so a checkpoint's state dict is unchanged: the
tables are non-persistent buffers) plus :meth:`PositionalRope.at`, which looks them up at
given positions.

Latent time: the Wan VAE is causal with a temporal compression of 4, so latent frame 0 is
pixel frame 0 and latent frame k (k >= 1) covers pixel frames 4k-3 .. 4k.
"""
from __future__ import annotations

from typing import Sequence

import torch
from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

TEMPORAL_COMPRESSION = 4


def latent_frame(pixel_frame: int, compression: int = TEMPORAL_COMPRESSION) -> int:
    """The latent frame a pixel frame (0-based) falls in, for a causal VAE."""
    if pixel_frame < 0:
        raise ValueError(f"frame {pixel_frame} is negative")
    return (pixel_frame + compression - 1) // compression


def latent_frames(pixel_frames: int, compression: int = TEMPORAL_COMPRESSION) -> int:
    """Latent length of a clip of ``pixel_frames`` frames (which must be ``compression * k + 1``)."""
    if pixel_frames < 1 or (pixel_frames - 1) % compression:
        raise ValueError(f"{pixel_frames} frames: a causal VAE takes {compression}k+1 frames")
    return (pixel_frames - 1) // compression + 1


def grid_positions(t_positions: Sequence[int], rows: int, cols: int) -> tuple[torch.Tensor, ...]:
    """(t, h, w) long tensors, one entry per token, in the order a patchified latent is
    flattened (frame-major, then row, then column): frame i has temporal position
    ``t_positions[i]``, rows and columns count from 0."""
    t = torch.as_tensor(list(t_positions), dtype=torch.long)
    n = len(t)
    tt = t.view(n, 1, 1).expand(n, rows, cols)
    hh = torch.arange(rows).view(1, rows, 1).expand(n, rows, cols)
    ww = torch.arange(cols).view(1, 1, cols).expand(n, rows, cols)
    return tt.reshape(-1), hh.reshape(-1), ww.reshape(-1)


class PositionalRope(WanRotaryPosEmbed):
    """``WanRotaryPosEmbed`` whose tables can be read at explicit positions (see the module notes)."""

    @classmethod
    def like(cls, stock: WanRotaryPosEmbed) -> "PositionalRope":
        """A drop-in replacement for ``stock`` (same sizes, same tables, on the same device)."""
        new = cls(stock.attention_head_dim, stock.patch_size, stock.max_seq_len)
        return new.to(stock.freqs_cos.device)

    def at(self, t: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, sin), each (1, N, 1, head_dim), for tokens at positions ``t``, ``h``, ``w`` (N,)."""
        for name, pos in (("temporal", t), ("row", h), ("column", w)):
            if len(pos) and (int(pos.min()) < 0 or int(pos.max()) >= self.max_seq_len):
                raise ValueError(f"{name} position {int(pos.max())} outside the rotary table "
                                 f"(0-{self.max_seq_len - 1})")
        sizes = [self.t_dim, self.h_dim, self.w_dim]
        device = self.freqs_cos.device
        out = []
        for table in (self.freqs_cos, self.freqs_sin):
            ft, fh, fw = table.split(sizes, dim=1)
            out.append(torch.cat([ft[t.to(device)], fh[h.to(device)], fw[w.to(device)]], dim=-1)[None, :, None, :])
        return out[0], out[1]


def install(model) -> PositionalRope:
    """Swap ``model.rope`` for a :class:`PositionalRope` in place (module name and state dict
    unchanged) and return it."""
    if not isinstance(model.rope, PositionalRope):
        model.rope = PositionalRope.like(model.rope)
    return model.rope
