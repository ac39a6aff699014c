"""Hand editorial a timeline that relinks to the renders, with the edit's timing untouched.

Written once every shot of the list is finished: ``<list>_conform.otio``, plus the input's
own format (CMX 3600 ``.edl``, FCP7 ``.xml``, FCPX ``.fcpxml``; AAF lists get the ``.otio``
only). Renders keep their source's timecode and cover the shot's source range, so every
clip keeps its source range and record position; only its media (and name) change to the
render. An EDL is rewritten line by line: event lines and timing as they were, the clip
name and ``* SOURCE FILE:`` comments pointing at the render. Each file is read back and its
video clips' record in/out compared with the input's, frame for frame, before it is kept.
"""
from __future__ import annotations

import re
from pathlib import Path

from paicli.render.plan import Plan, finished
from paicli.errors import OutputError

_NAME_COMMENT = re.compile(r"^\s*\*?\s*(FROM CLIP NAME|TO CLIP NAME|SOURCE FILE|FROM FILE)\s*:", re.IGNORECASE)


def _renders(plan: Plan, out_root: Path) -> dict[str, dict] | None:
    """shot id -> the finished render's comp output, or None while any shot is unfinished."""
    found = {}
    for ps in plan.shots:
        if ps.status in ("unresolved", "no-refs"):
            return None
        side = finished(out_root, ps.folder, ps.stem)
        if side is None or side.get("key") != ps.key:
            return None
        comp = next((o for o in side["outputs"] if o["kind"] == "comp"), None)
        if comp is None:
            return None
        found[ps.shot.id] = {"comp": comp, "stem": ps.stem, "version": ps.version}
    return found


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


def _reference(comp: dict, rate, relative_to: Path):
    import opentimelineio as otio

    from paicli.media.timing import Timecode

    fps = float(rate)
    tc = comp.get("timecode") or {}
    count = comp.get("frame_count") or 0
    start = Timecode.parse(tc["start"], rate, tc.get("drop_frame")).frames if tc.get("start") else 0
    available = otio.opentime.TimeRange(otio.opentime.RationalTime(start, fps), otio.opentime.RationalTime(count, fps))
    target = comp.get("sequence") or comp.get("path")
    rel = Path(target).relative_to(relative_to).as_posix() if Path(target).is_relative_to(relative_to) else target
    if comp.get("sequence"):
        from paicli.media.sequence import SequencePattern

        seq = SequencePattern.parse(rel)
        parent = seq.folder.as_posix()
        return otio.schema.ImageSequenceReference(
            target_url_base=(parent + "/") if parent not in ("", ".") else "", name_prefix=seq.prefix,
            name_suffix=seq.suffix, start_frame=int(comp["frame_range"][0]) if comp.get("frame_range") else 0,
            frame_zero_padding=seq.padding, rate=fps, available_range=available)
    return otio.schema.ExternalReference(target_url=rel, available_range=available)


def conform(plan: Plan, out_root: Path) -> tuple[list[dict], str | None]:
    """Write the conformed timelines (see the module notes): (outputs, why not written)."""
    import opentimelineio as otio

    renders = _renders(plan, out_root)
    if renders is None:
        waiting = sum(1 for ps in plan.shots if finished(out_root, ps.folder, ps.stem) is None)
        return [], f"conform waits for {waiting} shot(s) still to render (or not renderable)"
    if not renders:
        return [], "no shots: nothing to conform"
    el = plan.edit_list
    timeline = el.timeline.deepcopy()
    for ps in plan.shots:
        r = renders[ps.shot.id]
        clip = list(timeline.video_tracks()[ps.shot.item[0]])[ps.shot.item[1]]
        clip.media_reference = _reference(r["comp"], el.rate, out_root)
        clip.metadata["paicli"] = {"shot": ps.shot.id, "version": r["version"], "source_clip": ps.shot.clip}
        clip.name = r["stem"]
    stem = f"{Path(el.path).stem}_conform"
    expected = record_ranges(el.timeline)
    outputs = [_write(out_root / f"{stem}.otio", otio.adapters.write_to_string(timeline, "otio_json"), expected,
                      el.rate)]
    own = {"cmx_3600": ".edl", "fcp_xml": ".xml", "fcpx_xml": ".fcpxml"}.get(el.format)
    if own == ".edl":
        outputs.append(_write(out_root / f"{stem}.edl", conform_edl(el, plan, renders, out_root), expected, el.rate))
    elif own:
        adapter = el.format
        try:
            text = otio.adapters.write_to_string(_first_frame_references(timeline), adapter)
        except Exception as e:  # an adapter that cannot express something of this timeline
            raise OutputError(f"cannot write the conformed {adapter} ({str(e).splitlines()[0][:120]})") from None
        outputs.append(_write(out_root / f"{stem}{own}", text, expected, el.rate))
    return outputs, None


def _first_frame_references(timeline):
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
    from paicli.media import atomic
    from paicli.timeline.read import read_edit_list

    atomic.write_text(path, text)
    back = read_edit_list(path, rate=rate if path.suffix == ".edl" else None)
    got = record_ranges(back.timeline)
    if got != expected:
        path.unlink(missing_ok=True)
        raise OutputError(f"{path.name}: read back, its record timing differs from the input's; not written")
    return {"kind": "timeline", "path": str(path), "format": back.format, "clips": sum(len(t) for t in got)}


def conform_edl(el, plan: Plan, renders: dict, out_root: Path) -> str:
    """The input EDL with each rendered event's clip name and source file pointing at its render."""
    from paicli.timeline.cmx3600 import EVENT_LINE, split_lines
    from paicli.timeline.read import edl_text

    by_line = {ps.shot.event_line: ps for ps in plan.shots if ps.shot.event_line}
    out, current, previous = [], None, None
    for n, line in enumerate(split_lines(edl_text(el.path)), 1):
        event = EVENT_LINE.match(line)
        if event:
            previous = current if current is not None else previous
            current = by_line.get(n)
            out.append(line)
            if current is not None:
                r = renders[current.shot.id]
                path = r["comp"].get("sequence") or r["comp"].get("path")
                if event.group(4).upper() != "C" and previous is not None:
                    out.append(f"* FROM CLIP NAME:  {renders[previous.shot.id]['stem']}")
                    out.append(f"* TO CLIP NAME:  {r['stem']}")
                else:
                    out.append(f"* FROM CLIP NAME:  {r['stem']}")
                out.append(f"* SOURCE FILE: {Path(path).relative_to(out_root).as_posix()}")
            continue
        if current is not None and _NAME_COMMENT.match(line):
            continue  # replaced above
        out.append(line)
    return "\n".join(out)
