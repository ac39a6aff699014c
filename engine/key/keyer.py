"""Colour-difference keying against a per-pixel clean plate, unmixing and despill.

Images are float32 (H, W, 3) scene-linear Rec.709; alphas float32 (H, W) in [0, 1].
The matte model is the compositing equation I = a*F + (1 - a)*C with C the local clean
plate: the screen difference of I falls from C's value (a = 0) to about zero (a = 1) for
foreground colours without a screen-channel excess.

Per frame (:meth:`Keyer.key`): chroma of a subsampled source rebuilt along luma -> clean
plate -> raw vector-key matte, raised to its physical floor -> tracking markers cleared ->
divided by the white point of the nearby core (spill lowers it everywhere on the subject)
-> specks removed -> edge band re-solved by projection on the subject's own colours (near a
marker, with the marker's colour behind it) -> clip black/white away from the band -> the
band's noise smoothed (edge-preserving) -> automatic core -> despot, shrink/grow, softness ->
temporal hold (not where anything moved) -> user boxes and mattes -> unmix and despill.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from engine.key.bands import in_bands
from engine.key.chroma import luma_guided_chroma
from engine.key.markers import marker_backdrop, marker_mask
from engine.key.screen import (Screen, clean_plate_scaled, components, downsample, fill_holes, speck_sized, upsample,
                               within, working_scale)
from engine.memory import reuse_large_buffers


@dataclass
class KeyParams:
    """Every keyer control. Distances in pixels of the frame being keyed."""

    screen: str = "auto"  # auto | green | blue
    screen_colour: tuple[float, float, float] | None = None  # linear: the screen as picked (no detection)
    screen_gain: float = 1.0  # >1 keys harder (more transparency), <1 softer
    screen_balance: float = 1.0  # 1: screen against each other channel (vector key), 0: against their mean
    floor_margin: float = 0.1  # opacity floor: a pixel is at least 1 - (min_c I_c / C_c + this) opaque; <0 = off
    markers: bool = True  # remove tracking markers on the screen, touching the subject or not
    chroma_subsampling: tuple[int, int] = (1, 1)  # the source's chroma factors (vertical, horizontal): 4:2:0 = (2, 2)
    pre_blur: float = 0.0  # px: blur of the picture before the colour difference (0: thin strands keep theirs)
    clip_black: float = 0.04  # matte below this is screen, away from edges
    clip_white: float = 1.0  # matte above this is solid, inside the core
    edge_black: float = 0.25  # fraction of clip_black still removed near edges (the noise floor only)
    edge_protect_px: int = 10  # clip black/white do not apply within this distance of an edge
    despot_px: int = 40  # remove foreground specks / fill screen holes smaller than this (area ~ px^2)
    core_erode_px: int = 5  # automatic core matte: the filled subject eroded by this; 0 = off
    core_depth_px: int = 10  # the final core matte starts this much deeper than the white-point core
    solid_snap: float = 1.0  # where the local mean matte exceeds this it becomes exactly 1 (1 = off)
    refine: bool = True  # re-solve edge alphas from the subject's own colours
    refine_blur: float = 0.0  # px: noise blur of the picture in the colour re-solve
    white_from_core: bool = True  # normalise the matte by the white point of the nearby core (spill)
    shrink_grow_px: float = 0.0  # + grows, - shrinks the matte
    softness_px: float = 0.0  # blur of the final matte
    matte_denoise: float = 3.0  # edge-preserving smoothing of differences up to ~this x the matte's noise; 0 = off
    despill: str = "limit"  # limit | subtract | none
    despill_strength: float = 1.0
    spill_replace: tuple[float, float, float] | None = None  # linear colour added back for removed spill
    temporal: float = 0.7  # 0..1: how strongly a matte is held where the plate did not change
    garbage_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # x0, y0, x1, y1: always screen
    core_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # always foreground


@dataclass
class KeyResult:
    """One keyed frame: ``alpha`` (H, W); ``fg`` despilled straight colour (H, W, 3);
    ``clean_plate`` (H, W, 3); ``spill`` (H, W) the screen-channel light the despill removed
    (None when despill is off); all float32 linear."""

    alpha: np.ndarray
    fg: np.ndarray
    clean_plate: np.ndarray
    spill: np.ndarray | None = None
    screen_inside_px: int = 0  # screen-coloured pixels enclosed by the subject, kept in the matte

    @property
    def premultiplied(self) -> np.ndarray:
        """RGBA premultiplied, float32 (H, W, 4)."""
        return np.concatenate([self.fg * self.alpha[..., None], self.alpha[..., None]], axis=-1)


def enclosed_screen_summary(px_per_frame: list[int]) -> dict | None:
    """What a shot's keyed frames held as subject though screen-coloured (their
    ``screen_inside_px`` that were not 0): frames and the largest area in px; None when none."""
    return {"frames": len(px_per_frame), "max_px": max(px_per_frame)} if px_per_frame else None


def screen_amount(img: np.ndarray, plate: np.ndarray, kind: str, balance: float = 1.0) -> np.ndarray:
    """How much of the local screen colour C a pixel I holds, float32 (H, W): 1 on the
    screen, about 0 on the subject, unclipped.

    The vector key (``balance`` 1): the screen channel's excess over each other channel,
    relative to the screen's own, ``min over o of (I_s - I_o) / (C_s - C_o)``; the largest
    amount of C that can be taken from I before what is left has the screen's hue against
    either other channel. A colour lies along the screen only as far as both excesses agree:
    yellow (R = G) and cyan (B = G) beside a green screen hold none of it. ``balance`` 0: the
    excess over the mean of the other two, ``(I_s - mean(I_o)) / (C_s - mean(C_o))``, which
    reads half of a yellow or cyan as screen; in between, a mix of the two.
    """
    return _screen_amount(img, plate, kind, balance, complement=False)


def _screen_amount(img: np.ndarray, plate: np.ndarray, kind: str, balance: float, complement: bool) -> np.ndarray:
    """:func:`screen_amount`, or with ``complement`` 1 minus it in the same pass."""
    from engine.key import fused  # numba: loaded to key, not with KeyParams

    out = np.empty(img.shape[:2], np.float32)
    in_bands(fused.screen_amount, out.shape[0], np.ascontiguousarray(img, np.float32),
             np.ascontiguousarray(plate, np.float32), 1 if kind == "green" else 2, float(balance), complement, out)
    return out


def opacity_floor(img: np.ndarray, plate: np.ndarray, margin: float, blur_px: float = 1.5) -> np.ndarray:
    """The least opacity a pixel can have, float32 (H, W): ``1 - (min_c I_c / C_c + margin)``,
    at the resolution of ``img`` and ``plate`` (the keyer passes its working-scale copies: a
    bound for whole areas of colour needs no more).

    From the compositing equation I = a F + (1 - a) C with a foreground F that has no negative
    light: every channel holds at least (1 - a) C_c. A colour more saturated than the screen
    in the screen's own hue (a green prop before a green screen, its red and blue well below
    the screen's) holds little screen whatever its hue says. ``margin`` (a fraction of the
    screen's light) and the blur (px) keep sensor noise on a dim channel from reading as
    opacity.
    """
    from engine.key import fused  # numba: loaded to key, not with KeyParams

    picture = cv2.GaussianBlur(img, (0, 0), blur_px) if blur_px > 0 else img
    least = np.empty(img.shape[:2], np.float32)
    fused.least_ratio(np.ascontiguousarray(picture, np.float32), np.ascontiguousarray(plate, np.float32), least)
    return np.float32(1.0 - margin) - least


def raw_alpha(img: np.ndarray, plate: np.ndarray, kind: str, p: KeyParams) -> np.ndarray:
    """Unclipped matte ``1 - screen_amount`` of the (pre-blurred) picture, float32 (H, W)."""
    picture = cv2.GaussianBlur(img, (0, 0), p.pre_blur) if p.pre_blur > 0 else img
    if p.screen_gain == 1.0:
        return _screen_amount(picture, plate, kind, p.screen_balance, complement=True)
    ratio = screen_amount(picture, plate, kind, p.screen_balance)
    # a power keeps the screen at 0 and the core at 1 and moves the edge
    return 1.0 - np.sign(ratio) * np.abs(ratio) ** (1.0 / p.screen_gain)


def _near_edge(alpha: np.ndarray, px: int) -> np.ndarray:
    """Bool (H, W): within ``px`` of the matte's 0.5 contour, on either side.

    Distances as :func:`engine.key.screen.within` measures them, at working scale.
    """
    if px <= 0:
        return np.zeros(alpha.shape, bool)
    f = working_scale(alpha.shape)  # a band of ~10 px needs no full-resolution distances
    solid = (downsample(alpha, f) > 0.5).astype(np.uint8)
    band = np.where(solid > 0, within(1 - solid, px / f), within(solid, px / f)).astype(np.uint8)
    return _nearest(band, alpha.shape).view(bool)


def _floor_kept(alpha: np.ndarray, before: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """``alpha`` float32 (H, W), changed in place, raised to ``floor`` where the matte
    ``before`` it (the same or another (H, W) array) kept anything (> 0.02)."""
    from engine.key import fused  # numba: loaded to key, not with KeyParams

    alpha = np.ascontiguousarray(alpha, np.float32)
    fused.floor_kept(alpha, np.ascontiguousarray(before, np.float32), np.ascontiguousarray(floor, np.float32))
    return alpha


def _screen_where(alpha: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``alpha`` float32 (H, W), changed in place, with 0 where ``mask`` (bool, at working
    scale or full size, sampled as :func:`_nearest` would upscale it) is set."""
    from engine.key import fused  # numba: loaded to key, not with KeyParams

    alpha = np.ascontiguousarray(alpha, np.float32)
    fused.clear_where(alpha, mask.view(np.uint8))
    return alpha


