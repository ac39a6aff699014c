"""Edge quality of a composite: residual screen spill, halos and fringes, matte chatter.

Frames are float32 scene-linear Rec.709 (H, W, 3); the matte float32 (H, W) in [0, 1];
regions from :mod:`engine.qc.regions`. Each edge pixel is compared with what compositing
predicts there: ``alpha * local foreground + (1 - alpha) * local background``, the local
colours taken from the nearby solid core and clear background (normalised convolution),
so a green background or a green shirt is not mistaken for spill.
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.colour import bt709_oetf
from engine.qc.harmony import luminance
from engine.qc.regions import CLEAR, LOCAL_PX, Regions, disc, local_mean, scaled

SCREEN_CHANNEL = {"green": 1, "blue": 2}
MIN_PIXELS = 50
TILE_PX = 48  # halo bias is averaged over tiles of this side along the outline (at 1080 lines)
RIM_PX = 4  # width of the rim just outside the matte where a halo shows (at 1080 lines)


def screen_excess(rgb: np.ndarray, screen: str) -> np.ndarray:
    """How much the screen's channel stands above the larger of the other two (H, W), >= 0."""
    c = SCREEN_CHANNEL[screen]
    others = [i for i in range(3) if i != c]
    return np.maximum(rgb[..., c] - np.maximum(rgb[..., others[0]], rgb[..., others[1]]), 0.0).astype(np.float32)


def _predicted(values: np.ndarray, alpha: np.ndarray, reg: Regions, sigma: float) -> np.ndarray:
    """What compositing predicts for ``values`` (H, W) at every pixel from the local fg and bg."""
    fg, wf = local_mean(values, reg.core, sigma)
    bg, wb = local_mean(values, reg.background, sigma)
    fg = np.where(wf > 1e-3, fg, float(values[reg.core].mean()) if reg.core.any() else 0.0)
    bg = np.where(wb > 1e-3, bg, float(values[reg.background].mean()) if reg.background.any() else 0.0)
    return alpha * fg + (1.0 - alpha) * bg


def spill(comp: np.ndarray, alpha: np.ndarray, reg: Regions, screen: str) -> float | None:
    """Residual screen spill in the edge band: the screen colour's excess above what the
    nearby foreground and background explain, as a fraction of the band's luminance
    (0 = none; 0.05 = 5 % of the edge light is screen-coloured). ``None`` without an edge."""
    return _unexplained(screen_excess(comp, screen), comp, alpha, reg)


def _unexplained(values: np.ndarray, comp: np.ndarray, alpha: np.ndarray, reg: Regions) -> float | None:
    """How much of ``values`` (H, W) the edge band holds beyond what the nearby foreground and
    background predict, summed with its sign (misestimates cancel, a residue adds up), as a
    fraction of the band's luminance in ``comp``; None with too small a band."""
    if int(reg.band.sum()) < MIN_PIXELS:
        return None
    expected = _predicted(values, alpha, reg, scaled(LOCAL_PX, alpha.shape[0]))
    extra = float((values - expected)[reg.band].sum(dtype=np.float64))
    return max(0.0, extra) / max(float(luminance(comp)[reg.band].sum(dtype=np.float64)), 1e-6)


def screen_hue(rgb: np.ndarray, screen: str) -> np.ndarray:
    """How far each pixel leans towards the screen's hue, signed (H, W): the screen's channel
    above the mean of the other two (an olive or yellow-green cast from a green screen counts,
    not only colour greener than both other channels)."""
    c = SCREEN_CHANNEL[screen]
    others = [i for i in range(3) if i != c]
    return (rgb[..., c] - 0.5 * (rgb[..., others[0]] + rgb[..., others[1]])).astype(np.float32)


def fringe(comp: np.ndarray, alpha: np.ndarray, reg: Regions, screen: str) -> float | None:
    """Screen-coloured residue in the edge band: how far the band leans towards the screen's
    hue beyond what the nearby foreground and background explain (:func:`screen_hue`, signed,
    summed over the band), as a fraction of the band's luminance (0 = none). Where a keyer
    left screen in the edge's colour (a too-dense soft edge unmixed against too little screen,
    then despilled to olive) the edge is greener than both sides. ``None`` without an edge."""
    return _unexplained(screen_hue(comp, screen), comp, alpha, reg)


def halo(comp: np.ndarray, alpha: np.ndarray, reg: Regions) -> float | None:
    """Halo or dark fringe around the subject: the luminance of a thin rim just outside the
    matte against what compositing puts there (its faint alpha of the nearby subject over the
    background a little further out), in BT.709-encoded display units, averaged with its sign
    over tiles along the outline; the mean |tile bias| (0 = clean, 0.05 = a rim 5 % of the
    display range brighter or darker). A keyer's residue of screen, a grown matte's edge colour or a wrong
    light wrap all show up as such a rim; background texture averages out within tiles."""
    h = alpha.shape[0]
    some = (alpha > CLEAR).astype(np.uint8)
    if not some.any():
        return None
    rim_px, gap_px, far_px = scaled(RIM_PX, h), scaled(RIM_PX + 2, h), scaled(RIM_PX + 14, h)
    near = (cv2.dilate(some, disc(rim_px)) > 0) & (some == 0)
    far = (cv2.dilate(some, disc(far_px)) > 0) & ~(cv2.dilate(some, disc(gap_px)) > 0)
    y = luminance(comp)
    # what the rim should hold: its faint alpha of the nearby subject over the background beyond
    yf, wf = local_mean(y, alpha > 0.5, scaled(LOCAL_PX, h))
    yb, wb = local_mean(y, far, far_px)
    ok = near & (wf > 1e-3) & (wb > 1e-3)
    expected = alpha * yf + (1.0 - alpha) * yb
    resid = np.where(ok, bt709_oetf(y) - bt709_oetf(expected), 0.0).astype(np.float32)  # as seen: display units
    tile = int(round(scaled(TILE_PX, h)))
    sr, n = _tile_sums(resid, tile), _tile_sums(ok.astype(np.float32), tile)
    used = n >= max(8, tile // 2)
    if not used.any():
        return None
    return float(np.mean(np.abs(sr[used] / n[used])))


def _tile_sums(values: np.ndarray, tile: int) -> np.ndarray:
    h, w = values.shape
    ph, pw = -h % tile, -w % tile
    v = np.pad(values, ((0, ph), (0, pw)))
    return v.reshape((h + ph) // tile, tile, (w + pw) // tile, tile).sum(axis=(1, 3))


def _aligned(moving: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """``moving`` (a matte) warped onto ``fixed`` by dense optical flow between the two."""
    m8 = (np.clip(moving, 0, 1) * 255).astype(np.uint8)
    f8 = (np.clip(fixed, 0, 1) * 255).astype(np.uint8)
    flow = cv2.calcOpticalFlowFarneback(f8, m8, None, 0.5, 4, 21, 3, 7, 1.5, 0)
    h, w = fixed.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(moving.astype(np.float32), gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def chatter(previous: np.ndarray, current: np.ndarray, following: np.ndarray, band: np.ndarray) -> float | None:
    """Matte chatter at a frame: the mean |second temporal difference| of the matte in the
    edge band, in percent of full alpha, after the neighbouring mattes are carried onto
    this one by optical flow: a moving or swaying edge cancels out, a matte that boils from
    frame to frame does not."""
    if int(band.sum()) < MIN_PIXELS:
        return None
    d = current - 0.5 * (_aligned(previous, current) + _aligned(following, current))
    return float(np.abs(d[band]).mean() * 100.0)
