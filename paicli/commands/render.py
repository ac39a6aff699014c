"""``paicli render EDIT_LIST -o OUT``: every shot of an edit list, resumable, farm-ready, conformed."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from paicli.commands import replace as replace_cmd
from paicli.commands.common import InputColorspaceOpt, JsonOpt, PresetOpt, ProgressOpt, progress_mode, report
from paicli.result import CommandResult
from paicli.settings import Schema, Setting, parse_bool, parse_str, resolve

HELP = ("Render every shot of an edit list (EDL, FCP7/FCPX XML, OTIO, AAF): find each shot's media and "
        "reference stills, replace its background over its source range plus handles, and write a timeline "
        "that relinks to the renders with the edit's timing. Finished shots are skipped on a rerun; --shard "
        "splits the list across farm jobs.")

SCHEMA = Schema("render", list(replace_cmd.SCHEMA) + [
    Setting("name_template", "{shot}/v{version}/{shot}_v{version}", "Output names: tokens {shot} {clip} {reel} "
            "{index} {version}, optional trailing .####; folders are created under the output folder.", parse_str),
    Setting("qc", True, "Check every rendered shot with relight-check and link its report (<stem>_qc.html) "
            "from report.html; its verdict never fails the render.", parse_bool),
    Setting("strict", False, "Fail the plan when any shot has no media or no references (default: skip them "
            "with a warning).", parse_bool),
], inherits=("replace",))


NOT_IN_KEY = ("name_template", "strict", "qc")  # settings that do not change a shot's pictures


def _opt(name: str, flag: str, type_=str):
    from paicli.commands.common import setting_option

    return setting_option(SCHEMA, name, flag, type_)


def render(
    edit_list: Annotated[Path, typer.Argument(metavar="EDIT_LIST", help="EDL, FCP7 .xml, .fcpxml, .otio/.otioz or "
                                             ".aaf.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder (created if missing).")] = Path(
        "renders"),
    bg_map: Annotated[Optional[Path], typer.Option("--bg-map", help="Shot -> reference stills map (TOML, CSV or "
                                                   "JSON).", show_default=False)] = None,
    refs_root: Annotated[Optional[Path], typer.Option("--refs-root", help="Folder of refs/<shot>/ folders "
                                                      "(default: refs/ beside the list).", show_default=False)] = None,
    media_root: Annotated[Optional[List[Path]], typer.Option(
        "--media-root", help="Folder to search for media by clip name, reel and timecode (repeatable).",
        show_default=False)] = None,
    rate: Annotated[Optional[str], typer.Option("--rate", help="The list's frame rate (EDL; default: inferred "
                                                "from its timecodes, else 24).", show_default=False)] = None,
    sequence: Annotated[Optional[str], typer.Option("--sequence", help="Which sequence of a file that holds "
                                                    "several.", show_default=False)] = None,
    shard: Annotated[Optional[str], typer.Option("--shard", help="Render slice I of N (1-based), e.g. 3/8; "
                                                 "default from SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, "
                                                 "CUE_IFRAME ... with PAICLI_SHARD_COUNT.", show_default=False)] = None,
    shot: Annotated[Optional[str], typer.Option("--shot", help="Render only this shot (its id, e.g. 003_A001C004).",
                                                show_default=False)] = None,
    frames: Annotated[Optional[str], typer.Option("--frames", help="With --shot: render output frames A-B of it "
                                                  "(EXR numbering, e.g. 1001-1100), a chunk of a long shot; the shot "
                                                  "is finished when its chunks cover it.", show_default=False)] = None,
    plan_only: Annotated[bool, typer.Option("--plan-only", help="Print the plan (shots, media, references, "
                                            "outputs, versions) and render nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Render finished shots again, as a new version.")] = False,
    executor: Annotated[str, typer.Option("--executor", help="local (one shot after another here) or ray (spread "
                                          "over a Ray cluster: the 'ray' extra).")] = "local",
    address: Annotated[Optional[str], typer.Option("--address", help="Ray cluster address (ray://host:10001, "
                                                   "auto; default: a new local instance).",
                                                   show_default=False)] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Ray workers (default: one per GPU "
                                                   "for the DiT, one per CPU for the classic engine).",
                                                   show_default=False)] = None,
    name_template: _opt("name_template", "--name-template") = None,
    strict: _opt("strict", "--strict/--no-strict", bool) = None,
    qc: _opt("qc", "--qc/--no-qc", bool) = None,
    handles: _opt("handles", "--handles", int) = None,
    engine: _opt("engine", "--engine") = None,
    model: _opt("model", "--model") = None,
    format: _opt("format", "--format") = None,
    layers: _opt("layers", "--layers/--no-layers", bool) = None,
    seed: _opt("seed", "--seed", int) = None,
    lora: Annotated[Optional[List[str]], typer.Option("--lora", help="LoRA safetensors for the DiT (repeatable).",
                                                      show_default=False)] = None,
    input_colorspace: InputColorspaceOpt = None,
    preset: PresetOpt = None,
    progress: ProgressOpt = None,
    log_format: Annotated[Optional[str], typer.Option("--log-format", help="Progress lines when stderr is not a "
                                                      "terminal: plain or json (same as --progress).",
                                                      show_default=False)] = None,
    json_out: JsonOpt = False,
) -> int:
    from paicli.render.plan import check_template, make_plan
    from paicli.render.run import run_plan
    from paicli.render.shard import parse_shard, shard_from_env
    from paicli.errors import MissingInputError
    from paicli.media.atomic import sweep_stale_temps
    from paicli.media.colourspace import canonical
    from paicli.progress import Progress
    from paicli.timeline.read import read_edit_list

    cli = {k: v for k, v in locals().items() if k in SCHEMA}
    s = resolve(SCHEMA, cli, preset=preset)
    if executor not in ("local", "ray"):
        from paicli.errors import UsageError

        raise UsageError(f"--executor: {executor!r} is not one of local, ray")
    template = check_template(s.name_template)
    if shard:
        slice_, shard_from = parse_shard(shard), "--shard"
    else:
        found = shard_from_env(os.environ)
        slice_, shard_from = found if found else ((0, 1), None)
    el = read_edit_list(edit_list, rate=rate, sequence=sequence)
    settings = {k: v for k, v in s.plain().items() if k not in NOT_IN_KEY}
    roots = [Path(r) for r in (media_root or [])]
    for r in roots:
        if not r.is_dir():
            raise MissingInputError(f"no such --media-root folder: {r}")
    plan = make_plan(el, output, template=template, handles=s.handles, settings=settings, engine=s.engine,
                     media_roots=roots, bg_map=bg_map, refs_root=refs_root, shard=slice_, force=force)
    result = CommandResult(command="render", inputs=[{"path": str(edit_list), "format": el.format}],
                           settings=s.plain())
    result.summary = plan.to_dict()
    if shard_from:
        result.summary["shard"]["from"] = shard_from
    blocked = [ps for ps in plan.shots if ps.status in ("unresolved", "no-refs")]
    result.warnings += plan.notes + [f"{ps.shot.id}: {ps.status}: {ps.reason}" for ps in blocked]
    mode = progress_mode(progress or log_format, json_out)
    if plan_only or (s.strict and blocked):
        report(result, json_out, lambda: _print_plan(plan))
        if s.strict and blocked and not plan_only:
            from paicli.errors import BadDataError

            raise BadDataError(f"{len(blocked)} shot(s) cannot be rendered (--strict): "
                               + "; ".join(f"{ps.shot.id}: {ps.reason}" for ps in blocked[:3]))
        return 0
    if shot is not None or frames is not None:
        return _render_one(plan, shot, frames, output, s, tuple(lora or ()), input_colorspace, mode, result, json_out)
    if blocked and not json_out:
        _print_plan(plan, only_blocked=True)
    output.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(output)  # report, timelines: what a killed run was writing at the top
    with Progress(mode) as prog:
        colourspace = canonical(input_colorspace) if input_colorspace else None
        if executor == "ray":
            from paicli.render.ray_executor import run_on_ray

            outcomes = run_on_ray(plan, output, s, address=address, workers=workers, loras=tuple(lora or ()),
                                  input_colourspace=colourspace, progress=prog)
        else:
            outcomes = run_plan(plan, output, s, loras=tuple(lora or ()), input_colourspace=colourspace,
                                progress=prog)
    return _finish(plan, output, outcomes, result, json_out)


def _render_one(plan, shot_id, frames, output, s, loras, input_colorspace, mode, result, json_out) -> int:
    """``--shot ID [--frames A-B]``: one shot, or a chunk of it."""
    import re

    from paicli.render.run import ShotOutcome, _one, render_chunk
    from paicli.errors import PaicliError, UsageError
    from paicli.media.atomic import sweep_stale_temps
    from paicli.media.colourspace import canonical
    from paicli.progress import Progress

    if shot_id is None:
        raise UsageError("--frames needs --shot ID (which shot to render part of)")
    found = [ps for ps in plan.shots if ps.shot.id == shot_id]
    if not found:
        raise UsageError(f"--shot {shot_id}: no such shot (ids: {', '.join(p.shot.id for p in plan.shots[:5])}"
                         f"{' ...' if len(plan.shots) > 5 else ''})")
    ps = found[0]
    colourspace = canonical(input_colorspace) if input_colorspace else None
    output.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(output)
    with Progress(mode) as prog:
        if frames is None or ps.status != "ready":
            outcome = _one(ps, "1/1", output, s, loras, colourspace, prog)
        else:
            m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", frames)
            if not m or int(m.group(2)) < int(m.group(1)):
                raise UsageError(f"--frames: expected A-B with A <= B (e.g. 1001-1100), got {frames!r}")
            try:
                outputs, complete = render_chunk(ps, output, s, int(m.group(1)), int(m.group(2)), loras=loras,
                                                 input_colourspace=colourspace, progress=prog)
                outcome = ShotOutcome(ps, "rendered" if complete else "chunk rendered", outputs=outputs)
            except UsageError:
                raise
            except PaicliError as e:
                outcome = ShotOutcome(ps, "failed", error=str(e), code=int(e.exit_code))
    return _finish(plan, output, [outcome], result, json_out)


def _finish(plan, output: Path, outcomes: list, result: CommandResult, json_out: bool) -> int:
    """Outputs, conform, report.html, warnings, the printed result and the exit code of a run."""
    from paicli.render.conform import conform
    from paicli.render.report import write_report
    from paicli.render.run import exit_code
    from paicli.result import OutputFile

    for o in outcomes:
        for out in o.outputs:
            result.add_output(out)
    timelines, why_not = conform(plan, output)
    result.add_output(OutputFile(kind="report", path=str(write_report(plan, output, outcomes)), format="html"))
    for t in timelines:
        result.add_output(OutputFile(kind="timeline", path=t["path"], format=t["format"], extra={"clips": t["clips"]}))
    if why_not:
        result.warnings.append(why_not)
    result.summary["results"] = [o.to_dict() for o in outcomes]
    result.warnings += [f"{o.shot.shot.id} failed: {o.error}" for o in outcomes if o.status == "failed"]
    code = exit_code(outcomes)
    if code == 0 and outcomes and not any(o.status in ("rendered", "chunk rendered", "skipped") for o in outcomes):
        code = int(outcomes[0].code or 66)  # nothing could be rendered at all
        result.warnings.append("no shot could be rendered")
    result.ok = code == 0
    report(result, json_out, lambda: _print_results(outcomes, timelines, why_not))
    if code != 0:  # the table says which shots; stderr says in one line that the run did not succeed
        bad = [o for o in outcomes if o.status in ("failed", "not-renderable")]
        first = f"; first: {bad[0].shot.shot.id}: {bad[0].error}" if bad else ""
        sys.stderr.write(f"paicli: error: {len(bad)} of {len(outcomes)} shot(s) not rendered{first}\n")
    return code


def _print_plan(plan, only_blocked: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = [ps for ps in plan.shots if not only_blocked or ps.status in ("unresolved", "no-refs")]
    table = Table(title="shots that cannot be rendered" if only_blocked else
                  f"{plan.edit_list.path.name}: {len(plan.shots)} shots at {plan.edit_list.rate} fps",
                  title_justify="left")
    for col in ("shot", "record", "source", "status", "media / reason", "version"):
        table.add_column(col)
    for ps in rows:
        table.add_row(ps.shot.id, ps.shot.record_tc, ps.shot.source_tc, ps.status,
                      ps.reason or str(ps.media.path), f"v{ps.version:03d}" if ps.version else "-")
    Console(file=sys.stdout).print(table)
    for note in plan.notes:
        print(f"note: {note}")


def _print_results(outcomes, timelines, why_not) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="render", title_justify="left")
    for col in ("shot", "version", "status", "seconds", "error"):
        table.add_column(col)
    for o in outcomes:
        table.add_row(o.shot.shot.id, f"v{o.shot.version:03d}" if o.shot.version else "-", o.status,
                      f"{o.seconds:.1f}", o.error or "")
    Console(file=sys.stdout).print(table)
    for t in timelines:
        print(f"wrote timeline: {t['path']} ({t['clips']} clips)")
    if why_not:
        print(f"note: {why_not}")