def _nearest(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if mask.shape[:2] == tuple(shape[:2]):
        return mask
    return cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)


NOISE_GATE_PX = 0.7  # the screen is judged on the matte smoothed this much (px): sensor noise is no subject


def clip_matte(alpha: np.ndarray, p: KeyParams, edge: np.ndarray | None = None) -> np.ndarray:
    """Clip black/white away from edges; near edges only the [0, 1] range is enforced.

    Hair lives within a few pixels of the matte's 0.5 contour, so it is never crushed; the
    screen far from the subject and the solid core are cleaned. Away from edges a pixel is
    screen where the matte smoothed by :data:`NOISE_GATE_PX` is below clip black, so a noise
    spike above it is screen too, while a thin strand keeps its own sharp value.
    """
    from engine.key import fused  # numba: loaded to clean a matte, not with KeyParams

    if edge is None:
        edge = _near_edge(np.clip(alpha, 0.0, 1.0), p.edge_protect_px)
    alpha = np.ascontiguousarray(alpha, np.float32)
    gate = cv2.GaussianBlur(alpha, (0, 0), NOISE_GATE_PX) if NOISE_GATE_PX > 0 else alpha
    span = max(p.clip_white - p.clip_black, 1e-3)
    # near an edge: only remove the noise floor of the screen, keep the soft values
    floor = p.edge_black * p.clip_black
    return fused.clip_matte(alpha, np.ascontiguousarray(edge, bool), gate, float(p.clip_black), float(span),
                            float(floor))


