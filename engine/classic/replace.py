"""The classic replace engine: key, track, render the new background, relight, composite.

Two passes over the shot, so memory stays flat however long it is:

1. Analysis, at a working resolution of about 540 lines: the screen is detected, the
   camera tracked on the screen outside the foreground (:mod:`engine.classic.track`), and
   a few frames spread over the shot are keyed for the foreground's white point.
   The references are registered to each other and, when they agree with the track, pin
   it at their anchors (:func:`engine.classic.camera.anchor_path`).
2. Render, at full resolution: every frame is keyed, its background rendered from the
   stills and the camera (:mod:`engine.classic.plate`) and the relit foreground
   composited over it (:mod:`engine.classic.harmonise`).

A matted shot (RGBA frames with a real alpha) is used as it is: no keying and no tracking
(the camera is static unless a track is supplied).

Frames are float32 (H, W, 3|4) scene-linear Rec.709 (RGBA premultiplied).
"""
from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator

import cv2
import numpy as np

from engine.classic import camera as cam
from engine.classic.harmonise import Harmoniser, HarmoniseParams, WhitePoint, measure_grain, relight_gains
from engine.key.keyer import Keyer, KeyParams, enclosed_screen_summary
from engine.classic.plate import BackgroundRenderer, PlateParams, register_references
from engine.key.screen import Screen, find_screen, screen_difference
from engine.classic.track import ScreenTracker
from engine.interface import EngineInputError, FrameLayers, Progress, Reference, TwoPassEngine  # noqa: F401

CAMERA_MODES = ("auto", "track", "static")


@dataclass
class ReplaceParams:
    key: KeyParams = field(default_factory=KeyParams)
    plate: PlateParams = field(default_factory=PlateParams)
    harmonise: HarmoniseParams = field(default_factory=HarmoniseParams)
    camera: str = "auto"  # auto: track, static when locked off or untrackable; track; static
    camera_path: list[np.ndarray] | None = None  # a supplied track (frame t -> frame 0), replaces tracking
    anchor_to_references: bool = True  # pin the track to the registered references where they agree
    anchor_tolerance: float = 0.015  # ... within this fraction of the frame diagonal
    analysis_height: int = 540  # lines at which the camera is tracked
    white_samples: int = 5  # frames keyed for the foreground's white point
    seed: int = 0


def _foreground_mask(small: np.ndarray, screen: Screen, min_area: int) -> np.ndarray:
    """float32 (h, w): 1 on large non-screen regions (the foreground), 0 on the screen and on
    small non-screen specks (tracking markers), which are what the tracker wants."""
    d = screen_difference(small, screen.kind)
    not_screen = (d < 0.35 * screen.difference).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(not_screen, connectivity=8)
    big = np.zeros(n, np.float32)
    big[1:] = (stats[1:, cv2.CC_STAT_AREA] >= min_area).astype(np.float32)
    return big[labels]


def _matted(img: np.ndarray) -> bool:
    return img.shape[-1] == 4 and float(img[..., 3].min()) < 0.999


