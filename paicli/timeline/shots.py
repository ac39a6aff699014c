"""The shots of an edit list: one per video clip, with the source frames it needs.

A shot is a video clip of the timeline with a duration. Its record range is where it sits
in the edit (frames from the timeline's start, and record timecode); its source range is
the span of source timecode it shows, widened by the transitions around it (the outgoing
clip of a dissolve plays on under it) and later by the render's handles. Retimed clips
(speed effects, freeze frames) are rendered over their source range as the list gives it
and flagged. Shot ids are deterministic: the clip's order in the edit (track by track, in
record order) and its name, so the same list always plans the same shots.
"""
from __future__ import annotations

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
    retime: str | None = None  # "speed 2.000x", "freeze frame"
    transitions: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    item: tuple[int, int] = (0, 0)  # (video track, item) position in the timeline
    event_line: int | None = None  # CMX: the line of its event

    @property
    def source_tc(self) -> str:
        return f"{Timecode(self.source_in, round(self.rate), self.drop_frame)}-" \
               f"{Timecode(self.source_out - 1, round(self.rate), self.drop_frame)}"

    def to_dict(self) -> dict:
        return {"index": self.index, "id": self.id, "clip": self.clip, "reel": self.reel, "track": self.track,
                "record": {"start": self.record_start, "frames": self.record_frames, "timecode": self.record_tc},
                "source": {"in": self.source_in, "out": self.source_out, "timecode": self.source_tc},
                "media": {"url": self.media_url, "kind": self.media_kind, "sequence": self.sequence},
                "retime": self.retime, "transitions": self.transitions}


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
        for i, item in enumerate(items):
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
            src_in = _frames(rng.start_time, rate)
            src_out = src_in + frames
            transitions = []
            before = items[i - 1] if i > 0 else None
            after = items[i + 1] if i + 1 < len(items) else None
            if isinstance(before, otio.schema.Transition):  # this clip's source runs under its in_offset
                src_in -= _frames(before.in_offset, rate)
                transitions.append(f"in: {before.transition_type} {_frames(before.in_offset + before.out_offset, rate)}f")
            if isinstance(after, otio.schema.Transition):  # and under the next transition's out_offset
                src_out += _frames(after.out_offset, rate)
                transitions.append(f"out: {after.transition_type} {_frames(after.in_offset + after.out_offset, rate)}f")
            retime = None
            for fx in item.effects:
                if isinstance(fx, otio.schema.FreezeFrame):
                    retime = "freeze frame"
                elif isinstance(fx, otio.schema.LinearTimeWarp):
                    retime = f"speed {fx.time_scalar:.3f}x"
                elif "speed" in (fx.effect_name or "").lower() or "retime" in (fx.effect_name or "").lower():
                    retime = fx.effect_name
            cmx = item.metadata.get("cmx_3600", {}) if hasattr(item.metadata, "get") else {}
            if cmx.get("source_out") and retime:  # an M2 event shows the source span the list wrote
                src_out = max(src_out, Timecode.parse(cmx["source_out"], rate, cmx.get("drop_frame")).frames)
            start = _frames(item.range_in_parent().start_time, rate)
            index = len(shots) + 1
            reel = cmx.get("reel") or _reel_of(item)
            clip = item.name or reel or f"clip{index}"
            shots.append(Shot(index=index, id=f"{index:03d}_{sanitize_name(clip, 60)}", clip=clip, reel=reel,
                              track=name, record_start=start, record_frames=frames,
                              record_tc=str(Timecode(origin + start, round(rate), drop)), source_in=src_in,
                              source_out=src_out, rate=rate, drop_frame=drop, media_url=url, media_kind=kind,
                              sequence=seq, retime=retime, transitions=transitions, item=(t_index - 1, i),
                              event_line=cmx.get("line"),
                              metadata=dict(item.metadata.get("paicli", {})) if hasattr(item.metadata, "get") else {}))
    return shots, notes


def _reel_of(clip) -> str | None:
    """The reel/tape name adapters keep in metadata (FCP7 XML, AAF), if any."""
    keys = {"reel", "reel_name", "reelname", "tape", "tapename"}
    return next((v for v in metadata_values(clip.metadata, keys, max_depth=4) if isinstance(v, str) and v), None)