def auto_core(alpha: np.ndarray, erode_px: int) -> np.ndarray:
    """Core matte float32 (H, W): the solid region with its enclosed holes filled, eroded.

    Spill and dark costume areas inside the subject lower the colour-difference matte; the
    core says they are foreground whatever their colour.
    """
    from engine.key import fused  # numba: loaded to clean a matte, not with KeyParams

    f = working_scale(alpha.shape)  # the core lies deep inside: working scale is plenty
    solid = (downsample(alpha, f) > 0.5).astype(np.uint8)
    h, w = solid.shape
    flood = np.pad(1 - solid, 1, constant_values=1)
    mask = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(flood, mask, (0, 0), 2)
    filled = (flood[1:-1, 1:-1] != 2).astype(np.uint8)  # not reachable from outside: subject or hole
    if erode_px > 0:
        filled = (~within(1 - filled, erode_px / f)).astype(np.uint8)
    core = np.empty(alpha.shape, np.float32)
    fused.nearest_float(filled, core)
    return core


PLATEAU_TOL = 0.15  # the white point is read where the raw matte is within this of its local peak
PLATEAU_PX = 6.0  # the peak's reach, px at 1080 lines' working scale (540)
WHITE_MAX = 3.0  # a subject's raw matte may read up to this: colours with less screen hue than none


