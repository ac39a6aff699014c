"""Chunked sampling: windows, seamless blend weights, one scheduler step per step."""
from __future__ import annotations

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

from engine.dit.chunking import blend_weights, plan_windows, predict, sample


def test_windows_cover_the_shot_with_at_least_the_overlap():
    assert plan_windows(10, 21, 4) == [(0, 10)]
    for frames, window, overlap in [(61, 21, 4), (40, 21, 8), (22, 21, 4), (100, 13, 6)]:
        ws = plan_windows(frames, window, overlap)
        assert ws[0][0] == 0 and ws[-1][1] == frames
        assert all(e - s == window for s, e in ws)
        assert all(a[1] - b[0] >= overlap for a, b in zip(ws, ws[1:]))


def test_blend_weights_sum_to_one_and_ramp_across_overlaps():
    ws = plan_windows(40, 21, 6)
    wts = blend_weights(40, ws)
    total = torch.zeros(40)
    for (s, e), w in zip(ws, wts):
        total[s:e] += w
    torch.testing.assert_close(total, torch.ones(40))
    first = wts[0]
    assert first[0] == 1 and torch.all(first[:-1] >= first[1:])  # never rises towards the seam


def _model(latents, window, t):
    """A stand-in denoiser whose prediction depends on each frame's own values and its position."""
    s, e = window
    pos = torch.arange(s, e, dtype=latents.dtype).view(1, 1, -1, 1, 1)
    return 0.5 * latents + 0.01 * pos * (t.view(-1, 1, 1, 1, 1) / 1000.0)


def test_a_blended_prediction_of_a_framewise_model_equals_the_unchunked_one():
    x = torch.randn(1, 2, 30, 3, 4)
    t = torch.tensor([500.0])
    ws = plan_windows(30, 11, 4)
    got = predict(_model, x, t, ws, blend_weights(30, ws))
    torch.testing.assert_close(got, _model(x, (0, 30), t))


@pytest.mark.parametrize("scheduler", [
    lambda: FlowMatchEulerDiscreteScheduler(shift=3.0),
    lambda: UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0),
])
def test_a_window_covering_the_shot_gives_unchunked_sampling_and_seeds_repeat(scheduler):
    noise = torch.randn(1, 2, 9, 3, 4, generator=torch.Generator().manual_seed(7))
    whole = sample(_model, scheduler(), noise, steps=6, window=9, overlap=4)
    again = sample(_model, scheduler(), noise.clone(), steps=6, window=9, overlap=4)
    torch.testing.assert_close(whole, again, atol=0, rtol=0)
    chunked = sample(_model, scheduler(), noise, steps=6, window=5, overlap=2)  # framewise model: no seams
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-5)


def test_the_scheduler_steps_once_per_step_however_many_windows():
    calls = []

    class Counting(FlowMatchEulerDiscreteScheduler):
        def step(self, *a, **k):
            calls.append(1)
            return super().step(*a, **k)

    sample(_model, Counting(shift=3.0), torch.randn(1, 2, 20, 2, 2), steps=4, window=6, overlap=2)
    assert len(calls) == 4
