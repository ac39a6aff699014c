"""``paicli render``: plan an edit list's shots, render this shard's (here or on Ray), conform
the timelines and write the report; the outcome decides the exit code."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from paicli.errors import BadDataError, MissingInputError, PaicliError, UsageError
from paicli.media.atomic import sweep_stale_temps
from paicli.media.colourspace import canonical
from paicli.progress import Progress, mode_from
from paicli.render.conform import conform
from paicli.render.plan import Plan, check_template, make_plan
from paicli.render.report import write_report
from paicli.render.run import ShotOutcome, exit_code, render_chunk, run_plan, shot_outcome
from paicli.render.settings import NOT_IN_KEY
from paicli.render.shard import parse_shard, shard_from_env
from paicli.result import CommandResult, OutputFile
from paicli.settings import Resolved
from paicli.timeline.read import read_edit_list

@dataclass
class RenderRun:
    """How a run ended: its exit code, each shot's outcome, the conformed timelines written
    and why none were (else None)."""

    code: int
    outcomes: list
    timelines: list
    why_not: str | None


def plan_list(edit_list: Path, s: Resolved, *, output: Path, bg_map: Path | None, refs_root: Path | None,
              media_root: list[Path], rate: str | None, sequence: str | None, shard: str | None,
              force: bool) -> tuple[Plan, CommandResult]:
    """The plan of ``edit_list`` under resolved settings ``s`` (this shard's shots marked), and
    the command's result holding it; blocked shots are warnings."""
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
    blocked = plan.blocked()
    result.warnings += plan.notes + [f"{ps.shot.id}: {ps.status}: {ps.reason}" for ps in blocked]
    return plan, result


def refuse_blocked(plan: Plan) -> None:
    """``--strict``: a plan with a shot that cannot render is bad data."""
    blocked = plan.blocked()
    if blocked:
        raise BadDataError(f"{len(blocked)} shot(s) cannot be rendered (--strict): "
                           + "; ".join(f"{ps.shot.id}: {ps.reason}" for ps in blocked[:3]))


def _start(output: Path, input_colourspace: str | None) -> str | None:
    """The output folder made and swept of what a killed run was writing at its top (report,
    timelines); returns the shots' colour space, canonical (None: from their tags)."""
    colourspace = canonical(input_colourspace) if input_colourspace else None  # a bad name: nothing made
    output.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(output)
    return colourspace


def render_plan(plan: Plan, output: Path, s: Resolved, result: CommandResult, *, executor: str = "local",
                address: str | None = None, workers: int | None = None, loras: tuple = (),
                input_colourspace: str | None = None, progress: str | None = None) -> RenderRun:
    """Render this shard's shots of ``plan`` into ``output`` (``executor`` local or ray),
    conform and report."""
    colourspace = _start(output, input_colourspace)
    with Progress(mode_from(progress)) as prog:
        if executor == "ray":
            from paicli.render.ray_executor import run_on_ray  # Ray is an extra: imported only when asked for

            outcomes = run_on_ray(plan, output, s, address=address, workers=workers, loras=loras,
                                  input_colourspace=colourspace, progress=prog)
        else:
            outcomes = run_plan(plan, output, s, loras=loras, input_colourspace=colourspace, progress=prog)
    return finish(plan, output, outcomes, result)


def render_one(plan: Plan, shot_id: str | None, frames: str | None, output: Path, s: Resolved,
               result: CommandResult, *, loras: tuple = (), input_colourspace: str | None = None,
               progress: str | None = None) -> RenderRun:
    """``--shot ID [--frames A-B]``: one shot, or a chunk of it."""
    if shot_id is None:
        raise UsageError("--frames needs --shot ID (which shot to render part of)")
    found = [ps for ps in plan.shots if ps.shot.id == shot_id]
    if not found:
        raise UsageError(f"--shot {shot_id}: no such shot (ids: {', '.join(p.shot.id for p in plan.shots[:5])}"
                         f"{' ...' if len(plan.shots) > 5 else ''})")
    ps = found[0]
    colourspace = _start(output, input_colourspace)
    with Progress(mode_from(progress)) as prog:
        if frames is None or ps.status != "ready":
            outcome = shot_outcome(ps, "1/1", output, s, loras, colourspace, prog)
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
    return finish(plan, output, [outcome], result)


def finish(plan: Plan, output: Path, outcomes: list, result: CommandResult) -> RenderRun:
    """Outputs, conform, report.html, warnings (into ``result``) and the exit code of a run."""
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
    return RenderRun(code, outcomes, timelines, why_not)


def failure_line(outcomes: list) -> str:
    """The one stderr line of a run that did not succeed (the table says which shots)."""
    bad = [o for o in outcomes if o.status in ("failed", "not-renderable")]
    first = f"; first: {bad[0].shot.shot.id}: {bad[0].error}" if bad else ""
    return f"paicli: error: {len(bad)} of {len(outcomes)} shot(s) not rendered{first}\n"
