"""ProRes writer: profiles, 10-bit alpha and colour, BT.709 tags, timecode, reel, atomicity."""
import json
import subprocess
from fractions import Fraction

import numpy as np
import pytest

from conftest import gradient_frames
from engine.colour import bt709_oetf
from paicli.errors import UsageError
from paicli.media.probe import probe
from paicli.media.prores import ProResWriter
from paicli.media.reader import open_source
from paicli.media.timing import Timecode


def ffprobe(path, *args):
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, str(path)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def _code_values(linear_straight):
    return bt709_oetf(linear_straight) * 1023.0


def test_4444_alpha_and_colour_round_trip_within_10_bit_tolerance(tmp_path):
    src = gradient_frames(4, 64, 96, alpha=True, noise=0.0)
    path = tmp_path / "a.mov"
    with ProResWriter(path, 96, 64, Fraction(25), profile="4444") as w:
        for f in src:
            w.write(f)
    with open_source(path) as s:
        got = list(s.frames())
    assert len(got) == 4
    for a, b in zip(src, got):
        assert np.abs(a[..., 3] - b[..., 3]).max() * 1023 <= 1.0  # alpha: within one 10-bit step
        solid = a[..., 3] > 0.5  # compare straight colour where it is well defined
        ca = _code_values(a[..., :3] / np.maximum(a[..., 3:], 1e-6))[solid]
        cb = _code_values(b[..., :3] / np.maximum(b[..., 3:], 1e-6))[solid]
        assert np.abs(ca - cb).max() <= 4.0  # 10-bit code values, ProRes being lossy
        assert np.abs(ca - cb).mean() <= 1.0


def test_straight_colour_and_alpha_encode_as_the_premultiplied_frame_does(tmp_path):
    src = gradient_frames(2, 64, 96, alpha=True, noise=0.0)
    paths = tmp_path / "premult.mov", tmp_path / "straight.mov"
    with ProResWriter(paths[0], 96, 64, Fraction(25), profile="4444") as w:
        for f in src:
            w.write(f)
    with ProResWriter(paths[1], 96, 64, Fraction(25), profile="4444") as w:
        for f in src:
            a = f[..., 3]
            w.write_straight(f[..., :3] / np.maximum(a, 1e-6)[..., None], a)
    with open_source(paths[0]) as s0, open_source(paths[1]) as s1:
        for a, b in zip(s0.frames(), s1.frames()):
            assert np.abs(a - b).max() < 2e-3  # the same code values but for rounding at .5


@pytest.mark.parametrize("profile,fourcc,pix", [("proxy", "apco", "yuv422p10le"), ("lt", "apcs", "yuv422p10le"),
                                                ("422", "apcn", "yuv422p10le"), ("hq", "apch", "yuv422p10le"),
                                                ("4444", "ap4h", "yuva444p12le"), ("4444xq", "ap4x", "yuva444p12le")])
@pytest.mark.needs_ffmpeg
def test_ffprobe_confirms_profile_tags_and_timecode(tmp_path, profile, fourcc, pix):
    path = tmp_path / f"{profile}.mov"
    rate = Fraction(30000, 1001)
    with ProResWriter(path, 64, 48, rate, profile=profile, start_timecode=Timecode.parse("00:59:59;28", rate),
                      reel="B002C007") as w:
        for f in gradient_frames(3, alpha=profile.startswith("4444")):
            w.write(f)
    info = ffprobe(path, "-show_streams")
    v = [s for s in info["streams"] if s["codec_type"] == "video"][0]
    tmcd = [s for s in info["streams"] if s.get("codec_tag_string") == "tmcd"][0]
    assert v["codec_tag_string"] == fourcc and v["pix_fmt"] == pix
    assert (v["color_space"], v["color_transfer"], v["color_primaries"], v["color_range"]) == ("bt709",) * 3 + ("tv",)
    assert v["r_frame_rate"] == "30000/1001" and v["nb_frames"] == "3"
    assert tmcd["tags"]["timecode"] == "00:59:59;28" and tmcd["tags"]["reel_name"] == "B002C007"
    frame = ffprobe(path, "-select_streams", "v:0", "-show_frames")["frames"][0]  # tags on every frame too
    assert (frame["color_space"], frame["color_transfer"], frame["color_primaries"]) == ("bt709",) * 3


def test_explicit_bt709_matrix_not_bt601(tmp_path):
    """A saturated red must come back red: an implicit BT.601 decode would shift it."""
    red = np.zeros((48, 64, 3), np.float32)
    red[..., 0] = 0.8
    path = tmp_path / "red.mov"
    with ProResWriter(path, 64, 48, Fraction(24), profile="4444") as w:
        w.write(red)
    with open_source(path) as s:
        back = next(iter(s.frames()))
    assert np.abs(back[..., :3] - red).max() < 0.01


def test_probe_reads_back_timing_of_a_written_movie(write_prores):
    path = write_prores(n=7, rate=Fraction(24000, 1001), tc="01:02:03:04", reel="A007C002")
    info = probe(path)
    assert info.rate == Fraction(24000, 1001) and info.frame_count == 7
    assert str(info.start_timecode) == "01:02:03:04" and info.reel == "A007C002"
    assert not info.vfr and info.bit_depth == 10 and info.transfer == "bt709"


def test_alpha_on_a_422_profile_is_refused(tmp_path):
    with pytest.raises(UsageError):
        ProResWriter(tmp_path / "x.mov", 64, 48, Fraction(24), profile="hq", alpha=True)


def test_unknown_profile_and_odd_size_are_refused(tmp_path):
    with pytest.raises(UsageError):
        ProResWriter(tmp_path / "x.mov", 64, 48, Fraction(24), profile="ultra")
    with pytest.raises(UsageError):
        ProResWriter(tmp_path / "x.mov", 63, 48, Fraction(24))


def test_an_error_mid_write_leaves_nothing_under_the_final_name(tmp_path):
    path = tmp_path / "out.mov"
    with pytest.raises(RuntimeError):
        with ProResWriter(path, 64, 48, Fraction(24)) as w:
            w.write(gradient_frames(1)[0])
            raise RuntimeError("engine crashed")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []
