"""LoRA files in the layouts trainers write, merged into the DiT transformer."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from paicli.engines.checkpoints import init_tiny, load_component
from paicli.engines.lora import apply_lora
from paicli.errors import ConfigError

WAN_NAMES = {"attn1.to_q": "self_attn.q", "attn1.to_k": "self_attn.k", "attn1.to_v": "self_attn.v",
             "attn1.to_out.0": "self_attn.o", "attn2.to_q": "cross_attn.q", "attn2.to_k": "cross_attn.k",
             "attn2.to_v": "cross_attn.v", "attn2.to_out.0": "cross_attn.o", "ffn.net.0.proj": "ffn.0",
             "ffn.net.2": "ffn.2"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    init_tiny(d, seed=3)
    return d


def every_block_layer(model, rank=2, alpha=8.0, seed=0):
    """A rank-``rank`` LoRA on every linear layer of every block, diffusers names:
    {layer: (A, B, alpha)}."""
    g = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    layers = {}
    for i in range(len(model.blocks)):
        for ours in WAN_NAMES:
            w = params[f"blocks.{i}.{ours}.weight"]
            layers[f"blocks.{i}.{ours}"] = (torch.randn(rank, w.shape[1], generator=g),
                                            torch.randn(w.shape[0], rank, generator=g), alpha)
    return layers


def merged(model, layers, scale=1.0):
    """The model's weights with ``layers`` merged by hand: W + scale * alpha / rank * B @ A."""
    out = {k: v.detach().clone() for k, v in model.named_parameters()}
    for name, (a, b, alpha) in layers.items():
        out[f"{name}.weight"] += scale * alpha / a.shape[0] * (b @ a)
    return out


def assert_weights(model, want):
    for k, v in model.named_parameters():
        torch.testing.assert_close(v, want[k], rtol=1e-5, atol=1e-5)


def test_a_lora_is_merged_into_the_layers_it_names(tiny, tmp_path):
    model = load_component(tiny, "transformer")
    w = model.blocks[0].attn1.to_q.weight.detach().clone()
    a, b = torch.randn(2, w.shape[1]), torch.randn(w.shape[0], 2)
    save_file({"transformer.blocks.0.attn1.to_q.lora_A.weight": a,
               "transformer.blocks.0.attn1.to_q.lora_B.weight": b,
               "transformer.blocks.0.attn1.to_q.alpha": torch.tensor(1.0)}, str(tmp_path / "l.safetensors"))
    assert apply_lora(model, tmp_path / "l.safetensors", scale=0.5) == 1
    torch.testing.assert_close(model.blocks[0].attn1.to_q.weight, w + 0.5 * 0.5 * (b @ a))


def test_a_lora_for_layers_the_model_lacks_is_refused(tiny, tmp_path):
    save_file({"blocks.9.ffn.proj.lora_A.weight": torch.zeros(2, 4), "blocks.9.ffn.proj.lora_B.weight": torch.zeros(4, 2)},
              str(tmp_path / "l.safetensors"))
    with pytest.raises(ConfigError, match="blocks.9"):
        apply_lora(load_component(tiny, "transformer"), tmp_path / "l.safetensors")


def test_lora_alpha_in_diffusers_metadata_sets_the_strength(tiny, tmp_path):
    """An r=2, alpha=8 LoRA saved by diffusers keeps alpha in the file's metadata, not as
    tensors: it merges at alpha / r = 4, not at 1 (a quarter of its strength)."""
    model = load_component(tiny, "transformer")
    layers = every_block_layer(model, rank=2, alpha=8.0)
    want = merged(model, layers)
    meta = {"lora_adapter_metadata": json.dumps({"transformer.r": 2, "transformer.lora_alpha": 8})}
    save_file({f"transformer.{n}.lora_A.weight": a for n, (a, _, _) in layers.items()}
              | {f"transformer.{n}.lora_B.weight": b for n, (_, b, _) in layers.items()},
              str(tmp_path / "pytorch_lora_weights.safetensors"), metadata=meta)
    apply_lora(model, tmp_path / "pytorch_lora_weights.safetensors")
    assert_weights(model, want)


def test_peft_adapter_config_beside_the_weights_sets_alpha_and_its_patterns(tiny, tmp_path):
    model = load_component(tiny, "transformer")
    layers = every_block_layer(model, rank=2, alpha=4.0)
    layers["blocks.0.ffn.net.2"] = (*layers["blocks.0.ffn.net.2"][:2], 16.0)  # alpha_pattern for one layer
    want = merged(model, layers)
    save_file({f"base_model.model.{n}.lora_A.weight": a for n, (a, _, _) in layers.items()}
              | {f"base_model.model.{n}.lora_B.weight": b for n, (_, b, _) in layers.items()},
              str(tmp_path / "adapter_model.safetensors"))
    (tmp_path / "adapter_config.json").write_text(json.dumps(
        {"r": 2, "lora_alpha": 4, "alpha_pattern": {"blocks.0.ffn.net.2": 16}, "peft_type": "LORA"}))
    apply_lora(model, tmp_path / "adapter_model.safetensors")
    assert_weights(model, want)


@pytest.mark.parametrize("layout", ["wan", "diffsynth", "musubi"])
def test_original_wan_diffsynth_and_kohya_musubi_loras_merge_as_their_diffusers_equivalent(tiny, tmp_path, layout):
    model = load_component(tiny, "transformer")
    layers = every_block_layer(model, rank=2, alpha=8.0)
    want = merged(model, layers, scale=0.5)
    tensors = {}
    for name, (a, b, alpha) in layers.items():
        block, layer = name.split(".", 2)[1], name.split(".", 2)[2]
        wan = f"blocks.{block}.{WAN_NAMES[layer]}"
        if layout == "musubi":
            key = "lora_unet_" + wan.replace(".", "_")
            tensors |= {f"{key}.lora_down.weight": a, f"{key}.lora_up.weight": b, f"{key}.alpha": torch.tensor(alpha)}
        elif layout == "diffsynth":
            tensors |= {f"{wan}.lora_A.default.weight": a, f"{wan}.lora_B.default.weight": b,
                        f"{wan}.alpha": torch.tensor(alpha)}
        else:
            tensors |= {f"diffusion_model.{wan}.lora_down.weight": a, f"diffusion_model.{wan}.lora_up.weight": b,
                        f"diffusion_model.{wan}.alpha": torch.tensor(alpha)}
    save_file(tensors, str(tmp_path / "l.safetensors"))
    assert apply_lora(model, tmp_path / "l.safetensors", scale=0.5) == len(layers)
    assert_weights(model, want)


def test_a_musubi_lora_with_layers_missing_is_refused_in_one_line(tiny, tmp_path):
    save_file({"lora_unet_blocks_0_self_attn_q.lora_down.weight": torch.zeros(2, 4),
               "lora_unet_blocks_0_self_attn_q.lora_up.weight": torch.zeros(4, 2),
               "lora_unet_blocks_0_self_attn_q.alpha": torch.tensor(2.0)}, str(tmp_path / "l.safetensors"))
    with pytest.raises(ConfigError, match="kohya/musubi"):
        apply_lora(load_component(tiny, "transformer"), tmp_path / "l.safetensors")
