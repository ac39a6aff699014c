"""Write an edit list back relinked to new media, with the edit's timing untouched.

Given the list as read and, per clip to relink, where the new media is (a render's comp
output: a movie or an image sequence with its timecode and frame count), this writes
``<list>_conform.otio`` plus the input's own format (CMX 3600 ``.edl``, FCP7 ``.xml``, FCPX
``.fcpxml``; AAF lists get the ``.otio`` only). The new media keep their source's timecode
and cover the clip's source range, so every clip keeps its source range and record
position; only its media (and name) change. An EDL is rewritten line by line: event lines
and timing as they were, the clip name and ``* SOURCE FILE:`` comments pointing at the new
media. Time effects stay with their clips; an FCP7 Time Remap clip's in point, which FCP7
counts in retimed frames from its media's first frame, is recounted from the new media's
(to within one step of its speed). Each file is read back and its video clips' record
in/out compared with the input's, frame for frame, before it is kept.

Nothing here knows how the media were made: callers hand over :class:`ConformClip` records.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from paicli.errors import OutputError
from paicli.media import atomic
from paicli.media.sequence import SequencePattern
from paicli.media.timing import Timecode
from paicli.timeline.cmx3600 import event_fields, split_lines
from paicli.timeline.read import EditListFile, edl_text, read_edit_list

_NAME_COMMENT = re.compile(r"^\s*\*?\s*(FROM CLIP NAME|TO CLIP NAME|SOURCE FILE|FROM FILE)\s*:", re.IGNORECASE)
_OWN_SUFFIX = {"cmx_3600": ".edl", "fcp_xml": ".xml", "fcpx_xml": ".fcpxml"}


@dataclass(frozen=True)
class ConformClip:
    """One clip of the list's timeline and the media it is relinked to.

    ``item``: (video track index, index of the clip among that track's items).
    ``event_line``: the 1-based line of its CMX 3600 event (None for other formats).
    ``comp``: the new media as an output record: ``path`` (a movie) or ``sequence`` (a
    ``####`` pattern), under the output folder; ``timecode`` (``start``, ``drop_frame``),
    ``frame_count`` and, for a sequence, ``frame_range`` (its first and last file number).
    ``name``: the clip's new name. ``metadata``: stored as the clip's ``paicli`` metadata.
    """

    item: tuple[int, int]
    event_line: int | None
    comp: dict
    name: str
    metadata: dict


def record_ranges(timeline) -> list[list[tuple[int, int]]]:
    """Per video track, each clip's (record start, frames) in frames."""
    import opentimelineio as otio

    out = []
    for track in timeline.video_tracks():
        rows = []
        for item in track:
            if isinstance(item, otio.schema.Clip):
                r = item.range_in_parent()
                rows.append((round(r.start_time.value), round(r.duration.value)))
        out.append(rows)
    return out


def media_reference(comp: dict, rate, relative_to: Path):
    """An OTIO media reference to ``comp`` (see :class:`ConformClip`), its URL relative to
    ``relative_to`` where it lies under it, its available range in frames at ``rate``."""
    import opentimelineio as otio

    fps = float(rate)
    tc = comp.get("timecode") or {}
    count = comp.get("frame_count") or 0
    start = Timecode.parse(tc["start"], rate, tc.get("drop_frame")).frames if tc.get("start") else 0
    available = otio.opentime.TimeRange(otio.opentime.RationalTime(start, fps), otio.opentime.RationalTime(count, fps))
    target = comp.get("sequence") or comp.get("path")
    rel = Path(target).relative_to(relative_to).as_posix() if Path(target).is_relative_to(relative_to) else target
    if comp.get("sequence"):
        seq = SequencePattern.parse(rel)
        parent = seq.folder.as_posix()
        return otio.schema.ImageSequenceReference(
            target_url_base=(parent + "/") if parent not in ("", ".") else "", name_prefix=seq.prefix,
            name_suffix=seq.suffix, start_frame=int(comp["frame_range"][0]) if comp.get("frame_range") else 0,
            frame_zero_padding=seq.padding, rate=fps, available_range=available)
    return otio.schema.ExternalReference(target_url=rel, available_range=available)


def relinked(el: EditListFile, clips: list[ConformClip], out_root: Path):
    """A copy of ``el``'s timeline with each of ``clips`` pointing at its new media and named for it."""
    timeline = el.timeline.deepcopy()
    for c in clips:
        clip = list(timeline.video_tracks()[c.item[0]])[c.item[1]]
        clip.media_reference = media_reference(c.comp, el.rate, out_root)
        clip.metadata["paicli"] = c.metadata
        clip.name = c.name
    return timeline


def write_conformed(el: EditListFile, clips: list[ConformClip], out_root: Path) -> list[dict]:
    """Write ``<list>_conform.otio`` and the list's own format into ``out_root`` (see the
    module notes); returns one output record per file written."""
    import opentimelineio as otio

    # FCP7 counts a remapped clip's in point from its media's first frame, which the renders moved
    timeline = fcp7_retimed_in_points(el.timeline, relinked(el, clips, out_root))
    stem = f"{Path(el.path).stem}_conform"
    expected = record_ranges(el.timeline)
    outputs = [_write(out_root / f"{stem}.otio", otio.adapters.write_to_string(timeline, "otio_json"), expected,
                      el.rate)]
    own = _OWN_SUFFIX.get(el.format)
    if own == ".edl":
        outputs.append(_write(out_root / f"{stem}.edl", conform_edl(el, clips, out_root), expected, el.rate))
    elif own:
        adapter = el.format
        try:
            text = otio.adapters.write_to_string(first_frame_references(timeline), adapter)
        except Exception as e:  # an adapter that cannot express something of this timeline
            raise OutputError(f"cannot write the conformed {adapter} ({str(e).splitlines()[0][:120]})") from None
        outputs.append(_write(out_root / f"{stem}{own}", text, expected, el.rate))
    return outputs


def fcp7_retimed_in_points(original, conformed):
    """A copy of ``conformed`` whose FCP7 Time Remap clips carry the in point FCP7 expects:
    retimed frames from the new media's first frame (the list's own in points counted from
    the old media's first frame, and the adapter writes in = start - media start)."""
    from paicli.timeline.shots import clip_speed

    copy = conformed.deepcopy()
    for old_clip, clip in zip(original.find_clips(), copy.find_clips()):
        speed, _, retimed_in = clip_speed(old_clip)
        if not retimed_in or not speed:
            continue
        old_start, new_start = _available_start(old_clip), _available_start(clip)
        rng = clip.source_range
        rate = rng.start_time.rate
        entry = old_start + (rng.start_time.value - old_start) * abs(speed)  # the source frame it starts on
        clip.source_range = type(rng)(type(rng.start_time)(new_start + (entry - new_start) / abs(speed), rate),
                                      rng.duration)
    return copy


def _available_start(clip) -> float:
    rng = getattr(clip.media_reference, "available_range", None)
    return rng.start_time.value if rng is not None else 0.0


def first_frame_references(timeline):
    """A copy whose image-sequence references point at each sequence's first frame (FCP XML
    has no image-sequence reference; NLEs import a numbered still sequence from its first file)."""
    import opentimelineio as otio

    copy = timeline.deepcopy()
    for clip in copy.find_clips():
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ImageSequenceReference):
            first = f"{ref.target_url_base}{ref.name_prefix}{ref.start_frame:0{ref.frame_zero_padding}d}{ref.name_suffix}"
            clip.media_reference = otio.schema.ExternalReference(target_url=first, available_range=ref.available_range)
    return copy


def _write(path: Path, text: str, expected, rate) -> dict:
    """Write ``text`` to ``path``, read it back and keep it only if its record timing is ``expected``."""
    atomic.write_text(path, text)
    back = read_edit_list(path, rate=rate if path.suffix == ".edl" else None)
    got = record_ranges(back.timeline)
    if got != expected:
        path.unlink(missing_ok=True)
        raise OutputError(f"{path.name}: read back, its record timing differs from the input's; not written")
    return {"kind": "timeline", "path": str(path), "format": back.format, "clips": sum(len(t) for t in got)}


def conform_edl(el: EditListFile, clips: list[ConformClip], out_root: Path) -> str:
    """The input EDL with each relinked event's clip name and source file pointing at its new
    media (relative to ``out_root``); every other line as it was."""
    by_line = {c.event_line: c for c in clips if c.event_line}
    out, current, previous = [], None, None
    for n, line in enumerate(split_lines(edl_text(el.path)), 1):
        event = event_fields(line)
        if event:
            previous = current if current is not None else previous
            current = by_line.get(n)
            out.append(line)
            if current is not None:
                path = current.comp.get("sequence") or current.comp.get("path")
                if event[3].upper() != "C" and previous is not None:
                    out.append(f"* FROM CLIP NAME:  {previous.name}")
                    out.append(f"* TO CLIP NAME:  {current.name}")
                else:
                    out.append(f"* FROM CLIP NAME:  {current.name}")
                out.append(f"* SOURCE FILE: {Path(path).relative_to(out_root).as_posix()}")
            continue
        if current is not None and _NAME_COMMENT.match(line):
            continue  # replaced above
        out.append(line)
    return "\n".join(out)
