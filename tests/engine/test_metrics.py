"""Matte and composite metrics: known answers, and agreement with straightforward
reference computations (scipy.ndimage, skimage, the bench's connectivity algorithm)."""

import numpy as np
import pytest
from scipy import ndimage

from engine.metrics import (
    AlphaScorer,
    CompScorer,
    alpha_frame_errors,
    connectivity_error,
    gradient_magnitude,
    psnr,
    ssim,
)

H, W = 48, 64


def soft_disc(h=H, w=W, cx=32.0, cy=24.0, r=14.0, soft=3.0) -> np.ndarray:
    """A float32 (h, w) disc matte with a linear soft edge ``soft`` pixels wide."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(xx - cx, yy - cy)
    return np.clip((r - dist) / soft + 0.5, 0, 1).astype(np.float32)


def noisy(a: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (a + rng.normal(0, sigma, a.shape)).astype(np.float32)


# --- straightforward references, written the way the bench's score.py computes them ---


def ref_grad(p, g):
    def mag(a):
        return np.hypot(ndimage.gaussian_filter(a, 1.4, order=(0, 1)), ndimage.gaussian_filter(a, 1.4, order=(1, 0)))
    return ((mag(p) - mag(g)) ** 2).sum() / 1000


def ref_conn(pred, gt, step=0.1):
    thr = np.arange(0, 1 + step, step)
    lmap = np.full(pred.shape, -1.0)
    for t in thr[1:]:
        mask = (pred >= t) & (gt >= t)
        lab, n = ndimage.label(mask, structure=np.ones((3, 3)))
        if n == 0:
            continue
        sizes = ndimage.sum(np.ones_like(lab), lab, range(1, n + 1))
        big = lab == (np.argmax(sizes) + 1)
        lmap[(lmap == -1) & ~big] = t - step
    lmap[lmap == -1] = 1
    dp, dg = pred - lmap, gt - lmap
    pp = 1 - dp * (dp >= 0.15)
    pg = 1 - dg * (dg >= 0.15)
    return np.abs(pp - pg).sum()


# --- alpha ---


def test_identical_alpha_scores_zero_everywhere():
    a = soft_disc()
    errs = alpha_frame_errors(a, a)
    assert errs == {"SAD": 0.0, "MSE": 0.0, "Grad": 0.0, "Conn": 0.0}
    scorer = AlphaScorer()
    for _ in range(3):
        scorer.add(a, a)
    res = scorer.result()
    assert res["frames"] == 3 and all(res[k] == 0 for k in ("SAD", "MSE", "Grad", "Conn", "dtSSD"))


def test_constant_offset_gives_exact_sad_and_mse_and_no_gradient_error():
    gt = np.full((H, W), 0.5, np.float32)
    errs = alpha_frame_errors(gt + np.float32(0.1), gt)
    assert errs["SAD"] == pytest.approx(0.1 * H * W / 1000, rel=1e-5)
    assert errs["MSE"] == pytest.approx(0.01 * 1e3, rel=1e-5)
    assert errs["Grad"] == pytest.approx(0.0, abs=1e-9)


def test_prediction_is_clipped_to_unit_range():
    gt = np.full((H, W), 0.5, np.float32)
    over = alpha_frame_errors(np.full((H, W), 3.0, np.float32), gt, with_conn=False)
    assert "Conn" not in over
    assert over["SAD"] == pytest.approx(0.5 * H * W / 1000, rel=1e-6)
    assert over["MSE"] == pytest.approx(0.25 * 1e3, rel=1e-6)


def test_shifted_edge_gives_gradient_error_matching_scipy_gaussian_derivatives():
    gt = soft_disc()
    shifted = soft_disc(cx=34.5)
    errs = alpha_frame_errors(shifted, gt)
    assert errs["Grad"] > 0
    assert errs["Grad"] == pytest.approx(ref_grad(shifted, gt), rel=1e-4)


def test_gradient_magnitude_equals_scipy_on_noisy_and_tiny_images():
    for a in (noisy(soft_disc(), 0.1, 0), noisy(np.zeros((5, 9), np.float32), 0.5, 1)):
        ref = np.hypot(ndimage.gaussian_filter(a, 1.4, order=(0, 1)), ndimage.gaussian_filter(a, 1.4, order=(1, 0)))
        got = gradient_magnitude(a)
        assert got.dtype == np.float32 and got.shape == a.shape
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_connectivity_error_equals_the_reference_algorithm(seed):
    rng = np.random.default_rng(seed)
    gt = soft_disc(r=rng.uniform(8, 18), soft=rng.uniform(1, 6))
    # noise and blotches break the matte into many regions at the higher thresholds
    pred = np.clip(noisy(ndimage.gaussian_filter(gt, rng.uniform(0, 2)), 0.15, seed), 0, 1)
    pred[rng.random(pred.shape) < 0.05] = 0
    assert connectivity_error(pred, gt) == pytest.approx(ref_conn(pred, gt), rel=1e-9, abs=1e-9)


def test_connectivity_ties_go_to_the_region_first_in_raster_order():
    # two equal regions; which one counts as "largest" changes the error
    gt = np.zeros((20, 30), np.float32)
    gt[2:8, 20:26] = 1
    gt[12:18, 2:8] = 0.6
    pred = gt.copy()
    pred[12:18, 2:8] = 0.9
    pred[2:8, 20:26] = 0.7
    assert connectivity_error(pred, gt) == pytest.approx(ref_conn(pred, gt), rel=1e-12)
    assert connectivity_error(pred.T.copy(), gt.T.copy()) == pytest.approx(ref_conn(pred.T, gt.T), rel=1e-12)


def test_an_empty_prediction_has_no_connectivity_error_as_in_the_reference():
    # with no region at the first threshold every pixel's level becomes 1, so phi is 1 for
    # both mattes: the reference's quirk, kept so the numbers agree
    gt = soft_disc()
    empty = np.zeros_like(gt)
    assert ref_conn(empty, gt) == 0
    assert connectivity_error(empty, gt) == 0


def test_dtssd_is_zero_for_identical_motion_and_positive_for_temporal_noise():
    # alphas kept inside (0.25, 0.75) so neither the offset nor the noise gets clipped
    frames_gt = [np.float32(0.25) + np.float32(0.5) * soft_disc(cx=20 + 3 * i) for i in range(4)]
    same = AlphaScorer(with_conn=False)
    offset = AlphaScorer(with_conn=False)
    flicker = AlphaScorer(with_conn=False)
    for i, g in enumerate(frames_gt):
        same.add(g, g)
        # a constant error moves with the matte: it is not a temporal one
        offset.add(g + np.float32(0.125), g)
        flicker.add(noisy(g, 0.05, seed=i), g)
    assert same.result()["dtSSD"] == 0.0
    assert offset.result()["dtSSD"] == pytest.approx(0.0, abs=1e-4)
    assert offset.result()["SAD"] > 0
    # two frames of independent noise with sigma s: the difference has variance 2 s²
    assert flicker.result()["dtSSD"] == pytest.approx(np.sqrt(2) * 0.05 * 1e2, rel=0.1)


def test_dtssd_of_one_pair_matches_its_definition():
    g0, g1 = soft_disc(cx=20), soft_disc(cx=23)
    p0, p1 = noisy(g0, 0.02, 0).clip(0, 1), noisy(g1, 0.02, 1).clip(0, 1)
    scorer = AlphaScorer(with_conn=False)
    assert "dtSSD" not in scorer.add(p0, g0)
    assert scorer.add(p1, g1)["dtSSD"] == pytest.approx(np.sqrt((((p1 - p0) - (g1 - g0)) ** 2).mean()) * 1e2, rel=1e-5)


def test_alpha_scorer_averages_frames_and_frame_pairs():
    gts = [soft_disc(cx=20 + 4 * i) for i in range(3)]
    preds = [np.clip(noisy(g, 0.03 * (i + 1), i), 0, 1) for i, g in enumerate(gts)]
    scorer = AlphaScorer()
    per = [scorer.add(p, g) for p, g in zip(preds, gts)]
    res = scorer.result()
    assert res["frames"] == 3
    for k in ("SAD", "MSE", "Grad", "Conn"):
        assert res[k] == pytest.approx(np.mean([f[k] for f in per]), rel=1e-12)
    assert res["dtSSD"] == pytest.approx(np.mean([per[1]["dtSSD"], per[2]["dtSSD"]]), rel=1e-12)


def test_scorer_keeps_its_own_copy_of_the_previous_frame():
    g0, g1 = soft_disc(cx=20), soft_disc(cx=23)
    buf = g0.copy()
    scorer = AlphaScorer(with_conn=False)
    scorer.add(buf, buf)
    buf[:] = g1  # a reader reusing its frame buffer
    scorer.add(buf, buf)
    assert scorer.result()["dtSSD"] == 0.0


def test_mismatched_sizes_and_empty_scorers_are_errors():
    with pytest.raises(ValueError):
        alpha_frame_errors(np.zeros((4, 5), np.float32), np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError):
        AlphaScorer().result()
    with pytest.raises(ValueError):
        CompScorer().result()
    with pytest.raises(ValueError):
        CompScorer().add(np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32), np.zeros((8, 9), np.float32))


# --- composite ---


def test_psnr_caps_identical_images_at_100_db():
    assert psnr(0.0) == 100.0
    assert psnr(0.01) == pytest.approx(20.0)


def test_identical_composites_score_perfectly():
    rng = np.random.default_rng(0)
    rgb = rng.random((H, W, 3), dtype=np.float32)
    scorer = CompScorer()
    scorer.add(rgb, rgb, soft_disc())
    res = scorer.result()
    assert res["comp_MSE"] == 0 and res["comp_PSNR"] == res["fg_PSNR"] == res["bg_PSNR"] == 100.0
    assert res["comp_SSIM"] == pytest.approx(1.0, abs=1e-6) and res["frames"] == 1


def test_fg_and_bg_psnr_measure_only_their_regions():
    alpha = np.zeros((H, W), np.float32)
    alpha[:, : W // 2] = 1.0  # left half solid foreground, right half pure background
    gt = np.full((H, W, 3), 0.5, np.float32)
    pred = gt.copy()
    pred[:, W // 2 :] += np.float32(0.1)  # error in the background only
    scorer = CompScorer()
    scorer.add(pred, gt, alpha)
    res = scorer.result()
    assert res["bg_PSNR"] == pytest.approx(20.0, abs=1e-4)
    assert res["fg_PSNR"] == 100.0
    assert res["comp_MSE"] == pytest.approx(0.005, rel=1e-5)
    assert res["comp_PSNR"] == pytest.approx(10 * np.log10(1 / 0.005), abs=1e-3)


def test_psnr_is_taken_of_the_mean_mse_and_regionless_frames_add_zero():
    gt = np.full((H, W, 3), 0.5, np.float32)
    fg_only = np.ones((H, W), np.float32)
    scorer = CompScorer()
    scorer.add(gt + np.float32(0.1), gt, fg_only)  # MSE 0.01, fg 0.01, no bg pixels
    scorer.add(gt + np.float32(0.2), gt, fg_only)  # MSE 0.04
    res = scorer.result()
    assert res["comp_MSE"] == pytest.approx(0.025, rel=1e-5)
    assert res["comp_PSNR"] == pytest.approx(10 * np.log10(1 / 0.025), abs=1e-3)  # not the mean of 20 and 14 dB
    assert res["fg_PSNR"] == pytest.approx(res["comp_PSNR"], abs=1e-6)
    assert res["bg_PSNR"] == 100.0


@pytest.mark.needs_skimage
def test_ssim_matches_skimage_on_colour_and_grey_images():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    gt = np.stack([xx / W, yy / H, 0.5 + 0.4 * np.sin(xx / 5)], -1).astype(np.float32)
    pred = np.clip(ndimage.gaussian_filter(gt, (1, 1, 0)) + rng.normal(0, 0.05, gt.shape), 0, 1).astype(np.float32)
    ref = structural_similarity(pred, gt, channel_axis=-1, data_range=1.0)
    assert ssim(pred, gt) == pytest.approx(ref, abs=1e-5)
    assert ssim(pred[..., 1], gt[..., 1]) == pytest.approx(structural_similarity(pred[..., 1], gt[..., 1], data_range=1.0), abs=1e-5)


@pytest.mark.needs_skimage
def test_comp_scorer_ssim_uses_the_clipped_prediction():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(4)
    gt = rng.random((H, W, 3), dtype=np.float32)
    pred = (gt + rng.normal(0, 0.3, gt.shape)).astype(np.float32)  # strays outside [0, 1]
    scorer = CompScorer()
    frame = scorer.add(pred, gt, soft_disc())
    ref = structural_similarity(np.clip(pred, 0, 1), gt, channel_axis=-1, data_range=1.0)
    assert frame["comp_SSIM"] == pytest.approx(ref, abs=1e-5)
