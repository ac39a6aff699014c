"""``paicli model train`` on a tiny random checkpoint and a tiny dataset written here."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from paicli.cli import run
from paicli.engines.checkpoints import init_tiny, load_component
from paicli.media.exr import write_exr
from paicli.train.run import TrainSettings, train


def write_triplet(folder, seed, frames=5, h=32, w=48):
    """A subject square over a background that pans, the plate over a green screen."""
    rng = np.random.default_rng(seed)
    world = rng.random((h, w + 2 * frames, 3), dtype=np.float32) * 0.5
    for sub in ("plate", "target", "refs"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    alpha = np.zeros((h, w, 1), np.float32)
    alpha[8:24, 16:32] = 1.0
    for i in range(frames):
        bg = world[:, 2 * i:2 * i + w]
        subject = np.float32([0.6, 0.4, 0.3])
        write_exr(folder / "target" / f"target.{i:04d}.exr", alpha * subject + (1 - alpha) * bg)
        write_exr(folder / "plate" / f"plate.{i:04d}.exr", alpha * subject + (1 - alpha) * np.float32([0.1, 0.5, 0.1]))
        if i in (0, frames - 1):
            write_exr(folder / "refs" / f"ref.{i:04d}.exr", bg)
    (folder / "manifest.json").write_text(json.dumps({"version": 1, "id": folder.name, "kind": "matted",
                                                      "sources": [], "first_frame": 0, "frames": frames,
                                                      "width": w, "height": h, "fps": 24.0,
                                                      "anchors": [0, frames - 1], "caption": f"scene {seed % 2}",
                                                      "screen": "green", "seed": seed}))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    init_tiny(root / "tiny", seed=1)
    for i in range(2):
        write_triplet(root / "data" / f"t{i:04d}", seed=i)
    (root / "data" / "dataset.json").write_text(json.dumps({"version": 1, "triplets": ["t0000", "t0001"]}))
    return root


SETTINGS = dict(steps=6, learning_rate=1e-2, rank=2, alpha=4.0, window=2, save_every=3, variants=2, device="cpu")


def test_training_writes_a_lora_that_replace_loads_and_the_loss_falls(setup, tmp_path):
    done = train(setup / "data", setup / "tiny", tmp_path / "out", TrainSettings(**{**SETTINGS, "steps": 30}))
    losses = json.loads((tmp_path / "out" / "train.json").read_text())["losses"]
    assert len(losses) == 30 and all(np.isfinite(losses))
    summary = done["summary"]  # the same fixed draws before and after: it learns what it sees
    assert summary["fixed_loss_after"] < 0.9 * summary["fixed_loss_before"]
    with safe_open(str(tmp_path / "out" / "lora.safetensors"), "pt") as f:
        meta = json.loads(f.metadata()["lora_adapter_metadata"])
        keys = list(f.keys())
    assert meta["r"] == 2 and meta["lora_alpha"] == 4.0
    assert any(k.startswith("blocks.0.attn1.to_q.lora_A") for k in keys)
    from paicli.engines.lora import apply_lora

    model = load_component(setup / "tiny", "transformer")
    before = model.blocks[0].attn1.to_q.weight.detach().clone()
    assert apply_lora(model, tmp_path / "out" / "lora.safetensors") == len(keys) // 2
    assert not torch.equal(model.blocks[0].attn1.to_q.weight, before)
    assert {k for k, _ in done["files"]} == {"model", "report", "sidecar"}


def test_a_killed_run_resumed_follows_the_uninterrupted_loss_curve(setup, tmp_path, monkeypatch):
    whole = train(setup / "data", setup / "tiny", tmp_path / "a", TrainSettings(**SETTINGS))
    want = json.loads((tmp_path / "a" / "train.json").read_text())["losses"]

    calls = {"n": 0}
    real_step = torch.optim.AdamW.step

    def dies_at_step_5(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # killed after the step-3 checkpoint
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.AdamW, "step", dies_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        train(setup / "data", setup / "tiny", tmp_path / "b", TrainSettings(**SETTINGS))
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    assert json.loads((tmp_path / "b" / "checkpoint" / "state.json").read_text())["step"] == 3
    again = train(setup / "data", setup / "tiny", tmp_path / "b", TrainSettings(**SETTINGS))
    got = json.loads((tmp_path / "b" / "train.json").read_text())["losses"]
    assert again["summary"]["resumed_at"] == 3
    assert again["summary"]["fixed_loss_before"] == whole["summary"]["fixed_loss_before"]  # kept across the kill
    np.testing.assert_allclose(got, want, rtol=1e-5)
    a, b = load_file(str(tmp_path / "a" / "lora.safetensors")), load_file(str(tmp_path / "b" / "lora.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert whole["summary"]["resumed_at"] is None


def test_the_command_prints_its_files_and_refuses_a_missing_dataset(setup, tmp_path, capsys):
    code = run(["model", "train", str(setup / "data"), "--model", str(setup / "tiny"), "-o", str(tmp_path / "o"),
                "--steps", "2", "--rank", "2", "--window", "2", "--device", "cpu", "--progress", "none", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["summary"]["steps"] == 2
    assert {o["kind"] for o in doc["outputs"]} == {"model", "report", "sidecar"}
    code = run(["model", "train", str(tmp_path / "none"), "--model", str(setup / "tiny"), "-o", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 66 and "dataset.json" in err and len(err.strip().splitlines()) == 1
