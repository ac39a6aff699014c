"""Background plates: registering the stills, weighting them in time, rendering every frame."""
import numpy as np
import pytest

from engine.classic.plate import BackgroundRenderer, PlateParams, register_references, temporal_weights
from engine.classic.track import corner_error
from synthetic_replace import shift, texture, view

W, H = 192, 108
INTERIOR = (slice(8, -8), slice(8, -8))


def similarity(deg, scale, dx, dy, px=0.0, py=0.0):
    a = np.deg2rad(deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), dx], [scale * np.sin(a), scale * np.cos(a), dy],
                     [px, py, 1.0]])


def renderer(stills, anchors, path, shutter=0.0, ref_to_frame0=None, **params):
    ref_to_frame0 = ref_to_frame0 or [np.eye(3)] * len(stills)
    return BackgroundRenderer(stills, anchors, ref_to_frame0, path, (W, H), PlateParams(shutter=shutter, **params))


def flat(colour, w=W, h=H):
    return np.broadcast_to(np.asarray(colour, np.float32), (h, w, 3)).copy()


def edge_still(vertical=True, w=W + 120, h=H + 60, at=None):
    """Dark left (or top) half, bright right (or bottom) half, the edge at pixel boundary ``at``."""
    img = flat((0.1, 0.1, 0.1), w, h)
    if vertical:
        img[:, (w // 2 if at is None else at):] = 0.9
    else:
        img[(h // 2 if at is None else at):, :] = 0.9
    return img


# ---------------------------------------------------------------- registration

@pytest.mark.parametrize("truth", [shift(23.0, -11.5), similarity(2.0, 1.03, 20.0, -8.0, 2e-5, -1e-5)])
def test_register_references_recovers_a_known_homography_to_a_fifth_of_a_pixel(truth):
    world = texture(420, 520, seed=3)
    first_to_world = shift(80.0, 70.0)
    first = view(world, first_to_world, (256, 192))
    second = view(world, first_to_world @ truth, (256, 192))
    reg = register_references([first, second])
    assert reg.ok == [True, True]
    assert reg.inliers[1] >= 50
    np.testing.assert_allclose(reg.ref_to_first[0], np.eye(3))
    assert corner_error([reg.ref_to_first[1]], [truth / truth[2, 2]], 256, 192) < 0.2
    assert reg.residual_px[1] < 0.5


def test_register_references_at_a_reduced_size_answers_in_full_size_pixels():
    world = texture(420, 520, seed=4)
    truth = similarity(-1.5, 0.98, -14.0, 9.0)
    first = view(world, shift(90.0, 80.0), (256, 192))
    second = view(world, shift(90.0, 80.0) @ truth, (256, 192))
    reg = register_references([first, second], max_side=160)
    assert reg.ok == [True, True]
    assert corner_error([reg.ref_to_first[1]], [truth], 256, 192) < 0.6


def test_a_still_that_cannot_be_registered_is_assumed_to_show_the_first_view():
    first = texture(192, 256, seed=5)
    reg = register_references([first, flat((0.3, 0.3, 0.3), 256, 192)])
    assert reg.ok == [True, False]
    np.testing.assert_allclose(reg.ref_to_first[1], np.eye(3))


# ---------------------------------------------------------------- temporal weights

def test_temporal_weights_are_one_at_an_anchor_and_linear_between_anchors():
    anchors = [0, 10, 20]
    np.testing.assert_allclose(temporal_weights(anchors, 10), [0.01, 1.0, 0.01])
    np.testing.assert_allclose(temporal_weights(anchors, 5), [0.5, 0.5, 0.01])
    np.testing.assert_allclose(temporal_weights(anchors, 12.5), [0.01, 0.75, 0.25])


def test_temporal_weights_hold_the_nearest_anchor_beyond_the_ends():
    anchors = [4, 10]
    np.testing.assert_allclose(temporal_weights(anchors, 0), [1.0, 0.01])
    np.testing.assert_allclose(temporal_weights(anchors, 30), [0.01, 1.0])


def test_temporal_weights_follow_the_stills_whatever_their_order():
    np.testing.assert_allclose(temporal_weights([20, 0, 10], 15), [0.5, 0.01, 0.5])


def test_temporal_weights_never_drop_a_bracketing_still_below_the_others():
    w = temporal_weights([0, 100], 99.9)
    assert w.min() >= 0.01 and w[1] == pytest.approx(0.999)


# ---------------------------------------------------------------- rendering

def test_a_closed_shutter_renders_the_still_exactly_at_its_anchor():
    still = texture(H, W, seed=6)
    bg = renderer([still], [0], [np.eye(3)] * 3).render(0)
    assert bg.shape == (H, W, 3) and bg.dtype == np.float32
    np.testing.assert_allclose(bg[INTERIOR], still[INTERIOR], atol=1e-5)


def test_a_translating_camera_renders_the_translated_view():
    still = texture(H + 40, W + 60, seed=7)
    path = [shift(3.0 * t, 2.0 * t) for t in range(6)]  # frame t pixel -> frame 0 (= still) pixel
    r = renderer([still], [0], path)
    for t in (2, 5):
        expected = still[2 * t:2 * t + H, 3 * t:3 * t + W]
        np.testing.assert_allclose(r.render(t)[INTERIOR], expected[INTERIOR], atol=1e-5)


def test_the_still_is_placed_by_its_registration():
    still = texture(H + 40, W + 60, seed=8)
    r = renderer([still], [0], [np.eye(3)], ref_to_frame0=[shift(-10.0, -6.0)])  # still pixel -> frame pixel
    np.testing.assert_allclose(r.render(0)[INTERIOR], still[6:6 + H, 10:10 + W][INTERIOR], atol=1e-5)


def test_stills_are_blended_by_temporal_distance_to_their_anchors():
    red, blue = flat((0.8, 0.1, 0.1)), flat((0.1, 0.1, 0.6))
    r = renderer([red, blue], [0, 10], [np.eye(3)] * 11)
    np.testing.assert_allclose(r.render(5)[INTERIOR], flat((0.45, 0.1, 0.35))[INTERIOR], atol=1e-5)
    np.testing.assert_allclose(r.render(2)[INTERIOR], flat((0.66, 0.1, 0.2))[INTERIOR], atol=1e-5)


def test_at_its_anchor_a_still_dominates_with_at_most_a_percent_of_the_others():
    red, blue = flat((0.8, 0.1, 0.1)), flat((0.1, 0.1, 0.6))
    bg = renderer([red, blue], [0, 10], [np.eye(3)] * 11).render(0)
    np.testing.assert_allclose(bg[INTERIOR], red[INTERIOR], atol=0.01 * 0.7)


def test_at_its_anchor_a_still_that_covers_the_frame_past_its_border_is_rendered_alone():
    red, blue = flat((0.8, 0.1, 0.1), W + 20, H + 20), flat((0.1, 0.1, 0.6))
    bg = renderer([red, blue], [0, 10], [np.eye(3)] * 11, ref_to_frame0=[shift(-10.0, -10.0), np.eye(3)]).render(0)
    np.testing.assert_allclose(bg, flat((0.8, 0.1, 0.1)), atol=1e-6)


def test_an_area_one_still_does_not_cover_is_filled_by_the_other():
    half = flat((0.8, 0.1, 0.1), w=W // 2)  # covers only the left half of the frame
    full = flat((0.1, 0.1, 0.6))
    bg = renderer([half, full], [0, 10], [np.eye(3)] * 11).render(0)  # the half still's own anchor
    np.testing.assert_allclose(bg[8:-8, W // 2 + 8:-8], flat((0.1, 0.1, 0.6))[8:-8, W // 2 + 8:-8], atol=1e-3)
    np.testing.assert_allclose(bg[8:-8, 8:W // 2 - 8], flat((0.8, 0.1, 0.1))[8:-8, 8:W // 2 - 8], atol=0.01)


def _ramp_width(row, lo=0.1, hi=0.9):
    """Pixels strictly inside the 5-95% transition of a dark-to-bright profile."""
    f = (row - lo) / (hi - lo)
    return int(((f > 0.05) & (f < 0.95)).sum())


def _edge_position(row, lo=0.1, hi=0.9):
    """Sub-pixel position where the profile crosses half way (pixel centres at integers)."""
    f = (row - lo) / (hi - lo)
    i = int(np.argmax(f >= 0.5))
    return i - 1 + (0.5 - f[i - 1]) / (f[i] - f[i - 1])


def test_an_open_shutter_blurs_an_edge_along_the_motion_by_the_distance_travelled():
    still = edge_still(vertical=True)
    speed = 16.0  # px a frame; a half-open shutter sees 8 px of it
    path = [shift(speed * t, 0.0) for t in range(5)]
    row = renderer([still], [0], path, shutter=0.5).render(2)[H // 2, :, 1]
    assert 6 <= _ramp_width(row) <= 10
    # centred on where the sharp edge is at mid-exposure: still pixel boundary 155.5 -> frame 123.5
    assert _edge_position(row) == pytest.approx(still.shape[1] // 2 - 0.5 - 2 * speed, abs=0.3)


def test_a_closed_shutter_keeps_a_moving_edge_sharp():
    still = edge_still(vertical=True)
    path = [shift(16.0 * t, 0.0) for t in range(5)]
    row = renderer([still], [0], path, shutter=0.0).render(2)[H // 2, :, 1]
    assert _ramp_width(row) == 0


def test_motion_blur_does_not_smear_edges_parallel_to_the_motion():
    still = edge_still(vertical=False)
    path = [shift(16.0 * t, 0.0) for t in range(5)]
    col = renderer([still], [0], path, shutter=0.5).render(2)[:, W // 2, 1]
    assert _ramp_width(col) == 0


def test_defocus_softens_the_background():
    still = edge_still(vertical=True, w=W, h=H, at=W // 2)
    sharp = renderer([still], [0], [np.eye(3)]).render(0)[H // 2, :, 1]
    soft = renderer([still], [0], [np.eye(3)], defocus_px=3.0).render(0)[H // 2, :, 1]
    assert _ramp_width(sharp) == 0
    assert _ramp_width(soft) >= 8
