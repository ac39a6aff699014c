"""Exact rates and SMPTE timecode, drop-frame included."""
from fractions import Fraction

import pytest

from paicli.errors import UsageError
from paicli.media.timing import Timecode, drop_frame_allowed, format_rate, nominal_fps, parse_rate

NTSC30 = Fraction(30000, 1001)
NTSC60 = Fraction(60000, 1001)


@pytest.mark.parametrize("text,exact", [
    ("24000/1001", Fraction(24000, 1001)), ("23.976", Fraction(24000, 1001)), ("23.98", Fraction(24000, 1001)),
    ("29.97", NTSC30), ("59.94", NTSC60), ("25", Fraction(25)), ("24", Fraction(24)), ("50", Fraction(50)),
])
def test_parse_rate_gives_the_exact_broadcast_rate(text, exact):
    assert parse_rate(text) == exact


@pytest.mark.parametrize("bad", ["fast", "0", "-24", "1/0", ""])
def test_parse_rate_refuses_nonsense(bad):
    with pytest.raises(UsageError):
        parse_rate(bad)


def test_format_rate_is_exact():
    assert format_rate(Fraction(24000, 1001)) == "24000/1001"
    assert format_rate(Fraction(25)) == "25"


def test_nominal_fps_and_drop_frame_rule():
    assert nominal_fps(NTSC30) == 30 and nominal_fps(Fraction(24000, 1001)) == 24
    assert drop_frame_allowed(NTSC30) and drop_frame_allowed(NTSC60)
    assert not drop_frame_allowed(Fraction(24000, 1001)) and not drop_frame_allowed(Fraction(25))


@pytest.mark.parametrize("text,frames", [
    ("00:00:59;29", 1799), ("00:01:00;02", 1800), ("00:10:00;00", 17982), ("01:00:00;00", 107892),
])
def test_drop_frame_counts_at_2997(text, frames):
    tc = Timecode.parse(text, NTSC30)
    assert tc.frames == frames and tc.drop and str(tc) == text


def test_drop_frame_skips_labels_at_the_minute():
    assert str(Timecode.parse("00:00:59;29", NTSC30) + 1) == "00:01:00;02"
    assert str(Timecode.parse("00:09:59;29", NTSC30) + 1) == "00:10:00;00"
    assert str(Timecode.parse("00:00:59;59", NTSC60) + 1) == "00:01:00;04"


def test_drop_frame_label_that_does_not_exist_is_refused():
    with pytest.raises(UsageError):
        Timecode.parse("00:01:00;00", NTSC30)


def test_drop_frame_round_trips_over_a_whole_day():
    for rate in (NTSC30, NTSC60):
        fps = nominal_fps(rate)
        day = 144 * (600 * fps - 9 * (fps // 15))
        for f in range(0, day, 997):
            assert Timecode.parse(str(Timecode(f, fps, True)), rate).frames == f
        assert str(Timecode(day, fps, True)) == "00:00:00;00"  # wraps at 24 h


def test_drop_frame_needs_an_ntsc_rate():
    with pytest.raises(UsageError):
        Timecode.parse("01:00:00;00", Fraction(24000, 1001))


@pytest.mark.parametrize("rate,text,frames", [
    (Fraction(24000, 1001), "01:00:00:00", 86400), (Fraction(25), "10:00:00:00", 900000),
    (Fraction(50), "00:00:01:49", 99), (Fraction(24), "00:10:00:00", 14400),
])
def test_non_drop_timecode(rate, text, frames):
    tc = Timecode.parse(text, rate)
    assert tc.frames == frames and not tc.drop and str(tc) == text


def test_timecode_arithmetic():
    a = Timecode.parse("01:00:00:00", Fraction(25))
    assert (a + 30) - a == 30
    assert str(a + 25 * 60) == "01:01:00:00"


@pytest.mark.parametrize("bad", ["1:2:3", "01:00:00:25", "01:61:00:00", "ab:cd:ef:gh"])
def test_bad_timecodes_are_refused(bad):
    with pytest.raises(UsageError):
        Timecode.parse(bad, Fraction(25))
