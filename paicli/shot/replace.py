"""Replace a shot's background: references and media in, composite, layers, camera and sidecar out.

The engine (built by :mod:`paicli.engines` from the settings, whichever it is) sees arrays
only; this module finds and loads the references, reads the shot (twice: the engine analyses
it, then renders it), writes every output atomically into the output folder and reports
each file.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.interface import EngineInputError, Reference
from engine.key.keyer import KeyParams
from paicli import __version__, engines
from paicli.errors import BadDataError
from paicli.media import atomic, nonfinite
from paicli.media.colourspace import canonical
from paicli.media.frame_range import source_range
from paicli.media.probe import MediaInfo, probe
from paicli.media.reader import open_source
from paicli.media.sequence import SequencePattern
from paicli.media.writers import OutputSpec, Writer
from paicli.paths import safe_output_path, sanitize_name
from paicli.progress import Progress, mode_from
from paicli.result import CommandResult, OutputFile
from paicli.settings import Resolved, params_from
from paicli.shot import earlier as earlier_outputs
from paicli.shot.camera_files import read_camera_json, write_camera_json, write_nuke_cornerpin
from paicli.shot.key import enclosed_screen_note, picked_screen_colour
from paicli.shot.references import find_references, load_references
from paicli.shot.settings import CAMERA_MODES
from paicli.sources import SOURCES


@dataclass
class ReplaceOutputs:
    """``format``: prores (``prores_profile``, HQ by default) or exr; ``layers``: also a
    multi-layer EXR sequence (comp, relit foreground, background, alpha)."""

    format: str = "prores"
    prores_profile: str = "hq"
    exr_compression: str = "zip"
    first_frame: int | str = 1001
    layers: bool = False


def output_names(stem: str, outputs: ReplaceOutputs, camera: bool = True) -> dict[str, tuple[str, str]]:
    """Output role -> (result kind, file name). One place names them, for runs and dry runs.
    ``camera``: the engine tracks a camera (the classic one does, the DiT one does not)."""
    names = {"comp": ("comp", f"{stem}_comp" + (".mov" if outputs.format == "prores" else ".####.exr"))}
    if outputs.layers:
        names["layers"] = ("layers", f"{stem}_layers.####.exr")
    if camera:
        names["camera"] = ("camera", f"{stem}_camera.json")
        names["cornerpin"] = ("camera", f"{stem}_cornerpin.nk")
    names["sidecar"] = ("sidecar", f"{stem}_replace.json")
    return names


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def source_digest(info: MediaInfo) -> str:
    """The shot's content hash: the file, or every frame file of a sequence in order."""
    if not info.pattern:
        return file_digest(Path(info.path))
    pat = SequencePattern.parse(info.pattern)
    h = hashlib.sha256()
    for n in range(info.first_frame, info.first_frame + info.frame_count):
        p = pat.path(n)
        if p.is_file():
            h.update(p.name.encode() + file_digest(p).encode())
    return "sha256:" + h.hexdigest()


def _supplied_track(path: str, info: MediaInfo, start: int, count: int) -> list[np.ndarray]:
    """A camera file for the whole shot or for exactly the processed range, re-based so its
    frame 0 is the range's first frame."""
    track = read_camera_json(path, width=info.width, height=info.height)
    if len(track) == info.frame_count and len(track) != count:
        base = np.linalg.inv(track[start])
        return [base @ m for m in track[start:start + count]]
    if len(track) != count:
        raise BadDataError(f"{path}: the track has {len(track)} frames, the shot has {info.frame_count}"
                           + (f" and the range {count}" if count != info.frame_count else ""))
    return track


@dataclass
class ReplaceJob:
    """What a replace needs from its settings, checked before any media is read: the engine's
    loader, the outputs, a supplied camera file (else None) and the settings to record."""

    engine: engines.EngineLoader
    outputs: ReplaceOutputs
    camera_file: str | None
    settings: dict
    key: KeyParams  # the engine's keyer settings; the picked screen colour goes in once the shot is known
    picked_colour: tuple[float, float, float] | None = None  # --screen-colour, in the shot's own encoding


