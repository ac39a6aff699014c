"""``paicli convert SOURCE -o OUT``: ProRes or EXR with the source's exact rate, timecode and reel."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from paicli.commands.common import (DryRunOpt, ForceOpt, JsonOpt, OutputDirOpt, PresetOpt, ProgressOpt,
                                    print_settings, report, with_settings)
from paicli.settings import resolve
from paicli.shot.settings import CONVERT

HELP = ("Transcode a movie or image sequence (or a range of it, with handles) to ProRes or an OpenEXR sequence, "
        "keeping the exact frame rate, frame count, start timecode and reel, colour-managed.")


@with_settings(CONVERT, ["format", "prores_profile", "exr_compression", "first_frame", "input_colorspace",
                         "output_colorspace", "handles", "conform_vfr", "rate"])
def convert(
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="A movie, or an image sequence (shot.####.exr, a member file or a folder).",
                                          show_default=False)],
    output: OutputDirOpt = None,
    name: Annotated[Optional[str], typer.Option(
        "--name", help="Output name stem (default: the source's name).", show_default=False)] = None,
    frames: Annotated[Optional[str], typer.Option(
        "--frames", help="Range A-B, inclusive: frame numbers (sequences), 0-based indices (movies) or timecodes.",
        show_default=False)] = None,
    preset: PresetOpt = None,
    progress: ProgressOpt = None,
    force: ForceOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    **settings,
) -> int:
    from paicli.shot import convert as job  # the media libraries load when something is converted, not for --help
    from paicli.shot.earlier import removed_line

    s = resolve(CONVERT, settings, preset=preset)
    result = job.convert(source, s, output=output, force=force, name=name, frames=frames, dry_run=dry_run,
                         progress=progress)
    if dry_run:
        print_settings(result, s, json_out)
        return 0
    out = result.outputs[0]

    def human() -> None:
        d = out.to_dict()
        tc = f", {d['timecode']['start']}-{d['timecode']['end']}" if "timecode" in d else ""
        print(f"wrote {d.get('path') or d.get('sequence')}: {d.get('frame_count', 0)} frames at {d['rate']} fps{tc}")
        removed = removed_line(result.summary.get("removed_earlier"))
        if removed:
            print(removed)
        for warning in result.warnings:
            print(f"warning: {warning}")

    report(result, json_out, human)
    return 0
