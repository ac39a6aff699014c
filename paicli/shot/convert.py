"""Transcode a source range to ProRes or EXR with the source's exact timing: the I/O path
every later command (key, replace, render) streams frames through."""
from __future__ import annotations

from pathlib import Path

from paicli.media import atomic, nonfinite
from paicli.media.colourspace import canonical
from paicli.media.frame_range import source_range
from paicli.media.probe import MediaInfo, probe
from paicli.media.reader import open_source
from paicli.media.writers import OutputSpec, Writer, output_name
from paicli.paths import safe_output_path, sanitize_name
from paicli.progress import Progress, mode_from
from paicli.result import CommandResult, OutputFile
from paicli.settings import Resolved
from paicli.shot import earlier as earlier_outputs
from paicli.sources import SOURCES


def transcode(info: MediaInfo, out_dir: Path, spec, *, stem: str, start: int, count: int,
              input_colourspace: str | None = None, allow_vfr: bool = False, progress: Progress,
              result: CommandResult) -> OutputFile:
    """Stream media frames ``start``.. (``count`` of them, 0-based indices) of ``info`` into one
    output in ``out_dir``; returns what was written."""
    start_tc = info.start_timecode + start if info.start_timecode else None
    path = safe_output_path(out_dir, output_name(stem, spec))
    atomic.sweep_stale_temps(path.parent)
    nonfinite.reset()
    with open_source(info.path, info=info, colourspace_name=input_colourspace, allow_vfr=allow_vfr,
                     what="source") as src:
        with Writer(path, spec, "media", info.width, info.height, info.rate, start_tc, info.reel,
                    source_first_frame=info.first_frame + start) as writer:
            with progress.task(f"convert {Path(info.path).name}", total=count) as task:
                for frame in src.frames(start, count):
                    writer.write(frame)
                    task.advance()
    out = writer.output()
    out.extra["source_range"] = [start, start + count - 1]
    result.add_output(out)
    nonfinite.note(result.summary, result.warnings)
    return out


def convert(source: str, s: Resolved, *, output: Path | None, name: str | None, frames: str | None,
            force: bool = False, dry_run: bool = False, progress: str | None = None) -> CommandResult:
    """``paicli convert``: ``source``'s range (``frames`` plus handles) into one output in
    ``output`` (None: ``paicli/`` beside the source; an earlier run's output there is refused
    unless ``force``) under resolved settings ``s``; with ``dry_run`` only what would be written."""
    in_space = canonical(s.input_colorspace) if s.input_colorspace else None
    out_space = canonical(s.output_colorspace) if s.output_colorspace else None
    spec = OutputSpec(format=s.format, prores_profile=s.prores_profile, exr_compression=s.exr_compression,
                      first_frame=s.first_frame, colourspace=out_space)
    info = probe(source, rate=s.rate)
    defaulted, output = output is None, earlier_outputs.default_output(info) if output is None else output
    result = CommandResult(command="convert", inputs=[info.to_dict()], settings=s.plain())
    stem = sanitize_name(name or Path(info.pattern or info.path).name.split(".")[0])
    start, count = source_range(info, frames, s.handles)
    result.summary = {"source_range": [start, start + count - 1], "frames": count, "output_folder": str(output)}
    SOURCES.add_media(info)
    SOURCES.refuse([output / output_name(stem, spec)])
    family = [output_name(stem, OutputSpec(format=fmt)) for fmt in ("prores", "exr")]
    if dry_run:
        result.summary.update(earlier_outputs.preview(output, family, force))
        result.add_output(OutputFile(kind="media", path=str(output / output_name(stem, spec))))
        return result
    with earlier_outputs.replacing(output, family, force=force, stem=stem, default=defaulted) as earlier, \
            Progress(mode_from(progress)) as prog:
        transcode(info, output, spec, stem=stem, start=start, count=count, input_colourspace=in_space,
                  allow_vfr=s.conform_vfr, progress=prog, result=result)
    result.summary["removed_earlier"] = earlier.removed
    return result