def prepare(s: Resolved, bg: list[str], loras: tuple = ()) -> ReplaceJob:
    """The job for resolved settings ``s`` (of replace or render) and references ``bg``."""
    key = params_from(s, "key", KeyParams)
    loader = engines.prepare(s, key_params=key, references=tuple(bg), loras=loras)
    outs = ReplaceOutputs(format=s.format, prores_profile=s.prores_profile, exr_compression=s.exr_compression,
                          first_frame=s.first_frame, layers=s.layers)
    return ReplaceJob(loader, outs, None if s.camera in CAMERA_MODES else s.camera, s.plain(), key, s.screen_colour)


def replace_shot(info: MediaInfo, out_dir: Path, job: ReplaceJob, *, stem: str, start: int, count: int,
                 input_colourspace: str | None, bg: list[str], bg_at: str | None, bg_colourspace: str | None,
                 progress: Progress, result: CommandResult) -> dict:
    """Run the job's engine on media frames ``start``.. (``count`` of them, 0-based) of
    ``info`` and write every output; returns the run's summary."""
    outputs, camera_file = job.outputs, job.camera_file
    job.key.screen_colour = picked_screen_colour(job.picked_colour, job.key.screen, info, input_colourspace)
    job.key.chroma_subsampling = info.chroma_subsampling
    nonfinite.reset()
    specs = find_references(bg, info.frame_count, bg_at=bg_at, first_frame=info.first_frame)
    refs = load_references(specs, info.width, info.height, colourspace=bg_colourspace)
    engine_refs, notes = [], []
    for r in refs:
        anchor = min(max(r.spec.anchor - start, 0), count - 1)
        if anchor != r.spec.anchor - start:
            notes.append(f"{r.spec.path.name} anchors frame {r.spec.anchor}, outside the range: used at its nearest end")
        engine_refs.append(Reference(r.image, anchor))
    track = _supplied_track(camera_file, info, start, count) if camera_file else None
    names = output_names(stem, outputs, camera=job.engine.tracks_camera)
    paths = {role: safe_output_path(out_dir, name) for role, (_, name) in names.items()}
    start_tc = info.start_timecode + start if info.start_timecode else None

    def open_frames():
        src = open_source(info.path, info=info, colourspace_name=input_colourspace, what="plate")
        try:
            yield from src.frames(start, count)
        finally:
            src.close()

    stages = progress.stages(Path(info.path).name, labels={"analyse": "track", "render": "replace"})
    writers: list[tuple[str, Writer]] = []
    try:
        engine = job.engine.build(camera_path=track, callback=stages)
        atomic.sweep_stale_temps(out_dir)
        comp_spec = OutputSpec(format=outputs.format, prores_profile=outputs.prores_profile,
                               exr_compression=outputs.exr_compression, first_frame=outputs.first_frame,
                               alpha=False)
        writers.append(("comp", Writer(paths["comp"], comp_spec, "comp", info.width, info.height, info.rate,
                                       start_tc, info.reel, source_first_frame=info.first_frame + start)))
        if outputs.layers:
            layer_spec = OutputSpec(format="exr", exr_compression=outputs.exr_compression,
                                    first_frame=outputs.first_frame)
            writers.append(("layers", Writer(paths["layers"], layer_spec, "layers", info.width, info.height,
                                             info.rate, start_tc, info.reel,
                                             source_first_frame=info.first_frame + start)))

        try:
            for layers in engine.replace(open_frames, count, engine_refs, stages):
                for role, w in writers:
                    if role == "comp":
                        w.write(layers.comp)
                    else:
                        w.write({"rgba": layers.comp, "fg": layers.fg, "bg": layers.bg, "alpha": layers.alpha})
        except EngineInputError as e:
            raise BadDataError(f"{info.path}: {e}") from None
    except BaseException:
        for _, w in writers:
            w.abort()
        raise
    finally:
        stages.close()
    for role, w in writers:
        out = w.close()
        out.extra["content"] = ("composite, BT.709" if outputs.format == "prores" else "composite, scene-linear") \
            if role == "comp" else "layers rgba=comp, fg (premultiplied), bg, alpha; scene-linear"
        out.extra["source_range"] = [start, start + count - 1]
        result.add_output(out)

    report = engine.report
    tc_text = str(start_tc) if start_tc else None
    if job.engine.tracks_camera:
        _write_camera(paths, engine.camera(), info, report, start, count, start_tc, tc_text, outputs, result)
    sidecar = {
        "schema": "paicli.replace.1",
        "engine": {"name": engine.name, "version": __version__, **engine.describe()},
        "shot": {"path": str(info.path), "digest": source_digest(info), "range": [start, start + count - 1],
                 "colourspace": input_colourspace,
                 "rate": str(info.rate), "start_timecode": tc_text, "size": [info.width, info.height]},
        "references": [{"path": str(r.spec.path), "digest": file_digest(r.spec.path), "anchor": r.spec.anchor,
                        "anchored_by": r.spec.anchored_by, "fitted": r.fitted,
                        "source_size": list(r.source_size)} for r in refs],
        "camera_file": {"path": camera_file, "digest": file_digest(Path(camera_file))} if camera_file else None,
        "settings": job.settings,
        "report": report,
        "nonfinite_pixels": nonfinite.tally(),
        "notes": notes,
        "outputs": [o.to_dict() for o in result.outputs],
    }
    atomic.write_text(paths["sidecar"], json.dumps(sidecar, indent=1, default=str) + "\n")
    result.add_output(OutputFile(kind="sidecar", path=str(paths["sidecar"]), format="json"))
    summary = {"source_range": [start, start + count - 1], "frames": count, "camera": report.get("camera"),
               "references": report.get("references"), "relight": report.get("relight"),
               "grain_sigma": report.get("grain_sigma"), "timing": report.get("timing"), "notes": notes}
    if report.get("screen_inside_subject"):
        summary["screen_inside_subject"] = report["screen_inside_subject"]
    nonfinite.note(summary, result.warnings)
    if report.get("timing", {}).get("frames"):
        t = report["timing"]
        summary["engine_ms_per_frame"] = round(1000 * (t["analysis_s"] + t["render_s"]) / t["frames"], 1)
    return summary


