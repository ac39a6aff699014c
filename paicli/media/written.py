"""What a writer reports: one file (or frame sequence) written, with its frame range,
timecode and rate. :class:`paicli.result.CommandResult` lists them as a command's outputs
(and re-exports :class:`OutputFile`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from paicli.media.timing import Timecode, format_rate

OUTPUT_KINDS = ("comp", "rgba", "matte", "fg", "layers", "camera", "sidecar", "timeline", "report", "media", "model")


@dataclass
class OutputFile:
    """One file (or one frame sequence) a command wrote.

    ``frames`` is the inclusive (first, last) frame-number range: file frame numbers for a
    sequence, 0-based frame indices for a movie. ``timecode`` is (start, end) inclusive.
    """

    kind: str
    path: str
    frames: tuple[int, int] | None = None
    timecode: tuple[Timecode, Timecode] | None = None
    rate: Fraction | None = None
    format: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {self.kind!r}")

    @property
    def is_sequence(self) -> bool:
        return "#" in self.path or "%" in self.path

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "sequence" if self.is_sequence else "path": self.path}
        if self.format:
            d["format"] = self.format
        if self.frames is not None:
            d["frame_range"] = [int(self.frames[0]), int(self.frames[1])]
            d["frame_count"] = int(self.frames[1]) - int(self.frames[0]) + 1
        if self.rate is not None:
            d["rate"] = format_rate(self.rate)
        if self.timecode is not None:
            d["timecode"] = {"start": str(self.timecode[0]), "end": str(self.timecode[1]),
                             "drop_frame": self.timecode[0].drop}
        d.update(self.extra)
        return d
