"""The pictures of a training triplet (engine.dataset): anchors, framing, the camera move
that carries background and screen alike, the synthetic screen, the plate's compositing,
and the background and subject taken apart from matted footage."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from engine import dataset as ds
from engine.key.screen import find_screen

W, H = 96, 64


def coordinates_world(h: int, w: int) -> np.ndarray:
    """A world whose pixels say where they are: R = x, G = y (pixel centres), B = 1."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([x, y, np.ones_like(x)], -1)


def texture(h: int, w: int, seed: int = 0, sigma: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), sigma)
    t = (t - t.mean()) / t.std()
    return np.clip(0.3 + 0.1 * t, 0.01, None)[..., None] * np.array([1.0, 0.9, 0.8], np.float32)


def disc(h: int, w: int, cx: float, cy: float, r: float, soft: float = 3.0) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.clip((r - np.hypot(x - cx, y - cy)) / soft + 0.5, 0, 1).astype(np.float32)


def silent(look: ds.ScreenLook) -> ds.ScreenLook:
    return dataclasses.replace(look, read_noise=0.0, shot_noise=0.0)


def box_of(view: np.ndarray) -> tuple[float, float, float]:
    """(x of the left pixel centre, y of the top one, world pixels per output pixel) of a
    view of :func:`coordinates_world`."""
    return float(view[0, 0, 0]), float(view[0, 0, 1]), float(view[0, -1, 0] - view[0, 0, 0]) / (view.shape[1] - 1)


@pytest.mark.parametrize("refs,expected", [(1, [0]), (2, [0, 16]), (3, [0, 8, 16])])
def test_anchors_are_first_middle_and_last(refs, expected):
    assert ds.anchors(17, refs) == expected


def test_fit_crops_without_resampling_or_scales_to_cover_keeping_the_aspect():
    img = coordinates_world(70, 100)
    assert np.array_equal(ds.fit(img, 96, 64, cover=False), img[3:67, 2:98])
    shrunk = ds.fit(img, 48, 16)  # cover 48 wide: scale 0.48, 34 rows, centre 16 of them
    steps_x = np.diff(shrunk[8, :, 0]).mean()
    assert shrunk.shape == (16, 48, 3) and abs(steps_x - 1 / 0.48) < 0.05
    assert abs(np.diff(shrunk[:, 24, 1]).mean() - steps_x) < 0.05  # the same scale down as across


def test_a_window_at_scale_one_is_a_plain_crop():
    world = texture(80, 120)
    assert np.allclose(ds.view(world, ds.window(7, 5, W, H, W, H), W, H), world[5:5 + H, 7:7 + W], atol=1e-6)


def test_the_camera_move_pans_inside_the_world_keeps_the_aspect_and_follows_its_seed():
    world = coordinates_world(200, 300)
    move = ds.camera_move(np.random.default_rng(3), 17, 300, 200, W, H)
    boxes = [box_of(ds.view(world, m, W, H)) for m in move]
    for m in move:  # every output corner lands inside the world: no mirrored edge in view
        corners = cv2.perspectiveTransform(np.array([[[0, 0]], [[W - 1, H - 1]]], np.float64), m)
        assert corners.min() >= 0 and corners[1, 0, 0] <= 299 and corners[1, 0, 1] <= 199
        v = ds.view(world, m, W, H)
        assert abs((v[-1, 0, 1] - v[0, 0, 1]) / (H - 1) - (v[0, -1, 0] - v[0, 0, 0]) / (W - 1)) < 1e-3
    for seed in range(40):  # wherever a move starts, it ends inside the world
        last = ds.camera_move(np.random.default_rng(seed), 17, 300, 200, W, H)[-1]
        corners = cv2.perspectiveTransform(np.array([[[0, 0]], [[W - 1, H - 1]]], np.float64), last)
        assert corners.min() >= 0 and corners[1, 0, 0] <= 299 and corners[1, 0, 1] <= 199
    travel = np.hypot(boxes[-1][0] - boxes[0][0], boxes[-1][1] - boxes[0][1])
    assert travel > 10  # world pixels between first and last frame
    steps = np.diff([b[0] for b in boxes])
    assert (np.sign(steps) == np.sign(steps[0])).all()  # one smooth pan, not a jitter
    again = ds.camera_move(np.random.default_rng(3), 17, 300, 200, W, H)
    other = ds.camera_move(np.random.default_rng(4), 17, 300, 200, W, H)
    assert all(np.array_equal(a, b) for a, b in zip(move, again))
    assert not np.allclose(move[-1], other[-1])


def test_a_pan_across_a_wide_still_moves_at_most_max_pan_of_the_picture():
    world = coordinates_world(200, 1200)
    for seed in range(10):
        move = ds.camera_move(np.random.default_rng(seed), 17, 1200, 200, W, H)
        (x0, y0, s0), (x1, y1, s1) = (box_of(ds.view(world, m, W, H)) for m in (move[0], move[-1]))
        picture_w = W * (s0 + s1) / 2  # world pixels across the picture
        assert 0.05 * picture_w < np.hypot(x1 - x0, y1 - y0) < 1.1 * ds.MAX_PAN * picture_w


def test_prescale_leaves_no_view_shrinking_a_large_still_and_reports_enlargement_of_a_small_one():
    big, enlarged = ds.prescale(texture(600, 900), W, H)
    full_w = min(big.shape[1], big.shape[0] * W / H)
    assert abs(full_w / ds.ZOOM[0] - W) < 2 and enlarged == pytest.approx(ds.ZOOM[1] / ds.ZOOM[0], rel=0.03)
    small, enlarged = ds.prescale(texture(30, 45), W, H)
    assert small.shape == (30, 45, 3) and enlarged == pytest.approx(W / (45 / ds.ZOOM[1]), rel=0.01)


@pytest.mark.parametrize("kind", ["green", "blue"])
def test_the_synthetic_screen_is_a_screen_of_its_kind_lit_unevenly(kind):
    rng = np.random.default_rng(1)
    look = ds.screen_look(kind, rng)
    world = ds.screen_world(look, 120, 180, rng)
    found = find_screen(world)
    assert found.screen is not None and found.screen.kind == kind and found.screen.coverage > 0.9
    level = world[..., 1 if kind == "green" else 2]
    assert 0.03 < level.std() / level.mean() < 0.3  # uneven, as lit screens are, but a screen


def test_the_plate_is_the_screen_where_the_subject_is_absent_and_the_subject_where_it_is_solid():
    rng = np.random.default_rng(0)
    look = silent(ds.screen_look("green", rng))
    screen = ds.screen_world(look, H, W, rng)
    alpha = disc(H, W, 48, 32, 16, soft=6)
    subject = np.array([0.6, 0.3, 0.2], np.float32) * alpha[..., None]
    plate = ds.plate_frame(subject, alpha, screen, look, rng)
    assert np.allclose(plate[alpha == 0], screen[alpha == 0], atol=1e-6)
    assert np.allclose(plate[alpha == 1], subject[alpha == 1], atol=1e-6)
    spill = (plate - ds.over(subject, alpha, screen)) / np.maximum(alpha, 1e-6)[..., None]  # in straight colour
    half = np.abs(alpha - 0.5) < 0.02
    assert np.allclose(spill[half], look.spill * screen[half], rtol=0.1)  # half-transparent: `spill` of the screen
    assert (spill[(alpha > 0.1) & (alpha < 0.9)] > 0).all()
    noisy = ds.plate_frame(subject, alpha, screen, ds.screen_look("green", np.random.default_rng(0)), rng)
    assert 0.001 < np.std(noisy - plate) < 0.02


def test_the_hidden_background_holds_no_subject_and_keeps_what_was_visible():
    bg = texture(H, W)
    alpha = disc(H, W, 40, 30, 12)
    red = np.array([0.9, 0.05, 0.05], np.float32)
    picture = ds.over(red * alpha[..., None], alpha, bg)
    filled = ds.hidden_background(picture, alpha, grow_px=2)
    inside = alpha > 0.5
    assert np.abs(filled[inside] - bg[inside].mean(0)).max() < 0.08  # the surroundings' colours
    assert np.linalg.norm(filled[inside] - red, axis=-1).min() > 0.5
    far = cv2.erode((alpha == 0).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert np.array_equal(filled[far], picture[far])


def test_the_subject_is_the_picture_where_solid_and_takes_no_background_into_its_soft_edge():
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    bg = np.where((x < W / 2)[..., None], [0.05, 0.05, 0.9], [0.9, 0.9, 0.05]).astype(np.float32)  # blue | yellow
    alpha = disc(H, W, 48, 40, 14, soft=10)
    skin = np.array([0.6, 0.4, 0.3], np.float32)
    picture = ds.over(skin * alpha[..., None], alpha, bg)
    subject = ds.subject_of(picture, alpha, ds.hidden_background(picture, alpha, 2))
    assert np.allclose(subject[alpha == 1], picture[alpha == 1], atol=1e-6)
    assert (subject[alpha == 0] == 0).all()
    soft = (alpha > 0.05) & (alpha < 0.6)
    straight = subject[soft] / alpha[soft][:, None]
    assert np.abs(straight - skin).max() < 0.1  # the skin's colour, not the blue or the yellow behind it


def test_one_camera_moves_background_and_screen_together():
    still = texture(160, 240, seed=2, sigma=1.5)
    rng = np.random.default_rng(5)
    look = silent(ds.screen_look("blue", rng))
    maker = ds.MattedOverStill(still, look, rng, 5, W, H, [0, 4])
    alpha = np.zeros((H, W), np.float32)
    rgba = np.zeros((H, W, 4), np.float32)
    made = [maker.frame(rgba) for _ in range(5)]
    assert [m.ref is not None for m in made] == [True, False, False, False, True]
    for i, m in enumerate(made):
        assert np.array_equal(m.target, ds.over(rgba[..., :3], alpha, m.target))  # the background alone
        assert np.allclose(m.plate, ds.view(maker.screen, maker.cameras[i], W, H), atol=1e-6)
        assert np.allclose(m.target, ds.view(maker.still, maker.cameras[i], W, H), atol=1e-6)
    assert np.abs(made[0].target - made[-1].target).mean() > 0.01


def test_a_tracked_camera_follows_the_footage():
    world = texture(100, 160, seed=4, sigma=1.2)
    cam = ds.TrackedCamera(np.eye(3))
    for k in range(4):  # the camera pans right 3 px a frame: the footage moves left
        m = cam.matrix(world[10:10 + H, 10 + 3 * k:10 + 3 * k + W], None)
        assert np.allclose(m[:2, 2], [3 * k, 0], atol=0.2) and np.allclose(m[:2, :2], np.eye(2), atol=0.01)