def local_white(alpha_raw: np.ndarray, core: np.ndarray, blur_px: float = 6.0) -> np.ndarray:
    """Per-pixel white point float32 (H, W): the raw matte's level inside the nearby core.

    Spill adds screen colour to the subject, so its raw matte reads below 1 even where it is
    solid, and more so towards its edges; dividing by the white point of the nearest solid
    region restores the edge opacity that spill took away, without clipping hair. A colour
    with less than none of the screen's hue (blue or red beside a green screen) reads above
    1, up to :data:`WHITE_MAX`, and its soft edge as much too dense: the same division
    brings that edge back to its true opacity. The core of a subject with a wide soft edge
    (motion blur, a soft body edge, fine fur) starts inside that edge, where the raw matte is
    still rising: the white point is read only where it has levelled off, within
    :data:`PLATEAU_TOL` of its smoothed peak within :data:`PLATEAU_PX` (working-scale pixels),
    so a soft edge is not divided by its own transparency and left too dense.
    """
    if not (core > 0.5).any():
        return np.ones_like(alpha_raw)
    f = working_scale(alpha_raw.shape)  # a white point is smooth: estimate it at low resolution
    level = downsample(np.clip(alpha_raw, 0.0, WHITE_MAX), f)
    solid = downsample(core.astype(np.float32, copy=False), f) > 0.99
    if PLATEAU_TOL > 0:  # a wide soft edge is not solid: only where the level has levelled off
        r = max(1, int(round(PLATEAU_PX)))
        smooth = cv2.GaussianBlur(level, (0, 0), 1.5)  # noise is no peak
        peak = cv2.dilate(np.where(solid, smooth, 0).astype(np.float32),
                          cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        plateau = solid & (smooth >= (1.0 - PLATEAU_TOL) * peak)
        if plateau.any():
            solid = plateau
    white = fill_holes(level, solid)
    if blur_px > 0:
        white = cv2.GaussianBlur(white, (0, 0), blur_px / f)
    return np.clip(upsample(white, alpha_raw.shape), 0.5, WHITE_MAX).astype(np.float32, copy=False)


def subject_colour(small: np.ndarray, alpha: np.ndarray, solid_level: float = 0.93,
                   colour_blur_px: float = 3.0) -> np.ndarray | None:
    """The subject's colour pushed outwards from where the matte is solid, float32 (h, w, 3)
    linear at working scale (``small`` is the picture there, :func:`engine.key.screen.downsample`;
    ``alpha`` the full-size matte), lightly blurred against noise; None when nothing is solid.
    Blur in pixels of the full-size frame."""
    solid = alpha > solid_level
    if not solid.any():
        return None
    f = working_scale(alpha.shape)
    f_est = fill_holes(small, downsample(solid.astype(np.float32), f) > 0.99)
    if colour_blur_px > 0:
        f_est = cv2.GaussianBlur(f_est, (0, 0), colour_blur_px / f)
    return f_est


def refine_with_colours(img: np.ndarray, alpha: np.ndarray, plate: np.ndarray, band: np.ndarray,
                        solid_level: float = 0.93, colour_blur_px: float = 3.0, pre_blur: float = 0.0,
                        small: np.ndarray | None = None, subject: np.ndarray | None = None) -> np.ndarray:
    """Re-solve the matte in ``band`` from known colours: a = <I - C, F - C> / |F - C|^2.

    F is the foreground colour pushed outwards from where the matte is solid
    (:func:`subject_colour`, or ``subject`` when the caller has it), so colours the subject
    carries everywhere (spill, a tint) no longer read as transparency; the projection uses all
    three channels, not only the screen channel's excess. ``small``: ``img`` at working scale
    (:func:`engine.key.screen.downsample`) when the caller has it.
    """
    from engine.key import fused  # numba: loaded to key, not with KeyParams

    f = working_scale(img.shape)
    if subject is None:
        subject = subject_colour(downsample(img, f) if small is None else small, alpha, solid_level, colour_blur_px)
    if subject is None:
        return alpha
    picture = cv2.GaussianBlur(img, (0, 0), pre_blur) if pre_blur > 0 else img
    out = np.empty(alpha.shape, np.float32)
    # the band is a thin fraction of the frame: solve there only, sampling the smooth subject
    # colour's low-resolution estimate at each of its pixels
    fused.refine_band(np.ascontiguousarray(picture, np.float32), np.ascontiguousarray(plate, np.float32),
                      np.ascontiguousarray(alpha, np.float32), np.ascontiguousarray(band, bool), subject, f, out)
    return out


OFF_SCREEN_LINE = 0.05  # a colour this far (a fraction of the screen's light) from every subject-screen mix is not one


def solve_over_markers(img: np.ndarray, plate: np.ndarray, band: np.ndarray, nearest: np.ndarray,
                       ratio: np.ndarray, subject: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where a tracking marker, not the clean screen, lies behind the subject's edge: of the
    pixels of the edge ``band`` (bool (H, W)) near a marker (``nearest``, ``ratio``:
    :func:`engine.key.markers.marker_backdrop`), those whose colour a mix of the subject's
    colour F and the marker's M explains clearly better than a mix of F and the clean plate C
    (at most half the distance from the segment, where C's is above :data:`OFF_SCREEN_LINE`
    of the screen's light), and their matte against the marker,
    <I - M, F - M> / |F - M|^2.

    A strand crossing a marker keeps its opacity (it is not screen because the marker is
    under it) and the part of a marker beside it reads as screen (it is not subject because
    it is darker than the screen). ``img``, ``plate`` float32 (H, W, 3) full size; ``nearest``
    and ``subject`` (F, float32 (h, w, 3)) at working scale. Returns (the rows and columns
    (M,) of all the band's pixels near a marker; of those, the ones solved against the marker:
    rows, columns (N,), mattes (N,) and the marker's colour there (N, 3))."""
    f = working_scale(band.shape)
    sy, sx = np.nonzero(nearest)
    if f > 1:  # each working-scale pixel stands for its f x f block
        oy, ox = np.divmod(np.arange(f * f), f)
        ys = (sy[:, None] * f + oy[None]).ravel()
        xs = (sx[:, None] * f + ox[None]).ravel()
        keep = (ys < band.shape[0]) & (xs < band.shape[1])
        ys, xs = ys[keep], xs[keep]
    else:
        ys, xs = sy, sx
    keep = band[ys, xs]
    ys, xs = ys[keep], xs[keep]
    sy, sx = np.minimum(ys // f, subject.shape[0] - 1), np.minimum(xs // f, subject.shape[1] - 1)
    c, fc = plate[ys, xs], subject[sy, sx]
    m = c * ratio[nearest[sy, sx]]
    i = img[ys, xs]

    def fit(bg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # matte along bg -> F and distance from that segment
        d = fc - bg
        a = np.clip(np.einsum("nc,nc->n", i - bg, d) / np.maximum(np.einsum("nc,nc->n", d, d), 1e-4), 0.0, 1.0)
        return a, np.linalg.norm(i - bg - a[:, None] * d, axis=1)

    a_m, off_m = fit(m)
    _, off_c = fit(c)
    # clearly better: the screen's mix leaves a residue well above noise (a fraction of the
    # screen's own light) that the marker's explains; where both explain the pixel (a dark
    # subject's own colour beside a dark marker), the screen's solve stands
    better = (off_m < 0.5 * off_c) & (off_c > OFF_SCREEN_LINE * np.linalg.norm(c, axis=1))
    return ys, xs, ys[better], xs[better], a_m[better].astype(np.float32), m[better].astype(np.float32)


SCREEN_NEAR = 0.15  # a raw matte within this of 0 is (mostly) screen: its spread there is the matte's noise
MATTE_NOISE_PX = 1.0  # spatial reach (Gaussian sigma, px) of the matte's edge-preserving smoothing
MATTE_NOISE_MIN_SAMPLES = 100  # fewer screen samples than this (a frame filled by the subject): no estimate


def matte_noise(raw: np.ndarray) -> float:
    """The matte's noise level: the robust standard deviation (1.4826 x the median absolute
    deviation) of the raw matte ``raw`` (float32 (H, W), :func:`raw_alpha`, before any floor or
    clip) over the pixels that read as screen (within :data:`SCREEN_NEAR` of 0), sampled every
    sixth pixel of every sixth row: sensor and codec noise through the key, in matte units.
    0 when too little screen shows to say."""
    sample = raw[::6, ::6]
    sample = sample[np.abs(sample) < SCREEN_NEAR]
    if sample.size < MATTE_NOISE_MIN_SAMPLES:
        return 0.0
    return 1.4826 * float(np.median(np.abs(sample - np.median(sample))))


def denoise_matte(alpha: np.ndarray, band: np.ndarray, noise: float, strength: float) -> np.ndarray:
    """The matte float32 (H, W) with its noise smoothed inside the edge ``band`` (bool (H, W)):
    a bilateral filter (reach :data:`MATTE_NOISE_PX`) that averages neighbours whose matte
    differs by up to about ``strength`` x ``noise`` (:func:`matte_noise`) and keeps larger
    differences, so a strand standing clear of the noise keeps its edge and its opacity while
    the per-pixel scatter that noise puts into soft edges (a few percent) averages out. Pixels
    keyed as screen (0) stay 0. ``strength`` or ``noise`` 0: unchanged."""
    from engine.key import fused  # numba: loaded to key, not with KeyParams

    if strength <= 0 or noise <= 0:
        return alpha
    out = np.empty(alpha.shape, np.float32)
    radius = int(np.ceil(2 * MATTE_NOISE_PX))
    in_bands(fused.smooth_matte, alpha.shape[0], np.ascontiguousarray(alpha, np.float32),
             np.ascontiguousarray(band, bool), float(strength * noise), float(MATTE_NOISE_PX), radius, out)
    return out


def snap_solid(alpha: np.ndarray, level: float, blur_px: float = 2.0) -> np.ndarray:
    """Set to 1 where the matte is solid on average: its local mean exceeds ``level``.

    The colour re-solve reads a solid subject as 1 plus noise, clipped, so solid areas near
    an edge would otherwise let the background through by a percent or two. Fine hair
    keeps a local mean well below ``level`` and is left alone.
    """
    local = cv2.GaussianBlur(alpha, (0, 0), blur_px)
    return np.where((local > level) & (alpha > 0.9), np.float32(1.0), alpha).astype(np.float32, copy=False)


def despot(alpha: np.ndarray, max_area: int, fringe_px: int = 3) -> np.ndarray:
    """Remove small isolated foreground specks (e.g. tracking markers) and fill small screen holes.

    ``max_area`` is in pixels of ``alpha``; components are found at working scale (specks
    and holes are judged by size, which survives a 2:1 reduction) and applied at full size.
    A speck is smaller than ``max_area`` and no longer than twice its side (``2 sqrt(max_area)``
    px in either direction): a thin pole or cable of the same area is kept.
    """
    from engine.key import fused  # numba: loaded to clean a matte, not with KeyParams

    if max_area <= 0:
        return alpha
    f = working_scale(alpha.shape)
    small_alpha = downsample(alpha, f)
    area = max(1, max_area // (f * f))
    none = np.zeros(small_alpha.shape, np.uint8)
    speck = clear = fill = none
    fg = (small_alpha > 0.05).astype(np.uint8)
    _, labels, stats = components(fg, 8)
    small = speck_sized(stats, max_area, f)
    if small.any():
        speck = small[labels].astype(np.uint8)
        subject = ((labels > 0) & ~small[labels]).astype(np.uint8)
        # the edge band kept a speck's soft surround from clip black: clear it too, but only
        # away from the subject, whose own wisps live there
        near_speck = within(speck, fringe_px / f + 1)
        near_subject = within(subject, fringe_px / f)
        clear = (near_speck & ~near_subject).astype(np.uint8)
    holes = (small_alpha < 0.95).astype(np.uint8)
    n, labels, stats = components(holes, 4)
    small = np.zeros(n, bool)
    small[1:] = stats[1:, cv2.CC_STAT_AREA] < max(1, area // 4)
    if small.any():
        fill = small[labels].astype(np.uint8)
    if speck is none and fill is none:
        return alpha
    return fused.apply_despot(np.ascontiguousarray(alpha, np.float32), speck, clear, fill)


def shrink_grow(alpha: np.ndarray, px: float) -> np.ndarray:
    if abs(px) < 1e-3:
        return alpha
    r = int(round(abs(px)))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(alpha, k) if px > 0 else cv2.erode(alpha, k)


def apply_boxes(alpha: np.ndarray, p: KeyParams) -> np.ndarray:
    for x0, y0, x1, y1 in p.garbage_boxes:
        alpha[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = 0.0
    for x0, y0, x1, y1 in p.core_boxes:
        alpha[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = 1.0
    return alpha


def _rgb(plane: np.ndarray) -> np.ndarray:
    """(H, W) -> (H, W, 3) copy; OpenCV's element-wise ops on interleaved colour are much
    faster than numpy broadcasting over a length-3 axis."""
    return cv2.merge([plane, plane, plane])


def unmix(img: np.ndarray, alpha: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """Straight foreground colour F = (I - (1 - a) C) / a; zero where a is (nearly) zero."""
    inv = np.zeros_like(alpha)
    np.divide(1.0, alpha, out=inv, where=alpha > 1e-3)
    premult = cv2.subtract(img, cv2.multiply(plate, _rgb(1.0 - alpha)))
    f = cv2.multiply(premult, _rgb(inv))
    return cv2.max(f, 0.0)


def despill(fg: np.ndarray, kind: str, mode: str, strength: float,
            replace: tuple[float, float, float] | None = None, *,
            with_amount: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray | None]:
    """Remove the screen colour's excess from the foreground.

    ``limit``: the screen channel may not exceed the larger other channel; ``subtract``:
    it may not exceed their mean. The removed amount, times ``strength``, can be added back
    as ``replace`` colour (e.g. the new background's average) instead of vanishing.
    ``with_amount``: also return that removed amount, (H, W).
    """
    if mode == "none" or strength <= 0:
        return (fg, None) if with_amount else fg
    ch = 1 if kind == "green" else 2
    o1, o2 = [c for c in (0, 1, 2) if c != ch]
    limit = np.maximum(fg[..., o1], fg[..., o2]) if mode == "limit" else 0.5 * (fg[..., o1] + fg[..., o2])
    spill = np.clip(fg[..., ch] - limit, 0.0, None) * strength
    out = fg.copy()
    out[..., ch] -= spill
    if replace is not None:
        out += spill[..., None] * np.asarray(replace, np.float32)
    return (out, spill.astype(np.float32, copy=False)) if with_amount else out


def unmix_and_despill(img: np.ndarray, alpha: np.ndarray, plate: np.ndarray, kind: str,
                      p: KeyParams) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`unmix` then :func:`despill` under ``p`` in one pass over the frame: the
    foreground float32 (H, W, 3) and the removed spill (H, W) (None with despill off)."""
    from engine.key import fused  # numba: loaded to key, not with KeyParams

    mode = fused.DESPILL_MODES[p.despill] if p.despill_strength > 0 else 0
    fg = np.empty(img.shape, np.float32)
    spill = np.empty(alpha.shape, np.float32)
    replace = np.asarray(p.spill_replace if p.spill_replace is not None else (0.0, 0.0, 0.0), np.float32)
    in_bands(fused.unmix_despill, alpha.shape[0], np.ascontiguousarray(img, np.float32),
             np.ascontiguousarray(alpha, np.float32), np.ascontiguousarray(plate, np.float32),
             1 if kind == "green" else 2, mode, float(p.despill_strength), replace, p.spill_replace is not None, fg,
             spill)
    return fg, (spill if mode else None)


def _change(picture: np.ndarray, before: np.ndarray) -> np.ndarray:
    """|dR| + |dG| + |dB| between two float32 (h, w, 3) pictures, float32 (h, w)."""
    return cv2.transform(cv2.absdiff(picture, before), np.ones((1, 3), np.float32))


MOTION_OVER_NOISE = 12.0  # a pixel moved where its change exceeds this many times the frame's median change
MOTION_FLOOR = 0.01  # ... and at least this (|dR| + |dG| + |dB|, linear): noiseless pictures


def _moved(picture: np.ndarray, before: np.ndarray) -> np.ndarray:
    """bool (h, w): where ``picture`` differs from ``before`` (float32 (h, w, 3), unblurred)
    far beyond the frame's noise: |dR| + |dG| + |dB| above :data:`MOTION_OVER_NOISE` times its
    median over the frame (mostly noise, as most of a frame holds still between two frames)
    and above :data:`MOTION_FLOOR`; grown by a pixel to take a moving strand's rim along."""
    change = _change(picture, before)
    noise = float(np.median(change[::4, ::4]))
    moved = (change > max(MOTION_OVER_NOISE * noise, MOTION_FLOOR)).astype(np.uint8)
    return cv2.dilate(moved, np.ones((3, 3), np.uint8)).view(bool)


@dataclass
class PreparedFrame:
    """A frame keyed up to the temporal hold: the picture, its clean plate, the matte so far
    (all full size), and the picture at working scale for the hold."""

    img: np.ndarray
    plate: np.ndarray
    alpha: np.ndarray
    small: np.ndarray  # the picture at working scale (:func:`engine.key.screen.downsample`)
    screen_inside_px: int = 0  # pixels the colours call screen that the subject encloses (held as subject)


class Keyer:
    """Keys a shot frame by frame, carrying temporal state (the previous matte and plate).

    ``screen`` is detected on the first frame unless given; a user ``clean_plate`` replaces
    the per-frame estimate. ``reuse_buffers`` tunes the process's allocator for frame-sized
    arrays (:mod:`engine.memory`); a process that also runs torch models of many tensor sizes
    (the DiT engine) leaves it off, as the tuned heap fragments under them.
    """

    def __init__(self, params: KeyParams, screen: Screen | None = None, user_plate: np.ndarray | None = None,
                 reuse_buffers: bool = True):
        if reuse_buffers:
            reuse_large_buffers()
        self.p = params
        self.screen = screen
        self.user_plate = user_plate
        self._prev_img: np.ndarray | None = None  # the previous picture at working scale, blurred
        self._prev_small: np.ndarray | None = None  # and as it was
        self._prev_alpha: np.ndarray | None = None

    def key(self, img: np.ndarray, garbage: np.ndarray | None = None, core: np.ndarray | None = None) -> KeyResult:
        """Key one frame. ``garbage`` / ``core``: optional float32 (H, W) user mattes (1 = apply)."""
        return self.finish(self.prepare(img), garbage, core)

    def prepare(self, img: np.ndarray) -> "PreparedFrame":
        """The part of :meth:`key` that needs no other frame: plate, matte before the temporal
        hold. Frames may be prepared concurrently (on threads) and then finished in order."""
        p = self.p
        if self.screen is None:
            raise ValueError("screen not set: detect it first")
        kind = self.screen.kind
        decoded = img  # as the codec gave it
        img = luma_guided_chroma(img, p.chroma_subsampling)
        f = working_scale(img.shape)  # the plate, the floor and the markers are found on working-scale copies
        small = downsample(img, f)
        if self.user_plate is not None:
            plate = self.user_plate
            small_plate = downsample(plate, f)
        else:  # smooth: estimated at working scale, kept there for the working-scale steps
            small_plate = clean_plate_scaled(small, f, self.screen)[0]
            plate = upsample(small_plate, img.shape)
        alpha = raw_alpha(img, plate, kind, p)
        noise = matte_noise(alpha) if p.matte_denoise > 0 else 0.0
        floor = None
        if p.floor_margin >= 0:
            floor = upsample(opacity_floor(small, small_plate, p.floor_margin, max(1.5 / f, 0.5)), img.shape)
            alpha = np.maximum(alpha, floor)
        markers = None
        if p.markers:  # found and kept at working scale
            markers = marker_mask(small, small_plate, self.screen, p.despot_px * p.despot_px // (f * f))
            alpha = _screen_where(alpha, markers)
        if p.white_from_core and p.core_erode_px > 0:
            core0 = auto_core(alpha, p.core_erode_px)
            alpha = alpha / local_white(alpha, core0)
        screen_coloured = alpha < 0.5  # what the colours alone call screen (before holes are filled)
        # specks (markers) go before the edge band is drawn, so they get no protected band
        alpha = despot(np.clip(alpha, 0, None), p.despot_px * p.despot_px, p.edge_protect_px)
        band = _near_edge(np.clip(alpha, 0, 1), p.edge_protect_px)
        subject = subject_colour(small, alpha) if p.refine else None
        if subject is not None:
            before = alpha
            alpha = refine_with_colours(img, alpha, plate, band, pre_blur=p.refine_blur, subject=subject)
            over_marker = markers is not None and markers.any()  # a marker by the subject is in the band
            if over_marker:
                nearest, ratio = marker_backdrop(small, small_plate, markers)
                near_y, near_x, ys, xs, a_marker, colour = solve_over_markers(decoded, plate, band, nearest,
                                                                              ratio, subject)
            if floor is not None:  # the re-solve's subject colour may be wrong; physics is not
                if over_marker:  # (a marker is no colour of the subject's or the screen's)
                    floor[ys, xs] = 0.0
                alpha = _floor_kept(alpha, before, floor)
            if markers is not None:  # the rest of a marker stays screen
                alpha = _screen_where(alpha, markers)
            if over_marker:
                alpha[ys, xs] = a_marker
                if decoded is not img:  # three colours meet there: the rebuild's line through two does not hold
                    img[near_y, near_x] = decoded[near_y, near_x]
                if plate is self.user_plate:
                    plate = plate.copy()
                plate[ys, xs] = colour
        alpha = clip_matte(alpha, p, band)
        alpha = denoise_matte(alpha, band, noise, p.matte_denoise)
        inside = 0
        if p.core_erode_px > 0:
            core = auto_core(alpha, p.core_erode_px + p.core_depth_px)
            inside = int(np.count_nonzero(screen_coloured & (core > 0.5)))  # screen-coloured, but enclosed: subject
            alpha = np.maximum(alpha, core)
        if p.solid_snap < 1.0:
            alpha = snap_solid(alpha, p.solid_snap)
        alpha = despot(alpha, p.despot_px * p.despot_px, p.edge_protect_px)
        alpha = shrink_grow(alpha, p.shrink_grow_px)
        if p.softness_px > 0:
            alpha = cv2.GaussianBlur(alpha, (0, 0), p.softness_px)
        return PreparedFrame(img, plate, alpha, small, inside)

    def finish_matte(self, frame: "PreparedFrame", garbage: np.ndarray | None = None,
                     core: np.ndarray | None = None) -> np.ndarray:
        """The final matte: temporal hold (frames must be finished in order), boxes, user mattes."""
        p = self.p
        alpha = self._temporal(frame.small, frame.alpha)
        alpha = apply_boxes(alpha, p)
        if garbage is not None:
            alpha = alpha * (1.0 - garbage)
        if core is not None:
            alpha = np.maximum(alpha, core)
        return np.clip(alpha, 0.0, 1.0).astype(np.float32, copy=False)

    def finish(self, frame: "PreparedFrame", garbage: np.ndarray | None = None,
               core: np.ndarray | None = None) -> KeyResult:
        """:meth:`finish_matte`, then unmix and despill."""
        p = self.p
        img, plate = frame.img, frame.plate
        alpha = self.finish_matte(frame, garbage, core)
        fg, spill = unmix_and_despill(img, alpha, plate, self.screen.kind, p)
        return KeyResult(alpha, fg, plate, spill, frame.screen_inside_px)

    def _temporal(self, small: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Hold the matte where the picture did not change, so it neither chatters nor boils.

        The change is measured between *blurred* frames (at working scale), where sensor
        noise averages out but real motion of the subject or camera does not; the weight of
        the previous matte falls off with it, so where anything moves the new matte is taken
        as it is. The blur also hides a strand of hair a pixel or two wide moving over the
        screen, which would leave a trail of held matte behind it: where the unblurred
        pictures differ far beyond their noise (:func:`_moved`) nothing is held either.
        ``small``: the picture at working scale; ``alpha`` the full-size matte.
        """
        from engine.key import fused  # numba: loaded to key, not with KeyParams

        f = working_scale(alpha.shape)
        smooth = cv2.GaussianBlur(small, (0, 0), 2.0 / f)
        if self.p.temporal <= 0 or self._prev_img is None or self._prev_img.shape != smooth.shape:
            self._prev_img, self._prev_small, self._prev_alpha = smooth, small, alpha
            return alpha
        change = _change(smooth, self._prev_img)
        weight = self.p.temporal * np.exp(-((change / 0.03) ** 2))
        weight[_moved(small, self._prev_small)] = 0.0  # a thin strand that moved, which the blur hid
        hold = upsample(weight.astype(np.float32, copy=False), alpha.shape)
        out = fused.temporal_blend(hold, self._prev_alpha, np.ascontiguousarray(alpha, np.float32))
        self._prev_img, self._prev_small, self._prev_alpha = smooth, small, out
        return out
