"""Screen detection and the IBK-style clean plate.

All images are float32 (H, W, 3) scene-linear Rec.709. A *screen* is green or blue; its
"difference" at a pixel is how far the screen channel rises above the larger of the other
two (``G - max(R, B)`` for green), which is near zero for neutral and skin-like colours and
large on the screen.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

SCREEN_CHANNEL = {"green": 1, "blue": 2}


@dataclass(frozen=True)
class Screen:
    """The screen's kind and its typical linear colour (median over confident screen pixels)."""

    kind: str  # "green" | "blue"
    colour: tuple[float, float, float]
    coverage: float  # fraction of the frame that is clearly screen
    chroma_radius: float = 0.08  # the screen's chromaticities lie within this distance of its colour's

    @property
    def channel(self) -> int:
        return SCREEN_CHANNEL[self.kind]

    @property
    def difference(self) -> float:
        return screen_difference(np.array(self.colour, np.float32)[None, None], self.kind).item()


def _image_difference(img: np.ndarray, kind: str) -> np.ndarray:
    """:func:`screen_difference` of a float32 image (H, W, 3) in one compiled pass."""
    from engine.key import fused  # numba: loaded to key, not with the screen model

    out = np.empty(img.shape[:2], np.float32)
    fused.screen_excess(np.ascontiguousarray(img, np.float32), SCREEN_CHANNEL[kind], out)
    return out


