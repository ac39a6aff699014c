"""``paicli relight-check RESULT``: does the foreground sit in the new background?

Lighting, edges, motion and identity, each as a number and a verdict against the limits
in ``presets/qc.toml``; an overall score 0-100; exit 0 when nothing fails, 1 when
something does; a self-contained HTML report and a JSON document beside it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from paicli.commands.common import (DryRunOpt, FramesOpt, InputColorspaceOpt, JsonOpt, PresetOpt, ProgressOpt, print_settings,
                                    progress_mode, report, setting_option)
from paicli.errors import ExitCode, UsageError
from paicli.result import CommandResult
from paicli.settings import Schema, Setting, builtin_presets_dir, load_toml, parse_float, parse_str, resolve

HELP = ("Check a replaced shot before anyone watches it: light colour, exposure, zones and light direction of the "
        "foreground against its new background; screen spill, halos and matte chatter at the edges; background "
        "motion against the camera and foreground flicker; the subject against the source plate. Each figure "
        "gets pass/warn/fail against the limits in presets/qc.toml, the shot an overall score 0-100 and exit "
        "code 0 (pass or warn) or 1 (fail); writes <stem>_qc.html and <stem>_qc.json.")

SCHEMA_NAME = "relight-check"


def _limit_value(v):
    if v is None or str(v).strip().lower() in ("none", ""):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        raise UsageError(f"a limit is a number or 'none', not {v!r}") from None


def _schema() -> Schema:
    from engine.qc.verdict import METRICS

    defaults = load_toml(builtin_presets_dir() / "qc.toml", "preset").get(SCHEMA_NAME, {})
    settings = [
        Setting("screen", "auto", "Screen colour whose spill to look for: auto (from the render, else the plate), "
                "green or blue.", parse_str, ("auto", "green", "blue")),
        Setting("adapt", 0.0, "How far the subject's light should take the background's colour (0: neutral), as "
                "replace's --adapt.", parse_float(0.0, 1.0)),
    ]
    for m in METRICS:
        for edge in ("warn", "fail"):
            name = f"{m.name}_{edge}"
            settings.append(Setting(name, _limit_value(defaults.get(name)),
                                    f"{m.label}: {edge} {'below' if m.lower_is_worse else 'above'} this "
                                    f"({m.unit or 'ratio'}; 'none' = never).", _limit_value))
    return Schema(SCHEMA_NAME, settings)


SCHEMA = _schema()


def limits_from(s) -> dict:
    """Name -> :class:`engine.qc.verdict.Limit` from resolved settings."""
    from engine.qc.verdict import METRICS, Limit

    out = {}
    for m in METRICS:
        warn, fail = getattr(s, f"{m.name}_warn"), getattr(s, f"{m.name}_fail")
        if warn is None:
            raise UsageError(f"{m.name}_warn cannot be 'none': every metric needs a warn limit")
        if fail is not None and (fail > warn if m.lower_is_worse else fail < warn):
            raise UsageError(f"{m.name}: the fail limit {fail} is on the wrong side of the warn limit {warn}")
        out[m.name] = Limit(warn, fail)
    return out


def _limits_option(values: list[str] | None) -> dict:
    """``--limit NAME=WARN[,FAIL]`` into settings."""
    from engine.qc.verdict import BY_NAME

    out = {}
    for item in values or []:
        name, sep, rest = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in BY_NAME:
            raise UsageError(f"--limit: expected NAME=WARN[,FAIL] with NAME one of {', '.join(BY_NAME)}; got {item!r}")
        parts = [p.strip() for p in rest.split(",")]
        if len(parts) > 2 or not parts[0]:
            raise UsageError(f"--limit {item!r}: give WARN or WARN,FAIL")
        for part in parts:
            try:
                _limit_value(part)
            except UsageError as e:
                raise UsageError(f"--limit {item!r}: {e.message}") from None
        out[f"{name}_warn"] = parts[0]
        if len(parts) == 2:
            out[f"{name}_fail"] = parts[1]
    return out


def relight_check(
    result: Annotated[str, typer.Argument(metavar="RESULT", help="A composite (movie or image sequence), or a "
                                          "replace/render output folder holding its _replace.json sidecar.",
                                          show_default=False)],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Folder for the report (default: the "
                                                   "result's render folder, else ./out).", show_default=False)] = None,
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
    screen: setting_option(SCHEMA, "screen", "--screen") = None,
    adapt: setting_option(SCHEMA, "adapt", "--adapt", float) = None,
    limit: Annotated[Optional[List[str]], typer.Option("--limit", help="Override a limit: NAME=WARN[,FAIL], e.g. "
                                                       "spill=0.03,0.08 (repeatable).", show_default=False)] = None,
    preset: PresetOpt = None,
    progress: ProgressOpt = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> int:
    from paicli.progress import Progress
    from paicli.check.inputs import resolve_inputs
    from paicli.check.runner import check_into, report_names

    s = resolve(SCHEMA, {"screen": screen, "adapt": adapt, **_limits_option(limit)}, preset=preset)
    limits = limits_from(s)
    inputs = resolve_inputs(result, matte=matte, plate=plate, bg=bg, bg_at=bg_at, camera=camera, screen=s.screen,
                            frames=frames, colourspace=input_colorspace,
                            plate_colourspace=plate_colorspace)
    out_dir = output or inputs.folder or Path("out")
    res = CommandResult(command="relight-check", inputs=[inputs.result.to_dict()], settings=s.plain())
    if dry_run:
        from paicli.result import OutputFile

        for name in report_names(inputs.stem).values():
            res.add_output(OutputFile(kind="report", path=str(out_dir / name)))
        print_settings(res, s, json_out)
        return 0
    with Progress(progress_mode(progress, json_out)) as prog:
        adapt = inputs.adapt if s.to_dict()["adapt"]["source"] == "default" and inputs.adapt is not None else s.adapt
        doc, outputs = check_into(out_dir, inputs, limits, adapt=adapt, settings=s.plain(), progress=prog)
    for o in outputs:
        res.add_output(o)
    res.ok = doc["verdict"] != "fail"
    res.summary = {k: doc[k] for k in ("verdict", "score", "frames", "inputs", "metrics", "details", "notes")}

    def human() -> None:
        from rich.console import Console
        from rich.table import Table

        colour = {"pass": "green", "warn": "yellow", "fail": "red", "n/a": "dim"}
        table = Table(title=f"relight-check {inputs.stem}: {doc['verdict']} (score {doc['score']})",
                      title_justify="left")
        for col in ("metric", "value", "unit", "warn", "fail", "verdict"):
            table.add_column(col)
        for name, m in doc["metrics"].items():
            val = "-" if m["value"] is None else f"{m['value']:.4g}"
            table.add_row(m["label"], val, m["unit"], f"{m['warn']:g}", "-" if m["fail"] is None else f"{m['fail']:g}",
                          f"[{colour[m['verdict']]}]{m['verdict']}[/]")
        Console().print(table)
        for n in doc["notes"]:
            print(f"note: {n}")
        for o in outputs:
            print(f"wrote report: {o.path}")

    report(res, json_out, human)
    return int(ExitCode.FAILED) if doc["verdict"] == "fail" else 0
