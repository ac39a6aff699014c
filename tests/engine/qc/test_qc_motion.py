import numpy as np
from synthetic_qc import texture

from engine.qc import motion
from engine.qc.regions import regions


def _shifted(img, dx):
    return np.roll(img, dx, axis=1)


def test_a_background_that_moves_with_the_camera_has_no_residual_and_a_static_one_does():
    h, w = 160, 240
    world = texture(h, w + 40, seed=5, amount=0.9)
    alpha = np.zeros((h, w), np.float32)
    alpha[60:110, 100:140] = 1
    background = regions(alpha).background
    step = np.array([[1, 0, -3], [0, 1, 0], [0, 0, 1]], np.float64)  # the camera pans: content moves 3 px left
    good, bad = motion.BackgroundMotion(), motion.BackgroundMotion()
    res_good, res_bad = [], []
    for t in range(4):
        frame = world[:, 3 * t:3 * t + w]
        r1 = good.add(frame, background, step if t else None)
        r2 = bad.add(world[:, :w], background, step if t else None)
        if t:
            res_good.append(r1[0])
            res_bad.append(r2[0])
    assert max(res_good) < 0.3 and min(res_bad) > 2.5


def test_camera_step_composes_two_frame_to_frame0_matrices():
    h0 = np.eye(3)
    h1 = np.array([[1, 0, 5], [0, 1, -2], [0, 0, 1]], np.float64)  # frame 1 pixel + (5, -2) = frame 0 pixel
    step = motion.camera_step(h0, h1)
    p = step @ np.array([10.0, 10.0, 1.0])
    assert np.allclose(p[:2] / p[2], [5.0, 12.0])


def test_flicker_reads_the_noise_about_the_trend():
    rng = np.random.default_rng(1)
    steady = [0.01 * t for t in range(50)]  # a slow ramp is not flicker
    assert motion.flicker(steady)[0] < 1e-9
    noisy = [v + rng.normal(0, 0.02) for v in steady]
    sigma, per = motion.flicker(noisy)
    assert 1.4 < sigma < 2.8 and per[0] is None and per[-1] is None
    assert motion.flicker([None, 0.1, None])[0] is None
