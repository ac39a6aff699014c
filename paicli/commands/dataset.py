"""``paicli dataset build SOURCES... -o DATASET``: training triplets for the DiT LoRA."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from paicli.commands.common import JsonOpt, ProgressOpt, report
from paicli.commands.helptext import HelpCommand, HelpGroup

HELP = "Training data for the DiT engine's background-replacement LoRA: build (plate, references, target) triplets."

BUILD_HELP = (
    "Build training triplets from matted or screen footage and append them to DATASET: per FRAMES frames of a "
    "source, a plate (the subject over a green/blue screen), a target (the subject in a background) and 1-3 "
    "reference stills of that background, as half-float scene-linear EXRs with a manifest. RGBA footage is put "
    "over --backgrounds stills under a seeded camera move (its plate over a synthetic screen under the same move); "
    "footage with a --matte keeps its own background (plate: the subject over a synthetic screen following the "
    "footage's tracked camera); a screen shot without alpha is keyed (plate: the shot; target: the key over a "
    "--backgrounds still following the tracked camera).")

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, cls=HelpGroup)


@app.command("build", help=BUILD_HELP, cls=HelpCommand)
def build(
    sources: Annotated[list[str], typer.Argument(
        metavar="SOURCES...", help="Movies or image sequences: RGBA (EXR with alpha, ProRes 4444 with alpha), "
        "footage with --matte, or green/blue-screen shots. E.g. shot_010.####.exr plate.mov", show_default=False)],
    output: Annotated[Path, typer.Option(
        "-o", "--output", help="The dataset folder (created if missing; an existing dataset gets new triplet ids "
        "appended). E.g. -o datasets/bgswap", show_default=False, readable=False)],
    matte: Annotated[Optional[str], typer.Option(
        "--matte", help="Matte of the subject for a single source that has its own background (movie, sequence or "
        "one still; white = subject; alpha channel if it has one). Default: none. E.g. --matte shot_010_matte.mov",
        show_default=False)] = None,
    backgrounds: Annotated[Optional[str], typer.Option(
        "--backgrounds", help="Folder of background stills (sRGB PNG/JPEG/TIFF, linear EXR; any size) for RGBA "
        "sources and screen shots; each triplet picks one by its seed. Default: none (required for those). "
        "E.g. --backgrounds stills/", show_default=False)] = None,
    screen: Annotated[Optional[str], typer.Option(
        "--screen", help="green or blue: the synthetic screen behind matted subjects (default green); for screen "
        "shots, the screen to look for (default: detected). E.g. --screen blue", show_default=False)] = None,
    frames: Annotated[int, typer.Option(
        "--frames", help="Frames per triplet, 4k+1 (5, 9, 13, 17, ...); a longer source gives several non-overlapping "
        "triplets, the remainder is left out. E.g. --frames 33")] = 17,
    size: Annotated[Optional[str], typer.Option(
        "--size", help="Triplet size WxH, multiples of 16: frames are scaled to cover it and centre-cropped. "
        "Default: the source's size, centre-cropped to multiples of 16. E.g. --size 832x480",
        show_default=False)] = None,
    refs: Annotated[int, typer.Option(
        "--refs", min=1, max=3, help="Reference stills per triplet: 1 = at the first frame, 2 = first and last, "
        "3 = first, middle and last. E.g. --refs 2")] = 3,
    caption: Annotated[Optional[str], typer.Option(
        "--caption", help="Caption of every triplet. Default: 'SOURCE: the subject in its background'. "
        "E.g. --caption 'a woman walks through a market'", show_default=False)] = None,
    seed: Annotated[int, typer.Option(
        "--seed", min=0, help="Seed of the camera moves, screens, noise and background picks (the same seed "
        "rebuilds the same triplets). E.g. --seed 7")] = 0,
    progress: ProgressOpt = None,
    json_out: JsonOpt = False,
) -> int:
    from paicli.dataset import build as job  # numpy, OpenCV and the keyer load when triplets are built, not for --help

    result = job.build(sources, output, matte=matte, backgrounds=backgrounds, screen=screen, frames=frames, size=size,
                       refs=refs, caption=caption, seed=seed, progress=progress)
    summary = result.summary

    def human() -> None:
        added = summary["added"]
        span = f" ({added[0]}-{added[-1]})" if added else ""
        print(f"added {len(added)} triplets{span} to {summary['dataset']}: {summary['triplets']} in all, "
              f"{summary['frames']} frames each")
        for s in summary["sources"]:
            print(f"  {s['path']}: {s['kind']}, {s['triplets']} triplets at {s['width']}x{s['height']}"
                  + (f", last {s['frames_left_out']} frames left out" if s["frames_left_out"] else ""))
        for w in result.warnings:
            print(f"warning: {w}")

    report(result, json_out, human)
    return 0
