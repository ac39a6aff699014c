"""``paicli example DIR``: write a small synthetic green-screen shot to try paicli on."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paicli.commands.common import JsonOpt, report
from paicli.result import CommandResult, OutputFile

HELP = ("Write a small synthetic green-screen shot (ProRes HQ plate with timecode, background reference stills, "
        "ground-truth alpha) into DIR, for trying paicli without footage.")


def example(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to write the example shot into (created if missing).")],
    frames: Annotated[int, typer.Option("--frames", min=2, max=2000, help="Length of the shot in frames.")] = 48,
    json_out: JsonOpt = False,
) -> int:
    from paicli.shot.example import make_example_shot
    from paicli.media.timing import Timecode, parse_rate
    from paicli.paths import safe_output_path

    plate = safe_output_path(directory, "plate.mov")
    meta = make_example_shot(directory, frames=frames)
    rate = parse_rate(meta["fps"])
    tc = Timecode.parse(meta["tc"], rate)
    result = CommandResult(command="example", summary=meta)
    result.add_output(OutputFile(kind="media", path=str(plate), frames=(0, frames - 1), timecode=(tc, tc + frames - 1),
                                 rate=rate, format="prores_hq"))
    for a in meta["refs_at"]:
        result.add_output(OutputFile(kind="media", path=str(directory / "refs" / f"ref.{a:04d}.png"), frames=(a, a)))
    result.add_output(OutputFile(kind="matte", path=str(directory / "gt" / "alpha.####.png"), frames=(0, frames - 1)))
    result.add_output(OutputFile(kind="sidecar", path=str(directory / "meta.json")))
    report(result, json_out, lambda: print(f"wrote an example shot to {directory}: plate.mov ({frames} frames, "
                                           f"{meta['fps']} fps, TC {meta['tc']}), refs/, gt/"))
    return 0
