"""Relighting the keyed foreground to sit in the new background, in linear light.

- White balance: the foreground's white point (the mean colour of its solid pixels, the
  grey-world estimate of the light it was shot under) is moved to neutral and then part of
  the way (``adapt``) towards the new background's white point; ``tone`` likewise moves
  its exposure towards the background's. Gains are per shot, not per frame, so nothing
  flickers. ``strength`` scales the whole correction (0 = keep the plate's lighting).
- Spill replacement: the screen light the despill removed is put back as light of the
  same luminance in the colour of the nearby new background.
- Light wrap: the background's light bleeds over the foreground's edges.
- Grain: noise measured on the plate's screen is added to the clean background, so both
  layers carry the same grain.

Images are float32 scene-linear Rec.709: colour (H, W, 3), alpha (H, W) in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.white_point import LUMA, SPREAD_TRUSTED, WhitePoint


@dataclass
class HarmoniseParams:
    strength: float = 1.0  # 0 keeps the plate's lighting, 1 applies the full correction
    adapt: float = 0.0  # 0: foreground white point to neutral; 1: to the background's white point
    tone: float = 0.0  # 0: keep the foreground's exposure; 1: match the background's mean luminance
    spill_replace: float = 1.0  # fraction of the removed spill put back as background-coloured light
    light_wrap: float = 0.0  # amount of background light wrapped over the foreground's edges
    light_wrap_px: float = 12.0  # reach of the light wrap, px
    grain: float = 1.0  # multiple of the plate's measured grain added to the background (0 = none)


def _white(colours: np.ndarray) -> np.ndarray:
    """Grey-world white point of (N, 3) linear colours, scaled to luminance 1."""
    m = colours.mean(axis=0).astype(np.float64)
    return m / max(float(LUMA @ m), 1e-6)


MAX_CAST = 0.4  # largest correction, in log chromaticity (about +-50 % per channel)


@dataclass
class Gains:
    rgb: tuple[float, float, float]
    fg_white: tuple[float, float, float]
    bg_white: tuple[float, float, float]
    confidence: float = 0.0  # how far the grey-world estimate was trusted (0-1)
    why: str | None = None  # why the white balance was kept (in part), in words; None: fully corrected


def relight_gains(fg: WhitePoint, bg: WhitePoint, p: HarmoniseParams) -> Gains:
    """Per-channel gains for the foreground (see the module notes).

    The foreground's mean colour is read as the colour of its light (grey world) only as far
    as its colours are varied: a subject of one flat colour says nothing about the light, so
    its cast is left alone (``confidence`` 0). The correction is capped at :data:`MAX_CAST`.
    """
    if p.strength <= 0:
        return Gains((1.0, 1.0, 1.0), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0), why="relighting is off (strength 0)")
    if fg.mean is None or bg.mean is None:
        what = "solid foreground" if fg.mean is None else "background"
        return Gains((1.0, 1.0, 1.0), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0), why=f"no {what} to measure")
    fw, bw = _white(fg.mean[None]), _white(bg.mean[None])
    lo, hi = SPREAD_TRUSTED
    confidence = float(np.clip((fg.spread - lo) / (hi - lo), 0.0, 1.0))
    why = None
    if confidence < 1.0:
        why = (f"the subject's colours are too uniform (spread {fg.spread:.2f}; grey world needs {lo:g}) to tell "
               "the colour of its light" if confidence == 0 else
               f"grey world trusted {confidence:.0%}, the subject's colours being only partly varied (spread "
               f"{fg.spread:.2f}; fully trusted from {hi:g})")
    target = np.exp(p.adapt * np.log(np.clip(bw, 1e-4, None)))  # neutral (1, 1, 1) -> bg white, geometric
    target /= float(LUMA @ target)
    log_g = np.log(target / np.clip(fw, 1e-4, None))
    log_g -= log_g[1]
    size = float(np.abs(log_g).max())
    if size > MAX_CAST:
        log_g *= MAX_CAST / size
    g = np.exp(confidence * log_g)
    g /= float(LUMA @ (g * fw))  # white balance keeps the foreground's luminance
    if p.tone > 0:
        ratio = float(LUMA @ bg.mean) / max(float(LUMA @ fg.mean), 1e-6)
        g *= ratio ** p.tone
    g = g ** p.strength
    return Gains(tuple(float(x) for x in g), tuple(float(x) for x in fw), tuple(float(x) for x in bw), confidence,
                 why)


def measure_grain(img: np.ndarray, screen_weight: np.ndarray) -> float:
    """Standard deviation of the plate's grain, in display-like (square-root) units, measured
    on the pure screen (``screen_weight`` > 0.5) by a robust high-pass estimate."""
    s = np.sqrt(np.clip(img, 0.0, None)).astype(np.float32)
    hp = s - cv2.GaussianBlur(s, (0, 0), 1.5)
    m = cv2.erode((screen_weight > 0.5).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    if m.sum() < 1000:
        return 0.0
    v = hp[m]
    mad = np.median(np.abs(v - np.median(v, axis=0)), axis=0)
    return float(np.median(1.4826 * mad) / 0.98)  # a sigma-1.5 high-pass keeps ~96% of white noise power


class Harmoniser:
    """Composites frames: relight, spill replacement, light wrap, grain."""

    def __init__(self, params: HarmoniseParams, gains: Gains, grain_sigma: float, size: tuple[int, int],
                 screen_kind: str = "green", seed: int = 0):
        self.p, self.gains = params, gains
        self.grain_sigma = grain_sigma * params.grain
        self._ch = 1 if screen_kind == "green" else 2
        self._gain = np.asarray(gains.rgb, np.float32)
        self._rng = np.random.default_rng(seed)
        w, h = size
        self._noise = None
        if self.grain_sigma > 0:
            pad = 64
            self._noise = self._rng.standard_normal((h + pad, w + pad, 3), np.float32) * np.float32(self.grain_sigma)

    def _fields(self, bg: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Low-resolution (h, w, 3) fields from the background: the colour the removed spill
        comes back in (per unit of spill), and the grain's amplitude. Both vary slowly."""
        h, w = bg.shape[:2]
        f = max(1, min(h, w) // 64)
        small = cv2.resize(bg, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
        tint = amp = None
        if self.p.spill_replace > 0:
            # the light the screen's spill stood for, in the colour of the new background around
            # it: luminance kept (the screen channel's share), hue from the background
            light = cv2.GaussianBlur(small, (0, 0), 3.0)
            lum = cv2.max(cv2.transform(light, LUMA[None]), 1e-4)
            tint = cv2.multiply(light, cv2.merge([1.0 / lum] * 3), scale=self.p.spill_replace * float(LUMA[self._ch]))
        if self._noise is not None:  # sigma in sqrt units -> linear: d(v^2) = 2 v dv
            amp = cv2.multiply(cv2.sqrt(cv2.threshold(small, 0.0, 0.0, cv2.THRESH_TOZERO)[1]), (2.0, 2.0, 2.0, 0.0))
        return tint, amp

    def _noise_at(self, h: int, w: int) -> np.ndarray:
        oy, ox = (int(x) for x in self._rng.integers(0, 64, 2))
        return self._noise[oy:oy + h, ox:ox + w]

    def composite_keyed(self, img: np.ndarray, plate: np.ndarray, alpha: np.ndarray, bg: np.ndarray,
                        despill: str, despill_strength: float, frame: int = 0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`composite` straight from the keyed picture: unmix against the clean plate,
        despill, relight, spill light, grain and composite in one pass over the frame
        (:mod:`engine.key.fused`). Same results as the keyer's unmix and despill followed
        by :meth:`composite`."""
        from engine.key.fused import DESPILL_MODES, keyed_composite  # numba: loaded to composite, not with the params

        h, w = bg.shape[:2]
        tint, amp = self._fields(bg)
        dummy = np.zeros((1, 1, 3), np.float32)
        noise = self._noise_at(h, w) if amp is not None else dummy
        comp, relit, bg_out = (np.empty((h, w, 3), np.float32) for _ in range(3))
        mode = DESPILL_MODES[despill] if despill_strength > 0 else 0
        keyed_composite(img, plate, np.ascontiguousarray(alpha, np.float32), self._ch, mode, float(despill_strength),
                        self._gain, dummy if tint is None else tint, tint is not None, bg, noise,
                        dummy if amp is None else amp, amp is not None, comp, relit, bg_out)
        return self._wrap(comp, alpha, bg_out), relit, bg_out

    def composite(self, fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray, spill: np.ndarray | None,
                  frame: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(comp (H, W, 3), relit foreground straight (H, W, 3), background with grain (H, W, 3)).

        ``fg`` straight despilled colour, ``spill`` (H, W) the screen-channel amount the
        despill removed (or None), ``bg`` the rendered background.
        """
        h, w = bg.shape[:2]
        tint, amp = self._fields(bg)
        relit = cv2.multiply(fg, tuple(float(x) for x in self._gain) + (0.0,))
        if spill is not None and tint is not None:
            tint = cv2.resize(tint, (w, h), interpolation=cv2.INTER_LINEAR)
            relit = cv2.add(relit, cv2.multiply(tint, cv2.merge([spill, spill, spill])))
        if amp is not None:
            amp = cv2.resize(amp, (w, h), interpolation=cv2.INTER_LINEAR)
            bg = cv2.add(bg, cv2.multiply(self._noise_at(h, w), amp))
        a = np.ascontiguousarray(alpha, np.float32)
        comp = cv2.blendLinear(relit, bg, a, cv2.subtract(1.0, a))
        return self._wrap(comp, alpha, bg), relit, bg

    def _wrap(self, comp: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
        """Light wrap: the background's light over the foreground's edges."""
        if self.p.light_wrap <= 0:
            return comp
        r = self.p.light_wrap_px
        inv = 1.0 - cv2.GaussianBlur(alpha, (0, 0), r / 2)
        edge = alpha * inv  # foreground pixels near the background
        wrap = cv2.GaussianBlur(bg * (1.0 - alpha[..., None]), (0, 0), r / 2) / np.maximum(inv[..., None], 0.05)
        return comp + (self.p.light_wrap * edge)[..., None] * (wrap - comp)  # blend towards the light behind
