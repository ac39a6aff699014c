"""The classic replace engine end to end on small synthetic green-screen shots."""
import cv2
import numpy as np
import pytest

from engine.classic.plate import PlateParams
from engine.classic.harmonise import HarmoniseParams
from engine.classic.replace import ClassicReplaceEngine, EngineInputError, ReplaceParams
from engine.classic.track import corner_error
from engine.interface import FrameLayers, Reference
from synthetic_replace import Shot, texture, view

ANCHORS = (0, 4, 8)


def soft(img):
    return cv2.GaussianBlur(img, (0, 0), 1.5)


def references(shot, anchors=ANCHORS):
    return [Reference(shot.reference(k), k) for k in anchors]


def run(shot, refs=None, callback=None, count=None, **params):
    engine = ClassicReplaceEngine(ReplaceParams(**params))
    layers = list(engine.replace(shot.opener(), shot.n if count is None else count,
                                 references(shot) if refs is None else refs, callback))
    return engine, layers


@pytest.fixture(scope="module")
def panning():
    """A 9-frame panning, rolling, zooming shot, rendered with a closed shutter like the frames."""
    shot = Shot(n=9)
    events = []
    engine, layers = run(shot, callback=events.append, plate=PlateParams(shutter=0.0))
    return shot, engine, layers, events


def test_the_engine_yields_the_layers_of_every_frame_at_the_shots_size(panning):
    shot, _, layers, _ = panning
    w, h = shot.size
    assert len(layers) == shot.n
    for lay in layers:
        assert isinstance(lay, FrameLayers)
        assert lay.comp.shape == lay.fg_straight.shape == lay.bg.shape == (h, w, 3)
        assert lay.alpha.shape == (h, w) and lay.fg.shape == (h, w, 4)
        assert all(x.dtype == np.float32 for x in (lay.comp, lay.fg_straight, lay.bg, lay.alpha))
        assert 0.0 <= lay.alpha.min() and lay.alpha.max() <= 1.0


def test_the_camera_of_a_panning_shot_is_recovered_within_a_fraction_of_a_pixel(panning):
    shot, engine, _, _ = panning
    assert len(engine.path) == shot.n
    assert corner_error(engine.path, shot.path, *shot.size) < 0.5
    cam = engine.report["camera"]
    assert cam["mode"] == "tracked" and cam["failed_frames"] == 0
    assert cam["pinned_to_references"] is True
    assert engine.report["references"]["registered"] == [True, True, True]


def test_the_report_names_the_screen_and_the_relight(panning):
    _, engine, _, _ = panning
    rep = engine.report
    assert rep["matted"] is False
    assert rep["screen"]["kind"] == "green"
    assert len(rep["relight"]["gains"]) == 3
    assert rep["grain_sigma"] > 0
    assert rep["timing"]["frames"] == 9


def test_the_subject_is_keyed_out_of_the_moving_screen(panning):
    shot, _, layers, _ = panning
    for lay in layers:
        assert np.abs(lay.alpha - shot.alpha).mean() < 0.01
        assert (lay.alpha[shot.alpha == 1.0] > 0.95).all()
        assert (lay.alpha[shot.alpha == 0.0] < 0.05).mean() > 0.99


def test_the_background_is_the_new_world_seen_through_the_shots_camera(panning):
    shot, _, layers, _ = panning
    w, h = shot.size
    inner = (slice(10, h - 10), slice(10, w - 10))
    for t in (0, 2, 4, 7):  # anchors and frames between them
        truth = view(shot.world, shot.to_world @ shot.path[t], shot.size)
        # compared through a blur that hides resampling differences: a view 0.25 px off scores 0.004 here
        err = np.abs(soft(layers[t].bg) - soft(truth))[inner].mean()
        assert err < 0.003


