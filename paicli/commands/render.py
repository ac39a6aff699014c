"""``paicli render EDIT_LIST -o OUT``: every shot of an edit list, resumable, farm-ready, conformed."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from paicli.commands.common import InputColorspaceOpt, JsonOpt, PresetOpt, ProgressOpt, report, with_settings
from paicli.commands.tables import aligned, print_table
from paicli.errors import UsageError
from paicli.media.timing import format_rate
from paicli.progress import mode_from
from paicli.render.settings import RENDER
from paicli.settings import resolve

HELP = ("Render every shot of an edit list (EDL, FCP7/FCPX XML, OTIO, AAF): find each shot's media and "
        "reference stills, replace its background over its source range plus handles, and write a timeline "
        "that relinks to the renders with the edit's timing. Finished shots are skipped on a rerun; --shard "
        "splits the list across farm jobs.")


@with_settings(RENDER, ["name_template", "strict", "qc", "handles", "engine", "model", "format", "layers",
                        "seed"], before="lora")
def render(
    edit_list: Annotated[Path, typer.Argument(metavar="EDIT_LIST", help="EDL, FCP7 .xml, .fcpxml, .otio/.otioz or "
                                             ".aaf.", show_default=False, readable=False)],
    output: Annotated[Optional[Path], typer.Option(
        "-o", "--output", help="Output folder, created if missing (default: NAME_renders/ beside the edit list, "
        "NAME being the list's name).", show_default=False, readable=False)] = None,
    bg_map: Annotated[Optional[Path], typer.Option("--bg-map", help="Shot -> reference stills map (TOML, CSV or "
                                                   "JSON).", show_default=False, readable=False)] = None,
    refs_root: Annotated[Optional[Path], typer.Option("--refs-root", help="Folder of refs/<shot>/ folders "
                                                      "(default: refs/ beside the list).", show_default=False,
                                                      readable=False)] = None,
    media_root: Annotated[Optional[List[Path]], typer.Option(
        "--media-root", help="Folder to search for media by clip name, reel and timecode (repeatable).",
        show_default=False, readable=False)] = None,
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
    lora: Annotated[Optional[List[str]], typer.Option("--lora", help="LoRA safetensors for the DiT (repeatable).",
                                                      show_default=False)] = None,
    input_colorspace: InputColorspaceOpt = None,
    preset: PresetOpt = None,
    progress: ProgressOpt = None,
    log_format: Annotated[Optional[str], typer.Option("--log-format", help="Progress lines when stderr is not a "
                                                      "terminal: plain or json (same as --progress).",
                                                      show_default=False)] = None,
    json_out: JsonOpt = False,
    **settings,
) -> int:
    from paicli.render import batch  # the render libraries load when a list is rendered, not for --help

    s = resolve(RENDER, settings, preset=preset)
    if executor not in ("local", "ray"):
        raise UsageError(f"--executor: {executor!r} is not one of local, ray")
    defaulted = output is None
    if defaulted:
        output = batch.default_output(edit_list)
    output = batch.absolute(output)  # once, for every executor and every worker
    plan, result = batch.plan_list(edit_list, s, output=output, bg_map=bg_map, refs_root=refs_root,
                                   media_root=media_root or [], rate=rate, sequence=sequence, shard=shard, force=force)
    result.summary["output_folder"] = str(output)
    blocked = plan.blocked()
    mode = mode_from(progress or log_format)
    if plan_only or (s.strict and blocked):
        report(result, json_out, lambda: _print_plan(plan, into=output))
        if s.strict and blocked and not plan_only:
            batch.refuse_blocked(plan)
        return 0
    if defaulted:
        batch.make_default_output(output)
    loras = tuple(lora or ())
    if shot is not None or frames is not None:
        run = batch.render_one(plan, shot, frames, output, s, result, loras=loras, input_colourspace=input_colorspace,
                               progress=mode)
    else:
        if blocked and not json_out:
            _print_plan(plan, blocked)
        run = batch.render_plan(plan, output, s, result, executor=executor, address=address, workers=workers,
                                loras=loras, input_colourspace=input_colorspace, progress=mode)
    report(result, json_out, lambda: _print_results(run.outcomes, run.timelines, run.why_not, plan.notes))
    if run.code != 0:
        sys.stderr.write(batch.failure_line(run.outcomes))
    return run.code


def _print_plan(plan, only: list | None = None, into: Path | None = None) -> None:
    """The plan as a table: every shot, or ``only`` these (the shots that cannot render).
    Plain aligned columns, never truncated or wrapped, so it reads the same piped to a file
    or a farm log as on a terminal; record and source out are exclusive, as lists write them."""
    rows = plan.shots if only is None else only
    title = ("shots that cannot be rendered" if only is not None else
             f"{plan.edit_list.path.name}: {len(plan.shots)} shots at {format_rate(plan.edit_list.rate)} fps")
    head = ("shot", "record in", "record out", "source in", "source out", "retime", "transitions", "status",
            "version", "media / reason")
    body = [(ps.shot.id, ps.shot.record_tc, ps.shot.record_out_tc, ps.shot.timecode_of(ps.shot.source_in),
             ps.shot.timecode_of(ps.shot.source_out), ps.shot.retime or "-", ", ".join(ps.shot.transitions) or "-",
             ps.status, f"v{ps.version:03d}" if ps.version else "-", ps.reason or str(ps.media.path)) for ps in rows]
    print(title + (f", rendering into {into}" if into is not None else ""))
    print(aligned([head, *body]))
    if only is None:  # a render prints the notes with its results
        for note in plan.notes:
            print(f"note: {note}")


def _print_results(outcomes, timelines, why_not, notes=()) -> None:
    """The outcomes as a table, the timelines written, and the plan's notes (each a decision
    that changed the result: a list rate unlike its media's, a retimed shot, a later version
    taken because the name template gave a shot an earlier shot's name)."""
    print_table("render", ("shot", "version", "status", "seconds", "error"),
                [(o.shot.shot.id, f"v{o.shot.version:03d}" if o.shot.version else "-", o.status, f"{o.seconds:.1f}",
                  o.error or "-") for o in outcomes])
    for t in timelines:
        print(f"wrote timeline: {t['path']} ({t['clips']} clips)")
    for note in notes:
        print(f"note: {note}")
    if why_not:
        print(f"note: {why_not}")
