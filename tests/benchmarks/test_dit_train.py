"""benchmarks/dit_train.py: its small model's VAE keeps time as a trained one does, so a
reference still can match the target's latent frame it anchors."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import dit_train  # noqa: E402

from engine.dit.engine import encode_clip  # noqa: E402
from paicli.engines.checkpoints import load_component  # noqa: E402


def test_a_still_of_frame_4k_encodes_as_latent_frame_k_of_the_clip(tmp_path):
    dit_train.small_checkpoint(tmp_path / "model", seed=3)
    vae = load_component(tmp_path / "model", "vae")
    clip = dit_train.triplet(np.random.default_rng(4))["target"]
    with torch.no_grad():
        whole = encode_clip(vae, clip, "cpu", dit_train.SIZE)
        for frame in dit_train.ANCHORS:
            still = encode_clip(vae, [clip[frame]], "cpu", dit_train.SIZE)
            k = (frame + 3) // 4
            assert torch.allclose(still[:, :, 0], whole[:, :, k], atol=1e-5), frame
            other = whole[:, :, (k + 1) % whole.shape[2]]
            assert not torch.allclose(still[:, :, 0], other, atol=1e-3)
