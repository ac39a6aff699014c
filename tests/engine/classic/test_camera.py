"""Camera paths: sub-frame sampling, pinning to anchors, rotation and parallax."""
import numpy as np
import pytest

from engine.classic.camera import (anchor_path, at_time, blend, corner_motion_px, rotation_part, shutter_offsets,
                                   with_parallax)

W, H = 320, 180
CENTRE = ((W - 1) / 2.0, (H - 1) / 2.0)
FOCAL = 1.4 * W


def shift(dx, dy):
    return np.array([[1.0, 0, dx], [0, 1.0, dy], [0, 0, 1.0]])


def pan(n, dx=4.0, dy=-1.5):
    """A camera translating by (dx, dy) px a frame."""
    return [shift(dx * t, dy * t) for t in range(n)]


def rotation(yaw_deg, pitch_deg=0.0, roll_deg=0.0):
    """Pure-rotation homography K R K^-1."""
    a, b, c = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    k = np.array([[FOCAL, 0, CENTRE[0]], [0, FOCAL, CENTRE[1]], [0, 0, 1.0]])
    m = k @ ry @ rx @ rz @ np.linalg.inv(k)
    return m / m[2, 2]


def test_blend_of_translations_is_the_exact_translation_in_between_and_beyond():
    a, b = shift(2.0, -4.0), shift(10.0, 4.0)
    np.testing.assert_allclose(blend(a, b, 0.25), shift(4.0, -2.0), atol=1e-12)
    np.testing.assert_allclose(blend(a, b, 1.5), shift(14.0, 8.0), atol=1e-12)
    np.testing.assert_allclose(blend(a, b, -0.5), shift(-2.0, -8.0), atol=1e-12)


def test_blend_normalises_scaled_homographies():
    np.testing.assert_allclose(blend(3.0 * shift(1, 1), 0.5 * shift(3, 5), 0.5), shift(2, 3), atol=1e-12)


def test_at_time_interpolates_a_pan_and_extrapolates_beyond_both_ends():
    path = pan(5)
    np.testing.assert_allclose(at_time(path, 2.0), shift(8.0, -3.0), atol=1e-12)
    np.testing.assert_allclose(at_time(path, 2.25), shift(9.0, -3.375), atol=1e-12)
    np.testing.assert_allclose(at_time(path, 4.25), shift(17.0, -6.375), atol=1e-12)
    np.testing.assert_allclose(at_time(path, -0.25), shift(-1.0, 0.375), atol=1e-12)


def test_at_time_of_a_single_frame_path_is_that_frame():
    np.testing.assert_allclose(at_time([2.0 * shift(3, 4)], 0.7), shift(3, 4), atol=1e-12)


def test_corner_motion_of_a_translation_is_its_length():
    assert corner_motion_px(shift(3.0, 4.0), W, H) == pytest.approx(5.0)


def test_shutter_offsets_is_a_single_sample_for_a_static_camera_or_a_closed_shutter():
    assert shutter_offsets([np.eye(3)] * 5, 2, 0.5, W, H) == [0.0]
    assert shutter_offsets(pan(5), 2, 0.0, W, H) == [0.0]
    assert shutter_offsets(pan(1), 0, 0.5, W, H) == [0.0]


def test_shutter_offsets_take_more_samples_for_faster_motion_symmetric_around_the_frame():
    slow = shutter_offsets(pan(5, 2.0, 0.0), 2, 0.5, W, H)
    fast = shutter_offsets(pan(5, 12.0, 0.0), 2, 0.5, W, H)
    assert 1 < len(slow) < len(fast) <= 16
    for offs in (slow, fast):
        assert offs[0] == pytest.approx(-0.25) and offs[-1] == pytest.approx(0.25)
        np.testing.assert_allclose(offs, -np.asarray(offs[::-1]), atol=1e-12)
    # 6 px of travel in the open shutter, 1.5 px a sample: ceil(6 / 1.5) + 1 samples
    assert len(fast) == 5
    assert len(shutter_offsets(pan(5, 1000.0, 0.0), 2, 0.5, W, H)) == 16


def test_shutter_offsets_sample_more_densely_when_asked():
    assert len(shutter_offsets(pan(5, 12.0, 0.0), 2, 0.5, W, H, px_per_sample=0.75)) == 9


