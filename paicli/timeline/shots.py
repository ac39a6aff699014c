"""The shots of an edit list: one per video clip, with the source frames it needs.

A shot is a video clip of the timeline with a duration. Its record range is where it sits
in the edit (frames from the timeline's start, and record timecode); its source range is
the span of source timecode it shows, widened by the transitions around it (the outgoing
clip of a dissolve plays on under it) and later by the render's handles. Retimed clips are
flagged and their source span is the frames the cut shows: record frame k of a clip whose
entry point is source frame e shows source frame e + floor(k * speed), so a 2x clip spans
about twice its record length, a reverse one (negative speed) runs back from its entry
point, and a freeze frame is that one frame. A CMX event whose source span differs from
its record span without an M2 line is flagged with the speed the spans imply and rendered
over the span it wrote. Shot ids are deterministic: the clip's order in the edit (track by
track, in record order) and its name, so the same list always plans the same shots.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from paicli.media.timing import Timecode
from paicli.paths import sanitize_name
from paicli.timeline.read import metadata_values


@dataclass
class Shot:
    index: int  # 1-based, in edit order
    id: str  # "003_clipname": unique, filesystem-safe
    clip: str  # the clip's name in the edit
    reel: str | None
    track: str
    record_start: int  # frames from the timeline's start
    record_frames: int
    record_tc: str  # record in, at the list's rate
    source_in: int  # source timecode, in frames (drop-frame counting when the list is)
    source_out: int  # exclusive
    rate: Fraction
    drop_frame: bool
    media_url: str | None  # what the list says the media is
    media_kind: str  # external, image_sequence, missing, generator
    sequence: dict | None = None  # image sequence: folder, prefix, suffix, start frame, padding
    retime: str | None = None  # "speed 2.000x", "reverse 1.000x", "freeze frame", "speed 2.000x (source span, no M2)"
    speed: float = 1.0  # source frames per record frame: negative runs backwards, 0 is a freeze frame
    transitions: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    item: tuple[int, int] = (0, 0)  # (video track, item) position in the timeline
    event_line: int | None = None  # CMX: the line of its event

    @property
    def source_tc(self) -> str:
        """First-last source frame the shot needs, as timecode (inclusive)."""
        return f"{self.timecode_of(self.source_in)}-{self.timecode_of(self.source_out - 1)}"

    @property
    def record_out_tc(self) -> str:
        """Record out, exclusive, as edit lists write it."""
        return str(Timecode.parse(self.record_tc, self.rate, self.drop_frame) + self.record_frames)

    def timecode_of(self, frames: int) -> str:
        """A frame count as timecode at the shot's rate and drop-frame counting."""
        return str(Timecode(frames, round(self.rate), self.drop_frame))

    def to_dict(self) -> dict:
        return {"index": self.index, "id": self.id, "clip": self.clip, "reel": self.reel, "track": self.track,
                "record": {"start": self.record_start, "frames": self.record_frames, "timecode": self.record_tc,
                           "in": self.record_tc, "out": self.record_out_tc},
                "source": {"in": self.source_in, "out": self.source_out, "timecode": self.source_tc,
                           "in_tc": self.timecode_of(self.source_in), "out_tc": self.timecode_of(self.source_out)},
                "media": {"url": self.media_url, "kind": self.media_kind, "sequence": self.sequence},
                "retime": self.retime, "speed": self.speed, "transitions": self.transitions}


def _frames(rt, rate: Fraction) -> int:
    """An OTIO time as a whole frame count at ``rate``."""
    return int(round(rt.value_rescaled_to(float(rate))))


