"""Render the shots of a plan, one after another, so that a killed run loses nothing.

Each shot renders into its own staging folder under ``OUT/.paicli-partial/`` and moves into
place only when every file is complete: its render sidecar (``<stem>_render.json``, the
shot's key, inputs, settings, engine and outputs) goes in last and is what marks the shot
finished. Where the name template gives every version its own folder, the staging folder
is renamed whole (one atomic step). A rerun skips finished shots whose key still matches,
and restarts an unfinished one from scratch.

A shot that fails is reported and the others go on; the run's exit code says whether any
failed and whether retrying may help (75) or not.

Every shot (or chunk) renders under its lock (:mod:`paicli.render.lock`,
``.paicli-partial/<id>_v<NNN>.lock``), taken before its staging folder is touched: a shot
another live process holds is left to it (status ``busy``, 75: a rerun finds it finished),
and a shot that another run finished while this one was planning is not rendered again (its
key matches) or not replaced (it does not: 75, a rerun takes the next version). Nothing
moves into place over a source of the run (:mod:`paicli.sources`).
"""
from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from paicli import __version__
from paicli.check.inputs import resolve_inputs
from paicli.check.runner import check_into
from paicli.check.settings import SCHEMA as CHECK_SETTINGS
from paicli.check.settings import limits_from
from paicli.errors import (ExitCode, OutputError, PaicliError, TemporaryFailure, UsageError, debugging,
                           from_environment)
from paicli.media import atomic
from paicli.progress import Progress
from paicli.render import lock
from paicli.render.plan import RENDER_SIDECAR, Plan, ShotPlan, finished
from paicli.render.report import thumb_strip
from paicli.result import CommandResult, OutputFile
from paicli.settings import resolve
from paicli.shot import replace as replace_job
from paicli.sources import SOURCES

PARTIAL = ".paicli-partial"


class ShotBusy(TemporaryFailure):
    """Another live process holds the shot's lock: it is rendering the shot (75)."""


class FinishedMeanwhile(TemporaryFailure):
    """Another run finished this version of the shot, with another key, after this run planned it (75)."""


@dataclass
class ShotOutcome:
    shot: ShotPlan
    status: str  # rendered, skipped (done), failed, not-renderable, busy (left to the process rendering it)
    seconds: float = 0.0
    error: str | None = None
    code: int = 0
    outputs: list = field(default_factory=list)  # OutputFile

    def to_dict(self) -> dict:
        return {"shot": self.shot.shot.id, "status": self.status, "version": self.shot.version,
                "seconds": round(self.seconds, 2), "error": self.error, "exit_code": self.code,
                "outputs": [o.path for o in self.outputs]}


def _render_into(ps: ShotPlan, staging: Path, settings, loras: tuple, input_colourspace: str | None, progress,
                 first: int = 0, count: int | None = None, first_frame: int | None = None):
    """Run the replace engine on media frames ``first``.. (``count`` of them; default the
    whole planned range) of ``ps`` into a fresh ``staging`` folder; returns its CommandResult.
    ``first_frame`` renumbers the output sequence (a chunk continues the shot's numbering)."""
    if staging.exists():
        shutil.rmtree(staging)  # left by a killed run: this part starts again
    staging.mkdir(parents=True)
    job = replace_job.prepare(settings, ps.refs, loras)
    if first_frame is not None and job.outputs.first_frame != "source":
        job.outputs.first_frame = first_frame
    info = ps.media.info
    result = CommandResult(command="render")
    result.summary = replace_job.replace_shot(info, staging, job, stem=ps.stem, start=ps.start + first,
                                              count=count or ps.count, input_colourspace=input_colourspace,
                                              bg=ps.refs, bg_at=None, bg_colourspace=None, progress=progress,
                                              result=result)
    decisions = replace_job.decision_lines(result.summary, settings.keep_lighting)
    for line in decisions:  # each decision that changed the shot: on the log, and with its comp in --json
        progress.log(f"{ps.shot.id}: {line}")
    for o in result.outputs:
        if o.kind == "comp":
            o.extra["decisions"] = decisions
    return result


