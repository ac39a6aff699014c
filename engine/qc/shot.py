"""A whole shot's quality check: frames go in one at a time, series and figures come out.

Memory holds three mattes and one previous frame, however long the shot. Frames are
float32 scene-linear Rec.709 (H, W, 3); mattes float32 (H, W) in [0, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.key.screen import Screen
from engine.qc import edges, harmony, identity, motion, specks
from engine.qc.regions import Regions, regions

SERIES = ("harmony", "cast", "exposure", "illuminant", "key", "contrast", "light_angle", "spill", "fringe", "halo",
          "specks", "chatter", "bg_motion", "flicker", "identity_psnr", "identity_ssim")


@dataclass
class CheckSettings:
    """``screens``: screen colours whose spill to look for (``("green",)``, ``("blue",)`` or
    both when unknown); ``adapt``: how far the subject's light should take the
    surroundings' colour (as ``replace``'s relighting, 0 = neutral); ``pixel_scale``: the
    frames are a downscaled working copy, this many source pixels to one of theirs."""

    screens: tuple[str, ...] = ("green", "blue")
    adapt: float = 0.0
    pixel_scale: float = 1.0  # source pixels per pixel of the frames given (motion is reported in source px)
    screen: Screen | None = None  # the plate's screen, to find its tracking markers (None: not looked for)
    marker_area_px: int = 1600  # in source pixels: a tracking marker is smaller than this


@dataclass
class ShotFigures:
    """Per-frame series (``None`` where a frame could not be measured), shot figures and
    notes on what could not be checked."""

    series: dict[str, list[float | None]] = field(default_factory=lambda: {k: [] for k in SERIES})
    figures: dict[str, float | None] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _median(values) -> float | None:
    v = [x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.median(v)) if v else None


class ShotChecker:
    """Feed :meth:`add` every frame in order, then :meth:`finish`."""

    def __init__(self, settings: CheckSettings):
        self.settings = settings
        self.out = ShotFigures()
        self._motion = motion.BackgroundMotion()
        self._alphas: list[np.ndarray] = []
        self._band: np.ndarray | None = None
        self._levels: list[float | None] = []
        self._plate_levels: list[float | None] = []
        self._bg_psnr: dict[int, float | None] = {}
        self._frames = 0
        self._had_plate = False

    def add(self, comp: np.ndarray, alpha: np.ndarray, *, plate: np.ndarray | None = None,
            step: np.ndarray | None = None, reference: np.ndarray | None = None) -> None:
        """One frame: the result ``comp``, its matte, optionally the source ``plate`` frame,
        the camera's step from the previous frame (:func:`engine.qc.motion.camera_step`;
        ``None``: unknown) and the reference still anchored at this frame."""
        comp = comp[..., :3]
        s = self.out.series
        reg = regions(alpha)
        self._had_plate |= plate is not None
        surroundings = harmony.illuminant(comp, reg.ring)  # the light around the subject, used twice
        cast = harmony.foreground_cast(comp, reg.core, adapt=self.settings.adapt, background_white=surroundings)
        exposure = harmony.exposure_shift(comp, plate, reg.core) if plate is not None else None
        s["cast"].append(None if cast is None else cast[0])
        s["exposure"].append(exposure)
        s["harmony"].append(harmony.harmony_score(None if cast is None else cast[0], exposure))
        mismatch = harmony.illuminant_mismatch(harmony.illuminant(comp, reg.core), surroundings)
        # as the cast: a subject of one flat colour shows its own colour, not its light's
        s["illuminant"].append(None if mismatch is None or cast is None else mismatch * cast[1])
        z = harmony.zones(comp, reg.core, reg.ring) or {}
        s["key"].append(z.get("key"))
        s["contrast"].append(z.get("contrast"))
        s["light_angle"].append(harmony.light_directions(comp, alpha, reg.ring)["difference"])
        for name, measure in (("spill", edges.spill), ("fringe", edges.fringe)):  # the worst screen's
            found = [v for v in (measure(comp, alpha, reg, sc) for sc in self.settings.screens) if v is not None]
            s[name].append(max(found) if found else None)
        s["halo"].append(edges.halo(comp, alpha, reg))
        speck = None
        if plate is not None and self.settings.screen is not None:
            area = max(1, int(self.settings.marker_area_px / self.settings.pixel_scale ** 2))
            found = specks.marker_residue(comp, plate[..., :3], alpha, self.settings.screen, area)
            speck = None if found is None else found[0]
        s["specks"].append(speck)
        self._chatter(alpha, reg)
        m = self._motion.add(comp, reg.background, step if self._frames else np.eye(3))
        s["bg_motion"].append(None if m is None else m[0] * self.settings.pixel_scale)
        y = harmony.luminance(comp)
        self._levels.append(math.log(max(float(y[reg.core].mean()), 1e-6)) if reg.core.sum() >= 200 else None)
        if plate is not None:
            yp = harmony.luminance(plate)
            self._plate_levels.append(math.log(max(float(yp[reg.core].mean()), 1e-6))
                                      if reg.core.sum() >= 200 else None)
            f = identity.fidelity(comp, plate[..., :3], reg.core)
        else:
            self._plate_levels.append(None)
            f = None
        s["identity_psnr"].append(None if f is None else f["psnr"])
        s["identity_ssim"].append(None if f is None else f["ssim"])
        if reference is not None:
            self._bg_psnr[self._frames] = identity.background_fidelity(comp, reference, reg.background)
        self._frames += 1

    def _chatter(self, alpha: np.ndarray, reg: Regions) -> None:
        s = self.out.series["chatter"]
        self._alphas.append(alpha)
        if len(self._alphas) == 3:
            s.append(edges.chatter(self._alphas[0], self._alphas[1], self._alphas[2], self._band))
            self._alphas.pop(0)
        elif len(self._alphas) == 1:
            s.append(None)  # the first frame has no neighbour before it
        self._band = reg.band

    def finish(self) -> ShotFigures:
        out, s = self.out, self.out.series
        if self._frames > 1:
            s["chatter"].append(None)  # nor the last one after it
        flick, per = motion.flicker(self._levels)
        plate_flick, _ = motion.flicker(self._plate_levels)
        s["flicker"] = per
        fig = out.figures
        for name in ("harmony", "illuminant", "key", "contrast", "light_angle", "spill", "fringe", "halo",
                     "identity_psnr", "identity_ssim"):
            fig[name] = _median(s[name])
        ch = [v for v in s["chatter"] if v is not None]
        fig["chatter"] = float(np.mean(ch)) if ch else None
        mo = [v for v in s["bg_motion"] if v is not None]
        fig["bg_motion"] = float(np.mean(mo)) if mo else None
        fig["flicker"] = None if flick is None else max(0.0, flick - (plate_flick or 0.0))
        sp = [v for v in s["specks"] if v is not None]
        fig["specks"] = max(sp) if sp else None  # a marker left on any frame floats over the shot
        bg = [v for v in self._bg_psnr.values() if v is not None]
        fig["bg_psnr"] = min(bg) if bg else None
        out.details = {
            "cast": _median(s["cast"]), "exposure": _median(s["exposure"]),
            "flicker_result": flick, "flicker_plate": plate_flick,
            "bg_psnr_at": {str(k): v for k, v in self._bg_psnr.items()},
            "frames": self._frames,
        }
        if not self._had_plate:
            out.notes.append("no source plate: exposure, identity and plate flicker not checked")
        if fig["bg_motion"] is None:
            out.notes.append("background motion not checked (no camera track, a single frame, "
                             "or a background too plain to track)")
        if not self._bg_psnr:
            out.notes.append("no reference stills: background fidelity not checked")
        return out
