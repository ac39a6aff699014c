"""The compiled one-pass loops give what the array-at-a-time steps they replace give."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.key import fused


def test_clip_matte_clips_black_and_white_away_from_edges_and_only_the_floor_near_them():
    rng = np.random.default_rng(0)
    alpha = rng.uniform(-0.2, 1.2, (37, 53)).astype(np.float32)
    edge = rng.random((37, 53)) > 0.5
    gate = rng.uniform(0.0, 0.08, (37, 53)).astype(np.float32)
    got = fused.clip_matte(alpha, edge, gate, 0.04, 0.96, 0.01)
    away = np.where(gate < 0.04, 0.0, np.clip((alpha - 0.04) / 0.96, 0, 1))
    want = np.where(edge, np.clip((alpha - 0.01) / 0.99, 0, 1), away)
    np.testing.assert_allclose(got, want, atol=1e-6)
    # the matte as its own gate: plain clip black and white
    got = fused.clip_matte(alpha, edge, alpha, 0.04, 0.96, 0.01)
    want = np.where(edge, np.clip((alpha - 0.01) / 0.99, 0, 1), np.clip((alpha - 0.04) / 0.96, 0, 1))
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("density", [0.3, 0.001])  # dense, and a few verdicts on a few rows
@pytest.mark.parametrize("h,w,hs,ws", [(1080, 200, 540, 100), (101, 133, 50, 66), (64, 64, 64, 64)])
def test_despot_verdicts_from_working_scale_land_on_the_pixels_a_nearest_upscale_gives(density, h, w, hs, ws):
    rng = np.random.default_rng(1)
    alpha = rng.random((h, w), dtype=np.float32)
    speck, clear, fill = ((rng.random((hs, ws)) < density * t).astype(np.uint8) for t in (0.3, 1.0, 0.6))
    up = [cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) > 0 for m in (speck, clear, fill)]
    want = alpha.copy()
    want[up[1] & (alpha < 0.5)] = 0.0
    want[up[0]] = 0.0
    want[up[2] & (alpha < 0.95)] = 1.0
    np.testing.assert_array_equal(fused.apply_despot(alpha, speck, clear, fill), want)


def rebuilt_by_array_steps(img, smooth, along_y, along_x, eps=1e-5):
    """The guided chroma rebuild as array steps: products, box means, fits, box means, apply."""
    luma = np.float32([0.2126, 0.7152, 0.0722])
    y = img @ luma
    d = [img[..., 0] - y, img[..., 2] - y]
    window = (3 if along_x else 1, 3 if along_y else 1)

    def box(a):
        return cv2.blur(a, window, borderType=cv2.BORDER_REFLECT)

    ms, mss = box(smooth), box(smooth * smooth)
    var = mss - ms * ms + eps
    out = []
    for k in range(2):
        md, msd = box(d[k]), box(smooth * d[k])
        a = (msd - ms * md) / var
        out.append(y + box(a) * y + box(md - a * ms))
    r, b = out
    return np.dstack([r, (y - luma[0] * r - luma[2] * b) / luma[1], b])


@pytest.mark.parametrize("size", [(64, 96), (37, 53), (1, 7)])
@pytest.mark.parametrize("factors", [(1, 2), (2, 2)], ids=["422", "420"])
def test_the_chroma_rebuild_is_the_array_steps(size, factors):
    rng = np.random.default_rng(2)
    img = (0.3 + 0.4 * rng.random((*size, 3))).astype(np.float32)
    smooth = fused.smoothed_as_chroma(img @ np.float32([0.2126, 0.7152, 0.0722]), *factors)
    got = np.empty_like(img)
    fused.rebuild_chroma(img, np.float32([0.2126, 0.7152, 0.0722]), smooth, factors[0] > 1, factors[1] > 1,
                         np.float32(1e-5), got, 0, size[0])
    want = rebuilt_by_array_steps(img, smooth, factors[0] > 1, factors[1] > 1)
    np.testing.assert_allclose(got, want, atol=2e-3 * max(1.0, float(np.abs(want).max())))
    np.testing.assert_allclose(got @ np.float32([0.2126, 0.7152, 0.0722]), img @ np.float32([0.2126, 0.7152, 0.0722]),
                               atol=1e-4)


@pytest.mark.parametrize("factors", [(1, 2), (2, 2)], ids=["422", "420"])
def test_luma_smoothed_as_chroma_is_what_our_writer_and_reader_make_of_a_chroma_plane(factors):
    """The smoothing the chroma rebuild models is exactly a round trip of a plane through our
    ProRes writer's chroma decimation and our decoder's chroma siting."""
    from paicli.media import ycbcr

    rng = np.random.default_rng(5)
    plane = rng.random((36, 50), dtype=np.float32)
    sy, sx = factors
    want = plane
    if sx > 1:
        want = ycbcr._upsample_h(ycbcr._downsample_h(want).astype(np.float32), plane.shape[1])
    if sy > 1:
        want = ycbcr._upsample_v(ycbcr._downsample_v(want).astype(np.float32), plane.shape[0])
    np.testing.assert_allclose(fused.smoothed_as_chroma(plane, sy, sx), want, atol=1e-6)


def test_temporal_blend_is_the_float32_array_expression_exactly():
    rng = np.random.default_rng(3)
    hold, prev, alpha = (rng.random((37, 53), dtype=np.float32) for _ in range(3))
    np.testing.assert_array_equal(fused.temporal_blend(hold, prev, alpha), hold * prev + (1 - hold) * alpha)


def test_the_raw_matte_is_one_minus_the_screen_amount_exactly():
    rng = np.random.default_rng(4)
    img, plate = (rng.random((37, 53, 3), dtype=np.float32) for _ in range(2))
    amount, matte = np.empty((37, 53), np.float32), np.empty((37, 53), np.float32)
    fused.screen_amount(img, plate, 1, 0.7, False, amount, 0, amount.shape[0])
    fused.screen_amount(img, plate, 1, 0.7, True, matte, 0, matte.shape[0])
    np.testing.assert_array_equal(matte, 1.0 - amount)


def test_screen_pixels_and_excess_are_the_array_expressions_exactly():
    from engine.key.screen import chroma_distance, screen_difference

    rng = np.random.default_rng(5)
    img = (rng.random((37, 53, 3), dtype=np.float32) * np.float32([0.3, 0.8, 0.3])).astype(np.float32)
    blurred = cv2.GaussianBlur(img, (0, 0), 2.0)
    colour = (0.1, 0.6, 0.15)
    c = np.float32(colour) / np.float32(sum(colour))
    want = (screen_difference(img, "green") > 0.2) & (chroma_distance(blurred, colour) < 0.08)
    got = np.empty((37, 53), np.uint8)
    fused.screen_pixels(img, blurred, 1, np.float32(0.2), c[0], c[1], np.float32(0.08), got)
    np.testing.assert_array_equal(got.astype(bool), want)
    assert 0 < want.sum() < want.size
    excess = np.empty((37, 53), np.float32)
    fused.screen_excess(img, 2, excess)
    np.testing.assert_array_equal(excess, screen_difference(img, "blue"))


@pytest.mark.parametrize("h,w,hs,ws", [(1080, 200, 540, 100), (101, 133, 50, 66), (64, 64, 64, 64)])
def test_clear_where_zeroes_the_pixels_a_nearest_upscale_of_the_mask_covers(h, w, hs, ws):
    rng = np.random.default_rng(6)
    alpha = rng.random((h, w), dtype=np.float32)
    mask = (rng.random((hs, ws)) < 0.05).astype(np.uint8)
    want = alpha.copy()
    want[cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST) > 0] = 0.0
    fused.clear_where(alpha, mask)
    np.testing.assert_array_equal(alpha, want)


def test_floor_kept_raises_only_what_the_earlier_matte_kept():
    rng = np.random.default_rng(8)
    alpha, before, floor = (rng.random((37, 53), dtype=np.float32) * np.float32(0.1) for _ in range(3))
    want = np.where(before > 0.02, np.maximum(alpha, floor), alpha)
    fused.floor_kept(alpha, before, floor)
    np.testing.assert_array_equal(alpha, want)
    assert (want != np.maximum(want, floor)).any()


def test_a_pull_step_is_the_float32_array_steps_exactly():
    rng = np.random.default_rng(9)
    up, num = (rng.random((37, 53, 3), dtype=np.float32) for _ in range(2))
    weight = np.where(rng.random((37, 53)) < 0.2, 0, rng.random((37, 53))).astype(np.float32)
    per_pixel = lambda plane: cv2.merge([plane] * 3)  # noqa: E731
    here = cv2.multiply(num, per_pixel(1.0 / np.maximum(weight, 1e-6)))
    want = cv2.add(up, cv2.multiply(per_pixel(np.minimum(weight * 4.0, 1.0)), cv2.subtract(here, up)))
    got = np.empty_like(up)
    fused.pull_level(up, num, weight, got)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("h,w,hs,ws", [(1080, 200, 540, 100), (101, 133, 50, 66), (64, 64, 64, 64)])
def test_nearest_float_is_a_nearest_upscale_as_floats(h, w, hs, ws):
    mask = (np.random.default_rng(10).random((hs, ws)) < 0.3).astype(np.uint8)
    got = np.empty((h, w), np.float32)
    fused.nearest_float(mask, got)
    np.testing.assert_array_equal(got, cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST).astype(np.float32))
