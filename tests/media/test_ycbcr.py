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


# the compiled frame passes (engine.pixels) must give what the array reference gives, on
# frame-sized pictures with odd sizes, every subsampling and both bit depths

def _reference_ycbcr_to_rgb(y, cb, cr, bits):
    import paicli.media.ycbcr as ycc

    saved, ycc._COMPILED_FROM = ycc._COMPILED_FROM, 1 << 62  # the array version
    try:
        return ycbcr_to_rgb(y, cb, cr, bits)
    finally:
        ycc._COMPILED_FROM = saved


@pytest.mark.parametrize("sub", ["444", "422", "420"])
@pytest.mark.parametrize("shape", [(257, 301), (258, 300)])
@pytest.mark.parametrize("bits", [8, 10])
def test_compiled_frame_passes_agree_with_the_array_reference(sub, shape, bits):
    from engine.colour import bt709_oetf
    from paicli.media.ycbcr import frame_to_planes

    rng = np.random.default_rng(3)
    h, w = shape
    linear = rng.random((h, w, 3), dtype=np.float32) * 1.3 - 0.1  # below 0 and above 1 clip
    alpha = rng.random((h, w), dtype=np.float32)
    alpha[::5] = 0.0  # no colour under zero alpha
    straight = np.where(alpha[..., None] > 0, linear, 0.0).astype(np.float32)
    want = rgb_to_ycbcr(bt709_oetf(straight), bits, subsampling=sub)
    for colour, premult in ((linear, False), (linear * alpha[..., None], True)):
        *got, a = frame_to_planes(colour, bits, alpha=alpha, premultiplied=premult, transfer="bt709", subsampling=sub)
        for g, ref in zip(got, want):
            assert g.shape == ref.shape
            assert np.abs(g.astype(int) - ref.astype(int)).max() <= 1  # rounding at .5 only
            assert np.mean(g != ref) < 0.01
        peak = (1 << bits) - 1
        assert np.array_equal(a, np.rint(alpha * peak).astype(np.uint16))
    y, cb, cr = want
    assert y.size >= 1 << 16  # large enough for the compiled decode
    np.testing.assert_allclose(ycbcr_to_rgb(y, cb, cr, bits), _reference_ycbcr_to_rgb(y, cb, cr, bits), atol=1e-6)


def test_encoded_input_passes_through_an_identity_transfer():
    from paicli.media.ycbcr import frame_to_planes

    rgb = np.random.default_rng(4).random((64, 70, 3), dtype=np.float32)
    *got, a = frame_to_planes(rgb, 10, subsampling="422")
    assert a is None
    for g, ref in zip(got, rgb_to_ycbcr(rgb, 10, subsampling="422")):
        assert np.abs(g.astype(int) - ref.astype(int)).max() <= 1


@pytest.mark.parametrize("transfer", ["bt709", "srgb"])
def test_decoding_to_linear_in_the_conversion_pass_equals_decoding_after_it(transfer):
    from engine.colour import decode

    rng = np.random.default_rng(5)
    y = rng.integers(0, 1024, (260, 300)).astype(np.uint16)  # below black and above white too
    cb, cr = (rng.integers(0, 1024, (260, 150)).astype(np.uint16) for _ in range(2))
    want = decode(_reference_ycbcr_to_rgb(y, cb, cr, 10), transfer)
    got = ycbcr_to_rgb(y, cb, cr, 10, transfer=transfer)
    assert (want > 1).any()  # super-whites are decoded exactly, not clipped
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
