"""The DiT replace engine on tiny random components of both Wan layouts."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel

from engine.dit.engine import DitParams, DitReplaceEngine
from engine.interface import Reference

LAYOUTS = {
    "wan2.1": (dict(base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1), 4, 8),
    "wan2.2": (dict(base_dim=16, decoder_base_dim=16, z_dim=8, in_channels=12, out_channels=12, dim_mult=[1, 2, 2, 2],
                    num_res_blocks=1, temperal_downsample=[False, True, True], is_residual=True, patch_size=2,
                    scale_factor_spatial=16), 8, 16),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_engine_yields_every_frame_of_the_shot_for_both_vae_layouts(layout):
    vae_cfg, z, scale = LAYOUTS[layout]
    torch.manual_seed(0)
    vae = AutoencoderKLWan(**vae_cfg, latents_mean=[0.0] * z, latents_std=[1.0] * z).eval()
    model = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=z,
                                  out_channels=z, text_dim=16, freq_dim=16, ffn_dim=32, num_layers=2,
                                  rope_max_seq_len=64).eval()
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    rng = np.random.default_rng(0)
    h, w = 2 * scale * 2 - 5, 3 * scale * 2 - 3  # padded to two tokens by three after the VAE and the patch
    frames = [rng.random((h, w, 3), dtype=np.float32) for _ in range(7)]  # padded to 9, trimmed back
    still = rng.random((3 * h, 2 * w, 3), dtype=np.float32)  # another size and shape: scaled to cover, cropped
    engine = DitReplaceEngine(model, vae, scheduler, torch.randn(1, 5, 16), None,
                              DitParams(steps=2, window=2, overlap=1, tile=None))
    out = list(engine.replace(lambda: iter(frames), 7, [Reference(still, 0), Reference(frames[6], 6)]))
    assert len(out) == 7 and all(f.comp.shape == (h, w, 3) and np.isfinite(f.comp).all() for f in out)
    assert engine.report["padded_frames"] == 9 and engine.report["latent_frames"] == 3
    assert [r["anchor_latent"] for r in engine.report["references"]] == [0, 2]


def test_a_reference_is_scaled_to_cover_the_frame_and_centre_cropped():
    from engine.dit.engine import fit_reference

    still = np.zeros((100, 300, 3), np.float32)
    still[:, 100:200] = 1.0  # the middle third
    fitted = fit_reference(still, 50, 50)  # 100x300 -> 50x150 -> the middle 50 columns
    assert fitted.shape == (50, 50, 3) and fitted[:, 5:45].min() > 0.99
    assert fit_reference(still[..., :2].repeat(2, -1)[..., :3], 100, 300).shape == (100, 300, 3)
