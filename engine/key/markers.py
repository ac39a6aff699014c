"""Tracking markers: small screen-hued marks on the screen plane, found wherever they are.

Images are float32 (H, W, 3) scene-linear Rec.709; masks bool (H, W). A marker is printed
or taped on the screen: its colour is the screen's own hue (or a duller one), darker than the
clean plate around it, and it is small and compact. The colour-difference matte reads it
as partly opaque (a darker screen looks like a dark foreground over the screen); the
despot removes the markers that stand alone, but not one that touches the subject, whose
matte it joins. Found here by what it is on the screen instead of by what the matte made
of it, it is screen wherever it lies.
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.key.screen import Screen, components, speck_sized, within

SCREEN_HUE_TOLERANCE = 0.05  # chromaticity distance within which a darker pixel still has the screen's hue
MARKER_SHADE = (0.08, 0.85)  # a marker's brightness as a fraction of the clean plate's (black marks are not screen-hued)
MARKER_GREYNESS = 0.7  # a marker's colour may lie this far from the screen's towards grey
SCREEN_BORDER = 0.5  # a marker's surround is clean screen on at least this fraction of it
MIN_MARKER_DEPTH_PX = 2.0  # at working scale: a marker's solid part is at least 3 px across
SUBJECT_GAP_PX = 3.0  # at working scale: markers are first looked for this far from the subject


def marker_mask(img: np.ndarray, plate: np.ndarray, screen: Screen, max_area: int, blur_px: float = 1.0) -> np.ndarray:
    """bool (H, W): the pixels of tracking markers, touching the subject or not.

    A marker pixel has the local clean plate's hue (its chromaticity within the screen's own
    spread, at least :data:`SCREEN_HUE_TOLERANCE`, of the plate's or of a duller version of
    it) at :data:`MARKER_SHADE` of its brightness. The soft edge of a dark subject looks the
    same (a dark foreground over the screen), so markers are first found apart from it: such
    pixels more than :data:`SUBJECT_GAP_PX` from the subject (anything clearly not of the
    screen's hue, or black), grouped; a group is a marker when it is speck-sized
    (:func:`engine.key.screen.speck_sized` under ``max_area``), printed solid (at least
    :data:`MIN_MARKER_DEPTH_PX` deep: a strand of dark hair is a pixel or two wide) and clean
    screen makes up at least :data:`SCREEN_BORDER` of the ring around it. Each marker then
    takes back its part near the subject: grown through the pixels at least half as dark as it
    and not of the subject's colour, within its own box widened by that distance, and by one
    pixel more so its anti-aliased rim goes with it. ``img`` and ``plate`` float32 (H, W, 3)
    linear, at working scale (the distances above are in its pixels, ``max_area`` too).
    """
    from engine.key import fused  # numba: loaded to key, not with KeyParams

    none = np.zeros(img.shape[:2], bool)
    picture = cv2.GaussianBlur(img, (0, 0), blur_px) if blur_px > 0 else img  # the hue of a dark pixel is noisy
    shade, hue_distance, strict = (np.empty(img.shape[:2], np.float32) for _ in range(3))
    # a marker is the screen's hue, often duller: hue_distance is to the plate's made greyer
    fused.marker_colours(np.ascontiguousarray(picture, np.float32), np.ascontiguousarray(plate, np.float32),
                         MARKER_GREYNESS, shade, hue_distance, strict)
    tolerance = max(SCREEN_HUE_TOLERANCE, 2.0 * screen.chroma_radius)
    darker = (hue_distance < tolerance) & (shade > MARKER_SHADE[0]) & (shade < MARKER_SHADE[1])
    screen_px = (strict < tolerance) & (shade >= MARKER_SHADE[1])
    # the subject: clearly not the screen's hue, or black (a marker's anti-aliased rim and the
    # codec's colour round it are neither screen nor marker, but not subject either)
    subject = ((hue_distance >= 2 * tolerance) | (shade <= MARKER_SHADE[0])).astype(np.uint8)
    depth = cv2.distanceTransform(darker.astype(np.uint8), cv2.DIST_L2, 3)
    apart = darker & ~within(subject, SUBJECT_GAP_PX)
    taken = _grown_markers(_opened(apart), depth, shade, screen_px, subject, max_area)
    if taken is None:
        return none
    return cv2.dilate(taken.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def _opened(mask: np.ndarray) -> np.ndarray:
    """uint8 (H, W): ``mask`` opened by a 3x3 square (one-pixel necks to the rest cut)."""
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))


def _grown_markers(candidates: np.ndarray, depth: np.ndarray, shade: np.ndarray, screen_px: np.ndarray,
                   subject: np.ndarray, max_area: int) -> np.ndarray | None:
    """The groups of ``candidates`` (uint8 0/1 (H, W)) that are markers (speck-sized, at least
    :data:`MIN_MARKER_DEPTH_PX` deep in ``depth``, ringed by at least :data:`SCREEN_BORDER` of
    ``screen_px``), each grown through the pixels at least half as dark as it and not
    ``subject`` that connect to it within its box widened by :data:`SUBJECT_GAP_PX` and 2 px:
    bool (H, W); None when there is none."""
    n, labels, stats = components(candidates, 8)
    if n <= 1:
        return None
    is_marker = speck_sized(stats, max_area, 1)
    if not is_marker.any():
        return None
    is_marker &= np.bincount(labels[depth >= MIN_MARKER_DEPTH_PX], minlength=n) > 0
    nearest, ring = label_rings(labels, 2)
    ring_total = np.bincount(nearest[ring], minlength=n)
    ring_screen = np.bincount(nearest[ring & screen_px], minlength=n)
    is_marker &= ring_screen >= SCREEN_BORDER * np.maximum(ring_total, 1)
    is_marker[0] = False
    if not is_marker.any():
        return None
    # each group's mean shade
    grouped = candidates.view(bool)
    marker_shade = (np.bincount(labels[grouped], weights=shade[grouped], minlength=n)
                    / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)).astype(np.float32)
    # grown through the pixels at least half as dark as it and not of the subject's colour
    # that connect to it within its box widened by the gap it left
    taken = np.zeros(labels.shape, bool)
    pad = int(np.ceil(SUBJECT_GAP_PX)) + 2
    h, w = labels.shape
    for k in np.nonzero(is_marker)[0]:
        x, y, bw, bh = stats[k, :4]
        win = (slice(max(0, y - pad), min(h, y + bh + pad)), slice(max(0, x - pad), min(w, x + bw + pad)))
        seed = labels[win] == k
        reach = seed | ((subject[win] == 0) & (shade[win] < 0.5 * (1.0 + marker_shade[k])))
        n_parts, parts = cv2.connectedComponents(reach.astype(np.uint8), connectivity=8)
        seeded = np.zeros(n_parts, bool)
        seeded[parts[seed]] = True
        taken[win] |= seeded[parts]
    return taken


BACKDROP_REACH_PX = SUBJECT_GAP_PX + 2.0  # at working scale: how far a marker may lie hidden next to the subject


def marker_backdrop(img: np.ndarray, plate: np.ndarray, markers: np.ndarray,
                    reach_px: float = BACKDROP_REACH_PX) -> tuple[np.ndarray, np.ndarray]:
    """What lies behind the subject near each tracking marker: (int32 (H, W): the marker
    nearest each pixel within ``reach_px`` (a square reach), 0 farther; float32 (N + 1, 3): each
    marker's colour as a fraction of the clean plate's, per channel (row 0 unused)). The
    marker's colour at a pixel is the plate's there times its marker's fraction.

    A marker is part of the screen: where the subject's edge or a strand crosses it, the
    colour behind them is the marker's, not the clean screen's, and the part of a marker that
    shows beyond a strand (cut off from the part found, so not in ``markers``) lies within the
    reach. ``img``, ``plate`` float32 (H, W, 3) and ``markers`` (:func:`marker_mask`) at
    working scale.
    """
    inside = cv2.erode(markers.astype(np.uint8), np.ones((3, 3), np.uint8))  # not the anti-aliased rim
    if not inside.any():
        inside = markers.astype(np.uint8)
    n, labels = cv2.connectedComponents(inside, connectivity=8)
    where = labels > 0
    ratio = np.ones((n, 3), np.float32)
    count = np.maximum(np.bincount(labels[where], minlength=n), 1)
    picture, screen = img[where], np.maximum(plate[where], 1e-4)
    for c in range(3):
        ratio[:, c] = np.bincount(labels[where], weights=picture[:, c] / screen[:, c], minlength=n) / count
    k = 2 * int(np.ceil(reach_px)) + 1
    nearest = cv2.dilate(labels.astype(np.float32), np.ones((k, k), np.uint8)).astype(np.int32)
    return nearest, ratio


def label_rings(labels: np.ndarray, px: int) -> tuple[np.ndarray, np.ndarray]:
    """Around each labelled component (int32 (H, W), 0 = none): (the label of the nearest
    component within ``px`` pixels (a square reach), int32 (H, W); the ring, bool (H, W): the
    unlabelled pixels that reach one)."""
    k = 2 * px + 1
    nearest = cv2.dilate(labels.astype(np.float32), np.ones((k, k), np.uint8)).astype(np.int32)
    return nearest, (labels == 0) & (nearest > 0)
