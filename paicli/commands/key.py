"""``paicli key SHOT -o OUT``: a clean foreground and matte from a green- or blue-screen shot."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from paicli.commands.common import (DryRunOpt, ForceOpt, FramesOpt, InputColorspaceOpt, JsonOpt, NameOpt,
                                    OutputDirOpt, PresetOpt, ProgressOpt, print_settings, report, with_settings)
from paicli.settings import resolve
from paicli.shot.settings import KEY

HELP = ("Key a green- or blue-screen shot: automatic screen detection, per-pixel clean plate, colour-difference "
        "matte with edge-aware clipping, despot, unmixed and despilled foreground; writes premultiplied RGBA, "
        "matte and foreground with the source's timing and timecode, and reports the screen's quality.")


@with_settings(KEY, [s.name for s in KEY])
def key(
    shot: Annotated[str, typer.Argument(metavar="SHOT", help="A screen shot: movie or image sequence.",
                                        show_default=False)],
    output: OutputDirOpt = None,
    name: NameOpt = None,
    frames: FramesOpt = None,
    clean_plate: Annotated[Optional[str], typer.Option(
        "--clean-plate", help="A still of the empty screen, same size as the shot.", show_default=False)] = None,
    garbage_matte: Annotated[Optional[str], typer.Option(
        "--garbage-matte", help="Matte file (still or sequence): white = always screen.", show_default=False)] = None,
    core_matte: Annotated[Optional[str], typer.Option(
        "--core-matte", help="Matte file (still or sequence): white = always foreground.", show_default=False)] = None,
    input_colorspace: InputColorspaceOpt = None,
    preset: PresetOpt = None,
    progress: ProgressOpt = None,
    force: ForceOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    **settings,
) -> int:
    from paicli.shot import key as job  # the keying libraries load when a shot is keyed, not for --help
    from paicli.shot.earlier import removed_line

    s = resolve(KEY, settings, preset=preset)
    result = job.key(shot, s, output=output, force=force, name=name, frames=frames, clean_plate=clean_plate,
                     garbage_matte=garbage_matte, core_matte=core_matte, input_colourspace=input_colorspace,
                     dry_run=dry_run, progress=progress)
    if dry_run:
        print_settings(result, s, json_out)
        return 0
    quality = result.summary["screen_report"]

    def human() -> None:
        print(job.screen_line(quality))
        note = job.enclosed_screen_note(quality.get("screen_inside_subject"))
        if note:
            print(note)
        removed = removed_line(result.summary.get("removed_earlier"))
        if removed:
            print(removed)
        for warning in result.warnings:
            print(f"warning: {warning}")
        for o in result.outputs:
            d = o.to_dict()
            print(f"wrote {d['kind']}: {d.get('path') or d.get('sequence')} ({d.get('frame_count', 0)} frames)")

    report(result, json_out, human)
    return 0
