"""Key a shot: stream frames from the source through the keyer into the outputs.

The keyer (``engine.key``) sees arrays only; this module opens media, checks user
mattes and clean plates, picks output names and reports every file written.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.key.keyer import Keyer, KeyParams, enclosed_screen_summary
from engine.key.screen import find_screen, picked_kind, screen_mask, screen_quality
from paicli.errors import BadDataError, UsageError
from paicli.media import atomic, nonfinite
from paicli.media.colourspace import canonical, to_linear
from paicli.media.frame_range import source_range
from paicli.media.probe import MediaInfo, probe
from paicli.media.reader import open_source, source_colourspace
from paicli.media.writers import OutputSpec, Writer
from paicli.paths import safe_output_path, sanitize_name
from paicli.progress import Progress, mode_from
from paicli.result import CommandResult, OutputFile
from paicli.settings import Resolved, params_from
from paicli.shot import earlier as earlier_outputs
from paicli.sources import SOURCES

_SUFFIX = {"rgba": "key", "matte": "matte", "fg": "fg"}
LOOKAHEAD = 2  # frames keyed ahead on the worker thread (memory: this many extra frames)


def output_name(stem: str, kind: str, fmt: str) -> str:
    """File name of one key output: ``STEM_key.####.exr``, ``STEM_matte.mov`` ..."""
    return f"{stem}_{_SUFFIX[kind]}" + (".mov" if fmt == "prores" else ".####.exr")


@dataclass
class KeyOutputs:
    """Which files to write: ``rgba`` (premultiplied RGBA: EXR half, or ProRes 4444 with
    alpha), ``matte`` (alpha only), ``fg`` (despilled straight foreground colour)."""

    kinds: tuple[str, ...] = ("rgba", "matte")
    format: str = "exr"
    exr_compression: str = "zip"
    first_frame: int | str = 1001


def _read_image(path: str, what: str, width: int, height: int) -> np.ndarray:
    with open_source(path, what=what) as src:
        if (src.info.width, src.info.height) != (width, height):
            raise BadDataError(f"{what} {path} is {src.info.width}x{src.info.height}, the shot is {width}x{height}")
        return next(iter(src.frames(0, 1)))


class MatteSource:
    """A user matte (garbage or core): one still for the whole shot or one frame per frame."""

    def __init__(self, path: str, what: str, info: MediaInfo, count: int):
        self.what = what
        m = probe(path)
        if (m.width, m.height) != (info.width, info.height):
            raise BadDataError(f"{what} {path} is {m.width}x{m.height}, the shot is {info.width}x{info.height}")
        if m.frame_count not in (1, info.frame_count, count):
            raise BadDataError(f"{what} {path} has {m.frame_count} frames; the shot has {info.frame_count} "
                               "(give one still or one frame per frame)")
        self._per_frame = m.frame_count > 1
        self._offset_all = m.frame_count == info.frame_count
        self._src = open_source(path, info=m, colourspace_name="linear", what=what)
        self._still = None if self._per_frame else self._to_matte(next(iter(self._src.frames(0, 1))))

    @staticmethod
    def _to_matte(img: np.ndarray) -> np.ndarray:
        return np.clip(img[..., 3] if img.shape[-1] == 4 else img[..., :3].mean(-1), 0.0, 1.0).astype(np.float32)

    def frames(self, start: int, count: int):
        if not self._per_frame:
            for _ in range(count):
                yield self._still
            return
        first = start if self._offset_all else 0
        for img in self._src.frames(first, count):
            yield self._to_matte(img)

    def close(self):
        self._src.close()


