"""DiT checkpoints: the tiny random one, and the loader real weights go through (safetensors only)."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from paicli.engines.checkpoints import describe, init_tiny, load_component
from paicli.cli import run
from paicli.errors import ConfigError, EngineUnavailableError, MissingInputError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    init_tiny(d, seed=3)
    return d


def _copy(tiny, tmp_path):
    import shutil

    return shutil.copytree(tiny, tmp_path / "ckpt")


def test_the_tiny_checkpoint_loads_through_the_real_loader_and_is_seeded(tiny, tmp_path):
    model = load_component(tiny, "transformer")
    vae = load_component(tiny, "vae")
    assert type(model).__name__ == "WanTransformer3DModel" and type(vae).__name__ == "AutoencoderKLWan"
    saved = load_file(str(tiny / "transformer" / "diffusion_pytorch_model.safetensors"))
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    init_tiny(tmp_path / "again", seed=3)
    assert describe(tmp_path / "again")["sha256"] == describe(tiny)["sha256"]


def test_info_describes_components_sizes_and_hash(tiny, capsys):
    assert run(["model", "info", str(tiny), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["summary"]
    assert doc["tiny"] is True and doc["scheduler"] == "UniPCMultistepScheduler" and doc["tokenizer"]
    assert doc["components"]["text_encoder"]["class"] == "UMT5EncoderModel" and not doc["prompt_embeds"]
    tr = doc["components"]["transformer"]
    assert tr["class"] == "WanTransformer3DModel" and tr["num_layers"] == 2 and tr["parameters"] > 0
    assert tr["dtypes"] == ["F32"] and len(doc["sha256"]) == 64


def test_init_tiny_reports_every_file_it_wrote(tmp_path, capsys):
    assert run(["model", "init-tiny", str(tmp_path / "t"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    paths = {o["path"] for o in doc["outputs"]}
    assert str(tmp_path / "t" / "transformer" / "diffusion_pytorch_model.safetensors") in paths
    assert all(o["kind"] == "model" for o in doc["outputs"])


def test_pickled_weights_are_refused(tiny, tmp_path):
    d = _copy(tiny, tmp_path)
    (d / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    (d / "vae" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04not loaded")
    with pytest.raises(ConfigError, match="safetensors only"):
        load_component(d, "vae")


def test_a_missing_component_makes_the_engine_unavailable(tiny, tmp_path):
    d = _copy(tiny, tmp_path)
    import shutil

    shutil.rmtree(d / "transformer")
    with pytest.raises(EngineUnavailableError, match="transformer"):
        load_component(d, "transformer")


def test_missing_tensors_are_named_by_their_module_in_one_line(tiny, tmp_path):
    d = _copy(tiny, tmp_path)
    f = d / "transformer" / "diffusion_pytorch_model.safetensors"
    state = load_file(str(f))
    dropped = {k: v for k, v in state.items() if not k.startswith("blocks.1.ffn")}
    save_file(dropped, str(f))
    with pytest.raises(ConfigError) as e:
        load_component(d, "transformer")
    assert "blocks.1" in str(e.value) and "\n" not in str(e.value)


def test_weights_that_do_not_match_the_config_are_refused(tiny, tmp_path):
    d = _copy(tiny, tmp_path)
    cfg = json.loads((d / "transformer" / "config.json").read_text())
    cfg["ffn_dim"] = 48
    (d / "transformer" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="the config needs"):
        load_component(d, "transformer")


def test_a_missing_checkpoint_is_missing_input(tmp_path, capsys):
    assert run(["model", "info", str(tmp_path / "none")]) == 66
    assert "no such checkpoint" in capsys.readouterr().err
    with pytest.raises(MissingInputError):
        describe(tmp_path / "none")


def test_the_structured_prompt_is_encoded_as_the_stock_wan_pipeline_encodes_text(tiny):
    from diffusers import WanPipeline

    from engine.dit.text import encode_prompt
    from paicli.engines.checkpoints import MAX_TEXT_TOKENS, load_tokenizer

    tokenizer, encoder = load_tokenizer(tiny), load_component(tiny, "text_encoder")
    texts = ['{"scene": "a lake &amp; hills",  "lighting": "dusk"}', ""]
    ours = encode_prompt(tokenizer, encoder, texts, MAX_TEXT_TOKENS)
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=encoder, transformer=None, vae=None, scheduler=None)
    stock = pipe._get_t5_prompt_embeds(texts, max_sequence_length=MAX_TEXT_TOKENS, device="cpu",
                                      dtype=torch.float32)
    torch.testing.assert_close(ours, stock)
    assert ours.shape == (2, MAX_TEXT_TOKENS, 16) and ours[1, 1:].abs().sum() == 0 and ours[0, 20].abs().sum() > 0


def _original_wan_names(state: dict) -> dict:
    """diffusers' transformer names back to the original Wan release's (as single files carry them)."""
    renames = [("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
               ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
               ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
               ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
               ("condition_embedder.time_proj", "time_projection.1"), ("attn1", "self_attn"), ("attn2", "cross_attn"),
               (".to_out.0.", ".o."), (".to_q.", ".q."), (".to_k.", ".k."), (".to_v.", ".v."),
               ("ffn.net.0.proj", "ffn.0"), ("ffn.net.2", "ffn.2"), (".norm2.", ".normX."), (".norm3.", ".norm2."),
               (".normX.", ".norm3."), (".scale_shift_table", ".modulation"), ("proj_out", "head.head")]
    out = {}
    for key, value in state.items():
        for a, b in renames:
            key = key.replace(a, b)
        out["model.diffusion_model." + ("head.modulation" if key == "scale_shift_table" else key)] = value
    return out


def test_a_single_file_transformer_in_the_original_wan_layout_loads_with_a_local_config(tiny, tmp_path):
    stock = load_component(tiny, "transformer")
    original = _original_wan_names(stock.state_dict())
    assert "model.diffusion_model.blocks.0.self_attn.q.weight" in original
    save_file(original, str(tmp_path / "wan.safetensors"))
    model = load_component(tiny, "transformer", weights=tmp_path / "wan.safetensors")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in stock.state_dict().items())
    save_file({k: v for k, v in original.items() if ".ffn." not in k}, str(tmp_path / "cut.safetensors"))
    with pytest.raises(ConfigError, match=r"weights missing for blocks\.0.*cut\.safetensors|cut\.safetensors.*blocks\.0"):
        load_component(tiny, "transformer", weights=tmp_path / "cut.safetensors")


def test_the_loader_allocates_nothing_before_the_names_and_shapes_are_checked(tiny, tmp_path, monkeypatch):
    import paicli.engines.checkpoints as ck

    d = _copy(tiny, tmp_path)
    cfg = json.loads((d / "transformer" / "config.json").read_text())
    cfg["num_layers"] = 400  # a model far larger than the file: refused before anything is built for real
    (d / "transformer" / "config.json").write_text(json.dumps(cfg))
    reads, read = [], ck._read_weights
    monkeypatch.setattr(ck, "_read_weights", lambda files, header_only: reads.append(header_only) or read(files, header_only))
    with pytest.raises(ConfigError, match="weights missing"):
        load_component(d, "transformer")
    assert reads == [True]
