"""Streaming, spatially tiled decoding with the Wan causal VAE.

The Wan VAE decodes one latent frame at a time, carrying a causal cache of its
convolutions' past inputs (latent frame 0 gives pixel frame 0, every later latent frame
gives 4 pixel frames). :func:`decode_frames` runs that loop itself and yields each latent
frame's pixels as soon as they exist, so a writer can take them and memory does not grow
with the shot's length. With ``tile`` set, every latent frame is decoded in overlapping
spatial tiles, each with its own causal cache, and the tiles are blended with linear ramps
across their overlaps (weights summing to one), so memory does not grow with the picture
size either.

The loop follows ``AutoencoderKLWan._decode`` of diffusers 0.3x-0.4x (``post_quant_conv``,
``decoder(x, feat_cache=, feat_idx=, first_chunk=)``, ``clear_cache``); tests hold it to
``AutoencoderKLWan.decode``.

Latents (B, z, F, h, w); pixels (B, 3, n, H, W) in [-1, 1].
"""
from __future__ import annotations

from typing import Iterator

import torch


def _patch(vae) -> int | None:
    """Wan 2.2's VAE folds 2x2 pixels into channels before encoding (``patch_size`` 2)."""
    return getattr(vae.config, "patch_size", None)


def pixels_per_latent(vae) -> int:
    """Picture pixels per latent pixel (8 for Wan 2.1's VAE, 16 for Wan 2.2's)."""
    return getattr(vae.config, "scale_factor_spatial", None) or 8