def test_anchor_path_equals_the_anchors_at_their_frames_and_interpolates_between():
    path = pan(9)
    anchors = {0: shift(1.0, 0.0), 4: shift(16.0 + 2.0, -6.0), 8: shift(32.0, -12.0 + 3.0)}
    out, rep = anchor_path(path, anchors, W, H, max_disagreement_px=10.0)
    assert rep.applied and rep.reason == ""
    assert rep.frames == [0, 4, 8]
    assert rep.disagreement_px == pytest.approx([1.0, 2.0, 3.0])
    for f, m in anchors.items():
        np.testing.assert_allclose(out[f], m, atol=1e-9)
    # corrections (1, 0) at 0 and (2, 0) at 4 -> (1.5, 0) at 2; (2, 0) at 4 and (0, 3) at 8 -> (1, 1.5) at 6
    np.testing.assert_allclose(out[2], shift(8.0 + 1.5, -3.0), atol=1e-9)
    np.testing.assert_allclose(out[6], shift(24.0 + 1.0, -9.0 + 1.5), atol=1e-9)


def test_anchor_path_holds_the_correction_beyond_the_first_and_last_anchors():
    path = pan(10)
    anchors = {3: shift(12.0 + 2.0, -4.5), 6: shift(24.0, -9.0 - 1.0)}
    out, rep = anchor_path(path, anchors, W, H, max_disagreement_px=10.0)
    assert rep.applied
    for t in (0, 1, 2):
        np.testing.assert_allclose(out[t], shift(4.0 * t + 2.0, -1.5 * t), atol=1e-9)
    for t in (7, 8, 9):
        np.testing.assert_allclose(out[t], shift(4.0 * t, -1.5 * t - 1.0), atol=1e-9)


def test_anchor_path_refuses_when_the_anchors_disagree_beyond_the_limit():
    path = pan(6)
    anchors = {0: np.eye(3), 5: shift(20.0 + 30.0, -7.5)}
    out, rep = anchor_path(path, anchors, W, H, max_disagreement_px=5.0)
    assert not rep.applied
    assert "disagree" in rep.reason and "30.0" in rep.reason
    assert out is path
    assert rep.disagreement_px == pytest.approx([0.0, 30.0])


def test_anchor_path_needs_two_anchors_inside_the_shot():
    path = pan(6)
    out, rep = anchor_path(path, {2: shift(9.0, -3.0), 40: np.eye(3)}, W, H, max_disagreement_px=5.0)
    assert not rep.applied and "fewer than two" in rep.reason
    assert out is path and rep.frames == [2]


@pytest.mark.parametrize("angles", [(2.0, 0.0, 0.0), (1.5, -1.0, 3.0)])
def test_rotation_part_of_a_pure_rotation_is_itself(angles):
    r = rotation(*angles)
    np.testing.assert_allclose(rotation_part(r, FOCAL, CENTRE), r, atol=1e-9)
    np.testing.assert_allclose(with_parallax(r, 0.0, FOCAL, CENTRE), r, atol=1e-9)


def test_full_parallax_moves_the_background_exactly_as_tracked():
    h = rotation(1.0, 0.5) @ shift(7.0, -3.0)
    np.testing.assert_allclose(with_parallax(h, 1.0, FOCAL, CENTRE), h / h[2, 2], atol=1e-12)


def test_a_background_at_infinity_does_not_move_when_the_camera_only_slides():
    at_infinity = with_parallax(shift(12.0, -5.0), 0.0, FOCAL, CENTRE)
    assert corner_motion_px(at_infinity, W, H) < 0.5


def test_partial_parallax_is_a_linear_mix_of_at_infinity_and_glued_to_the_screen():
    h = rotation(1.0, -0.5) @ shift(9.0, 4.0)
    h = h / h[2, 2]
    far = with_parallax(h, 0.0, FOCAL, CENTRE)
    np.testing.assert_allclose(far, rotation_part(h, FOCAL, CENTRE), atol=1e-12)
    np.testing.assert_allclose(with_parallax(h, 0.25, FOCAL, CENTRE), far + 0.25 * (h - far), atol=1e-9)
