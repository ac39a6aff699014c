"""One interface over the output formats: ProRes movies and OpenEXR sequences.

A writer takes float32 (H, W, 3|4) scene-linear frames (RGBA premultiplied), carries the
source's exact rate, timecode and reel, and reports what it wrote as an
:class:`~paicli.media.written.OutputFile`. A non-finite value that reaches a writer (an
engine's NaN) is replaced before any colour conversion (:mod:`paicli.media.nonfinite`: NaN
-> 0, +Inf -> 65504, alpha +Inf -> 1, -Inf -> 0) and counted in :attr:`Writer.nonfinite`
and in the process tally under the output's path: no output file holds a NaN.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from paicli.errors import OutputError, UsageError
from paicli.media import atomic, nonfinite
from paicli.media.colourspace import from_linear, premultiply, unpremultiply
from paicli.media.exr import ExrSequenceWriter
from paicli.media.prores import ProResWriter
from paicli.media.timing import Timecode
from paicli.media.written import OutputFile
from paicli.sources import SOURCES

FORMATS = ("prores", "exr")
REEL_ATTRIBUTE = "reelName"  # EXR has no standard reel attribute; this string attribute carries it


@dataclass
class OutputSpec:
    """How to write one output.

    ``first_frame``: an EXR frame number (default 1001), ``"timecode"`` (frame number =
    frames since 00:00:00:00 of the start timecode) or ``"source"`` (the source's own
    numbers). ``colourspace``: None means the format's default (BT.709 video for ProRes,
    scene-linear Rec.709 for EXR).
    """

    format: str = "prores"
    prores_profile: str = "hq"
    exr_compression: str = "zip"
    exr_pixel_type: str = "half"
    first_frame: int | str = 1001
    colourspace: str | None = None
    alpha: bool | None = None

    @property
    def extension(self) -> str:
        return ".mov" if self.format == "prores" else ".exr"


def output_name(stem: str, spec: OutputSpec) -> str:
    """``stem.mov`` or ``stem.####.exr``."""
    return f"{stem}.mov" if spec.format == "prores" else f"{stem}.####.exr"


class Writer:
    """Common face of :class:`ProResWriter` and :class:`ExrSequenceWriter` wrappers."""

    def __init__(self, path: Path, spec: OutputSpec, kind: str, width: int, height: int, rate: Fraction,
                 start_timecode: Timecode | None, reel: str | None, source_first_frame: int = 0):
        self.path, self.spec, self.kind = Path(path), spec, kind
        self.rate, self.start_timecode = Fraction(rate), start_timecode
        self.frames_written = 0
        self.nonfinite = 0  # pixels whose NaN or +-Inf values were replaced before writing
        if spec.format == "prores":
            self._w = ProResWriter(self.path, width, height, rate, profile=spec.prores_profile, alpha=spec.alpha,
                                   start_timecode=start_timecode, reel=reel,
                                   colourspace_name=spec.colourspace or "bt709")
            self.first_number = 0
        elif spec.format == "exr":
            if spec.first_frame == "timecode":
                if start_timecode is None:
                    raise UsageError("first frame 'timecode' needs a source with a start timecode")
                first = start_timecode.frames
            elif spec.first_frame == "source":
                first = source_first_frame
            else:
                first = int(spec.first_frame)
            self.first_number = first
            space = spec.colourspace or "linear"
            self._convert = None
            if space != "linear":
                to_space = from_linear(space)
                self._convert = lambda img: premultiply(to_space(unpremultiply(img)))
            # frames are written into a hidden folder and moved into place only when the whole
            # sequence is done, so a failed or killed run leaves no partial sequence
            self._tmp_dir = atomic.temp_dir_for(self.path)
            self._w = ExrSequenceWriter(str(self._tmp_dir / self.path.name), first_frame=first, rate=rate, start_timecode=start_timecode,
                                        compression=spec.exr_compression, pixel_type=spec.exr_pixel_type,
                                        attributes={REEL_ATTRIBUTE: reel} if reel else None)
        else:
            raise UsageError(f"unknown output format {spec.format!r} (choose from {', '.join(FORMATS)})")

    def write(self, frame: np.ndarray | dict[str, np.ndarray]) -> None:
        """Write the next frame; EXR also takes a dict of layers (scene-linear, written as is
        but for non-finite values). The caller's arrays are not changed."""
        if isinstance(frame, dict):
            frame = {k: self._finite(v, alpha_last=True if k == "alpha" else None) for k, v in frame.items()}
        else:
            frame = self._finite(frame)
        if self.spec.format == "exr" and not isinstance(frame, dict):
            if self.spec.alpha is False and frame.shape[-1] == 4:
                frame = frame[..., :3]
            if self._convert is not None:
                frame = self._convert(frame)
        self._w.write(frame)
        self.frames_written += 1

    def write_straight(self, colour: np.ndarray, alpha: np.ndarray) -> None:
        """Write the next frame given as straight scene-linear colour (H, W, 3) and alpha
        (H, W): ProRes stores exactly that; EXR gets it premultiplied, as EXR holds colour."""
        if self.spec.format == "prores":
            self._w.write_straight(self._finite(colour, alpha_last=False), self._finite(alpha, alpha_last=False))
            self.frames_written += 1
        else:
            self.write(premultiply(np.concatenate([colour, alpha[..., None]], axis=-1)))

    def _finite(self, image: np.ndarray, alpha_last: bool | None = None) -> np.ndarray:
        """``image`` with non-finite values replaced (a copy only if it held one), counted."""
        image, bad = nonfinite.replace(image, alpha_last=alpha_last)
        if bad:
            self.nonfinite += bad
            nonfinite.count(str(self.path), bad)
        return image

    def close(self) -> OutputFile:
        self._w.close()
        if self.spec.format == "exr":
            self._publish_sequence()
        return self.output()

    def abort(self) -> None:
        self._w.abort()
        if self.spec.format == "exr":
            shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def _publish_sequence(self) -> None:
        frames = sorted(self._tmp_dir.iterdir())
        try:  # every frame checked before any moves: a sequence lands whole or not at all
            SOURCES.refuse([self.path.parent / src.name for src in frames], "", "nothing was replaced")
        except OutputError:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            raise
        try:
            for src in frames:
                os.replace(src, self.path.parent / src.name)
            self._tmp_dir.rmdir()
        except OSError as e:
            raise OutputError(f"cannot move frames into {self.path.parent}: {e.strerror or e}") from None

    def output(self) -> OutputFile:
        n = self.frames_written
        tc = (self.start_timecode, self.start_timecode + (n - 1)) if self.start_timecode and n else None
        frames = (self.first_number, self.first_number + n - 1) if n else None
        fmt = f"prores_{self.spec.prores_profile}" if self.spec.format == "prores" else f"exr_{self.spec.exr_compression}"
        return OutputFile(kind=self.kind, path=str(self.path), frames=frames, timecode=tc, rate=self.rate, format=fmt)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
