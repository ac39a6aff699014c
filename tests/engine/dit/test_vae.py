"""Streaming and tiled decoding with the Wan causal VAE (tiny random weights)."""
from __future__ import annotations

import torch
from diffusers import AutoencoderKLWan

from engine.dit.vae import decode_frames


def tiny_vae() -> AutoencoderKLWan:
    torch.manual_seed(0)
    return AutoencoderKLWan(base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            latents_mean=[0.0] * 4, latents_std=[1.0] * 4).eval()


def test_streaming_decode_gives_the_stock_decode_frame_by_frame():
    vae = tiny_vae()
    z = torch.randn(1, 4, 3, 6, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = vae.decode(z).sample
        parts = list(decode_frames(vae, z))
    assert [p.shape[2] for p in parts] == [1, 4, 4]  # 4k+1 frames: the causal VAE's first frame is alone
    torch.testing.assert_close(torch.cat(parts, 2), want, atol=1e-5, rtol=1e-5)


def test_one_tile_covering_the_frame_is_the_untiled_decode():
    vae = tiny_vae()
    z = torch.randn(1, 4, 2, 6, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        whole = torch.cat(list(decode_frames(vae, z)), 2)
        tiled = torch.cat(list(decode_frames(vae, z, tile=8, overlap=2)), 2)
    torch.testing.assert_close(tiled, whole, atol=1e-6, rtol=1e-6)


def test_overlapping_tiles_are_no_further_from_the_untiled_decode_than_diffusers_own_tiling():
    """The tiny random decoder attends over the whole frame, so no tiling reproduces it
    exactly; ours (96-px tiles, 32-px overlaps) must do at least as well as diffusers' tiled
    decode with the same tiles and overlaps."""
    vae = tiny_vae()
    g = torch.Generator().manual_seed(3)
    z = torch.nn.functional.avg_pool2d(torch.randn(2, 4, 24, 32, generator=g), 3, 1, 1).view(1, 4, 2, 24, 32) * 3
    with torch.no_grad():
        whole = vae.decode(z).sample
        ours = torch.cat(list(decode_frames(vae, z, tile=12, overlap=4)), 2)
        vae.enable_tiling(tile_sample_min_height=96, tile_sample_min_width=96, tile_sample_stride_height=64,
                          tile_sample_stride_width=64)
        theirs = vae.decode(z).sample
    assert ours.shape == whole.shape
    err, ref_err = (ours - whole).abs().mean(), (theirs - whole).abs().mean()
    assert err <= ref_err and err < 0.15 * whole.abs().mean(), (float(err), float(ref_err))


def test_streaming_encode_gives_the_stock_encode_and_tiles_stay_close():
    from engine.dit.vae import encode_frames

    vae = tiny_vae()
    g = torch.Generator().manual_seed(4)
    x = torch.nn.functional.avg_pool3d(torch.randn(1, 3, 9, 192, 256, generator=g), 5, 1, 2).clamp(-1, 1)
    chunks = [x[:, :, :1]] + [x[:, :, 1 + 4 * i:5 + 4 * i] for i in range(2)]
    with torch.no_grad():
        want = vae.encode(x).latent_dist.mode()
        whole = torch.cat(list(encode_frames(vae, chunks)), 2)
        one = torch.cat(list(encode_frames(vae, chunks, tile=32, overlap=4)), 2)
        tiled = torch.cat(list(encode_frames(vae, chunks, tile=12, overlap=4)), 2)
        vae.enable_tiling(tile_sample_min_height=96, tile_sample_min_width=96, tile_sample_stride_height=64,
                          tile_sample_stride_width=64)
        theirs = vae.encode(x).latent_dist.mode()
    torch.testing.assert_close(whole, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(one, whole, atol=1e-6, rtol=1e-6)
    assert (tiled - whole).abs().mean() <= (theirs - whole).abs().mean() * 1.05


def test_a_wan_2_2_style_vae_with_2x2_patches_streams_like_its_stock_encode_and_decode():
    from engine.dit.vae import encode_frames

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=16, decoder_base_dim=16, z_dim=8, in_channels=12, out_channels=12,
                           dim_mult=[1, 2, 2, 2], num_res_blocks=1, temperal_downsample=[False, True, True],
                           is_residual=True, patch_size=2, scale_factor_spatial=16,
                           latents_mean=[0.0] * 8, latents_std=[1.0] * 8).eval()
    x = torch.randn(1, 3, 5, 64, 96, generator=torch.Generator().manual_seed(5)).clamp(-1, 1)
    with torch.no_grad():
        z = torch.cat(list(encode_frames(vae, [x[:, :, :1], x[:, :, 1:5]])), 2)
        torch.testing.assert_close(z, vae.encode(x).latent_dist.mode(), atol=1e-5, rtol=1e-5)
        pixels = torch.cat(list(decode_frames(vae, z)), 2)
        torch.testing.assert_close(pixels, vae.decode(z).sample, atol=1e-5, rtol=1e-5)


def test_tiled_decode_and_encode_build_their_buffers_on_the_vaes_device():
    """Run on the ``meta`` device (shapes only, no data): a buffer or a tile weight made on
    the CPU while the VAE is elsewhere (a GPU) fails here as it would on CUDA."""
    from engine.dit.vae import encode_frames

    vae = tiny_vae().to("meta")
    with torch.no_grad():
        for tile in (None, 4):
            pixels = list(decode_frames(vae, torch.randn(1, 4, 2, 6, 8, device="meta"), tile=tile, overlap=2))
            assert [p.shape for p in pixels] == [(1, 3, 1, 48, 64), (1, 3, 4, 48, 64)]
            assert all(p.device.type == "meta" for p in pixels)
            chunks = [torch.randn(1, 3, 1, 48, 64, device="meta"), torch.randn(1, 3, 4, 48, 64, device="meta")]
            latents = list(encode_frames(vae, iter(chunks), tile=tile, overlap=2))
            assert all(z.shape == (1, 4, 1, 6, 8) and z.device.type == "meta" for z in latents)
