"""Transcode a source range to ProRes or EXR with the source's exact timing: the I/O path
every later command (key, replace, render) streams frames through."""
from __future__ import annotations

import re
from pathlib import Path

from paicli.errors import UsageError
from paicli.media.probe import MediaInfo
from paicli.media.timing import Timecode
from paicli.progress import Progress
from paicli.result import CommandResult, OutputFile

_RANGE_RE = re.compile(r"^\s*([^-\s]+)\s*-\s*([^-\s]+)\s*$")


def source_range(info: MediaInfo, frames: str | None, handles: int = 0) -> tuple[int, int]:
    """``(start index, count)`` of the frames to process, handles included and clamped.

    ``frames`` is ``A-B`` inclusive: frame numbers for sequences, 0-based indices for
    movies, or timecodes (``01:00:00:00-01:00:01:23``) for either when it has a start TC.
    """
    n = info.frame_count
    if not frames:
        start, end = 0, n - 1
    else:
        m = _RANGE_RE.match(frames)
        if not m:
            raise UsageError(f"--frames: expected A-B (e.g. 1001-1100 or 01:00:00:00-01:00:01:00), got {frames!r}")
        start, end = (_to_index(info, part) for part in m.groups())
        if end < start:
            raise UsageError(f"--frames: {frames!r} ends before it starts")
        if start < 0 or end >= n:
            raise UsageError(f"--frames: {frames!r} is outside the media ({_describe_extent(info)})")
    start, end = max(0, start - handles), min(n - 1, end + handles)
    return start, end - start + 1


def _to_index(info: MediaInfo, part: str) -> int:
    if ":" in part or ";" in part:
        if info.start_timecode is None:
            raise UsageError(f"--frames: {info.path} has no timecode; give frame numbers")
        tc = Timecode.parse(part, info.rate, drop=info.start_timecode.drop)
        return tc.frames - info.start_timecode.frames
    try:
        number = int(part)
    except ValueError:
        raise UsageError(f"--frames: {part!r} is not a frame number or timecode") from None
    return number - info.first_frame if info.kind == "sequence" else number


def _describe_extent(info: MediaInfo) -> str:
    last = info.first_frame + info.frame_count - 1
    text = f"frames {info.first_frame}-{last}"
    if info.start_timecode:
        text += f", {info.start_timecode}-{info.end_timecode}"
    return text


def transcode(info: MediaInfo, out_dir: Path, spec, *, stem: str, frames: str | None = None, handles: int = 0,
              input_colourspace: str | None = None, allow_vfr: bool = False, progress: Progress,
              result: CommandResult) -> OutputFile:
    """Stream ``info``'s range into one output in ``out_dir``; returns what was written."""
    from paicli.media import atomic
    from paicli.media.reader import open_source
    from paicli.media.writers import Writer, output_name
    from paicli.paths import safe_output_path

    start, count = source_range(info, frames, handles)
    start_tc = info.start_timecode + start if info.start_timecode else None
    path = safe_output_path(out_dir, output_name(stem, spec))
    atomic.sweep_stale_temps(path.parent)
    with open_source(info.path, info=info, colourspace_name=input_colourspace, allow_vfr=allow_vfr) as src:
        with Writer(path, spec, "media", info.width, info.height, info.rate, start_tc, info.reel,
                    source_first_frame=info.first_frame + start) as writer:
            with progress.task(f"convert {Path(info.path).name}", total=count) as task:
                for frame in src.frames(start, count):
                    writer.write(frame)
                    task.advance()
    out = writer.output()
    out.extra["source_range"] = [start, start + count - 1]
    result.add_output(out)
    return out