def screen_difference(img: np.ndarray, kind: str) -> np.ndarray:
    """Screen-channel excess, float32 (...): ``G - max(R, B)`` or ``B - max(R, G)`` of colours
    (..., 3): an image (H, W, 3), a list of pixels (N, 3) or one colour (3,)."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    if kind == "green":
        return g - np.maximum(r, b)
    return b - np.maximum(r, g)


MIN_SCREEN_EXCESS = 0.04  # chromaticity: a screen's channel at least this far above the larger other one
_CHROMA_BINS = 128


@dataclass(frozen=True)
class ScreenSearch:
    """What :func:`find_screen` found: the screen, or None and why not (one phrase)."""

    screen: Screen | None
    why: str = ""


def find_screen(img: np.ndarray, kind: str | None = None, min_coverage: float = 0.25,
                colour: tuple[float, float, float] | None = None) -> ScreenSearch:
    """The screen as the dominant screen-hued chroma cluster of a frame, however dim or
    desaturated: pixels whose chromaticity (rgb / (r + g + b)) has the screen channel at least
    :data:`MIN_SCREEN_EXCESS` above the larger other one are candidates; the densest mode of
    their chromaticity histogram is the screen, its members the candidates within the mode's
    own spread of it (so the subject's edges and screen-tinted foreground stay out). Light
    falloff changes a screen's brightness, not its chromaticity, so an unevenly lit screen is
    one cluster. ``kind`` (green or blue) restricts the search to one screen colour; the kind
    whose cluster covers more of the frame wins. None (with the reason) when no cluster covers
    ``min_coverage`` of the frame. ``img``: float32 (H, W, 3) scene-linear.

    ``colour`` (linear r, g, b: an eyedropper pick) is the screen instead of a search: its
    kind is its strongest channel, its coverage the pixels of its chromaticity; it is never
    refused for coverage, only when it is not screen-hued at all."""
    if colour is not None:
        return _picked_screen(img, colour, kind)
    rgb, total, chroma = _chromaticities(img)
    lit = total > 0.05 * max(float(np.percentile(total, 95)), 1e-6)  # chroma of near-black pixels is noise
    best: tuple[float, str, np.ndarray, float] | None = None
    for candidate in ((kind,) if kind else ("green", "blue")):
        members, radius = _screen_cluster(chroma, lit, candidate)
        coverage = float(members.mean())
        if best is None or coverage > best[0]:
            best = (coverage, candidate, members, radius)
    coverage, found_kind, members, radius = best
    if coverage < min_coverage:
        what = "green or blue" if kind is None else kind
        return ScreenSearch(None, f"the largest {what} screen-coloured area covers {coverage:.0%} of the frame "
                                  f"(a screen covers at least {min_coverage:.0%})")
    colour = np.median(rgb[members], axis=0)
    return ScreenSearch(Screen(found_kind, tuple(float(c) for c in colour), coverage, radius))


def _chromaticities(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frame at a quarter size as pixels: linear rgb (N, 3), r + g + b (N,) and
    chromaticity rgb / (r + g + b) (N, 3), all float32."""
    small = cv2.resize(img, (max(1, img.shape[1] // 4), max(1, img.shape[0] // 4)), interpolation=cv2.INTER_AREA)
    rgb = small.reshape(-1, 3).astype(np.float32)
    total = rgb.sum(1)
    return rgb, total, rgb / np.maximum(total, 1e-6)[:, None]


def picked_kind(colour, kind: str | None = None) -> ScreenSearch:
    """Whether a picked linear colour (r, g, b) is a screen's (of ``kind``, when given): a
    :class:`Screen` of its kind (coverage unknown: 0), or None with the reason."""
    c = np.maximum(np.asarray(colour, np.float32), 0.0)
    chroma = c / max(float(c.sum()), 1e-6)
    found = max(SCREEN_CHANNEL, key=lambda k: chroma[SCREEN_CHANNEL[k]])
    if (kind is not None and kind != found) or float(screen_difference(chroma, found)) < MIN_SCREEN_EXCESS:
        shares = ", ".join(f"{v:.0%}" for v in chroma)
        return ScreenSearch(None, f"the picked colour is not a {kind or 'green or blue'} screen's (its r, g, b are "
                                  f"{shares} of its light; a screen's channel stands {MIN_SCREEN_EXCESS:.0%} above "
                                  "the others)")
    return ScreenSearch(Screen(found, tuple(float(v) for v in c), 0.0))


def _picked_screen(img: np.ndarray, colour, kind: str | None) -> ScreenSearch:
    """The picked colour as the frame's screen, its coverage the pixels of its chromaticity."""
    picked = picked_kind(colour, kind)
    if picked.screen is None:
        return picked
    c = np.array(picked.screen.colour, np.float32)
    target = c / max(float(c.sum()), 1e-6)
    _, _, pix = _chromaticities(img)
    dist = np.hypot(pix[:, 0] - target[0], pix[:, 1] - target[1])
    coverage = float((dist < 0.04).mean())
    return ScreenSearch(Screen(picked.screen.kind, picked.screen.colour, coverage, _cluster_radius(dist)))


def _cluster_radius(dist: np.ndarray) -> float:
    """The chromaticity radius of a cluster from its pixels' distances (N,) to its centre:
    three times their median within 0.08 (noise, codec, weave), kept in [0.02, 0.08]."""
    near = dist < 0.08
    spread = float(np.median(dist[near])) if near.any() else 0.0
    return float(np.clip(3.0 * spread, 0.02, 0.08))


def _screen_cluster(chroma: np.ndarray, lit: np.ndarray, kind: str) -> tuple[np.ndarray, float]:
    """bool (N,): the pixels of the densest ``kind``-hued chromaticity cluster (see find_screen),
    and its chromaticity radius."""
    candidates = lit & (screen_difference(chroma, kind) >= MIN_SCREEN_EXCESS)
    if not candidates.any():
        return candidates, 0.08
    xy = chroma[candidates][:, :2]  # (r, g) chromaticity; b = 1 - r - g
    hist, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=_CHROMA_BINS, range=((0.0, 1.0), (0.0, 1.0)))
    hist = cv2.GaussianBlur(hist.astype(np.float32), (0, 0), 1.5)
    i, j = np.unravel_index(int(np.argmax(hist)), hist.shape)
    peak = (np.array([i, j], np.float32) + 0.5) / _CHROMA_BINS
    dist = np.full(len(chroma), np.inf, np.float32)
    dist[candidates] = np.hypot(xy[:, 0] - peak[0], xy[:, 1] - peak[1])
    radius = _cluster_radius(dist)
    return dist < radius, radius


def detect_screen(img: np.ndarray, kind: str | None = None, min_coverage: float = 0.25) -> Screen | None:
    """The screen of a frame (:func:`find_screen`), or None when it has none."""
    return find_screen(img, kind, min_coverage).screen


def _chromaticity(colour) -> np.ndarray:
    """(r, g, b) / (r + g + b) of a linear colour (negative light as none), float32 (3,)."""
    c = np.maximum(np.asarray(colour, np.float32), 0.0)
    return c / max(float(c.sum()), 1e-6)


def chroma_distance(img: np.ndarray, colour) -> np.ndarray:
    """Distance float32 (H, W) between each pixel's chromaticity (r, g) = (R, G) / (R + G + B)
    and that of ``colour`` (linear r, g, b); ``img`` float32 (H, W, 3) linear."""
    c = _chromaticity(colour)
    inv = 1.0 / np.maximum(cv2.transform(np.ascontiguousarray(img, np.float32), np.ones((1, 3), np.float32)), 1e-6)
    return np.hypot(img[..., 0] * inv - c[0], img[..., 1] * inv - c[1]).astype(np.float32, copy=False)


def screen_mask(img: np.ndarray, screen: Screen, threshold: float = 0.6, erode_px: int = 3) -> np.ndarray:
    # (erode_px is in pixels of ``img``)
    """Conservative bool (H, W) mask of pixels that are certainly screen.

    A pixel qualifies when its difference is at least ``threshold`` of the screen's typical
    difference and its chromaticity lies within the screen's cluster (a foreground colour
    greener or bluer than the screen is not screen); the mask is then eroded so that edge
    pixels mixed with foreground stay out.
    """
    from engine.key import fused  # numba: loaded to key, not with the screen model

    img = np.ascontiguousarray(img, np.float32)
    c = _chromaticity(screen.colour)
    mask = np.empty(img.shape[:2], np.uint8)
    # the radius was measured at a quarter size, where noise averages out: judge hue alike
    fused.screen_pixels(img, cv2.GaussianBlur(img, (0, 0), 2.0), screen.channel,
                        np.float32(threshold * screen.difference), c[0], c[1], np.float32(screen.chroma_radius), mask)
    if erode_px > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode_px + 1, 2 * erode_px + 1))
        mask = cv2.erode(mask, k)
    return mask.astype(bool)


def fill_holes(img: np.ndarray, mask: np.ndarray, levels: int | None = None) -> np.ndarray:
    """Push-pull fill: values where ``mask`` is True are kept, holes get the surrounding values.

    Works on a pyramid of mask-weighted averages, so a hole of any size is filled from its
    nearest known surroundings in O(pixels). ``img`` is float32 (H, W) or (H, W, C).
    """
    if img.ndim == 3 and img.shape[-1] == 1:  # OpenCV drops single channels: work in 2-D
        return fill_holes(img[..., 0], mask, levels)[..., None]
    from engine.key import fused  # numba: loaded to key, not with the screen model

    mask = mask.astype(bool)
    colour = img.ndim == 3

    def per_pixel(plane):  # a weight plane for every channel (OpenCV's element-wise ops are fast)
        return cv2.merge([plane] * img.shape[2]) if colour else plane

    def channels(a):  # (H, W) or (H, W, C) -> an (H, W, C) view for the compiled passes
        return a.reshape(a.shape[0], a.shape[1], -1)

    w = mask.astype(np.float32)
    pyr_num = [np.empty(img.shape, np.float32)]
    fused.weigh(channels(np.ascontiguousarray(img, np.float32)), w, channels(pyr_num[0]))
    pyr_w = [w]
    n = levels or int(np.ceil(np.log2(max(img.shape[:2])))) + 1
    for _ in range(n):
        if min(pyr_w[-1].shape) <= 1:
            break
        pyr_num.append(cv2.pyrDown(pyr_num[-1]))
        pyr_w.append(cv2.pyrDown(pyr_w[-1]))
    # pull: from the coarsest level, fill what each finer level lacks
    est = pyr_num[-1] / per_pixel(np.maximum(pyr_w[-1], 1e-6))
    for lvl in range(len(pyr_num) - 2, -1, -1):
        h, wd = pyr_w[lvl].shape
        up = cv2.pyrUp(est, dstsize=(wd, h))
        if up.ndim == 2 and colour:
            up = up[..., None]
        if lvl == 0:  # full resolution: known pixels are kept exactly, the rest come from above
            return cv2.copyTo(np.ascontiguousarray(img, np.float32), mask.view(np.uint8), up)
        est = np.empty_like(up)  # this level's own average where it has support, else the coarser one
        fused.pull_level(channels(up), channels(pyr_num[lvl]), pyr_w[lvl], channels(est))
    return est.astype(np.float32, copy=False)


def components(mask: np.ndarray, connectivity: int) -> tuple[int, np.ndarray, np.ndarray]:
    """``cv2.connectedComponentsWithStats`` of a uint8 (H, W) mask: (count, int32 labels
    (H, W), int32 stats (count, 5)); the labelling without OpenCV's statistics pass and the
    statistics in one compiled pass, several times faster together."""
    from engine.key import fused  # numba: loaded to key, not with the screen model

    n, labels = cv2.connectedComponents(mask, connectivity=connectivity)
    return n, labels, fused.component_stats(labels, n)


def speck_sized(stats: np.ndarray, max_area: int, f: int) -> np.ndarray:
    """bool (N,): which components (``cv2.connectedComponentsWithStats`` stats found at
    working scale ``f``) are speck-sized: smaller than ``max_area`` pixels of the full frame and
    no longer than twice that area's side in either direction (a thin pole or cable of the same
    area is not). The background label 0 is never one."""
    area = max(1, max_area // (f * f))
    extent = 2.0 * np.sqrt(max_area) / f
    small = np.zeros(len(stats), bool)
    small[1:] = ((stats[1:, cv2.CC_STAT_AREA] < area)
                 & (np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]) < extent))
    return small


