"""Timing survives read -> write -> read exactly, for ProRes and EXR, at every broadcast rate."""
from fractions import Fraction

import numpy as np
import pytest

from conftest import gradient_frames
from paicli.media.probe import probe
from paicli.media.prores import ProResWriter
from paicli.media.reader import open_source
from paicli.media.timing import Timecode
from paicli.media.writers import OutputSpec, Writer

RATES = {
    "23.976": (Fraction(24000, 1001), "00:59:59:20"),
    "24": (Fraction(24), "01:00:00:00"),
    "25": (Fraction(25), "10:00:00:00"),
    "29.97DF": (Fraction(30000, 1001), "00:59:59;28"),  # crosses the 01:00:00;00 boundary
    "50": (Fraction(50), "23:59:59:45"),
    "59.94": (Fraction(60000, 1001), "00:00:59;58"),  # crosses a dropped minute
}
N = 7


def _copy(src_path, dst_path, spec, frames=None):
    """read -> write through the public reader and writer, as every command does."""
    info = probe(src_path)
    with open_source(src_path, info=info) as src:
        with Writer(dst_path, spec, "media", info.width, info.height, info.rate, info.start_timecode, info.reel,
                    source_first_frame=info.first_frame) as w:
            for f in src.frames():
                w.write(f)
    return w.output()


@pytest.mark.parametrize("name", list(RATES))
@pytest.mark.parametrize("fmt", ["prores", "exr"])
def test_timing_survives_a_round_trip(tmp_path, name, fmt):
    rate, tc_text = RATES[name]
    start = Timecode.parse(tc_text, rate)
    first = tmp_path / "first.mov"
    with ProResWriter(first, 64, 48, rate, profile="422", start_timecode=start, reel="A012C003") as w:
        for f in gradient_frames(N):
            w.write(f)
    spec = OutputSpec(format=fmt, first_frame="timecode" if fmt == "exr" else 1001)
    second = tmp_path / ("second.mov" if fmt == "prores" else "second.####.exr")
    out = _copy(first, second, spec)
    third = tmp_path / "third.mov"
    _copy(second, third, OutputSpec(format="prores"))  # and back again
    for path in (second, third):
        info = probe(path)
        assert info.rate == rate, path
        assert info.frame_count == N
        assert info.start_timecode == start and str(info.start_timecode) == tc_text
        assert info.reel == "A012C003"
    assert out.timecode == (start, start + (N - 1))
    if fmt == "exr":
        assert out.frames == (start.frames, start.frames + N - 1)  # numbered from the timecode


def test_exr_frames_numbered_from_1001_by_default(tmp_path, write_prores):
    src = write_prores(n=3)
    out = _copy(src, tmp_path / "shot.####.exr", OutputSpec(format="exr"))
    assert out.frames == (1001, 1003)
    assert sorted(p.name for p in tmp_path.glob("shot.*.exr")) == ["shot.1001.exr", "shot.1002.exr", "shot.1003.exr"]


def test_pixels_survive_prores_to_exr_to_prores(tmp_path, write_prores):
    src = write_prores(n=3)
    _copy(src, tmp_path / "s.####.exr", OutputSpec(format="exr"))
    _copy(tmp_path / "s.####.exr", tmp_path / "back.mov", OutputSpec(format="prores"))
    with open_source(src) as a, open_source(tmp_path / "back.mov") as b:
        for x, y in zip(a.frames(), b.frames()):  # one more generation of lossy 4:2:2 ProRes
            assert np.abs(x - y).mean() < 0.002 and np.abs(x - y).max() < 0.03


def test_output_colourspace_through_ocio(tmp_path, write_prores):
    """Linear Rec.709 -> ACEScg EXR -> back to linear Rec.709 is an identity (within half precision)."""
    src = write_prores(n=2)
    _copy(src, tmp_path / "cg.####.exr", OutputSpec(format="exr", colourspace="ACEScg"))
    with open_source(src) as a, open_source(tmp_path / "cg.####.exr", colourspace_name="ACEScg") as b:
        for x, y in zip(a.frames(), b.frames()):
            assert np.abs(x - y).max() < 2e-3
    with open_source(tmp_path / "cg.####.exr") as b:  # read as if Rec.709: ACEScg primaries differ
        assert np.abs(next(iter(b.frames())) - next(iter(open_source(src).frames()))).max() > 0.01