def _write_camera(paths, camera, info, report, start, count, start_tc, tc_text, outputs, result) -> None:
    """The engine's camera as JSON and as a Nuke corner pin."""
    write_camera_json(paths["camera"], camera, width=info.width, height=info.height, rate=info.rate,
                      start_timecode=tc_text, first_frame=start, quality=report.get("camera"))
    first_number = result.outputs[0].frames[0] if outputs.format == "exr" else int(outputs.first_frame) \
        if str(outputs.first_frame).isdigit() else 1001
    write_nuke_cornerpin(paths["cornerpin"], camera, width=info.width, height=info.height,
                         first_frame=first_number)
    tc_range = (start_tc, start_tc + (count - 1)) if start_tc else None
    for role in ("camera", "cornerpin"):
        result.add_output(OutputFile(kind="camera", path=str(paths[role]), frames=(start, start + count - 1),
                                     timecode=tc_range, rate=info.rate,
                                     format="paicli.camera.1" if role == "camera" else "nuke_cornerpin2d"))


def name_family(stem: str) -> list[str]:
    """Every file name a replace of ``stem`` can leave in its folder (each format, with and
    without layers and camera) and the reports written about its comp (``relight-check``)."""
    names = set()
    for fmt in ("prores", "exr"):
        outs = ReplaceOutputs(format=fmt, layers=True)
        names.update(fname for _, fname in output_names(stem, outs, camera=True).values())
    return sorted(names | set(earlier_outputs.qc_report_names(stem).values()))


