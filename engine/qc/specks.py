"""Screen-plane specks left in a composite: tracking markers the matte kept.

Frames are float32 scene-linear Rec.709 (H, W, 3); the matte float32 (H, W) in [0, 1]; the
plate is the source frame the composite was made from. The markers are found on the plate
(:func:`engine.key.markers.marker_mask`: small, solid, darker marks of the screen's hue, on
the screen plane); where the composite replaced the screen, a marker's footprint should look
like the background around it. A marker the matte kept shows as a dark cross floating over
the new background, and its footprint stands apart from its surroundings.
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.colour import bt709_oetf
from engine.key.markers import label_rings, marker_mask
from engine.key.screen import Screen, clean_plate
from engine.qc.harmony import luminance

SUBJECT_COVER = 0.5  # a marker whose footprint the matte covers this much on average is behind the subject
RING_PX = 3  # the surroundings a footprint is compared with: this wide a ring around it


def marker_residue(comp: np.ndarray, plate: np.ndarray, alpha: np.ndarray, screen: Screen,
                   max_area: int) -> tuple[float, int] | None:
    """(largest residue, markers looked at): over the tracking markers found on ``plate``
    (smaller than ``max_area`` pixels) and not behind the subject, the largest difference
    between the composite's luminance over a marker's footprint and over the ring around it,
    in BT.709-encoded display units (0 = every marker gone; 0.1 = a speck 10 % of the display
    range darker or brighter than the background around it). None when the plate shows none."""
    found = marker_mask(plate, clean_plate(plate, screen)[0], screen, max_area)
    if not found.any():
        return None
    n, labels = cv2.connectedComponents(found.astype(np.uint8), connectivity=8)
    nearest, ring = label_rings(labels, RING_PX)
    y = bt709_oetf(np.clip(luminance(comp), 0.0, None)).astype(np.float64)
    inside = labels > 0
    count = np.bincount(labels[inside], minlength=n).astype(np.float64)
    mean_in = np.bincount(labels[inside], weights=y[inside], minlength=n) / np.maximum(count, 1)
    cover = np.bincount(labels[inside], weights=alpha[inside].astype(np.float64), minlength=n) / np.maximum(count, 1)
    ring_count = np.bincount(nearest[ring], minlength=n).astype(np.float64)
    mean_ring = np.bincount(nearest[ring], weights=y[ring], minlength=n) / np.maximum(ring_count, 1)
    use = (count > 0) & (ring_count > 0) & (cover < SUBJECT_COVER)
    use[0] = False
    if not use.any():
        return None
    return float(np.abs(mean_in - mean_ring)[use].max()), int(use.sum())
