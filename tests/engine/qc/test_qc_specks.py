"""Tracking markers left in a composite, found on the plate and compared with their surroundings."""
import numpy as np
from synthetic_qc import scene

from engine.key.screen import detect_screen
from engine.qc.specks import marker_residue

SCREEN = np.array([0.06, 0.45, 0.10], np.float32)
MARKER = 0.4 * SCREEN  # a darker shade of the screen's own colour


def plate_and_markers(alpha, fg):
    """The plate the composite came from: the subject over a green screen with four crosses
    (3 px arms) on it, two of them touching the subject's edge."""
    h, w = alpha.shape
    screen = np.broadcast_to(SCREEN, (h, w, 3)).copy()
    marks = np.zeros((h, w), bool)
    for x, y in [(30, 30), (290, 150), (w // 2 + int(h / 3) + 4, h // 2), (w // 2, h // 2 - int(h / 3) - 4)]:
        marks[y - 1:y + 2, x - 6:x + 7] = True
        marks[y - 6:y + 7, x - 1:x + 2] = True
    screen[marks] = MARKER
    plate = alpha[..., None] * fg + (1 - alpha[..., None]) * screen
    return plate.astype(np.float32), marks & (alpha <= 0.0)


def test_a_clean_composite_has_no_specks_and_a_kept_marker_is_one():
    comp, fg, bg, alpha = scene()
    plate, outside = plate_and_markers(alpha, fg)
    screen = detect_screen(plate)
    clean = marker_residue(comp, plate, alpha, screen, 1600)
    assert clean is not None and clean[1] == 4  # every marker looked at, those touching the subject too
    assert clean[0] < 0.04  # below the default warn limit, on a strongly textured background
    kept = comp.copy()
    kept[outside] = 0.6 * MARKER + 0.4 * kept[outside]  # a matte that kept the markers at 0.6
    residue, _ = marker_residue(kept, plate, alpha, screen, 1600)
    assert residue > 0.04  # the default warn limit


def test_a_plate_without_markers_has_nothing_to_say():
    comp, fg, bg, alpha = scene()
    h, w = alpha.shape
    plate = (alpha[..., None] * fg + (1 - alpha[..., None]) * SCREEN).astype(np.float32)
    assert marker_residue(comp, plate, alpha, detect_screen(plate), 1600) is None
