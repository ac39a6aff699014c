"""Transcode a source range to ProRes or EXR with the source's exact timing: the I/O path
every later command (key, replace, render) streams frames through."""
from __future__ import annotations

from pathlib import Path

from paicli.media import atomic
from paicli.media.probe import MediaInfo
from paicli.media.reader import open_source
from paicli.media.writers import Writer, output_name
from paicli.paths import safe_output_path
from paicli.progress import Progress
from paicli.result import CommandResult, OutputFile


def transcode(info: MediaInfo, out_dir: Path, spec, *, stem: str, start: int, count: int,
              input_colourspace: str | None = None, allow_vfr: bool = False, progress: Progress,
              result: CommandResult) -> OutputFile:
    """Stream media frames ``start``.. (``count`` of them, 0-based indices) of ``info`` into one
    output in ``out_dir``; returns what was written."""
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