def shots_of(edit_list) -> tuple[list[Shot], list[str]]:
    """The shots of an :class:`~paicli.timeline.read.EditListFile` and notes on what was skipped."""
    import opentimelineio as otio

    rate, drop = edit_list.rate, edit_list.drop_frame
    timeline = edit_list.timeline
    origin = _frames(timeline.global_start_time, rate) if timeline.global_start_time is not None else 0
    shots: list[Shot] = []
    notes: list[str] = []
    for t_index, track in enumerate(timeline.video_tracks(), 1):
        name = track.name or f"V{t_index}"
        items = list(track)
        if not track.enabled:
            off = sum(isinstance(i, otio.schema.Clip) for i in items)
            notes.append(f"{name}: track disabled in the edit; its {off} clip(s) are not rendered")
            continue
        for i, item in enumerate(items):
            if isinstance(item, (otio.schema.Clip, otio.schema.Stack)) and not item.enabled:
                notes.append(f"{name}: {item.name!r} is disabled in the edit; not rendered")
                continue
            if isinstance(item, otio.schema.Stack):
                notes.append(f"{name}: nested sequence {item.name!r} is not rendered (flatten it in the edit)")
                continue
            if not isinstance(item, otio.schema.Clip):
                continue
            rng = item.trimmed_range()
            frames = _frames(rng.duration, rate)
            if frames <= 0:
                continue
            ref = item.media_reference
            kind, url, seq = "external", None, None
            if isinstance(ref, otio.schema.ImageSequenceReference):
                kind = "image_sequence"
                url = ref.target_url_base
                seq = {"base": ref.target_url_base, "prefix": ref.name_prefix, "suffix": ref.name_suffix,
                       "start_frame": ref.start_frame, "padding": ref.frame_zero_padding,
                       "available_start": _frames(ref.available_range.start_time, rate)
                       if ref.available_range is not None else None}
            elif isinstance(ref, otio.schema.ExternalReference):
                url = ref.target_url
            elif isinstance(ref, otio.schema.GeneratorReference):
                notes.append(f"{name}: {item.name!r} is a generator ({ref.generator_kind}), not footage: skipped")
                continue
            else:
                kind = "missing"
            entry = _frames(rng.start_time, rate)
            transitions = []
            before = items[i - 1] if i > 0 else None
            after = items[i + 1] if i + 1 < len(items) else None
            lead = tail = 0  # record frames the transitions around it show of this clip
            if isinstance(before, otio.schema.Transition):  # this clip's source runs under its in_offset
                lead = _frames(before.in_offset, rate)
                transitions.append(f"in: {before.transition_type} {_frames(before.in_offset + before.out_offset, rate)}f")
            if isinstance(after, otio.schema.Transition):  # and under the next transition's out_offset
                tail = _frames(after.out_offset, rate)
                transitions.append(f"out: {after.transition_type} {_frames(after.in_offset + after.out_offset, rate)}f")
            cmx = item.metadata.get("cmx_3600", {}) if hasattr(item.metadata, "get") else {}
            speed, retime, retimed_in = clip_speed(item)
            if retimed_in:  # FCP7: the in point counts retimed frames from the media's start
                media_start = _media_start(ref, rate)
                entry = media_start + math.floor((entry - media_start) * abs(speed) + 1e-6)
            src_in, src_out = source_span(entry, frames, speed, lead, tail)
            written = (Timecode.parse(cmx["source_out"], rate, cmx.get("drop_frame")).frames
                       if cmx.get("source_out") else None)
            if written is not None and retime is None and written > entry and written - entry != frames:
                # no M2, yet the source span is not the record span: the list's own speed change
                speed = (written - entry) / frames
                retime = f"speed {speed:.3f}x (source span, no M2)"
                src_in, src_out = entry - lead, written + tail
            start = _frames(item.range_in_parent().start_time, rate)
            index = len(shots) + 1
            reel = cmx.get("reel") or _reel_of(item)
            clip = item.name or reel or f"clip{index}"
            shots.append(Shot(index=index, id=f"{index:03d}_{sanitize_name(clip, 60)}", clip=clip, reel=reel,
                              track=name, record_start=start, record_frames=frames,
                              record_tc=str(Timecode(origin + start, round(rate), drop)), source_in=src_in,
                              source_out=src_out, rate=rate, drop_frame=drop, media_url=url, media_kind=kind,
                              sequence=seq, retime=retime, speed=speed, transitions=transitions,
                              item=(t_index - 1, i),
                              event_line=cmx.get("line"),
                              metadata=dict(item.metadata.get("paicli", {})) if hasattr(item.metadata, "get") else {}))
    return shots, notes


