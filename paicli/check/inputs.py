"""What ``relight-check`` looks at: the result, its matte, the source plate, the camera and
the reference stills, found from options or from the sidecar a ``replace``/``render`` wrote.

``RESULT`` may be a composite (movie or image sequence) or a folder holding one
``<stem>_replace.json`` sidecar. A composite named like a replace output
(``<stem>_comp.mov``, ``<stem>_comp.####.exr``) finds its sidecar beside it. Options always
win over what the sidecar says. Paths a sidecar records are looked for beside it first, so a
render folder that was copied or moved checks its own files.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paicli.errors import BadDataError, MissingInputError, UsageError
from paicli.media.frame_range import source_range
from paicli.media.probe import MediaInfo, probe
from paicli.paths import sanitize_name
from paicli.shot.camera_files import read_camera_json
from paicli.shot.references import find_references

SIDECAR_SUFFIX = "_replace.json"
CHUNK_TAG = "_chunk."  # render --frames names its chunks' sidecars <stem>_chunk.A-B_replace.json


@dataclass
class CheckInputs:
    """Everything resolved, frame indices 0-based in each file. ``plate_start``: the plate
    frame under result frame ``start``. ``camera``: one frame-t -> frame-0 homography per
    checked frame (None: solve from the plate, or unchecked). ``references``: (checked frame
    index, path) pairs. ``matte``: ``("file", path)`` (a matte, or a layers EXR whose alpha is
    read), ``("alpha", None)`` (the result's own alpha) or ``("key", None)`` (key the plate).
    ``notes``: what the check should say about its inputs."""

    result: MediaInfo
    start: int
    count: int
    stem: str
    matte: tuple[str, str | None]
    plate: MediaInfo | None = None
    plate_start: int = 0
    plate_colourspace: str | None = None  # None: from the plate's tags
    camera: list[np.ndarray] | None = None
    camera_from: str = "none"
    references: list[tuple[int, Path]] = field(default_factory=list)
    screen: str = "auto"
    adapt: float | None = None  # the render's relighting target (replace --adapt), if a sidecar says
    colourspace: str | None = None  # of the result, when its tags do not say (None: from its tags)
    sidecar: Path | None = None
    folder: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def first_number(self) -> int:
        """The result's frame number of the first checked frame (file numbers for sequences)."""
        return self.result.first_frame + self.start


def _sidecar_in(folder: Path) -> Path:
    found = sorted(folder.glob("*" + SIDECAR_SUFFIX))
    whole = [p for p in found if CHUNK_TAG not in p.name]
    if not found:
        raise MissingInputError(f"{folder}: no {SIDECAR_SUFFIX} sidecar here; name the composite instead")
    if len(whole) > 1:
        raise UsageError(f"{folder} holds several results ({', '.join(p.name for p in whole)}); name one composite")
    return whole[0] if whole else found[0]  # a shot rendered in chunks: its first chunk's sidecar


def _sidecar_beside(result: Path) -> Path | None:
    name = result.name
    if "_comp" not in name:
        return None
    candidate = result.parent / (name[:name.rindex("_comp")] + SIDECAR_SUFFIX)
    return candidate if candidate.is_file() else None


def _read_sidecar(path: Path) -> dict:
    """The sidecar, its fields checked: a malformed one is bad data (65), never a crash."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BadDataError(f"{path}: not a replace sidecar ({e})") from None
    if not isinstance(doc, dict) or doc.get("schema") != "paicli.replace.1":
        raise BadDataError(f"{path}: not a paicli.replace.1 sidecar")
    shot = doc.get("shot") or {}
    problems = []
    if not isinstance(shot, dict) or not isinstance(shot.get("path", ""), str):
        problems.append("shot")
    elif shot.get("range") is not None and not (isinstance(shot["range"], list) and len(shot["range"]) == 2
                                                and all(isinstance(v, int) for v in shot["range"])):
        problems.append("shot.range")
    if not isinstance(doc.get("outputs", []), list) or not all(isinstance(o, dict) for o in doc.get("outputs", [])):
        problems.append("outputs")
    refs = doc.get("references") or []
    if not isinstance(refs, list) or not all(isinstance(r, dict) and isinstance(r.get("anchor"), int)
                                             and isinstance(r.get("path"), str) for r in refs):
        problems.append("references")
    if not isinstance(doc.get("settings") or {}, dict):
        problems.append("settings")
    if problems:
        raise BadDataError(f"{path}: malformed sidecar ({', '.join(problems)})")
    return doc


def _output(doc: dict, kind: str, fmt: str | None = None) -> str | None:
    for o in doc.get("outputs", []):
        if o.get("kind") == kind and (fmt is None or o.get("format") == fmt):
            value = o.get("path") or o.get("sequence")
            return value if isinstance(value, str) else None
    return None


def _resolve(path: str, base: Path) -> str:
    """A path a sidecar recorded: the file of that name beside the sidecar when it is there
    (the folder may have been copied or moved), else the recorded path."""
    here = base / Path(path).name
    if here.exists() or ("#" in here.name and any(base.glob(here.name.replace("#", "?")))):
        return str(here)
    return path


def _timecode_offset(result: MediaInfo, plate: MediaInfo) -> int:
    """The plate frame under the result's first frame: by timecode where both have one at the
    same rate, else 0 (frame for frame)."""
    if result.start_timecode is None or plate.start_timecode is None or result.rate != plate.rate:
        return 0
    offset = result.start_timecode.frames - plate.start_timecode.frames
    if offset < 0:
        raise BadDataError(f"the result starts at {result.start_timecode}, before the plate {plate.path} "
                           f"({plate.start_timecode})")
    return offset


def resolve_inputs(result: str, *, matte: str | None = None, plate: str | None = None, bg: list[str] | None = None,
                   bg_at: str | None = None, camera: str | None = None, screen: str = "auto",
                   frames: str | None = None, colourspace: str | None = None,
                   plate_colourspace: str | None = None) -> CheckInputs:
    """Find every input; raises 66 for missing files, 65 for ones that do not fit the result."""
    rpath = Path(result)
    sidecar = None
    doc: dict = {}
    if rpath.is_dir():
        sidecar = _sidecar_in(rpath)
    elif rpath.exists() or "#" in result or "%" in result:
        sidecar = _sidecar_beside(rpath)
    else:
        raise MissingInputError(f"no such result: {result}")
    chunked = sidecar is not None and CHUNK_TAG in sidecar.name
    if sidecar is not None:
        doc = _read_sidecar(sidecar)
        if rpath.is_dir():
            comp = _output(doc, "comp")
            if comp is None:
                raise BadDataError(f"{sidecar}: names no comp output")
            result = _resolve(comp, sidecar.parent)
    info = probe(result)
    start, count = source_range(info, frames, 0)
    stem = (sidecar.name[:-len(SIDECAR_SUFFIX)] if sidecar else Path(info.pattern or info.path).name.split(".")[0])
    stem = sanitize_name(stem.split(CHUNK_TAG)[0])
    found = CheckInputs(result=info, start=start, count=count, stem=stem, matte=("key", None), screen=screen,
                        colourspace=colourspace, sidecar=sidecar, folder=sidecar.parent if sidecar else None)
    found.sources["result"] = "argument" if not rpath.is_dir() else "sidecar"
    shot = doc.get("shot") or {}
    settings = doc.get("settings") or {}
    _find_plate(found, shot, plate, plate_colourspace, sidecar)
    _find_matte(found, doc, matte)
    _find_camera(found, doc, camera, chunked)
    _find_references(found, doc, shot, bg, bg_at)
    if screen == "auto" and settings.get("screen") in ("green", "blue"):
        found.screen = settings["screen"]
    if isinstance(settings.get("adapt"), (int, float)) and not isinstance(settings.get("adapt"), bool):
        found.adapt = float(settings["adapt"])
    return found


def _find_plate(found: CheckInputs, shot: dict, plate: str | None, colourspace: str | None,
                sidecar: Path | None) -> None:
    info, src = found.result, found.sources
    if plate:
        found.plate, src["plate"] = probe(plate), "option"
        offset = _timecode_offset(info, found.plate)
        if offset:
            src["plate"] = f"option, aligned by timecode (+{offset} frames)"
        found.plate_start = offset + found.start
        found.plate_colourspace = colourspace
    elif shot.get("path"):
        try:
            found.plate, src["plate"] = probe(shot["path"]), "sidecar"
        except MissingInputError:
            found.notes.append(f"the plate the sidecar names is gone: {shot['path']}")
            return
        first = (shot.get("range") or [0])[0]
        if sidecar is not None and CHUNK_TAG in sidecar.name:
            first -= _chunk_first(sidecar) - found.result.first_frame  # its range starts at the chunk's frame
        found.plate_start = first + found.start
        found.plate_colourspace = colourspace or shot.get("colourspace")
    if found.plate is not None:
        p = found.plate
        if (p.width, p.height) != (info.width, info.height):
            raise BadDataError(f"plate {p.path} is {p.width}x{p.height}, the result is {info.width}x{info.height}")
        if found.plate_start < 0 or found.plate_start + found.count > p.frame_count:
            raise BadDataError(f"plate {p.path} has {p.frame_count} frames; the result needs frames "
                               f"{found.plate_start}-{found.plate_start + found.count - 1} of it")


def _chunk_first(sidecar: Path) -> int:
    tag = sidecar.name.split(CHUNK_TAG, 1)[1][:-len(SIDECAR_SUFFIX)]
    try:
        return int(tag.split("-")[0])
    except ValueError:
        raise BadDataError(f"{sidecar}: not a chunk sidecar name (<stem>_chunk.A-B{SIDECAR_SUFFIX})") from None


def _find_matte(found: CheckInputs, doc: dict, matte: str | None) -> None:
    layers = _output(doc, "layers") if doc else None
    src = found.sources
    if matte:
        found.matte, src["matte"] = ("file", matte), "option"
    elif layers:
        found.matte, src["matte"] = ("file", _resolve(layers, found.sidecar.parent)), "sidecar layers"
    elif found.result.has_alpha:
        found.matte, src["matte"] = ("alpha", None), "result alpha"
    elif found.plate is not None:
        found.matte, src["matte"] = ("key", None), "keyed from the plate"
    else:
        raise MissingInputError("no matte: give --matte, a result with alpha (or a render written with --layers), "
                                "or --plate to key")


def _find_camera(found: CheckInputs, doc: dict, camera: str | None, chunked: bool) -> None:
    info, count = found.result, found.count
    recorded = _output(doc, "camera", "paicli.camera.1") if doc and not chunked else None
    cam_path = camera or (_resolve(recorded, found.sidecar.parent) if recorded else None)
    if cam_path:
        mats = read_camera_json(cam_path, width=info.width, height=info.height)
        plate = found.plate
        if len(mats) == count:
            found.camera = mats
        elif plate is not None and len(mats) == plate.frame_count:
            found.camera = mats[found.plate_start:found.plate_start + count]
        elif len(mats) == info.frame_count:
            found.camera = mats[found.start:found.start + count]
        else:
            raise BadDataError(f"camera track {cam_path} has {len(mats)} frames; the result has {count}")
        found.camera_from = "option" if camera else "sidecar"
    elif found.plate is not None:
        found.camera_from = "solved from the plate"
        if chunked:
            found.notes.append("rendered in chunks, each with its own camera: the camera is solved from the plate")
    found.sources["camera"] = found.camera_from


def _find_references(found: CheckInputs, doc: dict, shot: dict, bg: list[str] | None, bg_at: str | None) -> None:
    info, start, count = found.result, found.start, found.count
    if bg:
        specs = find_references(bg, info.frame_count, bg_at=bg_at, first_frame=info.first_frame)
        found.references = [(s.anchor - start, s.path) for s in specs if start <= s.anchor < start + count]
        found.sources["references"] = "option"
    elif doc.get("references") and found.plate is not None:
        for r in doc["references"]:
            anchor = r["anchor"] - found.plate_start  # sidecar anchors are plate frame indices
            if not 0 <= anchor < count:
                continue
            p = Path(r["path"])
            if not p.is_file():
                p = Path(_resolve(r["path"], found.sidecar.parent))
            if p.is_file():
                found.references.append((anchor, p))
            else:
                found.notes.append(f"reference {r['path']} (frame {anchor}) is gone: not compared")
        found.sources["references"] = "sidecar"
