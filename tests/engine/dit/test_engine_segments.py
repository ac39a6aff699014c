"""What the DiT engine feeds the transformer, window by window, watched with a spy.

PAI-Studio's method lives in the segments the engine builds, not in its report: the target
window and the plate's same window at the window's positions, every reference at the
position of the frame it anchors (temporal PE cloning, across windows too), the conditions
clean (timestep 0), the target at the scheduler's own timestep (float32, not rounded by a
bf16 transformer), and classifier-free guidance on the text only.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel

import engine.dit.engine as dit_engine
from engine.dit.engine import DitParams, DitReplaceEngine
from engine.dit.sequence import reference_positions
from engine.interface import Reference

Z = 4


def tiny_parts(seed: int = 0):
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=8, z_dim=Z, dim_mult=[1, 1, 1, 1], num_res_blocks=1, latents_mean=[0.0] * Z,
                           latents_std=[1.0] * Z).eval()
    model = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=Z,
                                  out_channels=Z, text_dim=16, freq_dim=16, ffn_dim=32, num_layers=2,
                                  rope_max_seq_len=64).eval()
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    return model, vae, scheduler


def shot(count: int = 13, h: int = 32, w: int = 48):
    rng = np.random.default_rng(0)
    return [rng.random((h, w, 3), dtype=np.float32) for _ in range(count)]


class Spy:
    """Records every in-context forward (its segments and text) and every window prediction
    the sampler gets back, delegating to the real functions."""

    def __init__(self, monkeypatch):
        self.forwards, self.windows, self.plate = [], [], None
        real_forward, real_sample, real_encode = (dit_engine.in_context_forward, dit_engine.sample,
                                                  DitReplaceEngine._encode_all)

        def forward(model, segments, text):
            out = real_forward(model, segments, text)
            self.forwards.append({"segments": [(seg.latents.detach().clone(), list(seg.t_positions),
                                                seg.timestep.detach().clone(), seg.predict) for seg in segments],
                                  "text": text, "out": out[0].detach().float().clone(), "model": model})
            return out

        def sample(window_model, scheduler, noise, *args, **kwargs):
            def watched(lat, span, t):
                pred = window_model(lat, span, t)
                self.windows.append({"span": span, "t": t.detach().clone(), "lat": lat.detach().clone(),
                                     "pred": pred.detach().clone()})
                return pred
            return real_sample(watched, scheduler, noise, *args, **kwargs)

        def encode_all(engine, *args):
            self.plate = real_encode(engine, *args)
            return self.plate

        monkeypatch.setattr(dit_engine, "in_context_forward", forward)
        monkeypatch.setattr(dit_engine, "sample", sample)
        monkeypatch.setattr(DitReplaceEngine, "_encode_all", encode_all)


def run(monkeypatch, anchors=(0, 12), guidance=3.0, dtype=torch.float32, steps=2, window=2, overlap=1):
    spy = Spy(monkeypatch)
    model, vae, scheduler = tiny_parts()
    frames = shot()
    prompt, negative = torch.randn(1, 5, 16, generator=torch.Generator().manual_seed(1)), torch.zeros(1, 5, 16)
    engine = DitReplaceEngine(model.to(dtype), vae, scheduler, prompt, negative,
                              DitParams(steps=steps, guidance=guidance, window=window, overlap=overlap, tile=None,
                                        dtype=dtype))
    engine.analyse(lambda: iter(frames), len(frames), [Reference(frames[a], a) for a in anchors])
    return spy, engine, prompt, negative


def test_every_reference_sits_at_its_anchored_frame_relative_to_each_window(monkeypatch):
    """13 frames -> 4 latent frames in windows of 2 overlapping by 1: (0, 2), (1, 3), (2, 4).
    The still of pixel frame 0 (latent 0) and of frame 12 (latent 3) are in every window, at
    their own frame's position relative to the window, never moved to its edge or to 0."""
    spy, engine, _, _ = run(monkeypatch, guidance=1.0)
    seen = {}
    for call in spy.forwards:
        target, plate, *refs = call["segments"]
        (s, e), = {w["span"] for w in spy.windows if torch.equal(w["lat"], target[0].float())}
        shift = target[1][0]
        assert target[1] == plate[1] == list(range(shift, shift + e - s))
        seen[(s, e)] = [r[1][0] - shift for r in refs]  # relative to the window's first frame
    assert seen == {(0, 2): [0, 3], (1, 3): [-1, 2], (2, 4): [-2, 1]}
    assert engine.report["references"] == [{"anchor_latent": 0}, {"anchor_latent": 3}]


def test_the_plate_is_sliced_per_window_and_conditions_are_clean_at_timestep_0(monkeypatch):
    spy, _, _, _ = run(monkeypatch, guidance=1.0)
    assert spy.plate is not None and len(spy.forwards) == len(spy.windows) > 3
    for call, window in zip(spy.forwards, spy.windows):
        (lat, _, t_target, predict), (plate, _, t_plate, plate_predict), *refs = call["segments"]
        s, e = window["span"]
        assert predict and not plate_predict and not any(r[3] for r in refs)
        assert torch.equal(plate, spy.plate[:, :, s:e])
        assert torch.equal(lat, window["lat"])
        assert float(t_target) == float(window["t"][0]) > 0
        assert float(t_plate) == 0.0 and all(float(r[2]) == 0.0 for r in refs)


