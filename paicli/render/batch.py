"""``paicli render``: plan an edit list's shots, render this shard's (here or on Ray), conform
the timelines and write the report; the outcome decides the exit code.

Paths are made absolute once, when the list is planned (the output folder, media roots, the
bg map and refs root), so every executor, and every Ray worker whatever its working folder,
names the same files the same way. Every input of the plan is registered as a source
(:mod:`paicli.sources`) and a plan whose outputs would replace one is refused before any
work. A run holds its output folder (:func:`paicli.render.lock.folder_lock`): exclusively when
it renders the whole list, shared when it renders part of it (a shard, ``--shot``).
"""
from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from paicli.errors import BadDataError, MissingInputError, OutputError, PaicliError, UsageError
from paicli.media.atomic import sweep_stale_temps
from paicli.media.colourspace import canonical
from paicli.paths import sanitize_name
from paicli.progress import Progress, mode_from
from paicli.render.conform import conform
from paicli.render.lock import folder_lock
from paicli.render.plan import Plan, check_template, make_plan
from paicli.render.report import write_report
from paicli.render.run import ShotBusy, ShotOutcome, exit_code, render_chunk, run_plan, shot_outcome, tidy_partial
from paicli.render.settings import NOT_IN_KEY
from paicli.render.shard import parse_shard, shard_from_env
from paicli.result import CommandResult, OutputFile
from paicli.settings import Resolved
from paicli.sources import SOURCES
from paicli.timeline.read import read_edit_list


_RENDER_ELSEWHERE = "render into another folder (-o) or change --name-template"  # how to avoid a source


def absolute(path: Path | None) -> Path | None:
    """``path`` made absolute against the working folder, symlinks kept as the user named them
    (a share's mount path stays the path other machines know it by)."""
    return None if path is None else Path(os.path.abspath(path))


@dataclass
class RenderRun:
    """How a run ended: its exit code, each shot's outcome, the conformed timelines written
    and why none were (else None)."""

    code: int
    outcomes: list
    timelines: list
    why_not: str | None


def default_output(edit_list: Path) -> Path:
    """Where a list renders without ``-o``: ``NAME_renders/`` beside it, ``NAME`` its file
    name less the extension (``cut.v2.edl``: ``cut.v2_renders``): one folder per list,
    whatever the working directory, so a rerun finds the shots it finished."""
    return edit_list.parent / f"{sanitize_name(edit_list.stem)}_renders"


def make_default_output(output: Path) -> None:
    """Make the default output folder (:func:`default_output`) before any work: where it
    cannot be made (a read-only volume), one line that says to give ``-o``."""
    try:
        output.mkdir(exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {output}, the output folder beside the edit list ({e.strerror or e}): "
                          "give one with -o") from None


def plan_list(edit_list: Path, s: Resolved, *, output: Path, bg_map: Path | None, refs_root: Path | None,
              media_root: list[Path], rate: str | None, sequence: str | None, shard: str | None,
              force: bool) -> tuple[Plan, CommandResult]:
    """The plan of ``edit_list`` under resolved settings ``s`` (this shard's shots marked), and
    the command's result holding it; blocked shots are warnings. ``output`` and the other
    folders are made absolute first (:func:`absolute`): pass the same to the render. Refused
    (73) when a planned output would replace one of the plan's inputs (:func:`refuse_sources`)."""
    template = check_template(s.name_template)
    output, bg_map, refs_root = absolute(output), absolute(bg_map), absolute(refs_root)
    if shard:
        slice_, shard_from = parse_shard(shard), "--shard"
    else:
        found = shard_from_env(os.environ)
        slice_, shard_from = found if found else ((0, 1), None)
    el = read_edit_list(edit_list, rate=rate, sequence=sequence)
    settings = {k: v for k, v in s.plain().items() if k not in NOT_IN_KEY}
    roots = [absolute(Path(r)) for r in (media_root or [])]
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
    SOURCES.add(edit_list, bg_map)
    register_sources(plan)
    refuse_sources(plan, output)
    return plan, result


def register_sources(plan: Plan) -> None:
    """Every shot's media and reference stills (files and folders) become sources of the run."""
    for ps in plan.shots:
        info = getattr(ps.media, "info", None)
        if info is not None:
            SOURCES.add_media(info)
        elif getattr(ps.media, "path", None):
            SOURCES.add(ps.media.path)
        SOURCES.add(*ps.refs)


