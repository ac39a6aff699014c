"""Relighting and compositing: white balance, exposure, grain, spill replacement, light wrap."""
import numpy as np
import pytest

from engine.classic.harmonise import (LUMA, MAX_CAST, Gains, Harmoniser, HarmoniseParams, WhitePoint,
                                      measure_grain, relight_gains)

W, H = 192, 108
CAST = np.array([1.15, 1.0, 0.85])  # the light the foreground was shot under, relative to neutral
BLUISH = np.array([0.9, 1.0, 1.1])  # the new background's light


def varied(n=20000, seed=0, cast=CAST, spread=0.25):
    """(n, 1, 3) colours of many brightnesses and hues whose mean is neutral (a grey world),
    lit by ``cast``: each channel varies by a log-normal factor of sigma ``spread``."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.05, 0.4, (n, 1, 1))
    hue = np.exp(rng.normal(0.0, spread, (n, 1, 3)) - spread ** 2 / 2)
    return (v * hue * cast).astype(np.float32)


def white_of(colours, weight=None):
    wp = WhitePoint()
    wp.add(colours, weight)
    return wp


def params(**kw):
    kw.setdefault("grain", 0.0)
    kw.setdefault("spill_replace", 0.0)
    return HarmoniseParams(**kw)


NEUTRAL_BG = white_of(varied(seed=1, cast=np.ones(3)))
BLUE_BG = white_of(varied(seed=2, cast=BLUISH))


def lum(rgb):
    return float(LUMA.astype(np.float64) @ np.asarray(rgb, np.float64))


# ---------------------------------------------------------------- gains

def test_white_balance_undoes_a_colour_cast_on_a_varied_foreground():
    gains = relight_gains(white_of(varied()), NEUTRAL_BG, params())
    assert gains.confidence == 1.0
    balanced = np.array(gains.rgb) * CAST
    np.testing.assert_allclose(balanced / balanced.mean(), 1.0, atol=0.01)


def test_a_foreground_of_one_flat_colour_keeps_its_cast():
    """Grey world says nothing about the light when the subject is all one colour."""
    rng = np.random.default_rng(3)
    img = (np.array([0.55, 0.38, 0.28], np.float32) + rng.normal(0, 0.01, (H, W, 3))).astype(np.float32)
    fg = white_of(img, np.ones((H, W), np.float32))
    assert fg.spread < 0.05
    gains = relight_gains(fg, NEUTRAL_BG, params())
    assert gains.confidence == 0.0
    np.testing.assert_allclose(gains.rgb, 1.0, atol=1e-6)


def test_confidence_grows_with_the_variety_of_the_foregrounds_colours():
    conf = [relight_gains(white_of(varied(spread=s)), NEUTRAL_BG, params()).confidence
            for s in (0.02, 0.05, 0.15)]
    assert conf[0] == 0.0 and 0.0 < conf[1] < 1.0 and conf[2] == 1.0
    casts = [relight_gains(white_of(varied(spread=s)), NEUTRAL_BG, params()).rgb for s in (0.02, 0.05, 0.15)]
    assert abs(np.log(casts[0][2])) < abs(np.log(casts[1][2])) < abs(np.log(casts[2][2]))


def test_white_balance_keeps_the_foregrounds_luminance():
    fg = white_of(varied())
    g = np.array(relight_gains(fg, BLUE_BG, params(adapt=0.6)).rgb)
    assert lum(g * fg.mean) == pytest.approx(lum(fg.mean), rel=1e-6)


def test_full_adaptation_moves_the_foreground_white_to_the_backgrounds():
    gains = relight_gains(white_of(varied()), BLUE_BG, params(adapt=1.0))
    moved = np.array(gains.rgb) * np.array(gains.fg_white)
    np.testing.assert_allclose(moved, gains.bg_white, rtol=1e-6)
    np.testing.assert_allclose(np.array(gains.bg_white) / gains.bg_white[1], BLUISH, rtol=0.02)


def test_half_adaptation_moves_the_foreground_white_half_way_in_log():
    gains = relight_gains(white_of(varied()), BLUE_BG, params(adapt=0.5))
    moved = np.array(gains.rgb) * np.array(gains.fg_white)
    expected = np.sqrt(np.array(gains.bg_white))
    np.testing.assert_allclose(moved, expected / lum(expected), rtol=1e-6)


def test_zero_strength_keeps_the_plates_lighting():
    gains = relight_gains(white_of(varied()), BLUE_BG, params(strength=0.0, adapt=1.0, tone=1.0))
    assert gains.rgb == (1.0, 1.0, 1.0)


def test_half_strength_applies_the_square_root_of_the_gains():
    fg = white_of(varied())
    full = np.array(relight_gains(fg, BLUE_BG, params(adapt=0.3)).rgb)
    half = np.array(relight_gains(fg, BLUE_BG, params(adapt=0.3, strength=0.5)).rgb)
    np.testing.assert_allclose(half, np.sqrt(full), rtol=1e-9)


def test_without_statistics_the_gains_are_one():
    assert relight_gains(WhitePoint(), NEUTRAL_BG, params()).rgb == (1.0, 1.0, 1.0)
    assert relight_gains(white_of(varied()), WhitePoint(), params()).rgb == (1.0, 1.0, 1.0)


def test_full_tone_matches_the_foregrounds_exposure_to_the_backgrounds():
    fg = white_of(0.5 * varied())
    g = np.array(relight_gains(fg, NEUTRAL_BG, params(tone=1.0)).rgb)
    assert lum(g * fg.mean) == pytest.approx(lum(NEUTRAL_BG.mean), rel=1e-6)


def test_a_strong_cast_is_corrected_only_up_to_the_cap():
    gains = relight_gains(white_of(varied(cast=np.array([1.0, 1.0, 0.2]))), NEUTRAL_BG, params())
    log_g = np.log(np.array(gains.rgb) / gains.rgb[1])
    assert np.abs(log_g).max() == pytest.approx(MAX_CAST, rel=1e-6)
    assert log_g[2] > 0  # still towards neutral: blue raised


def test_the_white_point_ignores_clipped_black_and_unselected_pixels():
    img = np.full((10, 10, 3), (0.2, 0.3, 0.4), np.float32)
    img[0] = (1.0, 0.2, 0.2)  # clipped
    img[1] = (0.0, 0.0, 0.001)  # black
    img[2] = (0.0, 0.5, 0.0)  # outside the weight
    weight = np.ones((10, 10), np.float32)
    weight[2] = 0.0
    wp = WhitePoint()
    wp.add(img, weight)
    np.testing.assert_allclose(wp.mean, (0.2, 0.3, 0.4), rtol=1e-6)


# ---------------------------------------------------------------- grain

def grainy(colour, sigma, seed=0, h=H, w=W):
    """A flat linear colour with white noise of ``sigma`` in square-root units."""
    rng = np.random.default_rng(seed)
    s = np.sqrt(np.asarray(colour, np.float32)) + rng.normal(0.0, sigma, (h, w, 3)).astype(np.float32)
    return (s * s).astype(np.float32)


@pytest.mark.parametrize("sigma", [0.004, 0.02])
def test_measure_grain_recovers_the_noise_on_a_flat_screen(sigma):
    img = grainy((0.06, 0.45, 0.10), sigma)
    assert measure_grain(img, np.ones((H, W), np.float32)) == pytest.approx(sigma, rel=0.15)


def test_measure_grain_looks_only_at_the_screen():
    img = grainy((0.06, 0.45, 0.10), 0.01)
    weight = np.ones((H, W), np.float32)
    weight[:, : W // 2] = 0.0
    img[:, : W // 2] = np.random.default_rng(9).random((H, W // 2, 3))  # busy foreground
    assert measure_grain(img, weight) == pytest.approx(0.01, rel=0.15)


def test_measure_grain_needs_enough_screen():
    weight = np.zeros((H, W), np.float32)
    weight[:20, :20] = 1.0
    assert measure_grain(grainy((0.06, 0.45, 0.10), 0.01), weight) == 0.0


# ---------------------------------------------------------------- compositing

GAINS = Gains((1.1, 1.0, 0.8), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0))


def scene(seed=0):
    rng = np.random.default_rng(seed)
    fg = (0.1 + 0.6 * rng.random((H, W, 3))).astype(np.float32)
    bg = (0.1 + 0.6 * rng.random((H, W, 3))).astype(np.float32)
    return fg, bg


def disc(r=30.0):
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    return np.clip(r - np.hypot(x - W / 2, y - H / 2) + 0.5, 0.0, 1.0).astype(np.float32)


def test_a_solid_foreground_composites_as_the_relit_foreground():
    fg, bg = scene()
    comp, relit, bg_out = Harmoniser(params(), GAINS, 0.0, (W, H)).composite(fg, np.ones((H, W), np.float32), bg, None)
    np.testing.assert_allclose(relit, fg * np.float32(GAINS.rgb), rtol=1e-6)
    np.testing.assert_allclose(comp, relit, rtol=1e-4)
    np.testing.assert_array_equal(bg_out, bg)


def test_a_transparent_foreground_composites_as_the_background():
    fg, bg = scene()
    comp, relit, _ = Harmoniser(params(), GAINS, 0.0, (W, H)).composite(fg, np.zeros((H, W), np.float32), bg, None)
    np.testing.assert_allclose(comp, bg, rtol=1e-4)
    np.testing.assert_allclose(relit, fg * np.float32(GAINS.rgb), rtol=1e-6)  # straight: kept under alpha 0


def test_a_soft_edge_composites_the_relit_foreground_over_the_background():
    fg, bg = scene()
    alpha = disc()
    comp, relit, bg_out = Harmoniser(params(), GAINS, 0.0, (W, H)).composite(fg, alpha, bg, None)
    a = alpha[..., None]
    np.testing.assert_allclose(comp, relit * a + bg_out * (1 - a), rtol=1e-4, atol=1e-6)
    assert comp.dtype == relit.dtype == bg_out.dtype == np.float32
    assert comp.shape == relit.shape == bg_out.shape == (H, W, 3)


def test_spill_replacement_adds_the_removed_light_in_the_backgrounds_colour():
    fg, _ = scene()
    bg = np.full((H, W, 3), (0.6, 0.3, 0.1), np.float32)
    spill = np.zeros((H, W), np.float32)
    spill[30:70, 50:120] = 0.05
    alpha = np.ones((H, W), np.float32)
    plain = Harmoniser(params(), GAINS, 0.0, (W, H)).composite(fg, alpha, bg, spill)[0]
    comp = Harmoniser(params(spill_replace=1.0), GAINS, 0.0, (W, H)).composite(fg, alpha, bg, spill)[0]
    added = comp - plain
    np.testing.assert_allclose(added[spill == 0], 0.0, atol=1e-7)
    inside = added[spill > 0]
    np.testing.assert_allclose(inside / inside[:, :1], np.broadcast_to([1.0, 0.5, 1 / 6], inside.shape), rtol=1e-3)
    # as much light as the green spill that was removed
    np.testing.assert_allclose(inside @ LUMA, 0.05 * LUMA[1], rtol=1e-3)


def test_spill_replacement_for_a_blue_screen_weighs_the_spill_as_blue_light():
    fg, _ = scene()
    bg = np.full((H, W, 3), (0.3, 0.3, 0.3), np.float32)
    spill = np.full((H, W), 0.05, np.float32)
    alpha = np.ones((H, W), np.float32)
    plain = Harmoniser(params(), GAINS, 0.0, (W, H), "blue").composite(fg, alpha, bg, spill)[0]
    comp = Harmoniser(params(spill_replace=1.0), GAINS, 0.0, (W, H), "blue").composite(fg, alpha, bg, spill)[0]
    np.testing.assert_allclose((comp - plain) @ LUMA, 0.05 * LUMA[2], rtol=1e-3)


def test_light_wrap_changes_only_foreground_pixels_near_the_edge():
    fg = np.full((H, W, 3), 0.1, np.float32)
    bg = np.full((H, W, 3), 0.9, np.float32)
    alpha = disc(40.0)
    plain = Harmoniser(params(), GAINS, 0.0, (W, H)).composite(fg, alpha, bg, None)[0]
    wrapped = Harmoniser(params(light_wrap=1.0, light_wrap_px=6.0), GAINS, 0.0, (W, H)).composite(
        fg, alpha, bg, None)[0]
    changed = np.abs(wrapped - plain).max(axis=-1) > 1e-3
    y, x = np.mgrid[0:H, 0:W]
    d = np.hypot(x - W / 2, y - H / 2)
    assert changed[np.abs(d - 38) < 1].all()  # just inside the edge: the background's light wraps in
    assert not changed[d < 40 - 4 * 6.0].any()  # deep inside the subject
    assert not changed[d > 41].any()  # the background itself
    assert (wrapped[changed] >= plain[changed] - 1e-6).all()  # bright background: edges only brighten


def test_grain_is_added_to_the_background_only_and_measures_as_asked():
    fg, _ = scene()
    bg = np.full((H, W, 3), (0.2, 0.3, 0.25), np.float32)
    alpha = disc()
    h = Harmoniser(params(grain=2.0), GAINS, 0.006, (W, H))
    comp, relit, bg_out = h.composite(fg, alpha, bg, None)
    assert measure_grain(bg_out, np.ones((H, W), np.float32)) == pytest.approx(0.012, rel=0.15)
    np.testing.assert_allclose(relit, fg * np.float32(GAINS.rgb), rtol=1e-6)
    a = alpha[..., None]
    np.testing.assert_allclose(comp, relit * a + bg_out * (1 - a), rtol=1e-4, atol=1e-6)


def test_grain_is_the_same_for_the_same_seed():
    fg, bg = scene()
    alpha = np.zeros((H, W), np.float32)
    a = Harmoniser(params(grain=1.0), GAINS, 0.01, (W, H), seed=3).composite(fg, alpha, bg, None)[2]
    b = Harmoniser(params(grain=1.0), GAINS, 0.01, (W, H), seed=3).composite(fg, alpha, bg, None)[2]
    c = Harmoniser(params(grain=1.0), GAINS, 0.01, (W, H), seed=4).composite(fg, alpha, bg, None)[2]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("despill_mode, kind", [("limit", "green"), ("subtract", "blue"), ("none", "green")])
def test_the_one_pass_composite_from_the_key_equals_unmix_despill_then_composite(despill_mode, kind):
    from engine.key.keyer import despill, unmix

    rng = np.random.default_rng(5)
    h, w = 72, 128
    img = rng.random((h, w, 3), dtype=np.float32)
    plate = np.broadcast_to(np.array([0.05, 0.4, 0.08] if kind == "green" else [0.05, 0.08, 0.4], np.float32),
                            (h, w, 3)).copy()
    alpha = np.clip(rng.random((h, w), dtype=np.float32) * 1.3 - 0.1, 0, 1)
    bg = rng.random((h, w, 3), dtype=np.float32)
    params = HarmoniseParams(spill_replace=0.8, grain=1.0)
    gains = Gains((0.9, 1.0, 1.2), (1, 1, 1), (1, 1, 1))
    a = Harmoniser(params, gains, 0.01, (w, h), kind, seed=4)
    b = Harmoniser(params, gains, 0.01, (w, h), kind, seed=4)
    fg, spill = despill(unmix(img, alpha, plate), kind, despill_mode, 0.9, with_amount=True)
    want = a.composite(fg, alpha, bg, spill)
    got = b.composite_keyed(img, plate, alpha, bg, despill_mode, 0.9)
    for g, wnt in zip(got, want):
        np.testing.assert_allclose(g, wnt, atol=2e-4, rtol=1e-3)
