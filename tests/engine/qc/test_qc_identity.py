import numpy as np
from synthetic_qc import scene, texture

from engine.qc import identity
from engine.qc.regions import regions


def test_a_regraded_subject_is_the_same_subject_and_a_different_one_is_not():
    comp, fg, bg, alpha = scene()
    core = regions(alpha).core
    graded = comp * np.array([1.2, 1.0, 0.8], np.float32)
    same = identity.fidelity(graded, comp, core)
    assert same["psnr"] > 45 and same["ssim"] > 0.99
    other = texture(*alpha.shape, seed=9, amount=0.9)
    changed = identity.fidelity(other, comp, core)
    assert changed["psnr"] < 30 and changed["ssim"] < 0.6


def test_background_fidelity_compares_with_the_reference_still():
    comp, fg, bg, alpha = scene()
    background = regions(alpha).background
    assert identity.background_fidelity(comp, bg, background) > 60
    assert identity.background_fidelity(comp, np.roll(bg, 7, axis=1), background) < 35