def _tiles(size: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    if size <= tile:
        return [(0, size)]
    stride = tile - overlap
    count = -(-(size - overlap) // stride)
    starts = [round(i * (size - tile) / (count - 1)) for i in range(count)]
    return [(s, s + tile) for s in starts]


def _ramp(length: int, before: int, after: int) -> torch.Tensor:
    """1 inside, rising over ``before`` and falling over ``after`` samples."""
    w = torch.ones(length, dtype=torch.float64)
    if before > 0:
        w[:before] = torch.arange(1, before + 1, dtype=torch.float64) / (before + 1)
    if after > 0:
        w[-after:] = torch.minimum(w[-after:], torch.arange(after, 0, -1, dtype=torch.float64) / (after + 1))
    return w


def _axis_weights(spans: list[tuple[int, int]], scale: int) -> list[torch.Tensor]:
    out = []
    for i, (s, e) in enumerate(spans):
        before = (spans[i - 1][1] - s) * scale if i > 0 else 0
        after = (e - spans[i + 1][0]) * scale if i + 1 < len(spans) else 0
        out.append(_ramp((e - s) * scale, max(before, 0), max(after, 0)))
    return out


def decode_frames(vae, z: torch.Tensor, tile: int | None = None, overlap: int = 4) -> Iterator[torch.Tensor]:
    """Yield the decoded pixels of each latent frame in order (see the module notes).

    ``tile`` and ``overlap`` are in latent pixels (the picture's are ``vae_scale`` times
    larger); ``tile`` None decodes whole frames.
    """
    from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

    b, _, frames, h, w = z.shape
    scale, patch = pixels_per_latent(vae), _patch(vae)
    rows = _tiles(h, tile or h, overlap)
    cols = _tiles(w, tile or w, overlap)
    row_w, col_w = _axis_weights(rows, scale), _axis_weights(cols, scale)
    vae.clear_cache()
    blank = list(vae._feat_map)
    caches = {(r, c): list(blank) for r in range(len(rows)) for c in range(len(cols))}
    x = vae.post_quant_conv(z)
    try:
        for i in range(frames):
            out = None
            for (r, (y0, y1)) in enumerate(rows):
                for (c, (x0, x1)) in enumerate(cols):
                    vae._feat_map = caches[(r, c)]
                    vae._conv_idx = [0]
                    piece = vae.decoder(x[:, :, i:i + 1, y0:y1, x0:x1], feat_cache=vae._feat_map,
                                        feat_idx=vae._conv_idx, first_chunk=(i == 0))
                    if patch:
                        piece = unpatchify(piece, patch_size=patch)
                    if out is None:  # on the decoder's device, in its dtype
                        out = piece.new_zeros(b, piece.shape[1], piece.shape[2], h * scale, w * scale)
                    wgt = (row_w[r].view(-1, 1) * col_w[c].view(1, -1)).to(piece)
                    out[..., y0 * scale:y1 * scale, x0 * scale:x1 * scale] += piece * wgt
            if len(rows) * len(cols) > 1:
                total = torch.zeros(h * scale, w * scale, dtype=torch.float64)
                for r, (y0, y1) in enumerate(rows):
                    for c, (x0, x1) in enumerate(cols):
                        total[y0 * scale:y1 * scale, x0 * scale:x1 * scale] += row_w[r].view(-1, 1) * col_w[c].view(1, -1)
                out = out / total.to(out)
            yield torch.clamp(out, -1.0, 1.0)
    finally:
        vae.clear_cache()


def encode_frames(vae, chunks, tile: int | None = None, overlap: int = 4) -> Iterator[torch.Tensor]:
    """Encode pixel chunks in order, the first (B, 3, 1, H, W) and then (B, 3, 4, H, W) each,
    carrying the encoder's causal cache; yields each chunk's latent frame (B, z, 1, h, w):
    the distribution's mode, normalised by the VAE's latent mean and std as the Wan
    pipelines do. With ``tile`` (latent px) each chunk is encoded in overlapping spatial
    tiles, each with its own cache, blended with ramps in latent space."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import patchify

    z_dim = vae.config.z_dim
    scale, patch = pixels_per_latent(vae), _patch(vae)
    mean = torch.tensor(vae.config.latents_mean).view(1, z_dim, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, z_dim, 1, 1, 1)
    vae.clear_cache()
    blank = list(vae._enc_feat_map)
    caches: dict = {}
    try:
        for chunk in chunks:
            b, _, _, hp, wp = chunk.shape
            h, w = hp // scale, wp // scale
            rows, cols = _tiles(h, tile or h, overlap), _tiles(w, tile or w, overlap)
            row_w, col_w = _axis_weights(rows, 1), _axis_weights(cols, 1)
            mu = None
            for r, (y0, y1) in enumerate(rows):
                for c, (x0, x1) in enumerate(cols):
                    vae._enc_feat_map = caches.setdefault((r, c), list(blank))
                    vae._enc_conv_idx = [0]
                    piece = chunk[..., y0 * scale:y1 * scale, x0 * scale:x1 * scale]
                    if patch:
                        piece = patchify(piece, patch_size=patch)
                    out = vae.encoder(piece, feat_cache=vae._enc_feat_map, feat_idx=vae._enc_conv_idx)
                    part = vae.quant_conv(out)[:, :z_dim]
                    if mu is None:
                        mu = torch.zeros(b, z_dim, part.shape[2], h, w, dtype=part.dtype, device=part.device)
                        total = torch.zeros(h, w, dtype=torch.float64)
                    wgt = row_w[r].view(-1, 1) * col_w[c].view(1, -1)
                    mu[..., y0:y1, x0:x1] += part * wgt.to(part)
                    total[y0:y1, x0:x1] += wgt
            mu = mu / total.to(mu)
            yield (mu - mean.to(mu)) / std.to(mu)
    finally:
        vae.clear_cache()


def denormalise(vae, z: torch.Tensor) -> torch.Tensor:
    """Latents as the sampler sees them -> as the decoder takes them."""
    z_dim = vae.config.z_dim
    mean = torch.tensor(vae.config.latents_mean).view(1, z_dim, 1, 1, 1).to(z)
    std = torch.tensor(vae.config.latents_std).view(1, z_dim, 1, 1, 1).to(z)
    return z * std + mean