def key_shot(info: MediaInfo, out_dir: Path, params: KeyParams, outputs: KeyOutputs, *, stem: str, start: int,
             count: int, input_colourspace: str | None, screen_kind: str, clean_plate: str | None,
             garbage_matte: str | None, core_matte: str | None, progress: Progress, result: CommandResult) -> dict:
    """Key media frames ``start``.. (``count`` of them, 0-based) of ``info`` into ``out_dir``;
    adds every output to ``result`` and returns the screen report."""
    start_tc = info.start_timecode + start if info.start_timecode else None
    nonfinite.reset()
    user_plate = _read_image(clean_plate, "clean plate", info.width, info.height)[..., :3] if clean_plate else None
    mattes = [MatteSource(p, w, info, count) if p else None
              for p, w in ((garbage_matte, "garbage matte"), (core_matte, "core matte"))]
    atomic.sweep_stale_temps(out_dir)
    writers: list[tuple[str, Writer]] = []
    report: dict = {}
    try:
        with open_source(info.path, info=info, colourspace_name=input_colourspace, what="plate") as src:
            keyer = None
            for kind in outputs.kinds:
                spec = OutputSpec(format=outputs.format, exr_compression=outputs.exr_compression, first_frame=outputs.first_frame,
                                  prores_profile="4444" if kind == "rgba" else "hq",
                                  colourspace="linear" if kind == "matte" else None,
                                  alpha=(kind == "rgba"))
                path = safe_output_path(out_dir, output_name(stem, kind, outputs.format))
                w = Writer(path, spec, kind, info.width, info.height, info.rate,
                           start_tc, info.reel, source_first_frame=info.first_frame + start)
                writers.append((kind, w))
            matte_iters = [m.frames(start, count) if m else None for m in mattes]
            source = iter(src.frames(start, count))
            pending: deque = deque()  # (picture, its matte being prepared on the worker), in order
            inside: list[int] = []  # per frame that has any: screen-coloured pixels the subject encloses

            def read_next() -> None:
                nonlocal keyer
                img = next(source, None)
                if img is None:
                    return
                rgb = img[..., :3]
                if keyer is None:
                    found = find_screen(rgb, None if screen_kind == "auto" else screen_kind,
                                        colour=params.screen_colour)
                    if found.screen is None:
                        what = "green or blue" if screen_kind == "auto" else screen_kind
                        raise BadDataError(f"{info.path}: no dominant {what} screen found ({found.why}); "
                                           "this does not look like a screen shot")
                    keyer = Keyer(params, found.screen, user_plate)
                pending.append((rgb, pool.submit(keyer.prepare, rgb)))

            # each frame's matte is prepared on a worker thread a frame or two ahead, while this
            # thread decodes, finishes the previous frame in order (temporal hold, unmix, despill)
            # and encodes it: numpy, OpenCV and the codecs release the GIL, so both cores work
            with ThreadPoolExecutor(1, thread_name_prefix="paicli-key") as pool, \
                    progress.task(f"key {Path(info.path).name}", total=count) as task:
                for _ in range(LOOKAHEAD):
                    read_next()
                i = 0
                while pending:
                    rgb, prepared = pending.popleft()
                    read_next()
                    garbage, core = (next(it) if it else None for it in matte_iters)
                    res = keyer.finish(prepared.result(), garbage=garbage, core=core)
                    if i == 0:  # the keyer's own plate: no second estimate for the report
                        report = {"screen": keyer.screen.kind,
                                  "screen_colour": [round(c, 4) for c in keyer.screen.colour],
                                  **{k: round(v, 4) for k, v in screen_quality(
                                      rgb, res.clean_plate, screen_mask(rgb, keyer.screen), keyer.screen,
                                      res.alpha).items()}}
                    for kind, w in writers:
                        if kind == "rgba":
                            w.write_straight(res.fg, res.alpha)
                        elif kind == "matte":
                            w.write(np.repeat(res.alpha[..., None], 3, axis=-1))
                        else:
                            w.write(res.fg)
                    if res.screen_inside_px:
                        inside.append(res.screen_inside_px)
                    task.advance()
                    i += 1
    except BaseException:
        for _, w in writers:
            w.abort()
        raise
    finally:
        for m in mattes:
            if m:
                m.close()
    for kind, w in writers:
        out = w.close()
        out.extra["content"] = {"rgba": "premultiplied RGBA", "matte": "alpha", "fg": "despilled straight RGB"}[kind]
        out.extra["source_range"] = [start, start + count - 1]
        result.add_output(out)
    if inside:
        report["screen_inside_subject"] = enclosed_screen_summary(inside)
    nonfinite.note(result.summary, result.warnings)
    return report