def _write_sidecar(path: Path, ps: ShotPlan, outputs: list, **extra) -> None:
    """The render sidecar that marks ``ps`` finished."""
    sidecar = {"schema": "paicli.render.1", "key": ps.key, "paicli": __version__,
               "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "shot": ps.to_dict(),
               "outputs": [o.to_dict() for o in outputs], **extra}
    atomic.write_text(path, json.dumps(sidecar, indent=1, default=str) + "\n")


def render_shot(ps: ShotPlan, out_root: Path, settings, *, loras: tuple, input_colourspace: str | None,
                progress) -> list:
    """Render one planned shot into place; returns its outputs (OutputFile, final paths)."""
    staging = staging_folder(out_root, ps)
    shot_folder(out_root, ps)  # before any work
    try:
        return _finish_shot(ps, out_root, staging, settings, loras, input_colourspace, progress)
    except BaseException:  # a failure or a stop signal: the shot gives its space back (a full disk)
        shutil.rmtree(staging, ignore_errors=True)  # (under the shot's lock: no one else writes it)
        raise


def staging_folder(out_root: Path, ps: ShotPlan, chunk: str = "") -> Path:
    """``OUT/.paicli-partial/<id>_v<NNN>[_<chunk>]``, where ``ps`` (or its frames ``chunk``,
    ``A-B``) is rendered before it moves into place; refused (73) where ``.paicli-partial`` is
    a symlink or leads outside ``out_root``: staging is deleted and rewritten, so it must be ours."""
    partial = out_root / PARTIAL
    root = out_root.resolve()
    if partial.is_symlink() or (partial.exists() and root not in partial.resolve().parents):
        raise OutputError(f"refusing to stage renders in {partial}: it is a symlink or leads outside {out_root}")
    return partial / (f"{ps.shot.id}_v{ps.version:03d}" + (f"_{chunk}" if chunk else ""))


def lock_path(staging: Path) -> Path:
    """The lock file of the staging folder ``staging``: beside it, ``<name>.lock``."""
    return staging.with_name(staging.name + ".lock")


@contextlib.contextmanager
def shot_lock(out_root: Path, ps: ShotPlan, chunk: str = ""):
    """Hold the lock of ``ps`` (or of its frames ``chunk``) while the block runs; yields the
    staging folder. :class:`ShotBusy` (75) naming the holder when another process holds it."""
    staging = staging_folder(out_root, ps, chunk)
    held = lock.try_lock(lock_path(staging), shot=ps.shot.id)
    if isinstance(held, lock.Busy):
        raise ShotBusy(f"left to {held}, which is rendering it")
    with held:
        yield staging


def shot_folder(out_root: Path, ps: ShotPlan) -> Path:
    """Where ``ps``'s files go, checked to stay inside ``out_root`` even where a folder on the
    way is a symlink (an edit list's names are sanitised when planned; this refuses a link
    planted in the output folder)."""
    final = out_root / ps.folder if ps.folder else out_root
    root = out_root.resolve()
    real = final.resolve()
    if real != root and root not in real.parents:
        raise OutputError(f"refusing to write {ps.shot.id} through a symlink that leads outside {out_root}: {final}")
    return final


def _finish_shot(ps: ShotPlan, out_root: Path, staging: Path, settings, loras: tuple, input_colourspace, progress):
    result = _render_into(ps, staging, settings, loras, input_colourspace, progress)
    info = ps.media.info
    comp = next(o for o in result.outputs if o.kind == "comp")
    strip = thumb_strip(info.pattern or info.path, info, ps.media.start, comp.path, ps.media.start - ps.start,
                        ps.media.count)
    if strip is not None:
        with atomic.atomic_output(staging / f"{ps.stem}_thumbs.jpg") as tmp:
            Path(tmp).write_bytes(strip)
        result.add_output(OutputFile(kind="report", path=str(staging / f"{ps.stem}_thumbs.jpg"), format="jpeg",
                                     extra={"content": "source above, result below: first, middle, last frame"}))
    if settings.qc:
        for o in _quality_check(staging, settings, progress):
            result.add_output(o)
    final = shot_folder(out_root, ps)
    outputs = list(result.outputs)
    for o in outputs:
        o.path = str(final / Path(o.path).name)
        o.extra["shot"] = ps.shot.id
    _retarget_sidecar(staging, final)
    side_path = staging / f"{ps.stem}{RENDER_SIDECAR}"
    _write_sidecar(side_path, ps, outputs)
    _refuse_finished_meanwhile(out_root, ps)
    _move_into_place(staging, final, side_path.name, whole=ps.own_folder)
    return outputs + [OutputFile(kind="sidecar", path=str(final / side_path.name), format="json",
                                 extra={"shot": ps.shot.id, "render": True})]