_CHAMFER_STEPS = (np.float32(0.955), np.float32(1.3693))  # cv2.DIST_L2's 3x3 mask: a step across, diagonally
_DISC_MAX_PX = 6.0  # farther, one distance transform costs less than a dilation by the disc


def within(mask: np.ndarray, px: float) -> np.ndarray:
    """bool (H, W): the pixels within ``px`` pixels of a set pixel of ``mask`` (uint8 0/1 or
    bool (H, W)), distance as ``cv2.distanceTransform`` with ``DIST_L2`` and a 3x3 mask
    measures it: ``distanceTransform(1 - mask) <= px``. OpenCV's distance is the shortest
    sum of its two step lengths, so up to :data:`_DISC_MAX_PX` one dilation by the disc of
    that radius gives the same pixels several times faster."""
    m = mask.view(np.uint8) if mask.dtype == bool else mask
    if px > _DISC_MAX_PX:
        return cv2.distanceTransform(1 - m, cv2.DIST_L2, 3) <= px
    return cv2.dilate(m, _chamfer_disc(float(px))) > 0


@functools.lru_cache(maxsize=16)
def _chamfer_disc(px: float) -> np.ndarray:
    """uint8 (2n + 1, 2n + 1): the offsets whose 3x3-chamfer distance is at most ``px``."""
    across, diagonal = _CHAMFER_STEPS
    n = int(px / across) + 1
    dy, dx = np.abs(np.mgrid[-n:n + 1, -n:n + 1])
    short, long = np.minimum(dx, dy), np.maximum(dx, dy)
    distance = short.astype(np.float32) * diagonal + (long - short).astype(np.float32) * across
    return (distance <= np.float32(px)).astype(np.uint8)


