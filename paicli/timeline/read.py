"""Read any edit list into an OTIO timeline, or refuse it in one line that says why.

Formats, by file name, else by content (:func:`format_by_content`): CMX 3600 ``.edl``
(our reader, :mod:`paicli.timeline.cmx3600`), OTIO ``.otio`` / ``.otioz`` / ``.otiod``, FCP7
``.xml`` (``xmeml``; otio-fcp-adapter), FCPX ``.fcpxml`` / ``.fcpxmld``
(otio-fcpx-xml-adapter) and Avid ``.aaf`` (otio-aaf-adapter, the ``aaf`` extra). A file holding several sequences gives the one ``sequence`` names, or
the first with a note.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from paicli.errors import BadDataError, EngineUnavailableError, MissingInputError, UsageError
from paicli.media.regular import require_regular
from paicli.media.timing import parse_rate
from paicli.timeline import cmx3600

FORMATS = {".edl": "cmx_3600", ".otio": "otio_json", ".otioz": "otioz", ".otiod": "otiod", ".xml": "fcp_xml",
           ".fcpxml": "fcpx_xml", ".fcpxmld": "fcpx_xml", ".aaf": "AAF"}
_PACKAGES = {"fcp_xml": "otio-fcp-adapter", "fcpx_xml": "otio-fcpx-xml-adapter", "AAF": "otio-aaf-adapter"}


@dataclass
class EditListFile:
    """An edit list as read: the timeline, its format and rate, and what reading it noticed."""

    path: Path
    format: str
    timeline: object  # opentimelineio.schema.Timeline
    rate: Fraction
    drop_frame: bool
    rate_note: str
    notes: list[str] = field(default_factory=list)
    edl: object | None = None  # the parsed CMX list, for writing one back

    def video_clips(self) -> list:
        return [c for t in self.timeline.video_tracks() for c in t.find_clips(shallow_search=False)]


def exact_rate(value: float) -> Fraction:
    """OTIO's float rate as the exact rate it stands for (29.97002997 -> 30000/1001)."""
    return parse_rate(f"{value:.3f}".rstrip("0").rstrip(".") if abs(value - round(value)) > 1e-6 else int(round(value)))


def read_edit_list(path: str | Path, rate: str | Fraction | None = None, sequence: str | None = None) -> EditListFile:
    """Read ``path`` (see the module notes); ``rate`` for lists that do not carry one (EDL)."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"no such edit list: {path}")
    if not path.is_dir():  # a bundle (.fcpxmld) is a folder; anything else must be a regular file
        require_regular(path, "edit list")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None and path.is_file():
        fmt = format_by_content(path)
    if fmt is None:
        raise UsageError(f"{path.name}: not an edit list paicli reads (use {', '.join(sorted(FORMATS))}, "
                         "or a CMX 3600 list under any name)")
    given = parse_rate(rate) if rate is not None else None
    if fmt == "cmx_3600":
        return _read_edl(path, given)
    return _read_otio(path, fmt, given, sequence)


_AAF_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")  # Microsoft structured storage, which AAF files are


def format_by_content(path: Path) -> str | None:
    """The format of a list whose name does not say (Premiere and Avid write CMX lists as
    ``.txt``; ``.cdl`` files may hold edits): FCP7/FCPX XML, OTIO JSON or AAF by their
    signatures, CMX 3600 by its event lines; None for anything else."""
    head = path.read_bytes()[:65536]
    if head.startswith(_AAF_MAGIC):
        return "AAF"
    text = head.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \t\r\n")
    if text.startswith("<"):
        return "fcp_xml" if "<xmeml" in text else "fcpx_xml" if "<fcpxml" in text else None
    if text.startswith("{") and '"OTIO_SCHEMA"' in text:
        return "otio_json"
    if any(cmx3600.event_fields(ln) for ln in cmx3600.split_lines(text)):
        return "cmx_3600"
    return None


def edl_text(path: Path) -> str:
    """An EDL's text: UTF-8, else Latin-1 (old lists are 8-bit; every byte is a character)."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _read_edl(path: Path, rate: Fraction | None) -> EditListFile:
    edl = cmx3600.parse(edl_text(path), rate)
    timeline = cmx3600.to_timeline(edl, name=path.stem)
    return EditListFile(path, "cmx_3600", timeline, edl.rate, edl.drop, edl.rate_note, list(edl.notes), edl)


def _read_otio(path: Path, fmt: str, given: Fraction | None, sequence: str | None) -> EditListFile:
    import opentimelineio as otio

    if fmt == "fcp_xml" and b"<xmeml" not in path.read_bytes()[:4096]:
        raise BadDataError(f"{path.name}: an .xml file that is not FCP7 XML (no <xmeml>)")
    names = {a.name for a in otio.plugins.ActiveManifest().adapters}
    if fmt not in names:
        extra = " (pip install 'paicli[aaf]')" if fmt == "AAF" else ""
        raise EngineUnavailableError(f"{path.name}: reading {fmt} needs the {_PACKAGES[fmt]} package{extra}")
    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # some adapters log arithmetic warnings through the root logger
    try:
        result = otio.adapters.read_from_file(str(path), adapter_name=fmt)
    except otio.exceptions.UnsupportedSchemaError:
        raise BadDataError(f"{path.name}: written by a newer OpenTimelineIO than {otio.__version__} "
                           f"({_newer_schemas(path)}); re-export it for OTIO 0.18 or upgrade opentimelineio") from None
    except Exception as e:  # adapters raise anything from ValueError to KeyError on bad files
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise BadDataError(f"{path.name}: cannot be read as {fmt} ({first})") from None
    finally:
        quiet.setLevel(level)
    notes: list[str] = []
    timeline = _pick_timeline(path, result, sequence, notes)
    if fmt == "fcp_xml":
        _fcp7_enabled(path, timeline, notes)
    clips = [c for t in timeline.video_tracks() for c in t.find_clips(shallow_search=False)]
    rates = [c.source_range.duration.rate for c in clips if c.source_range is not None]
    if timeline.global_start_time is not None:
        rates.append(timeline.global_start_time.rate)
    if given is not None:
        rate, why = given, "given"
    elif rates:
        rate = exact_rate(rates[0])
        why = f"{rate} fps (from the list)"
    else:
        rate, why = Fraction(24), "24 fps (the list has no timed video clip; --rate to say otherwise)"
    drop = _aaf_drop_frame(path) if fmt == "AAF" else _find_drop(timeline)
    return EditListFile(path, fmt, timeline, rate, drop, why, notes)