def test_the_composite_is_the_relit_foreground_over_the_background_layer(panning):
    _, _, layers, _ = panning
    for lay in layers[::4]:
        a = lay.alpha[..., None]
        np.testing.assert_allclose(lay.comp, lay.fg_straight * a + lay.bg * (1 - a), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(lay.fg[..., :3], lay.fg_straight * a, rtol=1e-6)
        np.testing.assert_array_equal(lay.fg[..., 3], lay.alpha)


def test_progress_is_reported_for_every_frame_of_both_passes(panning):
    shot, _, _, events = panning
    n = shot.n
    assert events == ([{"stage": "analyse", "frame": t, "total": n} for t in range(n)]
                      + [{"stage": "render", "frame": t, "total": n} for t in range(n)])


def test_a_plain_composite_has_no_light_wrap_grain_or_spill_light():
    shot = Shot(n=3)
    _, layers = run(shot, refs=references(shot, (0,)), plate=PlateParams(shutter=0.0),
                    harmonise=HarmoniseParams(light_wrap=0.0, grain=0.0, spill_replace=0.0, strength=0.0))
    for lay in layers:
        a = lay.alpha[..., None]
        np.testing.assert_allclose(lay.comp, lay.fg_straight * a + lay.bg * (1 - a), rtol=1e-4, atol=1e-5)
    # no grain: at its anchor the background layer is the clean still itself
    w, h = shot.size
    inner = (slice(10, h - 10), slice(10, w - 10))
    np.testing.assert_allclose(layers[0].bg[inner], shot.reference(0)[inner], atol=1e-5)


def test_a_locked_off_shot_is_reported_static():
    shot = Shot(n=4, path=[np.eye(3)] * 4)
    engine, layers = run(shot, refs=references(shot, (0,)))
    assert len(layers) == 4
    assert engine.report["camera"]["mode"] == "static"
    assert "locked off" in engine.report["camera"]["why"]
    for m in engine.path:
        np.testing.assert_array_equal(m, np.eye(3))


def test_camera_static_forces_an_identity_path_on_a_moving_shot():
    shot = Shot(n=5)
    engine, _ = run(shot, refs=references(shot, (0, 4)), camera="static")
    assert engine.report["camera"] == {"mode": "static", "why": "forced"}
    for m in engine.path:
        np.testing.assert_array_equal(m, np.eye(3))


def test_camera_track_keeps_the_track_of_a_locked_off_shot():
    shot = Shot(n=4, path=[np.eye(3)] * 4)
    engine, _ = run(shot, refs=references(shot, (0,)), camera="track")
    assert engine.report["camera"]["mode"] == "tracked"
    assert corner_error(engine.path, shot.path, *shot.size) < 0.3


def test_a_supplied_camera_path_replaces_tracking():
    shot = Shot(n=5)
    engine, _ = run(shot, refs=references(shot, (0, 4)), camera_path=[2.0 * m for m in shot.path])
    assert engine.report["camera"]["mode"] == "supplied"
    assert corner_error(engine.path, shot.path, *shot.size) < 1e-9


def test_a_supplied_camera_path_of_the_wrong_length_is_refused():
    shot = Shot(n=4)
    with pytest.raises(EngineInputError, match="3 frames.*4"):
        run(shot, refs=references(shot, (0,)), camera_path=shot.path[:3])


def test_a_shot_without_a_screen_or_a_matte_is_refused():
    shot = Shot(n=2)
    shot.frames = [texture(*shot.size[::-1], seed=11)] * 2
    with pytest.raises(EngineInputError, match="no green or blue screen"):
        run(shot, refs=references(shot, (0,)))


def test_a_shot_without_references_is_refused():
    shot = Shot(n=2)
    with pytest.raises(EngineInputError, match="no background references"):
        run(shot, refs=[])


def test_a_shot_shorter_than_its_count_is_refused():
    shot = Shot(n=3)
    with pytest.raises(EngineInputError, match="ended after 3 of 5"):
        run(shot, refs=references(shot, (0,)), count=5)


def test_an_unknown_camera_mode_is_refused():
    with pytest.raises(ValueError, match="camera mode"):
        ClassicReplaceEngine(ReplaceParams(camera="dolly"))


def test_a_matted_shot_is_not_keyed_its_alpha_is_used():
    shot = Shot(n=3)
    w, h = shot.size
    colour = texture(h, w, seed=12)  # no screen anywhere: keying it would find nothing
    alpha = shot.alpha
    rgba = np.concatenate([colour * alpha[..., None], alpha[..., None]], -1).astype(np.float32)
    shot.frames = [rgba] * 3
    engine, layers = run(shot, refs=references(shot, (0,)), harmonise=HarmoniseParams(strength=0.0))
    assert engine.report["matted"] is True
    assert engine.report["screen"] is None
    assert engine.report["camera"]["mode"] == "static"
    assert engine.report["grain_sigma"] == 0.0
    for lay in layers:
        np.testing.assert_array_equal(lay.alpha, alpha)
        solid = alpha > 0.5
        np.testing.assert_allclose(lay.fg_straight[solid], colour[solid], rtol=1e-5)
        np.testing.assert_allclose(lay.fg[..., :3], rgba[..., :3], rtol=1e-5, atol=1e-6)


def test_an_rgba_shot_with_a_solid_alpha_is_keyed_like_rgb():
    shot = Shot(n=3)
    shot.frames = [np.concatenate([f, np.ones_like(f[..., :1])], -1) for f in shot.frames]
    engine, layers = run(shot, refs=references(shot, (0,)))
    assert engine.report["matted"] is False and engine.report["screen"]["kind"] == "green"
    assert np.abs(layers[1].alpha - shot.alpha).mean() < 0.01


def test_a_reference_anchored_after_the_shot_is_refused():
    shot = Shot(n=4)
    with pytest.raises(EngineInputError):
        run(shot, refs=[Reference(shot.reference(3), 9)])


def test_a_reference_anchored_before_the_shot_is_refused():
    shot = Shot(n=4)
    with pytest.raises(EngineInputError):
        run(shot, refs=[Reference(shot.reference(0), -1), Reference(shot.reference(2), 2)])
