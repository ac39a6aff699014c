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
from paicli.media.written import OUTPUT_KINDS, OutputFile  # noqa: F401 (re-exported)


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
