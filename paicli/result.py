"""The result every command reports: what it did and every file it wrote.

With ``--json`` a command prints exactly one JSON object (``CommandResult.to_dict``) on
stdout; scripts and farm jobs read ``outputs`` to find the files, each with its kind,
path or frame pattern, frame range and timecode.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from paicli import __version__
from paicli.media.timing import Timecode, format_rate

OUTPUT_KINDS = ("comp", "matte", "fg", "layers", "camera", "sidecar", "timeline", "report", "media", "model")


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


@dataclass
class CommandResult:
    """What one command invocation did."""

    command: str
    ok: bool = True
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[OutputFile] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    def add_output(self, output: OutputFile) -> OutputFile:
        self.outputs.append(output)
        return output

    def to_dict(self) -> dict[str, Any]:
        return {
            "paicli": __version__,
            "command": self.command,
            "ok": self.ok,
            "dry_run": self.dry_run,
            "inputs": self.inputs,
            "outputs": [o.to_dict() for o in self.outputs],
            "settings": self.settings,
            "summary": self.summary,
            "warnings": self.warnings,
        }

    def print_json(self, stream=None) -> None:
        stream = stream or sys.stdout
        stream.write(json.dumps(self.to_dict(), default=_json_default) + "\n")
        stream.flush()


def _json_default(value: Any) -> Any:
    if isinstance(value, Fraction):
        return format_rate(value)
    if isinstance(value, Timecode):
        return str(value)
    if hasattr(value, "__fspath__"):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