def _quality_check(staging: Path, settings, progress) -> list:
    """``relight-check`` on the shot just rendered into ``staging`` (limits from presets/qc.toml,
    the run's preset and project file): ``<stem>_qc.html`` and ``.json`` beside the render.
    A check that cannot run leaves a note instead of failing the render."""
    try:
        s = resolve(CHECK_SETTINGS, {}, preset=settings.plain().get("preset"))
        inputs = resolve_inputs(str(staging), screen=s.screen)
        _, outputs = check_into(staging, inputs, limits_from(s), adapt=settings.adapt, settings=s.plain(),
                                progress=progress)
    except PaicliError as e:
        progress.log(f"quality check skipped: {e.message}")
        return []
    return outputs


def _retarget_sidecar(staging: Path, final: Path) -> None:
    """The replace sidecar and the quality report name files where they will be, not where
    they were written (each file rewritten whole, temp then rename)."""
    as_json = lambda p: json.dumps(str(p))[1:-1]  # noqa: E731
    as_html = lambda p: html.escape(str(p))  # noqa: E731
    for pattern, escape in (("*_replace.json", as_json), ("*_qc.json", as_json), ("*_qc.html", as_html)):
        for p in staging.glob(pattern):
            atomic.write_text(p, p.read_text(encoding="utf-8").replace(escape(staging), escape(final)))


def _refuse_finished_meanwhile(out_root: Path, ps: ShotPlan) -> None:
    """:class:`FinishedMeanwhile` when another run finished ``ps``'s version with another key
    after this run planned it (another list or settings into the same folder): never replaced."""
    side = finished(out_root, ps.folder, ps.stem)
    if side is not None and side.get("key") != ps.key:
        raise FinishedMeanwhile(f"v{ps.version:03d} ({ps.stem}) was finished by another run meanwhile, with other "
                                "inputs or settings; it is kept, and a rerun renders this shot as the next version")


def refuse_moves_over_sources(final: Path, names) -> None:
    """:class:`OutputError` (73) when moving ``names`` into ``final`` would replace a source of the run."""
    SOURCES.refuse([final / name for name in names], "", "nothing was moved into place")


def _move_into_place(staging: Path, final: Path, sidecar: str, whole: bool) -> None:
    try:
        if whole and not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, final)  # a folder that did not exist holds no source
            return
        final.mkdir(parents=True, exist_ok=True)
        names = sorted(p.name for p in staging.iterdir())
        refuse_moves_over_sources(final, names)
        for name in names:
            if name != sidecar:
                os.replace(staging / name, final / name)
        os.replace(staging / sidecar, final / sidecar)  # last: the shot is finished
        with contextlib.suppress(FileNotFoundError):  # a run that found it finished took the folder
            staging.rmdir()
    except OSError as e:
        raise OutputError(f"cannot move the render into {final}: {e.strerror or e}") from None


def run_plan(plan: Plan, out_root: Path, settings, *, loras: tuple = (), input_colourspace: str | None = None,
             progress=None, on_shot=None) -> list[ShotOutcome]:
    """Render this shard's ready shots; every shot gets an outcome, failures included."""
    outcomes = []
    mine = plan.mine()
    bar = progress.task("shots", total=len(mine), unit="shots") if progress is not None else contextlib.nullcontext()
    try:
        with bar as shots_task:
            for n, ps in enumerate(mine, 1):
                outcomes.append(shot_outcome(ps, f"{n}/{len(mine)}", out_root, settings, loras, input_colourspace,
                                             progress))
                if shots_task is not None:
                    shots_task.advance()
                if on_shot is not None:
                    on_shot(outcomes[-1])
    finally:  # a stop signal too
        tidy_partial(out_root)
    return outcomes


