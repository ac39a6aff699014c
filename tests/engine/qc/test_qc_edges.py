import numpy as np
from synthetic_qc import scene, texture

from engine.qc import edges
from engine.qc.regions import regions


def _edge_weight(alpha):
    return (4 * alpha * (1 - alpha))[..., None]


def test_spill_is_near_zero_when_clean_and_rises_with_screen_light_at_the_edge():
    comp, fg, bg, alpha = scene()
    reg = regions(alpha)
    clean = edges.spill(comp, alpha, reg, "green")
    levels = [edges.spill(comp + k * _edge_weight(alpha) * np.array([0.05, 0.5, 0.08], np.float32), alpha, reg,
                          "green") for k in (0.05, 0.1, 0.2)]
    assert clean < 0.005 and levels[0] < levels[1] < levels[2] and levels[2] > 0.05


def test_a_green_background_is_not_spill():
    _, fg, _, alpha = scene()
    grass = texture(*alpha.shape, seed=3, colour=(0.08, 0.3, 0.05))
    comp = (alpha[..., None] * fg + (1 - alpha[..., None]) * grass).astype(np.float32)
    assert edges.spill(comp, alpha, regions(alpha), "green") < 0.01


def test_a_bright_rim_outside_the_matte_is_a_halo():
    comp, fg, bg, alpha = scene()
    reg = regions(alpha)
    assert edges.halo(comp, alpha, reg) < 0.02
    import cv2

    some = (alpha > 0.02).astype(np.uint8)
    rim = (cv2.dilate(some, np.ones((3, 3), np.uint8)) > 0) & (some == 0)
    haloed = comp.copy()
    haloed[rim] += 0.2
    assert edges.halo(haloed, alpha, reg) > 0.1


def test_chatter_ignores_a_moving_edge_but_not_a_boiling_one():
    from synthetic_qc import disc_matte

    h, w = 120, 200
    moving = [disc_matte(h, w, 80 + 4 * t, 60, 30) for t in range(3)]
    band = regions(moving[1]).band
    assert edges.chatter(*moving, band) < 0.5
    rng = np.random.default_rng(0)
    boiling = [np.clip(disc_matte(h, w, 80, 60, 30) + rng.normal(0, 0.15, (h, w)).astype(np.float32), 0, 1)
               for _ in range(3)]
    assert edges.chatter(*boiling, band) > 5


def test_an_olive_edge_is_fringe_though_not_greener_than_both_other_channels():
    """A too-dense soft edge unmixed against too little screen keeps some screen colour: on
    skin (red above green) that is an olive rim, not green, so spill (green above both other
    channels) misses it; the fringe (the lean towards the screen's hue) does not."""
    _, _, bg, alpha = scene()
    skin = np.array([0.55, 0.38, 0.28], np.float32)
    comp = (alpha[..., None] * skin + (1 - alpha[..., None]) * bg).astype(np.float32)
    reg = regions(alpha)
    screen = np.array([0.05, 0.42, 0.08], np.float32)
    olive = (comp + 0.3 * _edge_weight(alpha) * screen).astype(np.float32)
    assert edges.fringe(comp, alpha, reg, "green") < 0.01
    assert edges.spill(olive, alpha, reg, "green") < 0.01
    assert edges.fringe(olive, alpha, reg, "green") > 0.06  # the default warn limit


def test_a_green_background_is_not_fringe():
    _, fg, _, alpha = scene()
    grass = texture(*alpha.shape, seed=3, colour=(0.08, 0.3, 0.05))
    comp = (alpha[..., None] * fg + (1 - alpha[..., None]) * grass).astype(np.float32)
    assert edges.fringe(comp, alpha, regions(alpha), "green") < 0.01
