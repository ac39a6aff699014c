"""``paicli replace --engine dit`` end to end on a tiny random checkpoint (CPU, seconds)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from paicli.cli import run


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from paicli.engines.checkpoints import init_tiny
    from paicli.shot.example import make_example_shot

    root = tmp_path_factory.mktemp("dit")
    make_example_shot(root / "shot", width=96, height=64, frames=9)
    init_tiny(root / "tiny", seed=1)
    return root


def _replace(setup, out, *extra):
    return run(["replace", str(setup / "shot" / "plate.mov"), "--bg", str(setup / "shot" / "refs"), "-o", str(out),
                "--engine", "dit", "--model", str(setup / "tiny"), "--steps", "2", "--window", "2", "--overlap", "1",
                "--format", "exr", "--progress", "none", "--json", *extra])


def _frames(folder):
    from paicli.media.exr import read_exr

    return [read_exr(p)[0] for p in sorted(folder.glob("plate_comp.*.exr"))]


def test_the_dit_engine_writes_the_comp_with_source_timing_and_a_sidecar(setup, tmp_path, capsys):
    assert _replace(setup, tmp_path / "a") == 0
    doc = json.loads(capsys.readouterr().out)
    kinds = {o["kind"]: o for o in doc["outputs"]}
    assert set(kinds) == {"comp", "sidecar"}  # no camera: the DiT engine tracks none
    assert kinds["comp"]["frame_count"] == 9 and kinds["comp"]["timecode"]["start"] == "01:00:00:00"
    side = json.loads((tmp_path / "a" / "plate_replace.json").read_text())
    assert side["engine"]["name"] == "dit" and len(side["engine"]["model_sha256"]) == 64
    assert side["report"]["padded_frames"] == 9 and side["report"]["windows"] == 2
    frames = _frames(tmp_path / "a")
    assert len(frames) == 9 and all(np.isfinite(f).all() for f in frames)


def test_the_same_seed_gives_the_same_frames_and_another_seed_does_not(setup, tmp_path, capsys):
    assert _replace(setup, tmp_path / "a") == 0
    assert _replace(setup, tmp_path / "b") == 0
    assert _replace(setup, tmp_path / "c", "--seed", "5") == 0
    capsys.readouterr()
    a, b, c = _frames(tmp_path / "a"), _frames(tmp_path / "b"), _frames(tmp_path / "c")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("case, code", [("no_model", 2), ("missing", 66), ("pickled", 78)])
def test_a_dit_run_without_usable_weights_fails_with_one_line(setup, tmp_path, capsys, case, code):
    import shutil

    argv = ["replace", str(setup / "shot" / "plate.mov"), "--bg", str(setup / "shot" / "refs"), "-o",
            str(tmp_path / "o"), "--engine", "dit", "--progress", "none"]
    if case == "missing":
        argv += ["--model", str(tmp_path / "nope")]
    elif case == "pickled":
        bad = shutil.copytree(setup / "tiny", tmp_path / "bad")
        (bad / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
        (bad / "transformer" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04")
        argv += ["--model", str(bad)]
    assert run(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").glob("plate_comp*"))


def test_keep_foreground_keeps_the_keyed_subject_under_a_smooth_relighting_gain(setup, tmp_path, capsys):
    import cv2

    assert _replace(setup, tmp_path / "k", "--keep-foreground", "--layers", "--despot", "4") == 0  # a tiny frame
    assert _replace(setup, tmp_path / "g") == 0
    capsys.readouterr()
    from paicli.media.exr import read_layers

    layers, _ = read_layers(tmp_path / "k" / "plate_layers.1004.exr")
    alpha = cv2.imread(str(setup / "shot" / "gt" / "alpha.0003.png"), cv2.IMREAD_UNCHANGED) / 65535.0
    solid = cv2.erode((alpha > 0.999).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    comp, generated = layers["rgba"][..., :3], _frames(tmp_path / "g")[3][..., :3]
    # the subject: the example's flat orange, times a gain that varies slowly; the tiny model's
    # own frame is noise there
    ratio = comp[solid] / np.array([0.55, 0.38, 0.28]) / 0.9
    assert np.std(np.diff(np.log(np.clip(comp, 1e-3, None))[solid], axis=0)) < np.std(
        np.diff(np.log(np.clip(generated, 1e-3, None))[solid], axis=0))
    assert np.isfinite(ratio).all()


def test_the_sidecar_records_the_structured_prompt_and_its_embeddings(setup, tmp_path, capsys):
    prompt = {"scene": "a mountain lake", "lighting": "overcast", "camera_motion": "pan", "subject": "a figure"}
    (tmp_path / "p.json").write_text(json.dumps(prompt))
    assert _replace(setup, tmp_path / "p", "--prompt", str(tmp_path / "p.json")) == 0
    capsys.readouterr()
    side = json.loads((tmp_path / "p" / "plate_replace.json").read_text())
    assert side["engine"]["prompt"] == prompt and side["engine"]["text_embeddings"] == "text_encoder"
    assert json.loads(side["engine"]["prompt_text"]) == prompt
    assert _replace(setup, tmp_path / "d") == 0  # the default prompt: another text, another result
    capsys.readouterr()
    assert not all(np.array_equal(x, y) for x, y in zip(_frames(tmp_path / "p"), _frames(tmp_path / "d")))
    assert _replace(setup, tmp_path / "q", "--prompt-embeds", str(tmp_path / "none.safetensors")) == 66


def test_precomputed_prompt_embeddings_replace_the_text_encoder(setup, tmp_path, capsys):
    import torch
    from safetensors.torch import save_file

    save_file({"prompt_embeds": torch.randn(1, 8, 16)}, str(tmp_path / "e.safetensors"))
    assert _replace(setup, tmp_path / "e", "--prompt-embeds", str(tmp_path / "e.safetensors")) == 0
    capsys.readouterr()
    side = json.loads((tmp_path / "e" / "plate_replace.json").read_text())
    assert side["engine"]["text_embeddings"] == str(tmp_path / "e.safetensors")
    save_file({"prompt_embeds": torch.randn(1, 8, 24)}, str(tmp_path / "w.safetensors"))
    assert _replace(setup, tmp_path / "w", "--prompt-embeds", str(tmp_path / "w.safetensors")) == 78
    assert "16" in capsys.readouterr().err


def test_a_single_transformer_file_runs_with_its_configs_from_a_local_folder(setup, tmp_path, capsys):
    import shutil

    assert _replace(setup, tmp_path / "a") == 0
    weights = shutil.copy(setup / "tiny" / "transformer" / "diffusion_pytorch_model.safetensors", tmp_path / "t.safetensors")
    argv = ["replace", str(setup / "shot" / "plate.mov"), "--bg", str(setup / "shot" / "refs"), "--engine", "dit",
            "--steps", "2", "--window", "2", "--overlap", "1", "--format", "exr", "--progress", "none",
            "--model", str(weights)]
    assert run([*argv, "-o", str(tmp_path / "b"), "--model-config", str(setup / "tiny")]) == 0
    assert all(np.array_equal(x, y) for x, y in zip(_frames(tmp_path / "a"), _frames(tmp_path / "b")))
    capsys.readouterr()
    assert run([*argv, "-o", str(tmp_path / "c")]) == 78
    assert "--model-config" in capsys.readouterr().err


def test_the_default_layers_carry_the_plates_key_as_the_matte(setup, tmp_path, capsys):
    import cv2

    from paicli.media.exr import read_layers

    assert _replace(setup, tmp_path / "l", "--layers", "--despot", "4") == 0  # a tiny frame
    capsys.readouterr()
    layers, _ = read_layers(tmp_path / "l" / "plate_layers.1004.exr")
    truth = cv2.imread(str(setup / "shot" / "gt" / "alpha.0003.png"), cv2.IMREAD_UNCHANGED) / 65535.0
    assert np.abs(layers["rgba"][..., 3] - truth).mean() < 0.05
    np.testing.assert_array_equal(layers["rgba"][..., :3], _frames(tmp_path / "l")[3][..., :3])


def test_light_perturbation_is_seeded_smooth_and_changes_the_condition(setup, tmp_path, capsys):
    from engine.dit.engine import light_perturbation

    gain = light_perturbation(64, 96, 1.0, seed=3)
    assert gain.shape == (64, 96, 3) and np.array_equal(gain, light_perturbation(64, 96, 1.0, seed=3))
    assert np.abs(np.diff(gain, axis=1)).max() < 0.05 and gain.max() / gain.min() > 1.3
    np.testing.assert_array_equal(light_perturbation(64, 96, 0.0, seed=3), np.ones((64, 96, 3), np.float32))
    assert _replace(setup, tmp_path / "a") == 0
    assert _replace(setup, tmp_path / "p", "--perturb-light", "0.8") == 0
    capsys.readouterr()
    assert not all(np.array_equal(x, y) for x, y in zip(_frames(tmp_path / "a"), _frames(tmp_path / "p")))
    side = json.loads((tmp_path / "p" / "plate_replace.json").read_text())
    assert side["engine"]["perturb_light"] == 0.8