def test_guidance_is_on_the_text_only(monkeypatch):
    """Two forwards per window and step, identical segments, the prompt then the negative;
    the prediction is uncond + g (cond - uncond)."""
    spy, _, prompt, negative = run(monkeypatch, guidance=3.0)
    assert len(spy.forwards) == 2 * len(spy.windows)
    for i, window in enumerate(spy.windows):
        cond, uncond = spy.forwards[2 * i], spy.forwards[2 * i + 1]
        assert torch.equal(cond["text"], prompt) and torch.equal(uncond["text"], negative)
        for a, b in zip(cond["segments"], uncond["segments"]):
            assert torch.equal(a[0], b[0]) and a[1] == b[1] and torch.equal(a[2], b[2])
        expected = uncond["out"] + 3.0 * (cond["out"] - uncond["out"])
        torch.testing.assert_close(window["pred"], expected)
        assert not torch.allclose(cond["out"], uncond["out"])  # the text does change the prediction


def test_a_bf16_transformer_gets_the_schedulers_exact_timesteps_and_float32_latents(monkeypatch):
    spy, _, _, _ = run(monkeypatch, guidance=1.0, dtype=torch.bfloat16, steps=30)
    schedule = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    schedule.set_timesteps(30)
    given = sorted({float(w["t"][0]) for w in spy.windows}, reverse=True)
    assert given == [float(t) for t in schedule.timesteps]
    targets = sorted({float(c["segments"][0][2][0]) for c in spy.forwards}, reverse=True)
    assert targets == given  # not 999 -> 1000 as bf16 would round them
    assert all(c["segments"][0][2].dtype == torch.float32 for c in spy.forwards)
    assert all(w["lat"].dtype == torch.float32 and w["pred"].dtype == torch.float32 for w in spy.windows)


def test_a_bf16_run_matches_the_float32_run(monkeypatch):
    """2 steps of the tiny config: the sampled latents of a bf16 transformer are within 2%
    (relative) of the float32 run's."""
    _, fp32, _, _ = run(monkeypatch, guidance=3.0, dtype=torch.float32, steps=2)
    _, bf16, _, _ = run(monkeypatch, guidance=3.0, dtype=torch.bfloat16, steps=2)
    assert fp32._latents.dtype == bf16._latents.dtype == torch.float32
    err = (bf16._latents - fp32._latents).norm() / fp32._latents.norm()
    assert err < 0.02


def test_reference_positions_shift_together_and_drop_only_beyond_the_table():
    assert reference_positions([0, 12], 4, 8, 64) == ([0, 12], 4)  # 0 is 4 before the window: all moved up 4
    assert reference_positions([5], 4, 8, 64) == ([1], 0)
    # 0 and 6 are 90 and 84 frames back: beyond a 16-row table; 100 is 6 past the window's end
    assert reference_positions([0, 100, 6], 90, 95, 16) == ([None, 10, None], 0)
    # 10 before and 6 after: 21 rows together; the nearer (after the window) is kept
    assert reference_positions([80, 100], 90, 95, 16) == ([None, 10], 0)
    assert reference_positions([80], 90, 95, 16) == ([0], 10)
    with pytest.raises(ValueError):
        reference_positions([], 0, 20, 16)


def test_a_reference_beyond_the_rotary_table_is_dropped_and_reported(monkeypatch):
    spy = Spy(monkeypatch)
    model, vae, scheduler = tiny_parts()
    model.rope.max_seq_len = 3  # a table of 3 temporal rows: windows of 2 and a reference 3 frames away
    frames = shot()
    engine = DitReplaceEngine(model, vae, scheduler, torch.randn(1, 5, 16), None,
                              DitParams(steps=1, guidance=1.0, window=2, overlap=1, tile=None))
    engine.analyse(lambda: iter(frames), len(frames), [Reference(frames[0], 0)])
    assert {tuple(d["window"]) for d in engine.report["references_dropped"]} == {(2, 4)}
    assert len(spy.forwards[-1]["segments"]) == 2  # the last window runs without it


def test_a_two_expert_wan_denoises_below_its_boundary_with_the_second_expert(monkeypatch):
    spy = Spy(monkeypatch)
    model, vae, scheduler = tiny_parts()
    second = tiny_parts(seed=1)[0]
    frames = shot()
    engine = DitReplaceEngine(model, vae, scheduler, torch.randn(1, 5, 16), None,
                              DitParams(steps=6, guidance=1.0, window=2, overlap=1, tile=None),
                              low_noise=(second, 500.0))
    engine.analyse(lambda: iter(frames), len(frames), [Reference(frames[0], 0)])
    assert len(spy.forwards) == len(spy.windows)
    used = [(float(w["t"][0]), call["model"]) for w, call in zip(spy.windows, spy.forwards)]
    assert {m is second for t, m in used if t < 500} == {True} and {m is model for t, m in used if t >= 500} == {True}
    assert engine.report["low_noise_expert_below_timestep"] == 500.0