def replace(shot: str, bg: list[str], s: Resolved, *, output: Path | None, name: str | None, bg_at: str | None,
            bg_colourspace: str | None, frames: str | None, input_colourspace: str | None, loras: tuple = (),
            force: bool = False, dry_run: bool = False, progress: str | None = None) -> CommandResult:
    """``paicli replace``: ``shot`` (a movie or sequence) with the references ``bg`` under
    resolved settings ``s``, into ``output`` (None: ``paicli/`` beside the shot); an earlier
    run's results there are refused unless ``force``; with ``dry_run`` only what would be
    written."""
    job = prepare(s, bg, loras)
    info = probe(shot)
    defaulted, output = output is None, earlier_outputs.default_output(info) if output is None else output
    result = CommandResult(command="replace", inputs=[info.to_dict()], settings=s.plain())
    stem = sanitize_name(name or Path(info.pattern or info.path).name.split(".")[0])
    start, count = source_range(info, frames, s.handles)
    result.summary = {"source_range": [start, start + count - 1], "frames": count, "output_folder": str(output)}
    SOURCES.add_media(info)
    SOURCES.add(*bg, job.camera_file)
    SOURCES.refuse([output / fname for _, fname in output_names(stem, job.outputs,
                                                                 camera=job.engine.tracks_camera).values()])
    if dry_run:
        result.summary.update(earlier_outputs.preview(output, name_family(stem), force))
        specs = find_references(bg, info.frame_count, bg_at=bg_at, first_frame=info.first_frame)
        result.summary["references"] = [{"path": str(r.path), "anchor": r.anchor, "anchored_by": r.anchored_by}
                                        for r in specs]
        for kind, fname in output_names(stem, job.outputs, camera=job.engine.tracks_camera).values():
            result.add_output(OutputFile(kind=kind, path=str(output / fname)))
        return result
    with earlier_outputs.replacing(output, name_family(stem), force=force, stem=stem, default=defaulted) as earlier, \
            Progress(mode_from(progress)) as prog:
        summary = replace_shot(info, output, job, stem=stem, start=start, count=count,
                               input_colourspace=canonical(input_colourspace) if input_colourspace else None,
                               bg=bg, bg_at=bg_at, bg_colourspace=bg_colourspace, progress=prog, result=result)
        result.summary.update(summary)
    result.summary["removed_earlier"] = earlier.removed
    return result


def decision_lines(summary: dict, keep_lighting: bool = False) -> list[str]:
    """One line per decision of a replace that changed its result (camera, relighting,
    references placed, screen kept inside the subject, an earlier run's files removed)."""
    lines = []
    if summary.get("camera") is not None:
        lines.append(tracking_line(summary))
    relight = summary.get("relight") or {}
    gains = relight.get("gains")
    if gains:
        text = f"relight gains r,g,b: {gains[0]:.3f}, {gains[1]:.3f}, {gains[2]:.3f}"
        if keep_lighting:
            text = "relight: none (--keep-lighting)"
        elif relight.get("why"):
            text += f"; white balance {'kept' if relight.get('confidence', 0) == 0 else 'partly corrected'}: " \
                    f"{relight['why']}"
        lines.append(text)
    lines += [f"note: {n}" for n in summary.get("notes", [])]
    note = enclosed_screen_note(summary.get("screen_inside_subject"))
    if note:
        lines.append(note)
    removed = earlier_outputs.removed_line(summary.get("removed_earlier"))
    if removed:
        lines.append(removed)
    return lines


def tracking_line(summary: dict) -> str:
    """One line on the camera a replace used (from its summary)."""
    c = summary.get("camera") or {}
    mode = c.get("mode", "?")
    if mode == "tracked":
        line = (f"camera: tracked, {c.get('mean_inliers')} screen points per frame, residual "
                f"{c.get('mean_residual_px')} px, {c.get('failed_frames', 0)} frames lost")
        if c.get("pinned_to_references"):
            line += f"; pinned to the references (they disagreed by up to {max(c['reference_disagreement_px']):.2f} px)"
        elif c.get("not_pinned_because"):
            line += f"; {c['not_pinned_because']}"
        return line
    return f"camera: {mode}" + (f" ({c['why']})" if c.get("why") else "")
