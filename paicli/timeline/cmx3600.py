"""CMX 3600 edit decision lists: read into events and an OTIO timeline, and write back.

Our own reader, because OpenTimelineIO's ignores ``FCM: DROP FRAME`` and ``;`` timecodes,
cannot infer a list's rate and stops at the first event it dislikes. Here:

- Timecodes are counted at the list's nominal rate, drop-frame where ``FCM: DROP FRAME``
  is in force or the timecode says ``;`` (29.97/59.94 only).
- The rate is the one given; without one it is inferred from the largest frame number of
  the record timecodes and the video events' source timecodes (frames up to 23: 24 fps;
  24: 25 fps; 25-29: 30, or 29.97 when drop-frame), and the reason is recorded; audio
  sources (a sound recorder's timecode) may run at other rates and are not evidence. A
  given rate those timecodes contradict is refused.
- Every line that starts like an event and carries timecodes is read (a reel name holding
  spaces included) or noted with its line number; comments after a skipped line are not
  given to the event before it. Audio events that overlap or end before they start are
  noted and skipped: paicli renders video.
- Transitions (``D``, ``Wnnn``, ``K``) follow the standard layout: a zero-length cut of the
  outgoing clip, then the event of the incoming clip with the transition's length. They
  become an OTIO :class:`Transition` that starts at the cut (``in_offset`` 0), as the OTIO
  adapter models them.
- ``M2`` lines retime the event they follow (0 = freeze frame, negative = reverse), as an
  OTIO time warp or freeze frame; the event keeps its source range as written (the plan
  works out the frames it shows). A freeze frame's clip name loses the ``FF`` vendors add.
- ``* FROM CLIP NAME:``, ``* TO CLIP NAME:``, ``* SOURCE FILE:`` / ``* FROM FILE:`` and
  ``* LOC:`` comments are kept (with or without the ``*``); other comments too, verbatim.
- Video events go to V1 (an event overlapping the previous one on the record side goes to
  V2, and so on); audio events go to one track per channel label.

Timecodes, reels and names are data: nothing here touches a file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from paicli.errors import BadDataError, PaicliError
from paicli.media.timing import Timecode, drop_frame_allowed, format_rate

_TC = r"\d{1,2}[:;.]\d{2}[:;.]\d{2}[:;.,]\d{2,3}"
EVENT_LINE = re.compile(rf"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(C|D|W\d{{3}}|K[BO]?)\s+(?:(\d+)\s+)?({_TC})\s+({_TC})\s+({_TC})\s+({_TC})\s*$",
                    re.IGNORECASE)
_EVENT_START = re.compile(r"^\s*\d{1,6}\s+\S")  # what every event line starts with: its number
_CHANNELS = re.compile(r"^(?:V|B|NONE|A\d*|AA|A\d*/V|AA/V|V/A\d*|V/AA)$", re.IGNORECASE)
_EDIT = re.compile(r"^(?:C|D|W\d{3}|K[BO]?)$", re.IGNORECASE)
_M2 = re.compile(rf"^\s*M2\s+(\S+)\s+(-?\d+(?:\.\d*)?)\s+({_TC})\s*$", re.IGNORECASE)
_COMMENT_KEYS = {"FROM CLIP NAME": "clip_name", "TO CLIP NAME": "to_clip_name", "SOURCE FILE": "source_file",
                 "FROM FILE": "source_file", "LOC": "locator"}
STANDARD_RATES = (Fraction(24), Fraction(25), Fraction(30))


@dataclass
class Event:
    """One event line of the list (a transition's incoming side is its own event)."""

    number: str
    reel: str
    channels: str  # V, A, A2, AA, AA/V, B ...
    edit: str  # C, D, Wnnn, K, KB, KO
    transition: int  # frames, for D/W/K
    src_in: Timecode
    src_out: Timecode
    rec_in: Timecode
    rec_out: Timecode
    line: int
    clip_name: str | None = None
    to_clip_name: str | None = None
    source_file: str | None = None
    locator: str | None = None
    speed: float | None = None  # M2: frames per second of source played per record second
    comments: list[str] = field(default_factory=list)

    @property
    def video(self) -> bool:
        return is_video(self.channels)

    @property
    def duration(self) -> int:
        return self.rec_out.frames - self.rec_in.frames

    @property
    def name(self) -> str:
        """The clip's name: FROM CLIP NAME, else the reel (for a transition: TO CLIP NAME)."""
        if self.edit != "C" and self.to_clip_name:
            return self.to_clip_name
        return self.clip_name or self.reel


@dataclass
class EditList:
    title: str | None
    rate: Fraction
    drop: bool  # the list's first FCM (events carry their own)
    rate_note: str  # where the rate came from
    events: list[Event]
    notes: list[str] = field(default_factory=list)


def is_video(channels: str) -> bool:
    """Whether an event's channel field (V, A, A2, AA/V, B ...) includes picture."""
    ch = channels.upper()
    return "V" in ch or ch == "B"


def _frame_numbers(lines: list[str]) -> list[int]:
    """The frame digits of every event's record timecodes (the list's own timeline) and of
    video events' source timecodes; not of audio sources, whose timecode (a sound recorder's)
    may run at another rate."""
    out = []
    for ln in lines:
        fields = event_fields(ln)
        if fields:
            out += [int(tc[-2:]) for tc in fields[-4 if is_video(fields[2]) else -2:]]
    return out


def choose_rate(lines: list[str], given: Fraction | None, any_drop: bool) -> tuple[Fraction, str]:
    """The list's rate and why (see the module notes)."""
    top = max(_frame_numbers(lines), default=0)
    if given is not None:
        if any_drop and not drop_frame_allowed(given):
            raise BadDataError(f"the list uses drop-frame timecode, which needs 29.97 or 59.94 fps, "
                               f"not --rate {format_rate(given)}")
        if top >= round(given):
            raise BadDataError(f"the list's video timecodes count frames up to {top}, beyond "
                               f"{format_rate(given)} fps: it is not at that rate "
                               f"(try --rate {25 if top == 24 else 30})")
        return given, "given"
    if any_drop:
        rate = Fraction(60000, 1001) if top >= 30 else Fraction(30000, 1001)
        return rate, f"drop-frame timecode: {format_rate(rate)} fps"
    for rate in STANDARD_RATES + (Fraction(50), Fraction(60)):
        if top < rate:
            why = "the default" if rate == 24 else f"inferred: its video timecodes count frames up to {top}"
            return rate, f"{format_rate(rate)} fps ({why}; --rate to say otherwise)"
    raise BadDataError(f"the list's video timecodes count frames up to {top}: no frame rate fits")


def event_fields(line: str) -> tuple | None:
    """An event line's fields (number, reel, channels, edit, transition frames or None, and
    the four timecodes), or None if ``line`` is no event. Beyond the strict layout, a reel
    name holding spaces is read by taking the line's fields from both ends."""
    m = EVENT_LINE.match(line)
    if m:
        return m.groups()
    words = line.split()
    if len(words) < 8 or not _EVENT_START.match(line) or not all(re.fullmatch(_TC, w) for w in words[-4:]):
        return None
    rest = words[1:-4]
    trans = rest.pop() if rest and rest[-1].isdigit() and len(rest) > 2 else None
    if len(rest) < 3 or not _EDIT.match(rest[-1]) or not _CHANNELS.match(rest[-2]):
        return None
    return (words[0], " ".join(rest[:-2]), rest[-2], rest[-1], trans, *words[-4:])


def looks_like_event(line: str) -> bool:
    """A line that starts as an event does and carries timecodes, whether or not it reads."""
    return bool(_EVENT_START.match(line)) and len(re.findall(_TC, line)) >= 2


def split_lines(text: str) -> list[str]:
    """The list's lines, whatever its line endings (CR LF, LF or old Mac CR)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def parse(text: str, rate: Fraction | None = None) -> EditList:
    """Read a CMX 3600 list (see the module notes). Errors name the line."""
    lines = split_lines(text)
    any_drop = any(re.match(r"^\s*FCM:\s*DROP", ln, re.I) for ln in lines) or any(
        ";" in tc for ln in lines if event_fields(ln) for tc in re.findall(_TC, ln))
    rate, why = choose_rate(lines, rate, any_drop)
    title, drop, first_drop = None, False, None
    events: list[Event] = []
    notes: list[str] = []
    current: Event | None = None  # the event comment lines belong to (None after a skipped line)
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        upper = line.upper()
        if upper.startswith("TITLE:"):
            title = line[6:].strip() or None
            continue
        if upper.startswith("FCM:"):
            drop = "NON" not in upper and "DROP" in upper
            first_drop = drop if first_drop is None else first_drop
            continue
        fields = event_fields(line)
        if fields:
            current = _event(fields, n, rate, drop, notes)
            if current is not None:
                events.append(current)
            continue
        if looks_like_event(line):
            notes.append(f"line {n}: looks like an event but does not read as one; skipped, with its comments: "
                         f"{line[:80]}")
            current = None
            continue
        m = _M2.match(line)
        if m:
            if not events:
                raise BadDataError(f"line {n}: M2 before any event")
            if current is not None:
                current.speed = float(m.group(2))
            continue
        body = line.lstrip("*").strip()
        key, _, value = body.partition(":")
        attr = _COMMENT_KEYS.get(key.strip().upper())
        if attr and current is not None:
            setattr(current, attr, value.strip() or None)
        elif current is not None:
            current.comments.append(body)
        elif not events and not upper.startswith(("*", "AUD", "SPLIT")):
            notes.append(f"line {n} ignored: {line[:60]}")
    if not events:
        raise BadDataError("no events: not a CMX 3600 edit list")
    for ev in events:
        src = ev.src_out.frames - ev.src_in.frames
        if ev.video and ev.speed is None and src and src != ev.duration and ev.duration:
            notes.append(f"event {ev.number} (line {ev.line}): source is {src} frames, record {ev.duration}, "
                         f"with no M2: a speed change of {src / ev.duration:.3f}x; the source span it wrote is "
                         "rendered")
        if ev.speed == 0 and ev.clip_name:  # vendors mark a freeze frame's clip name with FF
            ev.clip_name = re.sub(r"\s+FF$", "", ev.clip_name, flags=re.IGNORECASE) or ev.clip_name
    return EditList(title, rate, bool(first_drop), why, events, notes)


def _event(fields: tuple, n: int, rate: Fraction, drop: bool, notes: list[str]) -> Event | None:
    """The event of line ``n`` from its :func:`event_fields`. A video event whose timecodes
    do not read, or that ends before it starts, stops the list (its plan would be wrong);
    an audio one is noted and skipped: paicli renders video."""
    num, reel, channels, edit, trans, *tcs = fields
    try:
        src_in, src_out, rec_in, rec_out = (Timecode.parse(tc, rate, True if drop or ";" in tc else None) for tc in tcs)
        if rec_out < rec_in or src_out < src_in:
            raise BadDataError(f"event {num} ends before it starts")
    except PaicliError as e:
        if is_video(channels):
            raise BadDataError(f"line {n}: {e.message}") from None
        notes.append(f"line {n}: audio event {num} skipped ({e.message})")
        return None
    return Event(num, reel, channels, edit.upper(), int(trans or 0), src_in, src_out, rec_in, rec_out, n)


def to_timeline(edl: EditList, name: str | None = None):
    """The list as an OTIO timeline: video tracks V1.., audio tracks by channel label; gaps
    where the record side jumps; transitions as OTIO transitions starting at the cut."""
    import opentimelineio as otio

    rate = float(edl.rate)

    def rt(frames: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(frames, rate)

    timeline = otio.schema.Timeline(name=name or edl.title or "edit list")
    timeline.global_start_time = rt(min(e.rec_in.frames for e in edl.events))
    video: list[tuple[otio.schema.Track, list[int]]] = []  # track, [end frame]
    audio: dict[str, tuple[otio.schema.Track, list[int]]] = {}
    start = timeline.global_start_time.value
    events = edl.events
    for ev in events:
        if ev.edit == "C" and ev.duration == 0:
            continue  # the outgoing side of a transition, or an empty event
        if ev.video:
            slot = next((t for t in video if t[1][0] <= ev.rec_in.frames), None)
            if slot is None:
                slot = (otio.schema.Track(name=f"V{len(video) + 1}", kind=otio.schema.TrackKind.Video), [start])
                video.append(slot)
                timeline.tracks.append(slot[0])
        else:
            label = ev.channels.upper()
            if label not in audio:
                audio[label] = (otio.schema.Track(name=label, kind=otio.schema.TrackKind.Audio), [start])
                timeline.tracks.append(audio[label][0])
            slot = audio[label]
            if slot[1][0] > ev.rec_in.frames:
                edl.notes.append(f"line {ev.line}: audio event {ev.number} overlaps the previous event on {label}; "
                                 "skipped (paicli renders video)")
                continue
        track, end = slot
        if ev.edit != "C" and ev.transition:
            prev = next((c for c in reversed(track) if isinstance(c, otio.schema.Clip)), None)
            if prev is not None and end[0] == ev.rec_in.frames:
                kind = (otio.schema.TransitionTypes.SMPTE_Dissolve if ev.edit == "D" else
                        otio.schema.TransitionTypes.Custom)
                track.append(otio.schema.Transition(name=ev.edit, transition_type=kind, in_offset=rt(0),
                                                    out_offset=rt(ev.transition)))
        elif ev.rec_in.frames > end[0]:
            track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(ev.rec_in.frames - end[0]))))
        clip = otio.schema.Clip(name=ev.name, source_range=otio.opentime.TimeRange(
            rt(ev.src_in.frames), rt(ev.duration)))
        url = ev.source_file
        clip.media_reference = (otio.schema.ExternalReference(target_url=url) if url else
                                otio.schema.MissingReference())
        clip.metadata["cmx_3600"] = {"reel": ev.reel, "event": ev.number, "line": ev.line, "channels": ev.channels,
                                     "source_out": str(ev.src_out), "drop_frame": ev.src_in.drop,
                                     "comments": list(ev.comments), **({"speed": ev.speed} if ev.speed is not None
                                                                        else {}),
                                     **({"locator": ev.locator} if ev.locator else {})}
        if ev.speed is not None:
            clip.effects.append(otio.schema.LinearTimeWarp(name="M2", time_scalar=ev.speed / round(rate))
                                if ev.speed else otio.schema.FreezeFrame(name="M2"))
        track.append(clip)
        end[0] = ev.rec_out.frames
    return timeline