def working_scale(shape: tuple[int, ...], base_height: int = 540) -> int:
    """Integer downscale at which smooth estimates (plates, white points) are computed:
    1 up to ~540 lines, 2 for HD, 4 for 4K; they are smooth, so nothing is lost."""
    return max(1, int(round(shape[0] / base_height)))


def downsample(img: np.ndarray, f: int) -> np.ndarray:
    """``img`` (H, W) or (H, W, C) reduced by the integer factor ``f`` (a :func:`working_scale`)
    with an area filter to (H // f, W // f[, C]), same dtype (OpenCV returns a single channel
    as 2-D); ``img`` itself when ``f`` is 1."""
    return cv2.resize(img, (img.shape[1] // f, img.shape[0] // f), interpolation=cv2.INTER_AREA) if f > 1 else img


def upsample(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``img`` (h, w) or (h, w, C) resized bilinearly to the height and width of ``shape``
    (pixels; only ``shape[:2]`` counts), keeping a trailing channel axis of 1; ``img`` itself
    when it already has that size. The inverse of :func:`downsample` for smooth estimates."""
    if img.shape[:2] == tuple(shape[:2]):
        return img
    out = cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return out[..., None] if out.ndim == 2 and img.ndim == 3 else out


def clean_plate(img: np.ndarray, screen: Screen, smooth_px: float = 2.0, purity: float = 0.9,
                margin_px: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution wrapper of :func:`clean_plate_at`: estimated at :func:`working_scale`."""
    f = working_scale(img.shape)
    plate, mask = clean_plate_scaled(downsample(img, f), f, screen, smooth_px, purity, margin_px)
    if f == 1:
        return plate, mask
    full_mask = cv2.resize(mask.astype(np.uint8), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
    return upsample(plate, img.shape).astype(np.float32, copy=False), full_mask.astype(bool)


def clean_plate_scaled(small: np.ndarray, f: int, screen: Screen, smooth_px: float = 2.0, purity: float = 0.9,
                       margin_px: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """:func:`clean_plate_at` of a frame already reduced by ``f`` (``downsample(img, f)``),
    with ``smooth_px`` and ``margin_px`` in pixels of the full frame: (plate float32
    (h, w, 3) linear, bool mask (h, w)) at the size of ``small``. For a caller that keeps
    the small frame and plate for its own working-scale steps."""
    if f == 1:
        return clean_plate_at(small, screen, smooth_px, purity, margin_px)
    return clean_plate_at(small, screen, smooth_px / f, purity, max(1, margin_px // f))


def clean_plate_at(img: np.ndarray, screen: Screen, smooth_px: float = 2.0, purity: float = 0.9,
                   margin_px: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(clean plate float32 (H, W, 3), bool mask of the pixels it was measured on).

    The plate is the screen as it would be without the foreground: measured where the
    screen is certain, filled in behind the foreground and markers, lightly smoothed so
    sensor noise does not enter the key. Two passes: the second keeps only pixels whose
    difference reaches ``purity`` of the first plate's *local* value and stays ``margin_px``
    away from anything else, so wispy hair at the subject's edge cannot whiten the plate.
    """
    mask = screen_mask(img, screen)
    if not mask.any():
        plate = np.broadcast_to(np.array(screen.colour, np.float32), img.shape).copy()
        return plate, mask
    plate = fill_holes(img, mask)
    if purity > 0:
        d_img = cv2.GaussianBlur(_image_difference(img, screen.kind), (0, 0), 1.0)
        impure = (d_img < purity * _image_difference(plate, screen.kind)).astype(np.uint8)
        if margin_px > 0:
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin_px + 1, 2 * margin_px + 1))
            impure = cv2.dilate(impure, k)
        refined = mask & (impure == 0)
        if refined.mean() > 0.05:
            mask = refined
            plate = fill_holes(img, mask)
    if smooth_px > 0:
        plate = cv2.GaussianBlur(plate, (0, 0), smooth_px)
    return plate, mask


def screen_quality(img: np.ndarray, plate: np.ndarray, mask: np.ndarray, screen: Screen,
                   alpha: np.ndarray | None = None) -> dict[str, float]:
    """How keyable the screen is, from one frame.

    ``evenness``: 1 - (std / mean) of the clean plate's screen difference (1 = perfectly even);
    ``noise``: std of the plate minus its clean plate on certain-screen pixels, in linear
    units; ``spill``: the screen difference of the solid subject relative to the screen's
    (0 = no spill); ``coverage``: fraction of the frame that is certain screen.
    """
    d_plate = screen_difference(plate, screen.kind)
    out = {"coverage": float(mask.mean())}
    if mask.any():
        dp = d_plate[mask]
        out["evenness"] = float(1.0 - dp.std() / max(dp.mean(), 1e-6))
        out["noise"] = float((img - plate)[mask].std())
    if alpha is not None and (alpha > 0.99).any():
        d_img = screen_difference(img, screen.kind)
        solid = alpha > 0.99
        out["spill"] = float(np.clip(np.median(d_img[solid]) / max(screen.difference, 1e-6), 0.0, None))
    return out
