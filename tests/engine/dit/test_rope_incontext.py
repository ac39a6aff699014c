"""Temporal PE cloning and the in-context forward, on a tiny random Wan transformer."""
from __future__ import annotations

import pytest
import torch
from diffusers import WanTransformer3DModel

from engine.dit.incontext import Segment, in_context_forward
from engine.dit.rope import PositionalRope, grid_positions, install, latent_frame, latent_frames


def tiny_model(seed: int = 0) -> WanTransformer3DModel:
    torch.manual_seed(seed)
    model = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                  in_channels=4, out_channels=4, text_dim=16, freq_dim=16, ffn_dim=32,
                                  num_layers=2, rope_max_seq_len=64)
    return model.eval()


def test_pixel_frames_map_to_the_causal_vaes_latent_frames():
    assert [latent_frame(f) for f in (0, 1, 4, 5, 8, 47, 95)] == [0, 1, 1, 2, 2, 12, 24]
    assert latent_frames(97) == 25 and latent_frames(1) == 1
    with pytest.raises(ValueError):
        latent_frames(96)  # not 4k+1: the VAE would drop frames silently


def test_grid_positions_follow_the_patchified_token_order():
    t, h, w = grid_positions([0, 12], rows=2, cols=3)
    assert t.tolist() == [0] * 6 + [12] * 6
    assert h.tolist() == [0, 0, 0, 1, 1, 1] * 2
    assert w.tolist() == [0, 1, 2] * 4


def test_explicit_positions_0_to_n_reproduce_the_stock_rotary_tables_exactly():
    model = tiny_model()
    stock = model.rope
    latents = torch.zeros(1, 4, 3, 8, 10)  # 3 frames, 4 x 5 tokens per frame
    cos, sin = stock(latents)
    rope = PositionalRope.like(stock)
    cos2, sin2 = rope.at(*grid_positions(range(3), 4, 5))
    assert torch.equal(cos, cos2) and torch.equal(sin, sin2)


def test_installing_the_positional_rope_keeps_the_module_name_and_state_dict():
    model = tiny_model()
    before = model.state_dict()
    rope = install(model)
    assert model.rope is rope and isinstance(rope, PositionalRope)
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_positions_outside_the_table_are_refused():
    rope = PositionalRope.like(tiny_model().rope)
    with pytest.raises(ValueError, match="temporal position 64"):
        rope.at(*grid_positions([64], 1, 1))


def _inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(1, 4, 3, 8, 10, generator=g)
    fg = torch.randn(1, 4, 3, 8, 10, generator=g)
    ref = torch.randn(1, 4, 1, 8, 10, generator=g)
    text = torch.randn(1, 7, 16, generator=g)
    return video, fg, ref, text


def test_one_segment_at_positions_0_to_n_reproduces_the_stock_forward():
    model = tiny_model()
    video, _, _, text = _inputs()
    t = torch.tensor([500.0])
    with torch.no_grad():
        want = model(video, t, text, return_dict=False)[0]
        got = in_context_forward(model, [Segment(video, [0, 1, 2], t, predict=True)], text)[0]
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)


def test_shifting_every_temporal_position_together_leaves_the_output_unchanged():
    model = tiny_model()
    video, fg, ref, text = _inputs()
    t, zero = torch.tensor([700.0]), torch.tensor([0.0])

    def run(shift):
        segs = [Segment(video, [shift + i for i in range(3)], t, predict=True),
                Segment(fg, [shift + i for i in range(3)], zero),
                Segment(ref, [shift + 2], zero)]
        with torch.no_grad():
            return in_context_forward(model, segs, text)[0]

    torch.testing.assert_close(run(0), run(9), atol=1e-4, rtol=1e-4)


def test_a_reference_attends_as_the_frame_it_anchors():
    """Temporal PE cloning: a reference's temporal position binds it to a frame, so moving
    it changes the output."""
    model = tiny_model()
    video, fg, ref, text = _inputs()
    t, zero = torch.tensor([700.0]), torch.tensor([0.0])

    def run(ref_position):
        segs = [Segment(video, [0, 1, 2], t, predict=True), Segment(fg, [0, 1, 2], zero),
                Segment(ref, [ref_position], zero)]
        with torch.no_grad():
            return in_context_forward(model, segs, text)[0]

    assert not torch.allclose(run(0), run(2), atol=1e-4)


def test_condition_segments_are_not_predicted_and_shapes_are_checked():
    model = tiny_model()
    video, fg, ref, text = _inputs()
    t = torch.tensor([300.0])
    with torch.no_grad():
        out = in_context_forward(model, [Segment(video, [0, 1, 2], t, predict=True), Segment(ref, [1], t * 0)], text)
    assert len(out) == 1 and out[0].shape == video.shape
    with pytest.raises(ValueError, match="temporal positions"):
        in_context_forward(model, [Segment(video, [0, 1], t, predict=True)], text)
    with pytest.raises(ValueError, match="patch size"):
        in_context_forward(model, [Segment(torch.zeros(1, 4, 3, 7, 10), [0, 1, 2], t)], text)


def test_per_segment_modulation_equals_the_per_token_timesteps_of_wan_2_2():
    """Each segment's timestep applied to its own slice gives what diffusers' per-token
    timestep path (Wan 2.2 TI2V) gives, without a (tokens x 6 x dim) table."""
    model = tiny_model()
    video, fg, ref, text = _inputs()
    t, zero = torch.tensor([700.0]), torch.tensor([0.0])
    segs = [Segment(video, [0, 1, 2], t, predict=True), Segment(fg, [0, 1, 2], zero), Segment(ref, [1], zero)]
    with torch.no_grad():
        got = in_context_forward(model, segs, text)[0]
        # reference: every token carries its segment's timestep through the stock blocks
        toks = [model.patch_embedding(s.latents).flatten(2).transpose(1, 2) for s in segs]
        hidden = torch.cat(toks, 1)
        pos = [grid_positions(s.t_positions, 4, 5) for s in segs]
        rotary = model.rope.at(*(torch.cat(p) for p in zip(*pos)))
        steps = torch.cat([s.timestep.expand(x.shape[1]) for s, x in zip(segs, toks)])[None]
        temb, proj, ctx, _ = model.condition_embedder(steps.flatten(), text, None, timestep_seq_len=hidden.shape[1])
        proj = proj.unflatten(2, (6, -1))
        for block in model.blocks:
            hidden = block(hidden, ctx, proj, rotary)
        shift, scale = (model.scale_shift_table.unsqueeze(0) + temb.unsqueeze(2)).chunk(2, dim=2)
        hidden = model.proj_out(model.norm_out(hidden.float()) * (1 + scale.squeeze(2)) + shift.squeeze(2))
        n = toks[0].shape[1]
        want = hidden[:, :n].reshape(1, 3, 4, 5, 1, 2, 2, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
        want = want.flatten(6, 7).flatten(4, 5).flatten(2, 3)
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-4)