def shot_outcome(ps: ShotPlan, label: str, out_root: Path, settings, loras, input_colourspace, progress) -> ShotOutcome:
    """One shot's outcome: skipped, not renderable, busy, rendered or failed (never raises for
    a failure a shot can have, so the others go on). A ready shot renders under its lock, and
    not at all when another run finished it meanwhile (see the module notes)."""
    if ps.status == "done":
        _drop_stale_staging(out_root, ps)
        return ShotOutcome(ps, "skipped")
    if ps.status != "ready":
        return ShotOutcome(ps, "not-renderable", error=ps.reason, code=int(ExitCode.NOINPUT))
    t0 = time.perf_counter()
    try:
        with shot_lock(out_root, ps):
            side = finished(out_root, ps.folder, ps.stem)
            if side is not None and side.get("key") == ps.key:  # finished by another run since this one planned
                return ShotOutcome(ps, "skipped")
            _refuse_finished_meanwhile(out_root, ps)
            if progress is not None:
                progress.log(f"shot {label}: {ps.shot.id} v{ps.version:03d} ({ps.count} frames)")
            outputs = render_shot(ps, out_root, settings, loras=loras, input_colourspace=input_colourspace,
                                  progress=progress)
        return ShotOutcome(ps, "rendered", time.perf_counter() - t0, outputs=outputs)
    except ShotBusy as e:
        return ShotOutcome(ps, "busy", 0.0, str(e), int(e.exit_code))
    except PaicliError as e:
        return ShotOutcome(ps, "failed", time.perf_counter() - t0, str(e), int(e.exit_code))
    except Exception as e:  # the machine (full disk, out of memory), else a bug: this shot only
        if debugging():
            raise
        known = from_environment(e)
        if known is None and isinstance(e, OSError):
            known = OutputError(f"{e.filename}: {e.strerror or e}" if e.filename else f"{e.strerror or e}")
        if known is None:  # the others may still render overnight; exit 70 says a bug stopped this one
            why = f"internal error: {type(e).__name__}: {e} (set PAICLI_DEBUG=1 for a traceback)"
            return ShotOutcome(ps, "failed", time.perf_counter() - t0, why, int(ExitCode.SOFTWARE))
        return ShotOutcome(ps, "failed", time.perf_counter() - t0, known.message, int(known.exit_code))


def _drop_stale_staging(out_root: Path, ps: ShotPlan) -> None:
    """A finished shot's staging folder (or lock file) can only be left by a run killed
    between moving the shot into place and tidying up: remove it, under the shot's lock, and
    leave it where another live process holds the lock."""
    try:
        staging = staging_folder(out_root, ps)
    except PaicliError:
        return  # a planted symlink: the next shot that needs staging refuses it
    if not (staging.exists() or staging.is_symlink() or lock_path(staging).exists()):
        return
    try:
        with shot_lock(out_root, ps):
            if staging.is_dir() and not staging.is_symlink():
                shutil.rmtree(staging, ignore_errors=True)
    except PaicliError:
        return  # busy, or a lock that cannot be taken: nothing is removed


def tidy_partial(out_root: Path) -> None:
    """Remove ``OUT/.paicli-partial`` when it is empty (a concurrent shard may be using it)."""
    try:
        (out_root / PARTIAL).rmdir()
    except OSError:
        pass


def exit_code(outcomes: list[ShotOutcome]) -> int:
    """0 when no shot failed or was left to another process; 75 when every failure may pass
    on a retry (a shot left to another process is one); else the first fatal failure's code."""
    failed = [o for o in outcomes if o.status in ("failed", "busy")]
    if not failed:
        return 0
    fatal = [o for o in failed if o.code != int(ExitCode.TEMPFAIL)]
    return fatal[0].code if fatal else int(ExitCode.TEMPFAIL)


