"""Chroma of 4:2:0 / 4:2:2 sources rebuilt along luma edges, and what it does to the matte."""
import cv2
import numpy as np
import pytest

from engine.key.chroma import LUMA, luma_guided_chroma
from engine.key.keyer import Keyer, KeyParams
from engine.key.screen import detect_screen
from synthetic_screen import H, W, composite, subject_alpha, uneven_screen


def subsampled(img, sy, sx):
    """``img`` as a codec with chroma factors (sy, sx) delivers it: colour differences from
    luma averaged over sy x sx blocks, then interpolated back to full size; luma untouched."""
    y = cv2.transform(img, LUMA[None])
    out = []
    for c in (0, 2):
        small = cv2.resize(img[..., c] - y, (W // sx, H // sy), interpolation=cv2.INTER_AREA)
        out.append(cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR) + y)
    r, b = out
    return np.dstack([r, (y - LUMA[0] * r - LUMA[2] * b) / LUMA[1], b]).astype(np.float32)


def edge_of(alpha, px=2):
    solid = (alpha > 0.5).astype(np.uint8)
    k = np.ones((2 * px + 1, 2 * px + 1), np.uint8)
    return (cv2.dilate(solid, k) > 0) & (cv2.erode(solid, k) == 0)


def test_full_resolution_chroma_is_left_alone_and_luma_is_kept_exactly():
    img = composite(subject_alpha(), uneven_screen("green"), fg=(0.8, 0.3, 0.2))
    assert luma_guided_chroma(img, (1, 1)) is img
    out = luma_guided_chroma(img, (2, 2))
    assert out.shape == img.shape and out.dtype == np.float32
    np.testing.assert_allclose(cv2.transform(out, LUMA[None]), cv2.transform(img, LUMA[None]), atol=1e-5)


@pytest.mark.parametrize("factors", [(2, 2), (1, 2)], ids=["420", "422"])
def test_a_colour_edge_comes_back_where_the_luma_edge_is(factors):
    alpha = subject_alpha(edge_px=1.0)
    img = composite(alpha, uneven_screen("green"), fg=(0.8, 0.3, 0.2), noise=0.0)
    decoded = subsampled(img, *factors)
    rebuilt = luma_guided_chroma(decoded, factors)
    edge = edge_of(alpha, 1)
    before = np.abs(decoded - img)[edge].mean()
    after = np.abs(rebuilt - img)[edge].mean()
    assert after < 0.7 * before


@pytest.mark.parametrize("fg", [(0.5, 0.5, 0.5), (0.8, 0.3, 0.2)], ids=["grey", "skin"])
def test_a_4_2_0_edge_keys_sharp_when_the_keyer_knows_the_source_subsampling(fg):
    """The blurred colour edge of a 4:2:0 source makes a matte edge twice as soft as the
    subject's; keyed with its subsampling declared, the edge follows the luma."""
    alpha = subject_alpha(edge_px=1.0)
    img = subsampled(composite(alpha, uneven_screen("green"), fg=fg, noise=0.002), 2, 2)
    screen = detect_screen(img, "green")
    edge = edge_of(alpha)
    as_444 = Keyer(KeyParams(temporal=0.0), screen).key(img).alpha
    as_420 = Keyer(KeyParams(temporal=0.0, chroma_subsampling=(2, 2)), screen).key(img).alpha
    err_444 = np.abs(as_444 - alpha)[edge].mean()
    err_420 = np.abs(as_420 - alpha)[edge].mean()
    assert err_420 < 0.75 * err_444
    assert err_420 < 0.07


@pytest.mark.parametrize("factors", [(1, 2), (2, 2)], ids=["422", "420"])
def test_a_thin_strand_gets_its_colour_back(factors):
    """A strand a pixel wide loses half its colour to the codec's smoothing; fitted against
    luma smoothed the same way (not against the sharp luma, which finds too weak a slope)
    the rebuild gives much of it back (the sharp-luma fit gave none)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    alpha = np.zeros((H, W), np.float32)
    for k in range(5):  # diagonal strands a pixel wide, far enough apart to be told apart
        d = np.abs((x - 20 - 28 * k) - 0.4 * y)
        alpha = np.maximum(alpha, 0.7 * np.clip(1.0 - d, 0.0, 1.0))
    img = composite(alpha, uneven_screen("green"), fg=(0.55, 0.38, 0.28), noise=0.0)
    decoded = subsampled(img, *factors)
    rebuilt = luma_guided_chroma(decoded, factors)
    strand = alpha > 0.3
    before = np.abs(decoded - img)[strand].mean()
    after = np.abs(rebuilt - img)[strand].mean()
    assert after < 0.65 * before  # this codec decimates by block means, not the [1 2 1] the fit assumes
