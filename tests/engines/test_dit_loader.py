"""The DiT loader: checkpoint layouts it refuses up front, two-expert Wan 2.2, the sampler's
shift and text embeddings encoded once per prompt (tiny random checkpoints)."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

import paicli.engines.dit as dit
from paicli.cli import run
from paicli.engines.checkpoints import init_tiny
from paicli.errors import ConfigError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    init_tiny(root / "tiny", seed=1)
    init_tiny(root / "other", seed=2)
    return root


def loader(model, **kw):
    args = dict(steps=2, guidance=1.0, window=2, overlap=1, seed=0, device="cpu", tile=None)
    return dit.DitLoader(model, **{**args, **kw})


def edit(path, **changes):
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, **changes}))


def test_an_image_to_video_checkpoint_is_refused_before_anything_is_read(tiny, tmp_path, capsys):
    model = shutil.copytree(tiny / "tiny", tmp_path / "i2v")
    edit(model / "transformer" / "config.json", in_channels=36)  # 16 latent + 4 mask + 16 image channels
    with pytest.raises(ConfigError, match="image-to-video"):
        loader(model)
    code = run(["replace", str(tmp_path / "no-such-shot.mov"), "--bg", str(tmp_path), "-o", str(tmp_path / "out"),
                "--engine", "dit", "--model", str(model)])
    err = capsys.readouterr().err
    assert code == 78 and "takes 36 latent channels" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def two_experts(tiny, tmp_path, ratio=0.5):
    model = shutil.copytree(tiny / "tiny", tmp_path / "a14b")
    shutil.copytree(tiny / "other" / "transformer", model / "transformer_2")
    edit(model / "model_index.json", transformer_2=["diffusers", "WanTransformer3DModel"], boundary_ratio=ratio)
    return model


def test_a_two_expert_wan_loads_both_and_hands_the_low_noise_steps_to_the_second(tiny, tmp_path):
    engine = loader(two_experts(tiny, tmp_path)).build()
    second, boundary = engine.low_noise
    assert boundary == 500.0
    first_q, second_q = engine.model.blocks[0].attn1.to_q.weight, second.blocks[0].attn1.to_q.weight
    assert not torch.equal(first_q, second_q)  # the other expert's own weights
    assert dit.check_layout(tmp_path / "a14b") == {"boundary_ratio": 0.5}


@pytest.mark.parametrize("ratio", [None, 1.5, "x"])
def test_a_second_expert_without_a_usable_boundary_is_refused(tiny, tmp_path, ratio):
    with pytest.raises(ConfigError, match="boundary_ratio"):
        loader(two_experts(tiny, tmp_path, ratio))


def test_the_shift_option_sets_the_samplers_time_shift(tiny):
    assert loader(tiny / "tiny").build().scheduler.config.flow_shift == 3.0  # the checkpoint's
    engine = loader(tiny / "tiny", shift=7.0).build()
    assert engine.scheduler.config.flow_shift == 7.0 and engine.describe()["shift"] == 7.0


def test_the_text_encoder_runs_once_for_a_prompt_however_many_shots(tiny, monkeypatch):
    loads = []
    real = dit.load_component

    def counting(model, name, *args, **kwargs):
        loads.append(name)
        return real(model, name, *args, **kwargs)

    monkeypatch.setattr(dit, "load_component", counting)
    dit.EMBEDDINGS.clear()
    first = loader(tiny / "tiny").embeddings()
    again = loader(tiny / "tiny").embeddings()
    assert loads.count("text_encoder") == 1 and torch.equal(first[0], again[0])
    loader(tiny / "tiny", prompt=None, references=("another/still.png",)).embeddings()  # another prompt
    assert loads.count("text_encoder") == 2