def clip_speed(clip) -> tuple[float, str | None, bool]:
    """(source frames per record frame, how the plan names the retime or None, whether the
    clip's in point counts retimed frames) from a clip's effects: a freeze frame is 0, a
    linear time warp its scalar (negative: reverse), an FCP7 Time Remap its ``speed`` percent
    (``reverse`` TRUE: negative; FCP7 counts a remapped clip's in point in retimed frames);
    a variable or unreadable speed effect is flagged at speed 1."""
    import opentimelineio as otio

    speed, retime, retimed_in = 1.0, None, False
    for fx in clip.effects:
        if isinstance(fx, otio.schema.FreezeFrame):
            return 0.0, "freeze frame", False
        if isinstance(fx, otio.schema.LinearTimeWarp):
            speed *= float(fx.time_scalar)
            continue
        remap = _fcp7_time_remap(fx)
        if isinstance(remap, float):
            speed *= remap
            retimed_in = True
        elif remap is not None:
            retime = remap
        elif "speed" in (fx.effect_name or "").lower() or "retime" in (fx.effect_name or "").lower():
            retime = fx.effect_name
    if retime is not None:
        return 1.0, retime, False
    if speed == 0:
        return 0.0, "freeze frame", False
    if speed != 1.0:
        retime = f"{'reverse' if speed < 0 else 'speed'} {abs(speed):.3f}x"
    return speed, retime, retimed_in


def _fcp7_time_remap(fx) -> float | str | None:
    """An FCP7 XML ``timeremap`` filter as the adapter keeps it: its constant speed as a
    factor, a note when the speed varies or cannot be read, None for any other effect."""
    meta = fx.metadata.get("fcp_xml") if hasattr(fx.metadata, "get") else None
    if not hasattr(meta, "get") or str(meta.get("effectid", "")).lower() != "timeremap":
        return None
    params = meta.get("parameter") or []
    params = [params] if hasattr(params, "get") else list(params)
    values = {str(p.get("parameterid") or p.get("name") or "").lower(): p.get("value")
              for p in params if hasattr(p, "get")}
    if str(values.get("variablespeed", "0")).upper() in ("1", "TRUE"):
        return "variable speed (time remap): rendered over the span the list gives"
    try:
        speed = float(values.get("speed", 100)) / 100.0
    except (TypeError, ValueError):
        return f"time remap with an unreadable speed {values.get('speed')!r}"
    return -abs(speed) if str(values.get("reverse", "FALSE")).upper() == "TRUE" else speed


def source_span(entry: int, frames: int, speed: float, lead: int = 0, tail: int = 0) -> tuple[int, int]:
    """The source frames [in, out) a clip shows: record frame k (from -``lead`` to
    ``frames`` - 1 + ``tail``, the transitions' share included) shows source frame
    ``entry`` + floor(k * ``speed``)."""
    if speed == 0:
        return entry, entry + 1

    def at(k: int) -> int:
        return entry + math.floor(k * speed + 1e-6)

    first, last = at(-lead), at(frames - 1 + tail)
    return min(first, last), max(first, last) + 1


def _media_start(ref, rate: Fraction) -> int:
    """Where a media reference's frames start (its available range), else 0."""
    rng = getattr(ref, "available_range", None)
    return _frames(rng.start_time, rate) if rng is not None else 0


def _reel_of(clip) -> str | None:
    """The reel/tape name adapters keep in metadata (FCP7 XML, AAF), if any."""
    keys = {"reel", "reel_name", "reelname", "tape", "tapename"}
    return next((v for v in metadata_values(clip.metadata, keys, max_depth=4) if isinstance(v, str) and v), None)
