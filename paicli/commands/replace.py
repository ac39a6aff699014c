"""``paicli replace SHOT --bg REFS -o OUT``: the finished shot with a new, camera-aware background."""
from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from paicli.commands.common import (DryRunOpt, ForceOpt, FramesOpt, InputColorspaceOpt, JsonOpt, NameOpt,
                                    OutputDirOpt, PresetOpt, ProgressOpt, print_settings, report, with_settings)
from paicli.settings import resolve
from paicli.shot.settings import REPLACE

HELP = ("Replace the background of a green/blue-screen (or matted) shot with 1-N reference stills: key, track "
        "the camera on the screen, render the stills as a background that moves with it (stitched, blended by "
        "anchor, shutter-blurred), relight the foreground to match and write the composite with the source's "
        "timing and timecode, plus the camera track (JSON and Nuke corner pin) and a sidecar of everything used.")


_AFTER_LORA = ("lora_scale", "perturb_light", "keep_foreground", "prompt", "prompt_embeds", "device", "dtype")


@with_settings(REPLACE, _AFTER_LORA)
@with_settings(REPLACE, [s.name for s in REPLACE if s.name not in _AFTER_LORA], before="lora")
def replace(
    shot: Annotated[str, typer.Argument(metavar="SHOT", help="A screen shot (movie or image sequence), or a "
                                        "matted RGBA one.", show_default=False)],
    bg: Annotated[List[str], typer.Option("--bg", help="Reference stills: a folder or files (repeatable). Anchored "
                                          "by frame numbers in their names (ref.0047.png), by --bg-at, or at "
                                          "start/middle/end in name order.", show_default=False)],
    output: OutputDirOpt = None,
    name: NameOpt = None,
    bg_at: Annotated[Optional[str], typer.Option("--bg-at", help="Anchor frames of the references in name order, "
                                                 "e.g. 0,47,95.", show_default=False)] = None,
    bg_colorspace: Annotated[Optional[str], typer.Option(
        "--bg-colorspace", help="Colour space of the stills (default: sRGB; EXR linear).", show_default=False)] = None,
    frames: FramesOpt = None,
    input_colorspace: InputColorspaceOpt = None,
    lora: Annotated[Optional[List[str]], typer.Option(
        "--lora", help="LoRA safetensors merged into the DiT (repeatable; default: the checkpoint's lora/ folder).",
        show_default=False)] = None,
    preset: PresetOpt = None,
    progress: ProgressOpt = None,
    force: ForceOpt = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    **settings,
) -> int:
    from paicli.shot import replace as job  # the engine's libraries load when a shot is replaced, not for --help

    s = resolve(REPLACE, settings, preset=preset)
    result = job.replace(shot, bg, s, output=output, force=force, name=name, bg_at=bg_at, bg_colourspace=bg_colorspace,
                         frames=frames, input_colourspace=input_colorspace, loras=tuple(lora or ()),
                         dry_run=dry_run, progress=progress)
    if dry_run:
        print_settings(result, s, json_out)
        return 0
    summary = result.summary

    def human() -> None:
        for line in job.decision_lines(summary, s.keep_lighting):
            print(line)
        for warning in result.warnings:
            print(f"warning: {warning}")
        for o in result.outputs:
            d = o.to_dict()
            print(f"wrote {d['kind']}: {d.get('path') or d.get('sequence')}"
                  + (f" ({d['frame_count']} frames)" if d.get("frame_count") else ""))

    report(result, json_out, human)
    return 0
