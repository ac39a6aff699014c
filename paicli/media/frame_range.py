"""The frames a command processes: a user's ``--frames A-B`` (frame numbers, 0-based movie
indices or timecodes) plus handles, resolved against the media into integers."""
from __future__ import annotations

import re

from paicli.errors import UsageError
from paicli.media.probe import MediaInfo
from paicli.media.timing import Timecode

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
