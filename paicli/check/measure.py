"""Run ``relight-check``: stream the result with its matte, plate, camera and references
through :class:`engine.qc.shot.ShotChecker`, judge the figures and keep what the report shows.

Frames are checked on a working copy of at most about 540 lines (HD at half size, 4K at a
quarter), as the classic engine estimates its smooth figures; motion is reported in source
pixels. Memory holds a few frames at a time (the checker's window and three full-size
frames for the report), however long the shot.
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np

from engine.classic.track import ScreenTracker
from engine.key.keyer import Keyer, KeyParams
from engine.key.screen import detect_screen, downsample, working_scale
from engine.qc.motion import camera_step
from engine.qc.shot import CheckSettings, ShotChecker
from engine.qc.verdict import judge
from paicli.check.inputs import CheckInputs
from paicli.errors import BadDataError
from paicli.media.reader import open_source
from paicli.progress import Progress
from paicli.shot.key import MatteSource
from paicli.shot.references import RefSpec, load_references


@dataclass
class CheckOutcome:
    """The judged figures (``engine.qc.verdict.judge``), the per-frame series, the frames
    kept for the report (index -> (result linear RGB, matte)) and notes."""

    judged: dict
    series: dict
    details: dict
    notes: list[str]
    kept: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    screen: str = "auto"

    @property
    def verdict(self) -> str:
        return self.judged["verdict"]


def _screen_of(inputs: CheckInputs, plate: np.ndarray | None):
    """The screen (engine.key.screen.Screen) to key and look for spill of: as the render
    or ``--screen`` says, else detected on the first plate frame; None when unknown."""
    if plate is None:
        return None
    return detect_screen(plate[..., :3], None if inputs.screen == "auto" else inputs.screen)


def _working(f: int):
    """The downscale to the working copy (1 up to ~540 lines, 2 for HD, 4 for 4K; area
    filter) and the conversion of a source-pixel homography to working pixels (pixel
    centres: x_w = (x + 0.5) / f - 0.5)."""
    s = np.array([[1 / f, 0, (1 / f - 1) / 2], [0, 1 / f, (1 / f - 1) / 2], [0, 0, 1]], np.float64)
    s_inv = np.linalg.inv(s)

    def down(img: np.ndarray) -> np.ndarray:
        return downsample(img, f)

    def to_working(h: np.ndarray) -> np.ndarray:
        return h if f == 1 else s @ h @ s_inv

    return down, to_working


def run_check(inputs: CheckInputs, limits: dict, *, adapt: float, progress: Progress) -> CheckOutcome:
    """Check every frame of ``inputs`` and judge the shot against ``limits`` (name -> Limit)."""
    info, start, count = inputs.result, inputs.start, inputs.count
    f = working_scale((info.height, info.width))
    down, to_working = _working(f)
    refs = {}
    if inputs.references:
        specs = [RefSpec(path, anchor, "sidecar") for anchor, path in inputs.references]
        refs = {r.spec.anchor: down(r.image) for r in load_references(specs, info.width, info.height)}
    keep = sorted({0, (count - 1) // 2, count - 1})
    kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    checker = keyer = screen = None
    with ExitStack() as stack:
        result = stack.enter_context(open_source(info.path, info=info, colourspace_name=inputs.colourspace))
        comps = result.frames(start, count)
        plates = None
        if inputs.plate is not None:
            plate_src = stack.enter_context(open_source(inputs.plate.path, info=inputs.plate,
                                                        colourspace_name=inputs.plate_colourspace))
            plates = plate_src.frames(inputs.plate_start, count)
        kind, path = inputs.matte
        mattes = None
        if kind == "file":
            ms = MatteSource(path, "matte", info, count)
            stack.callback(ms.close)
            mattes = ms.frames(start, count)
        tracker = ScreenTracker() if inputs.camera is None and inputs.plate is not None else None
        prev_h = None
        with progress.task(f"check {inputs.stem}", total=count) as task:
            for i, full in enumerate(comps):
                full_plate = next(plates)[..., :3] if plates is not None else None
                if checker is None:
                    found = _screen_of(inputs, full_plate)
                    screen = found.kind if found else (inputs.screen if inputs.screen != "auto" else "auto")
                    checker = ShotChecker(CheckSettings(screens=(screen,) if screen != "auto" else ("green", "blue"),
                                                        adapt=adapt, pixel_scale=float(f), screen=found))
                if kind == "key":
                    if keyer is None:
                        if found is None:
                            raise BadDataError(f"{inputs.plate.path} shows no green or blue screen to key; "
                                               "give --matte")
                        keyer = Keyer(KeyParams(screen=found.kind, chroma_subsampling=inputs.plate.chroma_subsampling),
                                      found, reuse_buffers=False)
                    full_alpha = keyer.key(full_plate).alpha
                elif mattes is not None:
                    full_alpha = next(mattes)
                else:
                    full_alpha = np.clip(full[..., 3], 0, 1)
                comp, alpha = down(full[..., :3]), down(full_alpha)  # RGBA: the composite over black
                plate = down(full_plate) if full_plate is not None else None
                if inputs.camera is not None:
                    h = to_working(inputs.camera[i])
                elif tracker is not None:
                    h = tracker.add(plate, alpha)
                else:
                    h = None
                step = camera_step(prev_h, h) if (h is not None and prev_h is not None) else None
                prev_h = h
                checker.add(comp, alpha, plate=plate, step=step, reference=refs.get(i))
                if i in keep:
                    kept[i] = (full[..., :3].copy(), full_alpha.copy())
                task.advance()
    figures = checker.finish()
    notes = list(inputs.notes) + list(figures.notes)
    judged = judge(figures.figures, limits)
    first = inputs.first_number
    figures.details["bg_psnr_at"] = {str(first + int(k)): v for k, v in figures.details["bg_psnr_at"].items()}
    return CheckOutcome(judged=judged, series=figures.series, details=figures.details, notes=notes, kept=kept,
                        screen=screen)
