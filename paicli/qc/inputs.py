"""What ``relight-check`` looks at: the result, its matte, the source plate, the camera and
the reference stills, found from options or from the sidecar a ``replace``/``render`` wrote.

``RESULT`` may be a composite (movie or image sequence) or a folder holding one
``<stem>_replace.json`` sidecar. A composite named like a replace output
(``<stem>_comp.mov``, ``<stem>_comp.####.exr``) finds its sidecar beside it. Options always
win over what the sidecar says.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paicli.errors import BadDataError, MissingInputError, UsageError
from paicli.media.probe import MediaInfo, probe

SIDECAR_SUFFIX = "_replace.json"


@dataclass
class CheckInputs:
    """Everything resolved, frame indices 0-based in each file. ``plate_start``: the plate
    frame under result frame 0. ``camera``: one frame-t -> frame-0 homography per checked
    frame (None: solve from the plate, or unchecked). ``references``: (result frame index,
    path) pairs. ``matte``: ``("file", path)``, ``("layers", pattern)``, ``("alpha", None)``
    (the result's own alpha) or ``("key", None)`` (key the plate)."""

    result: MediaInfo
    start: int
    count: int
    stem: str
    matte: tuple[str, str | None]
    plate: MediaInfo | None = None
    plate_start: int = 0
    camera: list[np.ndarray] | None = None
    camera_from: str = "none"
    references: list[tuple[int, Path]] = field(default_factory=list)
    screen: str = "auto"
    adapt: float | None = None  # the render's relighting target (replace --adapt), if a sidecar says
    colourspace: str | None = None  # of the result, when its tags do not say (None: from its tags)
    sidecar: Path | None = None
    folder: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)


def _sidecar_in(folder: Path) -> Path:
    found = sorted(folder.glob("*" + SIDECAR_SUFFIX))
    if not found:
        raise MissingInputError(f"{folder}: no {SIDECAR_SUFFIX} sidecar here; name the composite instead")
    if len(found) > 1:
        raise UsageError(f"{folder} holds several results ({', '.join(p.name for p in found)}); name one composite")
    return found[0]


def _sidecar_beside(result: Path) -> Path | None:
    name = result.name
    if "_comp" not in name:
        return None
    candidate = result.parent / (name[:name.rindex("_comp")] + SIDECAR_SUFFIX)
    return candidate if candidate.is_file() else None


def _read_sidecar(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BadDataError(f"{path}: not a replace sidecar ({e})") from None
    if not isinstance(doc, dict) or doc.get("schema") != "paicli.replace.1":
        raise BadDataError(f"{path}: not a paicli.replace.1 sidecar")
    return doc


def _output(doc: dict, kind: str, fmt: str | None = None) -> str | None:
    for o in doc.get("outputs", []):
        if o.get("kind") == kind and (fmt is None or o.get("format") == fmt):
            return o.get("path") or o.get("sequence")
    return None


def _resolve(path: str, base: Path) -> str:
    p = Path(path)
    return str(p if p.is_absolute() or p.exists() else base / p.name)


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
                   frames: str | None = None, colourspace: str | None = None) -> CheckInputs:
    """Find every input; raises 66 for missing files, 65 for ones that do not fit the result."""
    from paicli.camera_files import read_camera_json
    from paicli.paths import sanitize_name
    from paicli.transcode import source_range

    rpath = Path(result)
    sidecar = None
    doc: dict = {}
    if rpath.is_dir():
        sidecar = _sidecar_in(rpath)
    elif rpath.exists() or "#" in result or "%" in result:
        sidecar = _sidecar_beside(rpath)
    else:
        raise MissingInputError(f"no such result: {result}")
    if sidecar is not None:
        doc = _read_sidecar(sidecar)
        base = sidecar.parent
        if rpath.is_dir():
            comp = _output(doc, "comp")
            if comp is None:
                raise BadDataError(f"{sidecar}: names no comp output")
            result = _resolve(comp, base)
    info = probe(result)
    start, count = source_range(info, frames, 0)
    stem = sanitize_name(sidecar.name[:-len(SIDECAR_SUFFIX)] if sidecar else
                         Path(info.pattern or info.path).name.split(".")[0])
    found = CheckInputs(result=info, start=start, count=count, stem=stem, matte=("key", None), screen=screen,
                        colourspace=colourspace,
                        sidecar=sidecar, folder=sidecar.parent if sidecar else None)
    src = found.sources
    src["result"] = "argument"

    shot = doc.get("shot") or {}
    if plate:
        found.plate, src["plate"] = probe(plate), "option"
        offset = _timecode_offset(info, found.plate)
        if offset:
            src["plate"] = f"option, aligned by timecode (+{offset} frames)"
        found.plate_start = offset + start
    elif shot.get("path"):
        try:
            found.plate, src["plate"] = probe(shot["path"]), "sidecar"
            found.plate_start = int((shot.get("range") or [0])[0]) + start
        except MissingInputError:
            src["plate"] = f"the sidecar's {shot['path']} is gone"
    if found.plate is not None:
        p = found.plate
        if (p.width, p.height) != (info.width, info.height):
            raise BadDataError(f"plate {p.path} is {p.width}x{p.height}, the result is {info.width}x{info.height}")
        if found.plate_start + count > p.frame_count:
            raise BadDataError(f"plate {p.path} has {p.frame_count} frames; the result needs "
                               f"{found.plate_start + count} from it")

    layers = _output(doc, "layers") if doc else None
    if matte:
        found.matte, src["matte"] = ("file", matte), "option"
    elif layers:
        found.matte, src["matte"] = ("layers", _resolve(layers, sidecar.parent)), "sidecar layers"
    elif info.has_alpha:
        found.matte, src["matte"] = ("alpha", None), "result alpha"
    elif found.plate is not None:
        found.matte, src["matte"] = ("key", None), "keyed from the plate"
    else:
        raise MissingInputError("no matte: give --matte, a result with alpha or --layers, or --plate to key")

    cam_path = camera or (_resolve(c, sidecar.parent) if doc and (c := _output(doc, "camera", "paicli.camera.1"))
                          else None)
    if cam_path:
        mats = read_camera_json(cam_path, width=info.width, height=info.height)
        if len(mats) == count:
            found.camera = mats
        elif len(mats) == info.frame_count:
            found.camera = mats[start:start + count]
        elif found.plate is not None and len(mats) == found.plate.frame_count:
            found.camera = mats[found.plate_start:found.plate_start + count]
        else:
            raise BadDataError(f"camera track {cam_path} has {len(mats)} frames; the result has {count}")
        found.camera_from = "option" if camera else "sidecar"
    elif found.plate is not None:
        found.camera_from = "solved from the plate"
    src["camera"] = found.camera_from

    if bg:
        from paicli.references import find_references

        specs = find_references(bg, info.frame_count, bg_at=bg_at, first_frame=info.first_frame)
        found.references = [(s.anchor - start, s.path) for s in specs if start <= s.anchor < start + count]
        src["references"] = "option"
    elif doc.get("references"):
        offset = int((shot.get("range") or [0])[0]) + start
        for r in doc["references"]:
            p = Path(r.get("path", ""))
            if p.is_file() and offset <= int(r.get("anchor", -1)) < offset + count:
                found.references.append((int(r["anchor"]) - offset, p))
        src["references"] = "sidecar"
    settings = doc.get("settings") or {}
    if screen == "auto" and settings.get("screen") in ("green", "blue"):
        found.screen = settings["screen"]
    if isinstance(settings.get("adapt"), (int, float)):
        found.adapt = float(settings["adapt"])
    return found