def _pick_timeline(path: Path, result, sequence: str | None, notes: list[str]):
    import opentimelineio as otio

    if isinstance(result, otio.schema.Timeline):
        found = [result]
    elif isinstance(result, otio.schema.SerializableCollection):
        found = [t for t in result.find_children(descended_from_type=otio.schema.Timeline)] or \
                [t for t in result if isinstance(t, otio.schema.Timeline)]
        if not found:
            what = ", ".join(sorted({type(x).__name__.lower() for x in result})) or "nothing"
            raise BadDataError(f"{path.name}: holds no sequence to render, only loose items ({what})")
    else:
        raise BadDataError(f"{path.name}: holds a {type(result).__name__}, not a sequence")
    if sequence is not None:
        named = [t for t in found if t.name == sequence]
        if not named:
            raise UsageError(f"{path.name}: no sequence named {sequence!r} (it has: "
                             f"{', '.join(repr(t.name) for t in found)})")
        return named[0]
    if len(found) > 1:
        notes.append(f"{len(found)} sequences in the file; using the first, {found[0].name!r} (--sequence to choose)")
    return found[0]


def _fcp7_enabled(path: Path, timeline, notes: list[str]) -> None:
    """Carry FCP7's ``<enabled>FALSE</enabled>`` of video tracks and clip items (which the
    adapter drops) onto the timeline's tracks and clips, matched by order within the
    sequence of the same name."""
    import xml.etree.ElementTree as ET

    import opentimelineio as otio

    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return
    sequences = [sq for sq in root.iter("sequence") if sq.findtext("name") == timeline.name] or \
        list(root.iter("sequence"))[:1]
    if not sequences:
        return
    video = sequences[0].find("./media/video")
    xml_tracks = video.findall("track") if video is not None else []
    tracks = list(timeline.video_tracks())
    if len(xml_tracks) != len(tracks):
        notes.append("FCP7 XML: its video tracks do not match the adapter's; enabled flags not read")
        return
    for x_track, track in zip(xml_tracks, tracks):
        if _disabled(x_track):
            track.enabled = False
        x_items = [e for e in x_track if e.tag in ("clipitem", "generatoritem")]
        items = [i for i in track if isinstance(i, (otio.schema.Clip, otio.schema.Stack))]
        if len(x_items) != len(items):
            notes.append(f"FCP7 XML: the items of track {track.name!r} do not match the adapter's; "
                         "enabled flags not read")
            continue
        for x_item, item in zip(x_items, items):
            if _disabled(x_item):
                item.enabled = False


def _disabled(element) -> bool:
    return (element.findtext("enabled") or "").strip().upper() == "FALSE"


def _newer_schemas(path: Path) -> str:
    """Which schemas in an .otio file are newer than this OpenTimelineIO knows."""
    import json

    import opentimelineio as otio

    known = otio.core.type_version_map()
    seen: set[str] = set()

    def walk(x):
        if isinstance(x, dict):
            if isinstance(x.get("OTIO_SCHEMA"), str):
                seen.add(x["OTIO_SCHEMA"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    try:
        walk(json.loads(path.read_text()))
    except (OSError, ValueError):
        return "schema versions it does not know"
    newer = []
    for s in sorted(seen):
        name, _, version = s.rpartition(".")
        if name in known and version.isdigit() and int(version) > known[name]:
            newer.append(f"{s}, this one reads {name}.{known[name]}")
    return "; ".join(newer) or "schema versions it does not know"


def _aaf_drop_frame(path: Path) -> bool:
    """The AAF composition's timecode track says drop-frame (the adapter does not carry it)."""
    try:
        import aaf2

        with aaf2.open(str(path), "r") as f:
            for mob in f.content.compositionmobs():
                for slot in mob.slots:
                    seg = slot.segment
                    for c in getattr(seg, "components", [seg]):
                        if type(c).__name__ == "Timecode" and getattr(c, "drop", False):
                            return True
    except Exception:  # unreadable timecode metadata: fall back to non-drop
        return False
    return False


def metadata_values(meta, keys: set[str], depth: int = 0, max_depth: int = 6):
    """The values stored under any of ``keys`` (lower case) anywhere in OTIO metadata, walking
    nested dictionaries and lists, depth first."""
    if depth > max_depth or isinstance(meta, (str, bytes)):
        return
    if hasattr(meta, "items"):
        for k, v in meta.items():
            if str(k).lower() in keys:
                yield v
            yield from metadata_values(v, keys, depth + 1, max_depth)
    elif hasattr(meta, "__iter__"):
        for v in meta:
            yield from metadata_values(v, keys, depth + 1, max_depth)


def _find_drop(timeline) -> bool:
    """Whether the timeline says its timecode is drop-frame (FCP7 XML and AAF metadata)."""
    keys = {"displayformat", "drop_frame", "dropframe"}
    return any(str(v).upper() in ("DF", "TRUE", "1")
               for meta in [timeline.metadata, *(t.metadata for t in timeline.tracks)]
               for v in metadata_values(meta, keys))
