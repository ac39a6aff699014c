"""The training objective (engine.dit.train) on tiny random parts."""
from __future__ import annotations

import torch

import engine.dit.engine as inference
import engine.dit.sequence as sequence
import engine.dit.train as T
from test_engine_segments import Z, tiny_parts


def triplet(frames=4, refs=(0, 3), seed=0):
    g = torch.Generator().manual_seed(seed)
    lat = lambda f: torch.randn(1, Z, f, 4, 6, generator=g)  # noqa: E731
    return T.Triplet(lat(frames), lat(frames), [(a, lat(1)) for a in refs], torch.randn(1, 5, 16, generator=g))


def test_draws_come_from_seed_and_step_alone_and_stay_in_range():
    assert T.draw(3, 17, 10, 4, 3) == T.draw(3, 17, 10, 4, 3)
    draws = [T.draw(3, k, 10, 4, 3) for k in range(200)]
    assert len({(d.start, d.sigma) for d in draws}) > 150
    assert all(0 <= d.start and d.end == d.start + 4 <= 10 and 0 < d.sigma < 1 for d in draws)
    assert {len(d.references) for d in draws} == {1, 2, 3}
    assert all(len(set(d.references)) == len(d.references) for d in draws)
    assert T.draw(0, 0, 3, 21, 1).end == 3  # a short triplet is used whole
    # the time shift puts more draws at high noise, as Wan's sampler does
    assert sum(T.draw(0, k, 4, 4, 1, shift=5.0).sigma for k in range(200)) > sum(
        T.draw(0, k, 4, 4, 1, shift=1.0).sigma for k in range(200))


def test_training_builds_its_sequence_with_the_samplers_own_builder():
    assert T.window_segments is sequence.window_segments is inference.window_segments


def test_the_loss_is_the_velocity_error_on_the_target_tokens_only():
    model = tiny_parts()[0]
    trip = triplet()
    d = T.Draw(1, 3, 0.4, [1], 5)
    x0, eps, xt = T.noisy_window(trip, d)
    torch.testing.assert_close(xt, 0.6 * x0 + 0.4 * eps)
    with torch.no_grad():
        v = T.velocity(model, trip, d, xt)
        assert v.shape == x0.shape  # the target's window only: conditions are not predicted
        torch.testing.assert_close(T.flow_matching_loss(model, trip, d), torch.mean((v - (eps - x0)) ** 2))
        clean, true = T.predicted_clean(model, trip, d)
        torch.testing.assert_close(clean, xt - 0.4 * v)
        torch.testing.assert_close(true, x0)


def test_a_lora_starts_as_the_identity_and_only_its_weights_train():
    model = tiny_parts()[0]
    trip = triplet()
    d = T.Draw(0, 2, 0.7, [0, 1], 1)
    with torch.no_grad():
        before = T.velocity(model, trip, d, T.noisy_window(trip, d)[2])
    params = T.add_lora(model, rank=2, alpha=2.0)
    with torch.no_grad():
        torch.testing.assert_close(T.velocity(model, trip, d, T.noisy_window(trip, d)[2]), before)
    assert params and all(p.requires_grad for p in params)
    assert not any(p.requires_grad for n, p in model.named_parameters() if "lora_" not in n)
    T.flow_matching_loss(model, trip, d, checkpoint=True).backward()
    assert all(p.grad is not None for p in params)  # gradient checkpointing keeps every gradient
    state = T.lora_state(model)
    assert state and all(".lora_A." in k or ".lora_B." in k for k in state)
    assert not any(".default" in k for k in state)  # diffusers' names: what --lora loads
