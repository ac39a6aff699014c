import math

import numpy as np
from synthetic_qc import scene

from engine.qc import harmony
from engine.qc.regions import regions


def test_cast_is_small_for_a_neutral_subject_and_grows_with_a_coloured_light():
    comp, fg, bg, alpha = scene()
    core = regions(alpha).core
    base, confidence = harmony.foreground_cast(comp, core)
    assert confidence == 1.0 and base < 0.03
    warm = comp + alpha[..., None] * (np.array([1.3, 1.0, 0.75], np.float32) - 1) * fg
    cast, _ = harmony.foreground_cast(warm, core)
    assert cast > 0.3 and cast > 10 * base


def test_cast_follows_the_background_white_by_adapt():
    comp, fg, bg, alpha = scene()
    core = regions(alpha).core
    blue_light = np.array([0.8, 1.0, 1.25])
    lit = comp + alpha[..., None] * (blue_light.astype(np.float32) - 1) * fg
    assert harmony.foreground_cast(lit, core, adapt=1.0, background_white=blue_light)[0] < 0.03
    assert harmony.foreground_cast(lit, core, adapt=0.0, background_white=blue_light)[0] > 0.3


def test_exposure_shift_is_the_log_ratio_to_the_plate_and_joins_the_score():
    comp, fg, bg, alpha = scene()
    core = regions(alpha).core
    brighter = comp * 1.5
    assert math.isclose(harmony.exposure_shift(brighter, comp, core), math.log(1.5), rel_tol=1e-4)
    assert harmony.harmony_score(0.3, 0.4) == math.hypot(0.3, harmony.EXPOSURE_WEIGHT * 0.4)
    assert harmony.harmony_score(0.3, None) == 0.3 and harmony.harmony_score(None, 0.1) is None


def test_a_subject_lit_from_the_left_reads_light_from_the_left():
    comp, fg, bg, alpha = scene()
    h, w = alpha.shape
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    shaded = alpha[..., None] * fg * (1 - 0.6 * x) + (1 - alpha[..., None]) * bg  # brighter on the left
    d = harmony.light_directions(shaded.astype(np.float32), alpha, regions(alpha).ring)
    assert d["subject"] is not None and min(abs(d["subject"] - 180), 360 - abs(d["subject"] - 180)) < 30


def test_zones_compare_subject_and_surroundings_in_stops():
    comp, fg, bg, alpha = scene()
    reg = regions(alpha)
    z = harmony.zones(comp, reg.core, reg.ring)
    darker = alpha[..., None] * fg * 0.25 + (1 - alpha[..., None]) * bg
    z2 = harmony.zones(darker.astype(np.float32), reg.core, reg.ring)
    assert math.isclose(z["key"] - z2["key"], 2.0, abs_tol=0.05)


def test_a_subject_of_one_flat_colour_is_not_read_as_coloured_light():
    """Its shades-of-grey estimate is its own colour: as for the cast, the light-colour
    mismatch counts only as far as the subject's colours are varied."""
    from engine.qc.shot import CheckSettings, ShotChecker

    comp, fg, bg, alpha = scene()
    flat = np.empty_like(fg)
    flat[...] = np.array([0.45, 0.12, 0.08], np.float32)  # a red costume, lit by white light
    red = (alpha[..., None] * flat + (1 - alpha[..., None]) * bg).astype(np.float32)
    warm = (comp + alpha[..., None] * (np.array([1.3, 1.0, 0.75], np.float32) - 1) * fg).astype(np.float32)
    figures = {}
    for name, frame in (("flat", red), ("varied, warm light", warm)):
        checker = ShotChecker(CheckSettings(screens=("green",)))
        checker.add(frame, alpha)
        figures[name] = checker.out.series["illuminant"][0]
    assert figures["flat"] < 0.05 and figures["varied, warm light"] > 0.2
