"""``paicli relight-check RESULT``: does the foreground sit in the new background?

Lighting, edges, motion and identity, each as a number and a verdict against the limits
in ``presets/qc.toml``; an overall score 0-100; exit 0 when nothing fails, 1 when
something does; a self-contained HTML report and a JSON document beside it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from paicli.check.settings import SCHEMA, limits_option
from paicli.commands.common import (DryRunOpt, FramesOpt, InputColorspaceOpt, JsonOpt, PresetOpt, ProgressOpt, print_settings,
                                    report, with_settings)
from paicli.errors import ExitCode
from paicli.settings import resolve

HELP = ("Check a replaced shot before anyone watches it: light colour, exposure, zones and light direction of the "
        "foreground against its new background; screen spill, halos and matte chatter at the edges; background "
        "motion against the camera and foreground flicker; the subject against the source plate. Each figure "
        "gets pass/warn/fail against the limits in presets/qc.toml, the shot an overall score 0-100 and exit "
        "code 0 (pass or warn) or 1 (fail); writes <stem>_qc.html and <stem>_qc.json.")


@with_settings(SCHEMA, ["screen", "adapt"], before="limit")
def relight_check(
    result: Annotated[str, typer.Argument(metavar="RESULT", help="A composite (movie or image sequence), or a "
                                          "replace/render output folder holding its _replace.json sidecar.",
                                          show_default=False)],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Folder for the report (default: the "
                                                   "result's render folder, else ./out).", show_default=False,
                                                   readable=False)] = None,
    matte: Annotated[Optional[str], typer.Option("--matte", help="The matte: still, movie or sequence (alpha, "
                                                 "or luminance). Default: the render's layers, the result's alpha, "
                                                 "or the plate keyed.", show_default=False)] = None,
    plate: Annotated[Optional[str], typer.Option("--plate", help="The source screen plate (default: from the "
                                                 "sidecar).", show_default=False)] = None,
    bg: Annotated[Optional[List[str]], typer.Option("--bg", help="Reference stills (folder or files) the "
                                                    "background should show at their anchor frames.",
                                                    show_default=False)] = None,
    bg_at: Annotated[Optional[str], typer.Option("--bg-at", help="Anchor frames of the --bg stills.",
                                                 show_default=False)] = None,
    camera: Annotated[Optional[str], typer.Option("--camera", help="Camera track JSON (frame_to_frame0); default: "
                                                  "the render's, else solved from the plate.",
                                                  show_default=False)] = None,
    frames: FramesOpt = None,
    input_colorspace: InputColorspaceOpt = None,
    plate_colorspace: Annotated[Optional[str], typer.Option("--plate-colorspace", help="Colour space of the plate "
                                                            "(default: as the render read it, else from its tags).",
                                                            show_default=False)] = None,
    limit: Annotated[Optional[List[str]], typer.Option("--limit", help="Override a limit: NAME=WARN[,FAIL], e.g. "
                                                       "spill=0.03,0.08 (repeatable).", show_default=False)] = None,
    preset: PresetOpt = None,
    progress: ProgressOpt = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
    **settings,
) -> int:
    from paicli.check import run as job  # the checks' libraries load when a shot is checked, not for --help

    s = resolve(SCHEMA, {**settings, **limits_option(limit)}, preset=preset)
    res, inputs, doc = job.relight_check(result, s, output=output, matte=matte, plate=plate, bg=bg, bg_at=bg_at,
                                         camera=camera, frames=frames, input_colourspace=input_colorspace,
                                         plate_colourspace=plate_colorspace, dry_run=dry_run,
                                         progress=progress)
    if dry_run:
        print_settings(res, s, json_out)
        return 0

    def human() -> None:
        from paicli.commands.tables import print_table

        rows = [(m["label"], "-" if m["value"] is None else f"{m['value']:.4g}", m["unit"], f"{m['warn']:g}",
                 "-" if m["fail"] is None else f"{m['fail']:g}", m["verdict"]) for m in doc["metrics"].values()]
        print_table(f"relight-check {inputs.stem}: {doc['verdict']} (score {doc['score']})",
                    ("metric", "value", "unit", "warn", "fail", "verdict"), rows)
        for n in doc["notes"]:
            print(f"note: {n}")
        for o in res.outputs:
            print(f"wrote report: {o.path}")

    report(res, json_out, human)
    return int(ExitCode.FAILED) if doc["verdict"] == "fail" else 0
