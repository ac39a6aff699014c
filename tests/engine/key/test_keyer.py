"""The classic keyer on synthetic composites I = a F + (1 - a) C with a known alpha.

The thresholds are behaviours, not tuning targets: a matte close to the true one and far
better than a hard chroma key, a clean screen and solid core, markers gone, exact
unmixing, no spill left, mattes that hold still on a locked-off shot.
"""
import cv2
import numpy as np
import pytest

from engine.key.keyer import (KeyParams, Keyer, KeyResult, auto_core, clip_matte, denoise_matte, despill, despot,
                                  matte_noise, raw_alpha, shrink_grow, unmix)
from engine.key.screen import detect_screen, screen_difference
from synthetic_screen import MARKERS, H, W, composite, subject_alpha, uneven_screen, with_markers


def key(img, kind="green", **params):
    """One frame through a fresh keyer (temporal off unless asked), screen detected on it."""
    params.setdefault("temporal", 0.0)
    screen = detect_screen(img, kind)
    assert screen is not None
    return Keyer(KeyParams(screen=kind, **params), screen).key(img)


def away_from(mask, px):
    """Pixels of ``mask`` at least ``px`` from anything outside it."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.erode(mask.astype(np.uint8), k, borderType=cv2.BORDER_REPLICATE).astype(bool)


def hard_key(img, kind):
    """The trivial matte a naive chroma key gives: 0 where the screen colour dominates, else 1."""
    d = screen_difference(img, kind)
    return (d < 0.5 * np.median(d)).astype(np.float32)


# ------------------------------------------------------------------ the matte


@pytest.mark.parametrize("kind", ["green", "blue"])
def test_matte_matches_the_true_alpha_and_beats_a_hard_key(kind):
    alpha = subject_alpha(edge_px=4.0)
    img = composite(alpha, uneven_screen(kind), fg=(0.5, 0.5, 0.5))
    res = key(img, kind)
    assert isinstance(res, KeyResult)
    assert res.alpha.shape == (H, W) and res.alpha.dtype == np.float32
    assert 0.0 <= res.alpha.min() and res.alpha.max() <= 1.0
    err = np.abs(res.alpha - alpha)
    trivial = np.abs(hard_key(img, kind) - alpha)
    assert err.mean() < 0.01
    edge = (alpha > 0.02) & (alpha < 0.98)
    assert err[edge].mean() < 0.05
    assert err[edge].mean() < 0.25 * trivial[edge].mean()


DEEP = 20  # px inside a solid subject: past any edge band and core erosion the keyer uses


@pytest.mark.parametrize("fg", [(0.5, 0.5, 0.5), (0.9, 0.9, 0.9), (0.55, 0.38, 0.28)], ids=["grey", "white", "skin"])
def test_solid_interior_is_one_and_far_screen_is_zero(fg):
    alpha = subject_alpha(edge_px=3.0)
    res = key(composite(alpha, uneven_screen("green"), fg=fg))
    inside = away_from(alpha >= 1.0, DEEP)
    far = away_from(alpha <= 0.0, KeyParams().edge_protect_px + 4)
    assert inside.sum() > 200 and far.sum() > 5000
    assert (res.alpha[inside] == 1.0).all()
    assert (res.alpha[far] == 0.0).all()
    assert res.alpha[away_from(alpha >= 1.0, 2)].min() > 0.95  # nearer the edge: at least nearly solid


def test_solid_snap_makes_a_solid_subject_exactly_one_inside_its_edge():
    """By default the colour re-solve leaves a solid subject at 0.97-0.99 within ~15 px of its
    edge (noise around 1, clipped); ``solid_snap`` sets areas that are solid on average to 1."""
    alpha = subject_alpha(edge_px=3.0)
    res = key(composite(alpha, uneven_screen("green")), solid_snap=0.99)
    assert (res.alpha[away_from(alpha >= 1.0, 4)] == 1.0).all()


def test_grey_subject_with_green_spill_still_keys_solid_and_despilled():
    alpha = subject_alpha(edge_px=3.0)
    res = key(composite(alpha, uneven_screen("green"), fg=(0.5, 0.62, 0.5)))  # grey with a green cast
    assert (res.alpha[away_from(alpha >= 1.0, DEEP)] == 1.0).all()
    assert np.abs(res.alpha - alpha).mean() < 0.01
    fg = res.fg[res.alpha > 0.05]
    assert (fg[:, 1] <= np.maximum(fg[:, 0], fg[:, 2]) + 1e-6).all()


def test_isolated_marker_cross_on_the_screen_ends_at_alpha_zero():
    alpha = subject_alpha()
    res = key(composite(alpha, with_markers(uneven_screen("green"))))
    for x, y in MARKERS:
        assert res.alpha[y - 8:y + 9, x - 8:x + 9].max() == 0.0


def test_despot_is_what_removes_markers_that_the_matte_alone_keeps():
    img = composite(subject_alpha(), with_markers(uneven_screen("green")))
    kept = key(img, refine=False, despot_px=0).alpha
    removed = key(img, refine=False).alpha
    for x, y in MARKERS:
        assert kept[y, x] > 0.5  # a dark cross has no screen excess: the raw matte calls it foreground
        assert removed[y - 1:y + 2, x - 6:x + 7].max() == 0.0 and removed[y - 6:y + 7, x - 1:x + 2].max() == 0.0
        # a faint ring may stay where edge protection kept clip black off around the cross
        assert removed[y - 8:y + 9, x - 8:x + 9].max() < 0.1


def test_an_isolated_thin_pole_is_not_taken_for_a_speck():
    # area ~900 px < despot_px**2 = 1600, like a marker; 100 px long > 2 despot_px: no speck
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    pole = (np.clip(4.5 - np.abs(x - 80), 0, 1) * (y > 20)).astype(np.float32)
    res = key(composite(pole, uneven_screen("green")))
    assert np.abs(res.alpha - pole).mean() < 0.01


def test_despot_removes_small_specks_and_fills_small_holes_only():
    a = np.zeros((100, 100), np.float32)
    a[10:14, 10:14] = 1.0  # speck, area 16
    a[40:90, 40:90] = 1.0  # subject, area 2500
    a[60:62, 60:62] = 0.0  # pinhole in the subject
    a[45:75, 45:55] = 0.0  # big gap in the subject (area 300): a real hole
    out = despot(a, 20 * 20)
    assert out[10:14, 10:14].max() == 0.0
    assert (out[60:62, 60:62] == 1.0).all()
    assert (out[45:75, 45:55] == 0.0).all()
    assert (out[80:90, 80:90] == 1.0).all()
    np.testing.assert_array_equal(despot(a, 0), a)
    a[5:95, 2:4] = 1.0  # a cable: area 180 < 400 but 90 px long (> 2 x 20)
    a[20:24, 20:50] = 1.0  # a bar 30 px long (< 40): a speck
    out = despot(a, 20 * 20)
    assert (out[5:95, 2:4] == 1.0).all() and out[20:24, 20:50].max() == 0.0


def test_clip_matte_cleans_far_from_edges_and_keeps_soft_values_near_them():
    p = KeyParams(clip_black=0.04, clip_white=0.9, edge_protect_px=4)
    a = np.full((80, 80), 0.03, np.float32)  # screen noise floor
    a[20:60, 20:60] = 0.95  # a solid subject that reads a little below 1
    a[20:60, 19] = 0.4  # a soft edge column
    out = clip_matte(a, p)
    assert out[5, 5] == 0.0 and out[40, 40] == 1.0
    assert 0.3 < out[40, 19] < 0.45  # within edge_protect: not crushed
    assert out.dtype == np.float32


def test_auto_core_fills_enclosed_holes_and_erodes():
    ring = np.zeros((60, 60), np.float32)
    cv2.circle(ring, (30, 30), 20, 1.0, 4)
    core = auto_core(ring, 0)
    assert core[30, 30] == 1.0 and core[2, 2] == 0.0
    eroded = auto_core(ring, 3)
    assert eroded[30, 30] == 1.0 and eroded[30, 50] == 0.0  # the ring's outer rim is eroded away


def test_shrink_grow_changes_the_matte_by_whole_pixels():
    a = np.zeros((40, 40), np.float32)
    a[10:30, 10:30] = 1.0
    assert shrink_grow(a, 0.0) is a
    assert shrink_grow(a, 2).sum() > a.sum() > shrink_grow(a, -2).sum()
    assert shrink_grow(a, -2)[12:28, 12:28].min() == 1.0 and shrink_grow(a, -2)[11, 20] == 0.0


# ------------------------------------------------------------------ colour


def test_unmix_recovers_the_foreground_exactly_for_known_alpha_and_plate():
    rng = np.random.default_rng(5)
    plate = uneven_screen("green")
    fg = rng.uniform(0.05, 1.0, plate.shape).astype(np.float32)
    alpha = rng.uniform(0.05, 1.0, (H, W)).astype(np.float32)
    alpha[:10] = 0.0
    img = (alpha[..., None] * fg + (1 - alpha[..., None]) * plate).astype(np.float32)
    out = unmix(img, alpha, plate)
    np.testing.assert_allclose(out[10:], fg[10:], rtol=1e-4, atol=1e-5)
    assert (out[:10] == 0.0).all()  # no colour where there is no foreground


@pytest.mark.parametrize("despill_mode,replace", [("limit", None), ("subtract", (0.2, 0.3, 0.4)), ("none", None)])
@pytest.mark.parametrize("kind", ["green", "blue"])
def test_the_keyers_one_pass_foreground_is_unmix_then_despill(kind, despill_mode, replace):
    """What Keyer.finish writes (one compiled pass) equals the readable reference: unmix, then
    despill, with the removed spill alike."""
    from engine.key.keyer import unmix_and_despill

    rng = np.random.default_rng(9)
    plate = uneven_screen(kind)
    img = rng.uniform(0.0, 1.0, plate.shape).astype(np.float32)
    alpha = rng.uniform(0.0, 1.0, (H, W)).astype(np.float32)
    alpha[:5] = 0.0
    p = KeyParams(despill=despill_mode, despill_strength=0.8, spill_replace=replace)
    fg, spill = unmix_and_despill(img, alpha, plate, kind, p)
    want, want_spill = despill(unmix(img, alpha, plate), kind, despill_mode, 0.8, replace, with_amount=True)
    np.testing.assert_allclose(fg, want, rtol=1e-4, atol=1e-5)
    if want_spill is None:
        assert spill is None
    else:
        np.testing.assert_allclose(spill, want_spill, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind,ch", [("green", 1), ("blue", 2)])
def test_despill_limit_leaves_no_screen_channel_excess(kind, ch):
    rng = np.random.default_rng(2)
    fg = rng.uniform(0.0, 1.0, (32, 32, 3)).astype(np.float32)
    out = despill(fg, kind, "limit", 1.0)
    others = [c for c in range(3) if c != ch]
    assert (out[..., ch] <= np.maximum(out[..., others[0]], out[..., others[1]]) + 1e-6).all()
    np.testing.assert_array_equal(out[..., others], fg[..., others])  # only the screen channel moves
    unspilled = fg[..., ch] <= np.maximum(fg[..., others[0]], fg[..., others[1]])
    np.testing.assert_array_equal(out[unspilled], fg[unspilled])


def test_despill_subtract_limits_the_screen_channel_to_the_mean_of_the_others():
    out = despill(np.array([[[0.2, 0.9, 0.6]]], np.float32), "green", "subtract", 1.0)
    np.testing.assert_allclose(out[0, 0], [0.2, 0.4, 0.6], atol=1e-6)


def test_despill_puts_back_the_replacement_colour_for_the_removed_spill():
    fg = np.array([[[0.3, 0.6, 0.2], [0.5, 0.5, 0.5]]], np.float32)
    out = despill(fg, "green", "limit", 1.0, replace=(1.0, 0.5, 0.0))
    # 0.3 of spill removed from the first pixel, and 0.3 * (1, 0.5, 0) added back
    np.testing.assert_allclose(out[0, 0], [0.6, 0.45, 0.2], atol=1e-6)
    np.testing.assert_array_equal(out[0, 1], fg[0, 1])


def test_despill_strength_scales_and_none_is_identity():
    fg = np.array([[[0.3, 0.6, 0.2]]], np.float32)
    np.testing.assert_allclose(despill(fg, "green", "limit", 0.5)[0, 0], [0.3, 0.45, 0.2], atol=1e-6)
    assert despill(fg, "green", "none", 1.0) is fg
    assert despill(fg, "green", "limit", 0.0) is fg


def test_keyed_foreground_is_the_subject_colour_and_premultiplied_rgba_matches():
    alpha = subject_alpha()
    grey = (0.5, 0.5, 0.5)
    res = key(composite(alpha, uneven_screen("green"), fg=grey))
    inside = away_from(alpha >= 1.0, 4)
    np.testing.assert_allclose(res.fg[inside].mean(0), grey, atol=0.01)
    rgba = res.premultiplied
    assert rgba.shape == (H, W, 4) and rgba.dtype == np.float32
    np.testing.assert_allclose(rgba[..., :3], res.fg * res.alpha[..., None], atol=1e-6)
    np.testing.assert_array_equal(rgba[..., 3], res.alpha)
    assert res.clean_plate.shape == (H, W, 3)


def test_a_user_clean_plate_replaces_the_estimate():
    screen = uneven_screen("green", vignette=0.5)
    alpha = subject_alpha()
    img = composite(alpha, screen)
    res = Keyer(KeyParams(temporal=0.0), detect_screen(img), user_plate=screen).key(img)
    assert res.clean_plate is screen
    assert np.abs(res.alpha - alpha).mean() < 0.01


def test_keying_without_a_screen_is_an_error():
    with pytest.raises(ValueError):
        Keyer(KeyParams()).key(composite(subject_alpha(), uneven_screen("green")))


# ------------------------------------------------------------------ time and user mattes


def _chatter(mattes):
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(mattes, mattes[1:])]))


@pytest.mark.parametrize("temporal", [0.5, 0.9])
def test_temporal_hold_reduces_matte_chatter_on_a_locked_off_shot(temporal):
    screen, alpha = uneven_screen("green"), subject_alpha(edge_px=6.0)
    frames = [composite(alpha, screen, noise=0.01, seed=s) for s in range(6)]  # same picture, fresh noise
    found = detect_screen(frames[0])

    def run(temporal):
        keyer = Keyer(KeyParams(temporal=temporal), found)
        return [keyer.key(f).alpha for f in frames]

    still, held = run(0.0), run(temporal)
    assert _chatter(held) < 0.7 * _chatter(still)
    # holding the matte does not make it less accurate
    def error(mattes):
        return float(np.mean([np.abs(m - alpha).mean() for m in mattes]))

    assert error(held) <= error(still) + 1e-3


def test_temporal_hold_follows_a_moving_subject():
    screen = uneven_screen("green")
    a1 = subject_alpha()
    a2 = np.roll(a1, 30, axis=1)  # the subject moved 30 px
    f1, f2 = composite(a1, screen, seed=1), composite(a2, screen, seed=2)
    keyer = Keyer(KeyParams(temporal=0.95), detect_screen(f1))
    keyer.key(f1)
    moved = keyer.key(f2).alpha
    assert np.abs(moved - a2).mean() < 0.01
    left_behind = away_from(a1 >= 1.0, 2) & away_from(a2 <= 0.0, KeyParams().edge_protect_px + 4)
    assert left_behind.any() and (moved[left_behind] == 0.0).all()  # no ghost of the old position


def test_garbage_and_core_boxes_force_screen_and_foreground():
    alpha = subject_alpha()
    img = composite(alpha, uneven_screen("green"))
    res = key(img, garbage_boxes=[(60, 50, 100, 80)], core_boxes=[(5, 5, 25, 15)])
    assert (res.alpha[50:80, 60:100] == 0.0).all()  # inside the subject
    assert (res.alpha[5:15, 5:25] == 1.0).all()  # on the screen
    assert np.abs(res.alpha - alpha)[100:].max() < 0.05  # the rest is keyed as usual


def test_garbage_and_core_mattes_force_screen_and_foreground():
    alpha = subject_alpha()
    img = composite(alpha, uneven_screen("green"))
    garbage = np.zeros((H, W), np.float32)
    garbage[:, :70] = 1.0
    core = np.zeros((H, W), np.float32)
    core[:10, 100:] = 1.0
    found = detect_screen(img)
    res = Keyer(KeyParams(temporal=0.0), found).key(img, garbage=garbage, core=core)
    assert (res.alpha[:, :70] == 0.0).all()
    assert (res.alpha[:10, 100:] == 1.0).all()
    assert (res.fg[:, :70] == 0.0).all()


def test_screen_gain_below_one_keeps_the_far_screen_transparent():
    alpha = subject_alpha()
    res = key(composite(alpha, uneven_screen("green")), screen_gain=0.8)
    far = away_from(alpha <= 0.0, KeyParams().edge_protect_px + 4)
    assert res.alpha[far].max() < 0.02


def test_the_edge_re_solve_at_hd_samples_the_subject_colour_as_a_full_upscale_would():
    """At 1080 lines the subject colour is estimated at half size and sampled only along the
    edge band; the matte must equal the one from upscaling the whole estimate."""
    from engine.key import keyer as k
    from engine.key.screen import downsample, fill_holes, upsample

    rng = np.random.default_rng(3)
    h, w = 1080, 96
    img = rng.random((h, w, 3), dtype=np.float32)
    plate = np.broadcast_to(np.array([0.05, 0.4, 0.08], np.float32), (h, w, 3)).copy()
    alpha = np.clip(rng.random((h, w), dtype=np.float32) * 1.2, 0, 1)
    band = np.ones((h, w), bool)  # every pixel re-solved, the frame edges too
    got = k.refine_with_colours(img, alpha, plate, band)
    f_est = cv2.GaussianBlur(fill_holes(downsample(img, 2), downsample((alpha > 0.93).astype(np.float32), 2) > 0.99),
                             (0, 0), 1.5)
    fc = upsample(f_est, img.shape) - plate
    want = np.clip(((img - plate) * fc).sum(-1) / np.maximum((fc * fc).sum(-1), 1e-4), 0, 1)
    np.testing.assert_allclose(got, want, atol=2e-3)


def test_a_screen_coloured_area_enclosed_by_the_subject_is_kept_and_counted():
    """A green panel inside a solid subject (a costume badge, a ball's green segment) is
    foreground: the enclosed hole is filled by the core, and the keyer says how much it held."""
    from synthetic_screen import SCREEN_RGB

    alpha = subject_alpha()
    img = composite(alpha, uneven_screen("green"), fg=(0.6, 0.5, 0.2))
    y, x = np.mgrid[0:H, 0:W]
    patch = (np.abs(x - W / 2) < 6) & (np.abs(y - 0.55 * H) < 6)  # deep inside the disc
    img[patch] = SCREEN_RGB["green"]
    res = Keyer(KeyParams(temporal=0.0), detect_screen(img)).key(img)
    assert res.alpha[patch].min() > 0.99
    assert 0.5 * patch.sum() < res.screen_inside_px <= 1.5 * patch.sum()
    plain = Keyer(KeyParams(temporal=0.0), detect_screen(img)).key(composite(alpha, uneven_screen("green"),
                                                                               fg=(0.6, 0.5, 0.2)))
    assert plain.screen_inside_px == 0


# ------------------------------------------------------------------ colours beside the screen's


@pytest.mark.parametrize("fg", [(0.75, 0.75, 0.05), (0.05, 0.7, 0.7)], ids=["yellow", "cyan"])
def test_yellow_and_cyan_beside_a_green_screen_keep_their_alpha(fg):
    """Yellow (R = G) and cyan (B = G) have no green excess over both other channels: they
    hold none of the screen's colour, so the subject keys solid with its true soft edge."""
    alpha = subject_alpha(edge_px=3.0)
    res = key(composite(alpha, uneven_screen("green"), fg=fg))
    err = np.abs(res.alpha - alpha)
    assert err.mean() < 0.01
    assert res.alpha[away_from(alpha >= 1.0, 2)].min() > 0.95
    edge = (alpha > 0.02) & (alpha < 0.98)
    assert err[edge].mean() < 0.08


def test_a_prop_greener_than_the_screen_at_the_subjects_edge_stays_opaque():
    """A saturated green part of the subject on its outline (not enclosed, so the core does not
    fill it): its red and blue lie far below the screen's, which no mix of the screen with a
    foreground of non-negative light can give, so it is foreground whatever its hue."""
    from synthetic_screen import SCREEN_RGB

    alpha = subject_alpha(edge_px=3.0)
    y, _ = np.mgrid[0:H, 0:W]
    prop = y > 0.55 * H  # the bottom half of the disc, edge included
    fg = np.where(prop[..., None], np.float32([0.005, 0.55, 0.01]), np.float32([0.5, 0.5, 0.5]))
    img = alpha[..., None] * fg + (1 - alpha[..., None]) * uneven_screen("green")
    img = (img + np.random.default_rng(0).normal(0, 0.004, img.shape)).astype(np.float32)
    assert SCREEN_RGB["green"][0] > 5 * 0.005
    res = key(img)
    solid_prop = away_from(alpha >= 1.0, 2) & prop
    assert solid_prop.sum() > 100
    # the floor is a bound (less the noise margin), and where the two colours meet their blend
    # passes through the screen's hue: mostly, not wholly, opaque; the old key removed it all
    assert res.alpha[solid_prop].mean() > 0.8


# ------------------------------------------------------------------ markers touching the subject


def test_a_marker_touching_the_subject_is_removed_and_the_subject_kept():
    """A tracking cross overlapping the subject's outline joins its matte, so the despot (which
    removes specks) leaves it; the marker search finds it on the screen and clears it."""
    from synthetic_screen import SCREEN_RGB

    alpha = subject_alpha(edge_px=3.0)
    x0 = int(0.5 * W + 0.22 * W) + 4  # 4 px outside the disc's edge, arms 6 px long: it overlaps
    y0 = int(0.55 * H)
    marker = tuple(0.4 * c for c in SCREEN_RGB["green"])  # a darker shade of the screen's own colour
    # a dark subject: over a grey one the edge re-solve happens to project the marker away
    img = composite(alpha, with_markers(uneven_screen("green"), points=[(x0, y0)], colour=marker),
                    fg=(0.08, 0.08, 0.08))
    res = key(img)
    footprint = np.zeros((H, W), bool)
    footprint[y0 - 1:y0 + 2, x0 - 6:x0 + 7] = True
    footprint[y0 - 6:y0 + 7, x0 - 1:x0 + 2] = True
    outside = footprint & (alpha <= 0.0)
    assert outside.sum() > 20
    assert res.alpha[outside].max() <= 0.02
    assert res.alpha[away_from(alpha >= 1.0, 2)].min() > 0.95  # the subject is whole


def test_a_dark_strand_of_hair_touching_the_subject_is_not_a_marker():
    """A thin dark strand over the screen has a darker screen's colour too, but it is a pixel
    or two wide: it stays in the matte."""
    alpha = subject_alpha(edge_px=3.0)
    x0 = int(0.5 * W + 0.22 * W)
    y0 = int(0.55 * H)
    strand = np.zeros((H, W), np.float32)
    strand[y0:y0 + 2, x0 - 2:x0 + 22] = 0.7  # 2 px wide, reaching 20 px out over the screen
    a = np.maximum(alpha, strand)
    img = composite(a, uneven_screen("green"), fg=(0.02, 0.02, 0.02))
    res = key(img)
    out_there = (strand > 0) & (alpha <= 0.0)
    assert res.alpha[out_there].mean() > 0.4


@pytest.mark.parametrize("fg", [(0.55, 0.38, 0.28), (0.2, 0.2, 0.8)], ids=["skin", "blue"])
def test_a_wide_soft_edge_keeps_its_true_opacity(fg):
    """Motion blur or a soft body edge 16 px wide: the core starts inside the ramp, where the
    raw matte still rises, so a white point read there would divide the edge by its own
    transparency and leave it too dense (skin and blue read above 1 on a green screen)."""
    alpha = subject_alpha(edge_px=16.0)
    res = key(composite(alpha, uneven_screen("green"), fg=fg))
    soft = (alpha > 0.05) & (alpha < 0.95)
    err = res.alpha - alpha
    assert np.abs(err[soft]).mean() < 0.02
    assert abs(err[soft].mean()) < 0.015


def test_a_strand_crossing_a_marker_keeps_its_opacity_and_the_marker_beyond_it_is_screen():
    """Behind a strand that crosses a tracking marker lies the marker, not the clean screen:
    solved against the marker's colour the strand keeps its opacity, and the end of the marker
    beyond the strand (cut off from the part found apart from the subject) reads as screen."""
    alpha = subject_alpha(edge_px=3.0)
    x0, y0 = 40, 20  # a cross on the screen, up and left of the disc
    strand = np.zeros((H, W), np.float32)
    strand[y0 + 2:y0 + 4, x0 - 12:x0 + 3] = 0.7  # 2 px wide, across the cross's lower arm
    for k in range(2, 40):  # and on down to the subject: a strand growing out of it
        strand[y0 + 2 + k, x0 - 12 + k // 2:x0 - 10 + k // 2] = 0.7
    a = np.maximum(alpha, strand)
    img = composite(a, with_markers(uneven_screen("green"), points=[(x0, y0)]), fg=(0.55, 0.38, 0.28))
    res = key(img)
    over = (strand > 0) & (alpha <= 0.0)
    crossing = over.copy()
    crossing[:, :x0 - 1] = False
    crossing[:, x0 + 2:] = False  # the strand where it lies on the marker's arm
    assert crossing.sum() >= 4
    assert res.alpha[crossing].mean() > 0.5
    footprint = np.zeros((H, W), bool)
    footprint[y0 - 1:y0 + 2, x0 - 6:x0 + 7] = True
    footprint[y0 - 6:y0 + 7, x0 - 1:x0 + 2] = True
    beyond = footprint & (a <= 0.0)
    beyond[:y0 + 4] = False  # the arm's end below the strand
    assert beyond.sum() >= 3
    assert res.alpha[beyond].max() <= 0.02


def test_a_thin_strand_moving_over_the_screen_leaves_no_trail():
    """The temporal hold compares blurred frames, where a strand two pixels wide that moves a
    pixel or two over the screen barely shows: the matte it had must not be held where it no
    longer is (it trailed a ghost of itself, 0.4 opaque, across the sky)."""
    alpha = subject_alpha(edge_px=3.0)
    screen = uneven_screen("green")
    frames, strands = [], []
    for step in range(4):
        strand = np.zeros((H, W), np.float32)
        x = 70 + 2 * step  # growing out of the top of the disc, moving 2 px a frame
        strand[4:45, x:x + 2] = 0.7
        strands.append(strand)
        frames.append(composite(np.maximum(alpha, strand), screen, fg=(0.55, 0.38, 0.28), seed=step))
    keyer = Keyer(KeyParams(screen="green"), detect_screen(frames[0], "green"))  # temporal hold on
    mattes = [keyer.key(f).alpha for f in frames]
    now = (strands[-1] > 0) & (alpha <= 0)
    assert mattes[-1][now].mean() > 0.5  # where it is: there
    trail = (strands[-2] > 0) & (strands[-1] <= 0) & (alpha <= 0)  # where it was a frame ago
    assert trail.sum() > 40
    assert mattes[-1][trail].max() <= 0.05


def test_noise_in_a_soft_edge_is_smoothed_and_a_strand_keeps_its_opacity():
    """Sensor noise scatters a soft edge's matte pixel by pixel (a camera's noise reads as a
    few percent of opacity); the keyer smooths differences within a few times the noise it
    measures on the screen and keeps larger ones, so a strand standing clear of the noise
    keeps its edge and its opacity, and the screen beside it stays clear."""
    alpha = subject_alpha(edge_px=12.0)
    strand = np.zeros((H, W), np.float32)
    strand[4:32, 80] = 0.5  # one pixel wide, out of the top of the disc
    truth = np.maximum(alpha, strand)
    img = composite(truth, uneven_screen("green"), fg=(0.55, 0.38, 0.28), noise=0.015)
    smoothed, as_is = key(img), key(img, matte_denoise=0.0)
    soft = (alpha > 0.05) & (alpha < 0.95)
    assert np.abs(smoothed.alpha - truth)[soft].mean() < 0.75 * np.abs(as_is.alpha - truth)[soft].mean()
    tip = np.zeros((H, W), bool)
    tip[4:20, 80] = True  # the strand clear of the disc's edge
    assert smoothed.alpha[tip].mean() > 0.9 * as_is.alpha[tip].mean() > 0.4
    assert smoothed.alpha[4:20, 76:80].max() <= as_is.alpha[4:20, 76:80].max()  # not smeared beside it
    everywhere = np.ones((H, W), bool)  # what was keyed as screen stays screen
    assert (denoise_matte(as_is.alpha, everywhere, 0.05, 3.0)[as_is.alpha <= 0] == 0).all()


def test_the_matte_noise_is_read_from_the_screen_and_grows_with_the_picture_noise():
    screen = uneven_screen("green")
    empty = np.zeros((H, W), np.float32)

    def noise_of(img):
        return matte_noise(raw_alpha(img, screen, "green", KeyParams()))

    quiet, noisy = noise_of(composite(empty, screen, noise=0.005)), noise_of(composite(empty, screen, noise=0.01))
    assert noise_of(composite(empty, screen, noise=0.0)) < 1e-3
    assert 0.005 < quiet and 1.6 < noisy / quiet < 2.4
    full = np.ones((H, W), np.float32)  # the subject fills the frame: no screen to read it from
    assert noise_of(composite(full, screen, noise=0.01)) == 0.0
