"""Frame-accurate, streaming reads: a seek plus decode-forward equals a straight decode."""
from fractions import Fraction

import numpy as np
import pytest

from conftest import gradient_frames
from paicli.errors import BadDataError, UsageError
from paicli.media.probe import probe
from paicli.media.reader import open_source


def write_h264(path, n=150, gop=24, rate=Fraction(25), size=(96, 128), b_frames=3):
    """A long-GOP H.264 file with B-frames, every frame different."""
    import av

    h, w = size
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.gop_size = gop
        s.codec_context.max_b_frames = b_frames
        s.codec_context.options = {"preset": "veryfast", "bf": str(b_frames), "sc_threshold": "0", "crf": "20"}
        rng = np.random.default_rng(3)
        for i in range(n):
            img = (rng.random((h, w, 3)) * 40).astype(np.uint8)
            img[:, (i * 3) % w] = 255  # a moving bar makes every frame distinct
            img[(i * 2) % h, :, 1] = 200
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="module", params=["mov", "mp4"])
def h264(request, tmp_path_factory):
    return write_h264(tmp_path_factory.mktemp("h264") / f"long_gop.{request.param}")


def test_probe_counts_every_frame_of_a_long_gop_file(h264):
    info = probe(h264)
    assert info.frame_count == 150 and info.rate == Fraction(25) and not info.vfr


def test_seek_equals_straight_decode_pixel_for_pixel(h264):
    with open_source(h264) as src:
        straight = list(src.frames())
    assert len(straight) == 150
    assert not any(np.array_equal(straight[i], straight[i + 1]) for i in range(149))
    ranges = [(0, 3), (1, 2), (23, 3), (24, 1), (25, 5), (47, 10), (100, 50), (149, 1), (71, 1), (5, 40)]
    with open_source(h264) as src:
        for start, count in ranges:
            got = list(src.frames(start, count))
            assert len(got) == count
            for k, frame in enumerate(got):
                assert np.array_equal(frame, straight[start + k]), (start, k)


def test_backward_and_repeated_ranges_on_one_open_source(h264):
    with open_source(h264) as src:
        straight = list(src.frames())
        for start in (120, 30, 31, 32, 0, 149, 77):
            assert np.array_equal(next(iter(src.frames(start, 1))), straight[start])


def test_reading_on_without_a_seek_continues_exactly(h264):
    with open_source(h264) as src:
        straight = list(src.frames())
    with open_source(h264) as src:
        a = list(src.frames(10, 5))
        b = list(src.frames(15, 5))  # continues where the last range ended
    for k, f in enumerate(a + b):
        assert np.array_equal(f, straight[10 + k])


def test_range_outside_the_media_is_a_usage_error(h264):
    with open_source(h264) as src:
        with pytest.raises(UsageError):
            list(src.frames(140, 20))


def test_prores_frames_come_back_in_order(write_prores):
    path = write_prores(n=8, h=48, w=64)
    src_frames = gradient_frames(8)
    with open_source(path) as src:
        got = list(src.frames(3, 4))
    for k, f in enumerate(got):
        errs = [np.abs(f - s).mean() for s in src_frames]
        assert int(np.argmin(errs)) == 3 + k


def test_truncated_movie_is_bad_data(tmp_path, write_prores):
    path = write_prores(n=6)
    data = path.read_bytes()
    bad = tmp_path / "truncated.mov"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(BadDataError):
        info = probe(bad)
        with open_source(bad, info=info) as src:
            list(src.frames())


def test_variable_frame_rate_is_refused_unless_asked(tmp_path):
    import av

    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        s.time_base = Fraction(1, 1000)
        t = 0
        for i in range(10):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")
            f.pts, f.time_base = t, Fraction(1, 1000)
            t += 40 if i % 2 else 90
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    info = probe(path)
    assert info.vfr
    with pytest.raises(BadDataError, match="variable frame rate"):
        open_source(path)
    with open_source(path, allow_vfr=True) as src:
        assert len(list(src.frames())) == 10


def test_probe_says_how_the_source_subsamples_its_chroma(h264, write_prores, tmp_path):
    """4:2:0 H.264 is (2, 2), ProRes 422 (1, 2), ProRes 4444 and stills (1, 1): the keyer
    rebuilds what the codec halved."""
    import cv2

    assert probe(h264).chroma_subsampling == (2, 2)
    assert probe(write_prores(n=2, h=48, w=64)).chroma_subsampling == (1, 2)
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), np.zeros((8, 8, 3), np.uint8))
    assert probe(still).chroma_subsampling == (1, 1)