def refuse_sources(plan: Plan, output: Path) -> None:
    """:class:`~paicli.errors.OutputError` (73), before any work, when a shot of the plan that
    will render would write over a source: any existing file of its final folder named
    ``<stem>_...`` (every output of a shot is), compared case-insensitively; likewise the
    run's report and conformed timelines in ``output``."""
    folders: dict[Path, list[str]] = {}
    for ps in plan.shots:
        if ps.status != "ready":
            continue
        final = output / ps.folder if ps.folder else output
        if final not in folders:
            try:
                folders[final] = sorted(os.listdir(final))
            except OSError:  # not there yet (or not a folder: the render says so)
                folders[final] = []
        prefix = f"{ps.stem}_".casefold()
        SOURCES.refuse([final / n for n in folders[final] if n.casefold().startswith(prefix)],
                       f"{ps.shot.id}'s output", _RENDER_ELSEWHERE)
    try:
        top = sorted(os.listdir(output))
    except OSError:
        return
    conformed = f"{Path(plan.edit_list.path).stem}_conform.".casefold()
    run_files = [n for n in top if n.casefold() == "report.html" or n.casefold().startswith(conformed)]
    SOURCES.refuse([output / n for n in run_files], "run's report or timeline", _RENDER_ELSEWHERE)


def refuse_blocked(plan: Plan) -> None:
    """``--strict``: a plan with a shot that cannot render is bad data."""
    blocked = plan.blocked()
    if blocked:
        raise BadDataError(f"{len(blocked)} shot(s) cannot be rendered (--strict): "
                           + "; ".join(f"{ps.shot.id}: {ps.reason}" for ps in blocked[:3]))


def _start(output: Path, input_colourspace: str | None, plan: Plan, result: CommandResult, *, part: bool):
    """The output folder made, held (:func:`folder_lock`: shared when this run renders only
    ``part`` of the list) and swept of what a killed run was writing at its top (report,
    timelines); returns (the shots' colour space, canonical (None: from their tags), the lock)."""
    colourspace = canonical(input_colourspace) if input_colourspace else None  # a bad name: nothing made
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the output folder {output}: {e.strerror or e}") from None
    index, count = plan.shard
    held = folder_lock(output, shared=part or count > 1, shard=f"{index + 1}/{count}" if count > 1 else None)
    if held.note:
        result.warnings.append(held.note)
    try:
        sweep_stale_temps(output)
    except BaseException:
        held.release()
        raise
    return colourspace, held


def render_plan(plan: Plan, output: Path, s: Resolved, result: CommandResult, *, executor: str = "local",
                address: str | None = None, workers: int | None = None, loras: tuple = (),
                input_colourspace: str | None = None, progress: str | None = None) -> RenderRun:
    """Render this shard's shots of ``plan`` into ``output`` (``executor`` local or ray),
    conform and report, holding the output folder throughout (see the module notes)."""
    output = absolute(output)
    colourspace, held = _start(output, input_colourspace, plan, result, part=False)
    with held:
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
    """``--shot ID [--frames A-B]``: one shot, or a chunk of it; the output folder is held
    shared, as farm jobs render a list's shots and chunks side by side."""
    if shot_id is None:
        raise UsageError("--frames needs --shot ID (which shot to render part of)")
    found = [ps for ps in plan.shots if ps.shot.id == shot_id]
    if not found:
        raise UsageError(f"--shot {shot_id}: no such shot (ids: {', '.join(p.shot.id for p in plan.shots[:5])}"
                         f"{' ...' if len(plan.shots) > 5 else ''})")
    ps = found[0]
    m = None
    if frames is not None and ps.status == "ready":
        m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", frames)
        if not m or int(m.group(2)) < int(m.group(1)):
            raise UsageError(f"--frames: expected A-B with A <= B (e.g. 1001-1100), got {frames!r}")
    output = absolute(output)
    colourspace, held = _start(output, input_colourspace, plan, result, part=True)
    with held, _tidy(output):
        with Progress(mode_from(progress)) as prog:
            if m is None:
                outcome = shot_outcome(ps, "1/1", output, s, loras, colourspace, prog)
            else:
                try:
                    outputs, complete = render_chunk(ps, output, s, int(m.group(1)), int(m.group(2)), loras=loras,
                                                     input_colourspace=colourspace, progress=prog)
                    outcome = ShotOutcome(ps, "rendered" if complete else "chunk rendered", outputs=outputs)
                except UsageError:
                    raise
                except ShotBusy as e:
                    outcome = ShotOutcome(ps, "busy", error=str(e), code=int(e.exit_code))
                except PaicliError as e:
                    outcome = ShotOutcome(ps, "failed", error=str(e), code=int(e.exit_code))
        return finish(plan, output, [outcome], result)


@contextlib.contextmanager
def _tidy(output: Path):
    """Remove an emptied ``OUT/.paicli-partial`` when the block ends, however it ends."""
    try:
        yield
    finally:
        tidy_partial(output)


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
    bad = [o for o in outcomes if o.status in ("failed", "not-renderable", "busy")]
    first = f"; first: {bad[0].shot.shot.id}: {bad[0].error}" if bad else ""
    return f"paicli: error: {len(bad)} of {len(outcomes)} shot(s) not rendered{first}\n"
