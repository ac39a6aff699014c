"""``paicli relight-check``: find what a replaced shot was made of, check it, write the reports."""
from __future__ import annotations

from pathlib import Path

from paicli.check.inputs import CheckInputs, resolve_inputs
from paicli.check.runner import check_into, report_names
from paicli.check.settings import limits_from
from paicli.progress import Progress, mode_from
from paicli.result import CommandResult, OutputFile
from paicli.settings import Resolved


def relight_check(result: str, s: Resolved, *, output: Path | None, matte: str | None, plate: str | None,
                  bg: list[str] | None, bg_at: str | None, camera: str | None, frames: str | None,
                  input_colourspace: str | None, plate_colourspace: str | None, dry_run: bool = False,
                  progress: str | None = None) -> tuple[CommandResult, CheckInputs, dict | None]:
    """Check ``result`` (a composite, or a replace/render folder) under resolved settings
    ``s``; returns the command's result, the inputs found and the check's document (None on
    a dry run). The result is ``ok`` unless a metric failed."""
    limits = limits_from(s)
    inputs = resolve_inputs(result, matte=matte, plate=plate, bg=bg, bg_at=bg_at, camera=camera, screen=s.screen,
                            frames=frames, colourspace=input_colourspace, plate_colourspace=plate_colourspace)
    out_dir = output or inputs.folder or Path("out")
    res = CommandResult(command="relight-check", inputs=[inputs.result.to_dict()], settings=s.plain())
    if dry_run:
        for name in report_names(inputs.stem).values():
            res.add_output(OutputFile(kind="report", path=str(out_dir / name)))
        return res, inputs, None
    with Progress(mode_from(progress)) as prog:
        adapt = inputs.adapt if s.to_dict()["adapt"]["source"] == "default" and inputs.adapt is not None else s.adapt
        doc, outputs = check_into(out_dir, inputs, limits, adapt=adapt, settings=s.plain(), progress=prog)
    for o in outputs:
        res.add_output(o)
    res.ok = doc["verdict"] != "fail"
    res.summary = {k: doc[k] for k in ("verdict", "score", "frames", "inputs", "metrics", "details", "notes")}
    return res, inputs, doc
