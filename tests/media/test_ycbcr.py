"""Explicit BT.709 Y'CbCr conversion: exact code values, no implicit BT.601."""
import numpy as np
import pytest

from paicli.media.ycbcr import rgb_to_ycbcr, ycbcr_to_rgb


def test_bt709_limited_range_code_values_of_primaries():
    rgb = np.array([[[1, 1, 1], [0, 0, 0], [1, 0, 0]]], np.float32)
    y, cb, cr = rgb_to_ycbcr(rgb, 10, subsampling="444")
    assert y[0, 0] == 940 and y[0, 1] == 64  # 10-bit limited range white and black
    assert cb[0, 0] == 512 and cr[0, 0] == 512
    assert y[0, 2] == round(64 + 876 * 0.2126)  # BT.709 Kr, not BT.601's 0.299
    assert cr[0, 2] == 960  # red is the Cr peak


@pytest.mark.parametrize("matrix", ["bt709", "bt601", "bt2020"])
@pytest.mark.parametrize("full", [False, True])
def test_444_round_trip_within_one_code_value(matrix, full):
    rng = np.random.default_rng(1)
    rgb = rng.random((16, 20, 3), dtype=np.float32)
    y, cb, cr = rgb_to_ycbcr(rgb, 10, matrix=matrix, full_range=full, subsampling="444")
    back = ycbcr_to_rgb(y, cb, cr, 10, matrix=matrix, full_range=full)
    assert np.abs(back - rgb).max() < 2.5 / 876


def test_422_flat_colour_survives_exactly_and_chroma_is_half_width():
    rgb = np.ones((8, 10, 3), np.float32) * np.array([0.2, 0.5, 0.7], np.float32)
    y, cb, cr = rgb_to_ycbcr(rgb, 10, subsampling="422")
    assert cb.shape == (8, 5)
    back = ycbcr_to_rgb(y, cb, cr, 10)
    assert np.abs(back - rgb).max() < 2.0 / 876


def test_420_has_half_height_chroma():
    rgb = np.full((9, 10, 3), 0.5, np.float32)
    y, cb, cr = rgb_to_ycbcr(rgb, 8, subsampling="420")
    assert cb.shape == (5, 5)
    assert ycbcr_to_rgb(y, cb, cr, 8).shape == (9, 10, 3)
