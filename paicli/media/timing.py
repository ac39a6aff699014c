"""Exact frame rates and SMPTE timecode.

Frame rates are :class:`fractions.Fraction` (24000/1001, never 23.976). Timecodes are
counted in frames from 00:00:00:00 at the *nominal* (integer) rate of the timebase, with
SMPTE 12M drop-frame numbering for 29.97 and 59.94.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from paicli.errors import UsageError

# Decimal spellings editors type, mapped to the exact broadcast rates they mean.
_NTSC_RATES = {
    "23.976": Fraction(24000, 1001),
    "23.98": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "47.952": Fraction(48000, 1001),
    "59.94": Fraction(60000, 1001),
    "119.88": Fraction(120000, 1001),
}


def parse_rate(text: str | float | Fraction | int) -> Fraction:
    """Parse a frame rate: ``"24000/1001"``, ``"23.976"``, ``"25"``, ``29.97`` or a Fraction.

    Decimal NTSC spellings snap to their exact rational rate; anything else must be exact.
    """
    if isinstance(text, Fraction):
        rate = text
    elif isinstance(text, int):
        rate = Fraction(text)
    else:
        s = str(text).strip()
        if s in _NTSC_RATES:
            return _NTSC_RATES[s]
        try:
            rate = Fraction(s)
        except (ValueError, ZeroDivisionError):
            raise UsageError(f"not a frame rate: {text!r} (use e.g. 24, 25, 24000/1001 or 29.97)") from None
        for exact in _NTSC_RATES.values():
            if abs(float(rate) - float(exact)) < 0.0015 and "." in s:
                return exact
    if rate <= 0 or rate > 1000:
        raise UsageError(f"frame rate out of range: {text!r}")
    return rate


def format_rate(rate: Fraction) -> str:
    """``24000/1001`` or ``25``: the exact spelling used in JSON and sidecars."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def nominal_fps(rate: Fraction) -> int:
    """The integer frame count per timecode second (30 for 29.97, 24 for 23.976)."""
    return max(1, round(rate))


def drop_frame_allowed(rate: Fraction) -> bool:
    """Drop-frame timecode exists only for multiples of 30000/1001 (29.97, 59.94, ...)."""
    return rate.denominator == 1001 and rate.numerator % 30000 == 0


_TC_RE = re.compile(r"^\s*(-?)(\d{1,2})[:;.](\d{2})[:;.](\d{2})([:;.,])(\d{2,3})\s*$")


@dataclass(frozen=True, order=True)
class Timecode:
    """A SMPTE timecode: ``frames`` counted from 00:00:00:00 at ``fps`` nominal frames per second.

    ``drop`` selects drop-frame labelling (frame numbers 00 and 01, or 00-03 at 59.94, are
    skipped at the start of every minute except every tenth); ``frames`` is always the real
    count of frames, so arithmetic is plain integer arithmetic.
    """

    frames: int
    fps: int
    drop: bool = False

    @property
    def _drop_per_minute(self) -> int:
        return self.fps // 15  # 2 at 30, 4 at 60

    @classmethod
    def for_rate(cls, frames: int, rate: Fraction, drop: bool | None = None) -> "Timecode":
        """A timecode for ``rate``; drop-frame defaults to on for 29.97/59.94 only if asked."""
        if drop and not drop_frame_allowed(rate):
            raise UsageError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {format_rate(rate)}")
        return cls(frames, nominal_fps(rate), bool(drop))

    @classmethod
    def parse(cls, text: str, rate: Fraction, drop: bool | None = None) -> "Timecode":
        """Parse ``HH:MM:SS:FF`` (``;`` before the frames means drop-frame).

        ``drop`` forces drop-frame on or off (an EDL's ``FCM: DROP FRAME``); ``None`` takes
        it from the separator.
        """
        m = _TC_RE.match(str(text))
        if not m:
            raise UsageError(f"not a timecode: {text!r} (expected HH:MM:SS:FF)")
        neg, hh, mm, ss, sep, ff = m.groups()
        if neg:
            raise UsageError(f"negative timecode: {text!r}")
        is_drop = sep in ";," if drop is None else drop
        fps = nominal_fps(rate)
        if is_drop and not drop_frame_allowed(rate):
            raise UsageError(f"drop-frame timecode {text!r} needs 29.97 or 59.94 fps, not {format_rate(rate)}")
        h, mi, s, f = int(hh), int(mm), int(ss), int(ff)
        if mi > 59 or s > 59 or f >= fps:
            raise UsageError(f"timecode out of range for {format_rate(rate)} fps: {text!r}")
        tc = cls(0, fps, is_drop)
        total_minutes = 60 * h + mi
        frames = (3600 * h + 60 * mi + s) * fps + f
        if is_drop:
            d = tc._drop_per_minute
            if mi % 10 != 0 and s == 0 and f < d:
                raise UsageError(f"{text!r} does not exist in drop-frame timecode")
            frames -= d * (total_minutes - total_minutes // 10)
        return cls(frames, fps, is_drop)

    def __str__(self) -> str:
        fps, d = self.fps, self._drop_per_minute
        per_10min = 600 * fps - 9 * d
        frames = self.frames % (144 * per_10min if self.drop else 86400 * fps)  # wraps at 24 h
        if self.drop:
            per_min = 60 * fps - d
            tens, rem = divmod(frames, per_10min)
            if rem > d:
                frames += 9 * d * tens + d * ((rem - d) // per_min)
            else:
                frames += 9 * d * tens
        ff = frames % fps
        ss = frames // fps % 60
        mm = frames // (fps * 60) % 60
        hh = frames // (fps * 3600) % 24
        return f"{hh:02d}:{mm:02d}:{ss:02d}{';' if self.drop else ':'}{ff:02d}"

    def __add__(self, n: int) -> "Timecode":
        return Timecode(self.frames + int(n), self.fps, self.drop)

    def __sub__(self, other: "int | Timecode") -> "int | Timecode":
        if isinstance(other, Timecode):
            return self.frames - other.frames
        return Timecode(self.frames - int(other), self.fps, self.drop)
