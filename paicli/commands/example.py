"""``paicli example DIR``: write a small synthetic green-screen shot to try paicli on."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paicli.commands.common import JsonOpt, report

HELP = ("Write a small synthetic green-screen shot (ProRes HQ plate with timecode, background reference stills, "
        "ground-truth alpha) into DIR, for trying paicli without footage.")


def example(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to write the example shot into (created if "
                                              "missing).", readable=False)],
    frames: Annotated[int, typer.Option("--frames", min=2, max=2000, help="Length of the shot in frames.")] = 48,
    json_out: JsonOpt = False,
) -> int:
    from paicli.shot import example as job  # the media libraries load when the shot is written, not for --help

    result = job.example(directory, frames)
    meta = result.summary
    report(result, json_out, lambda: print(f"wrote an example shot to {directory}: plate.mov ({frames} frames, "
                                           f"{meta['fps']} fps, TC {meta['tc']}), refs/, gt/"))
    return 0