def screen_line(report: dict) -> str:
    """The key's one line on its screen: kind, colour (linear r,g,b) and how keyable it is."""
    parts = [report.get("screen", "?") + " screen"]
    if report.get("screen_colour"):
        parts.append("colour " + ", ".join(f"{c:.3f}" for c in report["screen_colour"]) + " (linear r,g,b)")
    if "coverage" in report:
        parts.append(f"{100 * report['coverage']:.0f}% of the frame")
    if "evenness" in report:
        parts.append(f"evenness {report['evenness']:.2f} (1 = even)")
    if "noise" in report:
        parts.append(f"noise {report['noise']:.4f}")
    if "spill" in report:
        parts.append(f"spill on the subject {report['spill']:.2f} (0 = none)")
    return "screen: " + ", ".join(parts)


def enclosed_screen_note(inside: dict | None) -> str | None:
    """The summary's note on screen-coloured areas the subject enclosed and kept (None: none)."""
    if not inside:
        return None
    return (f"note: screen-coloured areas inside the subject were kept as foreground on {inside['frames']} "
            f"frame(s) (up to {inside['max_px']} px): check them")


def picked_screen_colour(picked, kind: str, info: MediaInfo, input_colourspace: str | None):
    """An eyedropper pick (``--screen-colour``, 0-1 in the shot's own encoding) in linear
    light, decoded as the shot's frames are; None when there is none. A pick that is no
    screen colour (of ``kind``, unless auto) is a usage error."""
    if picked is None:
        return None
    space = source_colourspace(info, input_colourspace)
    linear = tuple(float(v) for v in to_linear(space)(np.array([[picked]], np.float32))[0, 0])
    found = picked_kind(linear, None if kind == "auto" else kind)
    if found.screen is None:
        raise UsageError(f"--screen-colour: {found.why}")
    return linear


def name_family(stem: str) -> list[str]:
    """Every file name a key of ``stem`` can leave in its folder (each output, each format)."""
    return sorted(output_name(stem, kind, fmt) for kind in _SUFFIX for fmt in ("prores", "exr"))


def key(shot: str, s: Resolved, *, output: Path | None, name: str | None, frames: str | None,
        clean_plate: str | None, garbage_matte: str | None, core_matte: str | None, input_colourspace: str | None,
        force: bool = False, dry_run: bool = False, progress: str | None = None) -> CommandResult:
    """``paicli key``: ``shot`` keyed under resolved settings ``s`` into ``output`` (None:
    ``paicli/`` beside the shot; an earlier run's results there are refused unless
    ``force``); with ``dry_run``, only what would be written. The screen report is
    ``summary["screen_report"]``."""
    params = params_from(s, "key", KeyParams)
    outs = KeyOutputs(kinds=tuple(s.outputs), format=s.format, exr_compression=s.exr_compression,
                      first_frame=s.first_frame)
    info = probe(shot)
    defaulted, output = output is None, earlier_outputs.default_output(info) if output is None else output
    params.screen_colour = picked_screen_colour(s.screen_colour, s.screen, info, input_colourspace)
    params.chroma_subsampling = info.chroma_subsampling
    result = CommandResult(command="key", inputs=[info.to_dict()], settings=s.plain())
    stem = sanitize_name(name or Path(info.pattern or info.path).name.split(".")[0])
    start, count = source_range(info, frames, s.handles)
    result.summary = {"source_range": [start, start + count - 1], "frames": count, "output_folder": str(output)}
    SOURCES.add_media(info)
    SOURCES.add(clean_plate, garbage_matte, core_matte)
    SOURCES.refuse([output / output_name(stem, kind, outs.format) for kind in outs.kinds])
    if dry_run:
        result.summary.update(earlier_outputs.preview(output, name_family(stem), force))
        for kind in outs.kinds:
            result.add_output(OutputFile(kind=kind, path=str(output / output_name(stem, kind, outs.format))))
        return result
    with earlier_outputs.replacing(output, name_family(stem), force=force, stem=stem, default=defaulted) as earlier, \
            Progress(mode_from(progress)) as prog:
        result.summary["screen_report"] = key_shot(
            info, output, params, outs, stem=stem, start=start, count=count,
            input_colourspace=canonical(input_colourspace) if input_colourspace else None, screen_kind=s.screen,
            clean_plate=clean_plate, garbage_matte=garbage_matte, core_matte=core_matte, progress=prog, result=result)
    result.summary["removed_earlier"] = earlier.removed
    return result