def render_chunk(ps: ShotPlan, out_root: Path, settings, first: int, last: int, *, loras: tuple = (),
                 input_colourspace: str | None = None, progress=None) -> tuple[list, bool]:
    """Render output frames ``first``..``last`` (the shot's EXR numbering) of one shot, for a
    farm that splits a long shot; returns (outputs, whether the shot is now finished).

    Each chunk renders into its own staging folder and moves its frames into the shot's
    folder, then leaves ``<stem>_chunk.<first>-<last>.json``; when the chunks cover the
    shot, the render sidecar is written and the shot counts as finished. Every chunk tracks
    its own camera (pinned to the references where they anchor inside it)."""
    if settings.format != "exr":
        raise UsageError("--frames renders part of a shot's EXR sequence: use --format exr")
    info = ps.media.info
    seq_first = info.first_frame if info.kind == "sequence" else 0
    base = seq_first + ps.start if settings.first_frame == "source" else int(settings.first_frame)
    if not base <= first <= last < base + ps.count:
        raise UsageError(f"--frames {first}-{last} is outside {ps.shot.id}'s frames {base}-{base + ps.count - 1}")
    with shot_lock(out_root, ps, f"{first}-{last}") as staging:
        shot_folder(out_root, ps)  # before any work
        try:
            result = _render_into(ps, staging, settings, loras, input_colourspace, progress, first=first - base,
                                  count=last - first + 1, first_frame=first)
        except BaseException:  # a failure or a stop signal
            shutil.rmtree(staging, ignore_errors=True)  # a failed chunk gives its space back
            raise
        final = shot_folder(out_root, ps)
        final.mkdir(parents=True, exist_ok=True)
        tag = f"{first}-{last}"
        _retarget_sidecar(staging, final)
        moves = []
        for p in sorted(staging.iterdir()):
            frame = "_comp." in p.name or "_layers." in p.name  # frames keep their names: the sequence grows
            moves.append((p, p.name if frame else p.name.replace(ps.stem, f"{ps.stem}_chunk.{tag}", 1)))
        refuse_moves_over_sources(final, [name for _, name in moves])
        for p, name in moves:
            os.replace(p, final / name)
        staging.rmdir()
        marker = final / f"{ps.stem}_chunk.{tag}.json"
        atomic.write_text(marker, json.dumps({"schema": "paicli.render-chunk.1", "key": ps.key,
                                              "frames": [first, last], "paicli": __version__}, indent=1) + "\n")
    outputs = [OutputFile(kind="comp", path=str(final / Path(o.path).name), frames=(first, last), rate=info.rate,
                          format=o.format, extra={"shot": ps.shot.id, "chunk": tag})
               for o in result.outputs if o.kind == "comp"]
    outputs.append(OutputFile(kind="sidecar", path=str(marker), format="json", extra={"shot": ps.shot.id}))
    covered = set()
    for m in final.glob(f"{ps.stem}_chunk.*.json"):
        try:
            doc = json.loads(m.read_text())
        except (OSError, ValueError):
            continue
        if doc.get("key") == ps.key:
            covered.update(range(doc["frames"][0], doc["frames"][1] + 1))
    if not covered >= set(range(base, base + ps.count)):
        return outputs, False
    start_tc = info.start_timecode + ps.start if info.start_timecode else None
    comp = OutputFile(kind="comp", path=str(final / f"{ps.stem}_comp.####.exr"),
                      frames=(base, base + ps.count - 1), rate=info.rate, format=outputs[0].format,
                      timecode=(start_tc, start_tc + (ps.count - 1)) if start_tc else None,
                      extra={"shot": ps.shot.id, "chunks": True})
    _write_sidecar(final / f"{ps.stem}{RENDER_SIDECAR}", ps, [comp],
                   chunks=sorted(m.name for m in final.glob(f"{ps.stem}_chunk.*.json")))
    if settings.qc:  # the whole shot, now that its chunks cover it
        with contextlib.nullcontext(progress) if progress is not None else Progress("none") as prog:
            outputs += _quality_check(final, settings, prog)
    return outputs + [comp], True