class ClassicReplaceEngine(TwoPassEngine):
    """See the module notes. ``report`` is filled in as the passes run; ``path`` (also
    ``camera()``) is the camera the background was rendered with."""

    name = "classic"

    def __init__(self, params: ReplaceParams | None = None):
        self.p = params or ReplaceParams()
        if self.p.camera not in CAMERA_MODES:
            raise ValueError(f"camera mode {self.p.camera!r} is not one of {CAMERA_MODES}")
        self.report: dict = {}
        self.path: list[np.ndarray] = []
        self.timing = {"analysis_s": 0.0, "render_s": 0.0, "frames": 0}
        self.lookahead = 2  # frames prepared ahead on worker threads (memory: this many extra frames)
        self._analysis = None  # what pass 1 found, for pass 2

    # ------------------------------------------------------------------ pass 1
    def _analyse(self, frames: Callable[[], Iterator[np.ndarray]], count: int, refs: list[Reference],
                 callback: Progress | None):
        # the references are registered, and the white-point samples keyed, on a worker
        # thread while this one tracks
        with ThreadPoolExecutor(1, thread_name_prefix="paicli-analyse") as pool:
            registration = pool.submit(self._register, refs)
            try:
                return self._analyse_frames(frames, count, refs, callback, pool, registration)
            except BaseException:
                registration.cancel()
                raise

    def _register(self, refs: list[Reference]):
        refs = sorted(refs, key=lambda r: r.anchor)
        return register_references([r.image for r in refs], max_side=800) if len(refs) > 1 else None

    def _analyse_frames(self, frames, count, refs, callback, pool, registration):
        p = self.p
        tracker = None
        screen = None
        matted = False
        white = WhitePoint()
        samples = set(np.linspace(0, count - 1, min(p.white_samples, count)).round().astype(int).tolist())
        sample_jobs = []
        size = None
        scale = 1.0
        sample_keyer = None
        n = 0
        track_wanted = p.camera_path is None and p.camera != "static"
        t_start = time.perf_counter()
        waited = 0.0  # time spent waiting for the next frame (decoding): not the engine's
        source = iter(frames())
        while True:
            t0 = time.perf_counter()
            img = next(source, None) if n < count else None
            waited += time.perf_counter() - t0
            if img is None:
                break
            t = n
            if size is None:
                size = (img.shape[1], img.shape[0])
                matted = _matted(img)
                if not matted:
                    found = find_screen(img[..., :3], None if p.key.screen == "auto" else p.key.screen,
                                        colour=p.key.screen_colour)
                    if found.screen is None:
                        raise EngineInputError(f"no green or blue screen found ({found.why}) and the shot has no "
                                               "matte")
                    screen = found.screen
                scale = min(1.0, p.analysis_height / size[1])
                if track_wanted and not matted:
                    tracker = ScreenTracker(max_points=300)
            if tracker is None and matted and t in samples:
                a = img[..., 3]
                white.add(img[..., :3] / np.maximum(a, 1e-6)[..., None], (a > 0.98).astype(np.float32))
            if tracker is not None or (t in samples and not matted):
                small = img[..., :3] if scale == 1.0 else cv2.resize(
                    img[..., :3], (round(size[0] * scale), round(size[1] * scale)), interpolation=cv2.INTER_AREA)
                if t in samples and not matted:
                    if sample_keyer is None:  # a white point needs no detail: key at half the tracking size
                        sample_keyer = Keyer(KeyParams(**{**p.key.__dict__, "temporal": 0.0,
                                                          "despot_px": max(1, int(p.key.despot_px * scale / 2)),
                                                          "edge_protect_px": max(1, int(p.key.edge_protect_px * scale / 2)),
                                                          "core_erode_px": max(1, int(p.key.core_erode_px * scale / 2))
                                                          if p.key.core_erode_px else 0}), screen)
                    sample_jobs.append(pool.submit(sample_keyer.key, cv2.resize(small, None, fx=0.5, fy=0.5,
                                                                                interpolation=cv2.INTER_AREA)))
                if tracker is not None:
                    min_area = int((p.key.despot_px * scale) ** 2) + 1
                    tracker.add(small, _foreground_mask(small, screen, min_area))
            n += 1
            if callback:
                callback({"stage": "analyse", "frame": t, "total": count})
        if size is None:
            raise EngineInputError("the shot has no frames")
        if n < count:
            raise EngineInputError(f"the shot ended after {n} of {count} frames")
        for job in sample_jobs:
            res = job.result()
            white.add(res.fg, (res.alpha > 0.98).astype(np.float32))
        path, cam_report = self._camera(tracker, count, size, scale)
        plate_refs, ref_report = self._place_references(refs, path, size, cam_report, registration.result())
        bg_white = WhitePoint()
        for r in refs:
            bg_white.add(r.image[::4, ::4])  # a white point needs no full resolution
        gains = relight_gains(white, bg_white, p.harmonise)
        self.report.update(matted=matted, camera=cam_report, references=ref_report,
                           screen=None if screen is None else {"kind": screen.kind,
                                                               "colour": [round(c, 4) for c in screen.colour]},
                           relight={"gains": [round(g, 4) for g in gains.rgb],
                                    "confidence": round(gains.confidence, 3), "why": gains.why,
                                    "foreground_white": [round(g, 4) for g in gains.fg_white],
                                    "background_white": [round(g, 4) for g in gains.bg_white]})
        self.timing["analysis_s"] += time.perf_counter() - t_start - waited
        return screen, matted, size, path, plate_refs, gains

    def _camera(self, tracker: ScreenTracker | None, count: int, size: tuple[int, int], scale: float):
        p = self.p
        w, h = size
        if p.camera_path is not None:
            return [cam.normalised(m) for m in p.camera_path], {"mode": "supplied"}
        if tracker is None:
            return [np.eye(3) for _ in range(count)], {"mode": "static", "why": "forced" if p.camera == "static"
                                                       else "matted shot: no screen to track"}
        res = tracker.result
        s = np.diag([scale, scale, 1.0])
        path = [cam.normalised(np.linalg.inv(s) @ m @ s) for m in res.frame_to_frame0]
        failed = sum(1 for i in res.inliers[1:] if i == 0)
        resid = [r / scale for r in res.residual_px[1:] if np.isfinite(r)]
        report = {"frames": count, "failed_frames": failed,
                  "mean_inliers": round(float(np.mean(res.inliers[1:])), 1) if count > 1 else 0.0,
                  "mean_residual_px": round(float(np.mean(resid)), 3) if resid else None,
                  "max_motion_px": round(max(cam.corner_motion_px(m, w, h) for m in path), 2)}
        if p.camera == "auto" and count > 1 and failed > 0.25 * (count - 1):
            report.update(mode="static", why=f"untrackable: {failed} of {count - 1} frames found too few "
                                             "screen features; use --camera track, or supply a track")
            return [np.eye(3) for _ in range(count)], report
        if p.camera == "auto" and report["max_motion_px"] < 0.5:
            report.update(mode="static", why="locked off: no corner moved by half a pixel")
            return [np.eye(3) for _ in range(count)], report
        report["mode"] = "tracked"
        return path, report

    def _place_references(self, refs: list[Reference], path: list[np.ndarray], size: tuple[int, int],
                          cam_report: dict, reg):
        """Where each still sits in frame-0 coordinates, and (maybe) the path pinned to them."""
        p = self.p
        w, h = size
        refs = sorted(refs, key=lambda r: r.anchor)
        report: dict = {"anchors": [r.anchor for r in refs]}
        if len(refs) > 1:
            report.update(registered=reg.ok, inliers=reg.inliers,
                          residual_px=[round(x, 3) if np.isfinite(x) else None for x in reg.residual_px])
            base = path[refs[0].anchor]
            ref_to_frame0 = [base @ m if ok else path[r.anchor]
                             for m, ok, r in zip(reg.ref_to_first, reg.ok, refs)]
            if p.anchor_to_references and cam_report.get("mode") == "tracked":
                anchors = {r.anchor: m for r, m, ok in zip(refs, ref_to_frame0, reg.ok) if ok}
                pinned, rep = cam.anchor_path(path, anchors, w, h, p.anchor_tolerance * float(np.hypot(w, h)))
                path[:] = pinned
                cam_report.update(pinned_to_references=rep.applied,
                                  reference_disagreement_px=rep.disagreement_px,
                                  **({"not_pinned_because": rep.reason} if rep.reason else {}))
        else:
            ref_to_frame0 = [path[refs[0].anchor]]
        return [(r, m) for r, m in zip(refs, ref_to_frame0)], report

    def analyse(self, frames: Callable[[], Iterator[np.ndarray]], count: int, references: list[Reference],
                callback: Progress | None = None) -> None:
        """Pass 1 (see :mod:`engine.interface`): screen, camera, references and white point."""
        if not references:
            raise EngineInputError("no background references")
        p = self.p
        outside = [r.anchor for r in references if not 0 <= r.anchor < count]
        if outside:
            raise EngineInputError(f"reference anchored at frame {outside[0]}, outside the shot (0-{count - 1})")
        if p.camera_path is not None and len(p.camera_path) != count:
            raise EngineInputError(f"the supplied track has {len(p.camera_path)} frames, the shot has {count}")
        self._analysis = self._analyse(frames, count, references, callback)
        self.path = self._analysis[3]  # the camera the background is rendered with (frame t -> frame 0)

    def camera(self) -> list[np.ndarray]:
        return self.path

    # ------------------------------------------------------------------ pass 2
    def render(self, frames: Callable[[], Iterator[np.ndarray]], count: int,
               callback: Progress | None = None) -> Iterator[FrameLayers]:
        """Pass 2: yield the layers of frames 0..count-1 (see :mod:`engine.interface`)."""
        if self._analysis is None:
            raise RuntimeError("render() needs analyse() first")
        p = self.p
        screen, matted, size, path, plate_refs, gains = self._analysis
        self._analysis = None  # the registered stills' memory goes with the pass
        t0 = time.perf_counter()
        renderer = BackgroundRenderer([r.image for r, _ in plate_refs], [r.anchor for r, _ in plate_refs],
                                      [m for _, m in plate_refs], path, size, p.plate)
        keyer = None if matted else Keyer(p.key, screen)
        harmoniser = None
        self.timing["render_s"] += time.perf_counter() - t0
        # frames are keyed up to the temporal hold and their backgrounds rendered on worker
        # threads, a frame or two ahead, while this thread finishes the previous frame in
        # order (numpy and OpenCV release the GIL, so the work overlaps on every core)
        pending: deque = deque()
        inside: list[int] = []  # per frame that has any: screen-coloured pixels the subject encloses
        source = iter(frames())
        read = 0
        t_start = time.perf_counter()
        waited = 0.0  # decoding and the consumer's time between frames: not the engine's
        with ThreadPoolExecutor(2, thread_name_prefix="paicli-replace") as pool:
            def submit_next() -> None:
                nonlocal read, waited
                if read >= count:
                    return
                t0 = time.perf_counter()
                img = next(source, None)
                waited += time.perf_counter() - t0
                if img is None:
                    return
                prep = None if matted else pool.submit(keyer.prepare, img[..., :3])
                pending.append((read, img, prep, pool.submit(renderer.render, read)))
                read += 1

            for _ in range(self.lookahead):
                submit_next()
            while pending:
                t, img, prep, bg_job = pending.popleft()
                submit_next()
                if matted:
                    alpha = np.clip(img[..., 3], 0.0, 1.0) if img.shape[-1] == 4 else np.ones(img.shape[:2], np.float32)
                else:
                    frame = prep.result()
                    alpha = keyer.finish_matte(frame)
                    if frame.screen_inside_px:
                        inside.append(frame.screen_inside_px)
                bg = bg_job.result()
                if harmoniser is None:
                    grain = 0.0 if matted else measure_grain(img[..., :3], (alpha < 0.005).astype(np.float32))
                    harmoniser = Harmoniser(p.harmonise, gains, grain, size,
                                            screen.kind if screen else "green", seed=p.seed)
                    self.report["grain_sigma"] = round(grain, 5)
                if matted:
                    fg = img[..., :3] / np.maximum(alpha, 1e-6)[..., None]
                    comp, relit, bg = harmoniser.composite(fg, alpha, bg, None, t)
                else:
                    comp, relit, bg = harmoniser.composite_keyed(frame.img, frame.plate, alpha, bg, p.key.despill,
                                                                 p.key.despill_strength, t)
                self.timing["frames"] += 1
                t0 = time.perf_counter()
                if callback:
                    callback({"stage": "render", "frame": t, "total": count})
                yield FrameLayers(comp, relit, bg, alpha)
                waited += time.perf_counter() - t0
        self.timing["render_s"] += time.perf_counter() - t_start - waited
        if self.timing["frames"] < count:
            raise EngineInputError(f"the shot ended after {self.timing['frames']} of {count} frames")
        if inside:  # screen-coloured areas the subject encloses, kept as subject: worth a look
            self.report["screen_inside_subject"] = enclosed_screen_summary(inside)
        self.report["timing"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in self.timing.items()}
