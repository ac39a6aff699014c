"""OpenEXR I/O: pixels, compression, exact rates and timecodes, colour metadata, atomicity."""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import OpenEXR
import pytest

from paicli.errors import BadDataError, MissingInputError, OutputError, UsageError
from paicli.media import exr
from paicli.media.exr import (COMPRESSIONS, ExrSequenceWriter, read_exr, read_exr_info, read_layers, write_exr,
                              write_layers)
from paicli.media.timing import Timecode

HALF_TOL = 2.0 ** -10  # half has 10 mantissa bits: relative error <= 2^-11, values here are < 2


def linear_rgba(h=24, w=32, alpha=True, seed=0):
    """Premultiplied scene-linear test image with super-whites, float32 (H, W, 3|4)."""
    rng = np.random.default_rng(seed)
    rgb = rng.random((h, w, 3), dtype=np.float32) * 1.8
    if not alpha:
        return rgb
    a = np.clip(rng.random((h, w, 1), dtype=np.float32) * 1.2, 0, 1)
    return np.concatenate([rgb * a, a], axis=-1).astype(np.float32)


def raw_header(path):
    return OpenEXR.File(str(path), header_only=True).header()


@pytest.mark.parametrize("alpha", [False, True])
def test_half_round_trip_is_within_half_precision(tmp_path, alpha):
    img = linear_rgba(alpha=alpha)
    write_exr(tmp_path / "a.exr", img)
    back, info = read_exr(tmp_path / "a.exr")
    assert back.dtype == np.float32 and back.shape == img.shape
    np.testing.assert_allclose(back, img, rtol=HALF_TOL, atol=1e-7)
    assert (info.width, info.height, info.pixel_type, info.compression) == (32, 24, "half", "zip")
    assert sorted(info.channels) == sorted("RGBA"[:img.shape[2]])


def test_float_round_trip_is_exact(tmp_path):
    img = linear_rgba()
    write_exr(tmp_path / "f.exr", img, pixel_type="float")
    back, info = read_exr(tmp_path / "f.exr")
    assert info.pixel_type == "float"
    np.testing.assert_array_equal(back, img)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_every_compression_writes_and_reads_back(tmp_path, compression):
    img = linear_rgba(h=40, w=48)
    write_exr(tmp_path / "c.exr", img, compression=compression)
    back, info = read_exr(tmp_path / "c.exr")
    assert info.compression == compression
    if compression.startswith("dwa"):  # lossy on colour, lossless on alpha
        assert np.abs(back[..., :3] - img[..., :3]).mean() < 0.02
        np.testing.assert_allclose(back[..., 3], img[..., 3], rtol=HALF_TOL, atol=1e-7)
    else:
        np.testing.assert_allclose(back, img, rtol=HALF_TOL, atol=1e-7)


def test_unknown_compression_and_pixel_type_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="compression"):
        write_exr(tmp_path / "x.exr", linear_rgba(), compression="lzw")
    with pytest.raises(UsageError, match="pixel type"):
        write_exr(tmp_path / "x.exr", linear_rgba(), pixel_type="uint8")
    assert not list(tmp_path.iterdir())


def test_half_clips_to_its_range_instead_of_writing_inf(tmp_path):
    img = linear_rgba(alpha=False)
    img[0, 0] = [1e6, -1e6, 5.0]
    write_exr(tmp_path / "hot.exr", img)
    back, _ = read_exr(tmp_path / "hot.exr")
    assert np.isfinite(back).all() and back[0, 0, 0] == 65504.0 and back[0, 0, 1] == -65504.0


@pytest.mark.parametrize("rate", [Fraction(24000, 1001), Fraction(30000, 1001), Fraction(25), Fraction(60000, 1001)])
def test_rational_rates_are_stored_exactly(tmp_path, rate):
    write_exr(tmp_path / "r.exr", linear_rgba(), rate=rate)
    assert raw_header(tmp_path / "r.exr")["framesPerSecond"] == rate  # a true rational, not 23.976
    assert read_exr(tmp_path / "r.exr")[1].rate == rate
    assert read_exr_info(tmp_path / "r.exr").rate == rate


def test_rate_text_is_accepted(tmp_path):
    write_exr(tmp_path / "r.exr", linear_rgba(), rate="23.976")
    assert read_exr_info(tmp_path / "r.exr").rate == Fraction(24000, 1001)


def test_colour_interop_id_and_rec709_chromaticities_are_written(tmp_path):
    write_exr(tmp_path / "c.exr", linear_rgba())
    hdr = raw_header(tmp_path / "c.exr")
    assert hdr["colorInteropID"] == "lin_rec709_scene"
    np.testing.assert_allclose(hdr["chromaticities"], OpenEXR.colorInteropIDToChromaticities("lin_rec709_scene"))
    assert OpenEXR.checkColorMetadata(hdr) == OpenEXR.ColorMetadataWarning.OK
    assert read_exr_info(tmp_path / "c.exr").colour_interop_id == "lin_rec709_scene"


def test_display_window_differs_from_data_window(tmp_path):
    img = linear_rgba(h=20, w=30)
    write_exr(tmp_path / "w.exr", img, data_window_origin=(100, 50), display_window=((0, 0), (1919, 1079)))
    back, info = read_exr(tmp_path / "w.exr")
    assert info.data_window == ((100, 50), (129, 69))
    assert info.display_window == ((0, 0), (1919, 1079))
    assert back.shape == (20, 30, 4)
    write_exr(tmp_path / "d.exr", img, display_window=(64, 48))
    assert read_exr_info(tmp_path / "d.exr").display_window == ((0, 0), (63, 47))
    write_exr(tmp_path / "e.exr", img)
    info = read_exr_info(tmp_path / "e.exr")
    assert info.display_window == info.data_window == ((0, 0), (29, 19))


def test_timecode_fields_and_drop_flag_in_the_header(tmp_path):
    rate = Fraction(30000, 1001)
    write_exr(tmp_path / "t.exr", linear_rgba(), rate=rate, timecode=Timecode.parse("01:02:00;02", rate))
    tc = raw_header(tmp_path / "t.exr")["timeCode"]
    assert (tc.hours, tc.minutes, tc.seconds, tc.frame, tc.dropFrame) == (1, 2, 0, 2, True)
    assert str(read_exr_info(tmp_path / "t.exr").timecode) == "01:02:00;02"


@pytest.mark.parametrize("rate, drop, start", [
    (Fraction(30000, 1001), True, "00:00:59;27"),    # crosses the dropped ;00 and ;01
    (Fraction(30000, 1001), False, "00:00:59:27"),
    (Fraction(24000, 1001), False, "00:59:59:22"),
    (Fraction(25), False, "09:59:59:23"),
    (Fraction(60000, 1001), True, "00:09:59;57"),    # frame pairs above 30 fps; 10th minute keeps ;00-;03
    (Fraction(60000, 1001), True, "00:00:59;57"),
])
def test_sequence_timecodes_are_exact_frame_by_frame(tmp_path, rate, drop, start):
    start_tc = Timecode.parse(start, rate, drop=drop)
    with ExrSequenceWriter(tmp_path / "s.####.exr", first_frame=1001, rate=rate, start_timecode=start_tc) as w:
        for _ in range(8):
            w.write(linear_rgba(h=4, w=6))
    assert w.frame_range == (1001, 1008)
    for i in range(8):
        info = read_exr_info(tmp_path / f"s.{1001 + i}.exr")
        assert info.rate == rate
        assert info.timecode == start_tc + i
        assert str(info.timecode) == str(start_tc + i)


def test_drop_frame_labels_skip_frames_zero_and_one(tmp_path):
    rate = Fraction(30000, 1001)
    with ExrSequenceWriter(tmp_path / "s.####.exr", rate=rate, start_timecode="00:00:59;29") as w:
        w.write(linear_rgba(h=4, w=4))
        w.write(linear_rgba(h=4, w=4))
    assert str(read_exr_info(tmp_path / "s.1002.exr").timecode) == "00:01:00;02"


def test_timecode_without_rate_guesses_the_nominal_rate(tmp_path):
    rate = Fraction(30000, 1001)
    write_exr(tmp_path / "t.exr", linear_rgba(), timecode=Timecode.parse("10:00:00;02", rate, drop=True))
    info = read_exr_info(tmp_path / "t.exr")
    assert info.rate is None and info.timecode == Timecode.parse("10:00:00;02", rate)


def test_a_timecode_that_does_not_fit_the_rate_is_kept_raw(tmp_path):
    tc = OpenEXR.TimeCode()
    tc.hours, tc.frame = 1, 28  # frame 28 cannot exist at 24 fps
    img = np.zeros((2, 2), np.float16)
    OpenEXR.File({"framesPerSecond": Fraction(24), "timeCode": tc}, {"R": img, "G": img, "B": img}).write(
        str(tmp_path / "odd.exr"))
    info = read_exr_info(tmp_path / "odd.exr")
    assert info.timecode is None and info.attributes["timeCode"] == "01:00:00:28"


def test_timecode_and_rate_must_agree_and_fit_an_exr(tmp_path):
    with pytest.raises(UsageError):
        write_exr(tmp_path / "a.exr", linear_rgba(), rate=25, timecode=Timecode.for_rate(0, Fraction(24)))
    with pytest.raises(UsageError):
        write_exr(tmp_path / "a.exr", linear_rgba(), rate=120, timecode=Timecode.for_rate(0, Fraction(120)))
    assert not list(tmp_path.iterdir())


def test_first_frame_from_timecode(tmp_path):
    rate = Fraction(24)
    w = ExrSequenceWriter(str(tmp_path / "tc.%07d.exr"), first_frame="timecode", rate=rate,
                          start_timecode="01:00:00:00")
    w.write(linear_rgba(h=4, w=4))
    w.close()
    assert w.frame_range == (86400, 86400)
    assert w.pattern == str(tmp_path / "tc.#######.exr")
    assert (tmp_path / "tc.0086400.exr").is_file()
    with pytest.raises(UsageError):
        ExrSequenceWriter(tmp_path / "x.####.exr", first_frame="timecode", rate=rate)


def test_sequence_writer_overwrite_policy(tmp_path):
    with ExrSequenceWriter(tmp_path / "s.####.exr", first_frame=1, rate=25) as w:
        w.write(linear_rgba(h=4, w=4))
    with ExrSequenceWriter(tmp_path / "s.####.exr", first_frame=1, rate=25) as w:
        w.write(linear_rgba(h=4, w=4, seed=1))  # default: overwrite
    with pytest.raises(OutputError, match="already exists"):
        ExrSequenceWriter(tmp_path / "s.####.exr", first_frame=1, rate=25, overwrite=False).write(linear_rgba(h=4, w=4))


def test_sequence_writer_refuses_a_frame_size_change(tmp_path):
    with ExrSequenceWriter(tmp_path / "s.####.exr", rate=24) as w:
        w.write(linear_rgba(h=4, w=4))
        with pytest.raises(BadDataError):
            w.write(linear_rgba(h=4, w=5))
    assert w.frame_range == (1001, 1001)


def test_layers_file_channel_names(tmp_path):
    h, w = 12, 16
    layers = {
        "rgba": linear_rgba(h, w),
        "fg": linear_rgba(h, w, alpha=False, seed=1),
        "matte": np.random.default_rng(2).random((h, w), dtype=np.float32),
        "spill": np.zeros((h, w, 1), np.float32),
    }
    write_layers(tmp_path / "l.exr", layers)
    names = sorted(c.name for c in raw_header(tmp_path / "l.exr")["channels"])
    assert names == ["A", "B", "G", "R", "fg.B", "fg.G", "fg.R", "matte.Y", "spill.Y"]
    back, info = read_layers(tmp_path / "l.exr")
    assert set(back) == {"rgba", "fg", "matte", "spill"}
    np.testing.assert_allclose(back["matte"][..., 0], layers["matte"], rtol=HALF_TOL, atol=1e-7)
    np.testing.assert_allclose(back["fg"], layers["fg"], rtol=HALF_TOL, atol=1e-7)
    # the plain read returns the top-level RGBA; a layer can be picked by name
    assert read_exr(tmp_path / "l.exr")[0].shape == (h, w, 4)
    assert read_exr(tmp_path / "l.exr", layer="matte")[0].shape == (h, w, 1)
    assert read_exr(tmp_path / "l.exr", layer="fg")[0].shape == (h, w, 3)


def test_alpha_layer_is_the_main_alpha(tmp_path):
    h, w = 4, 4
    write_layers(tmp_path / "a.exr", {"rgba": linear_rgba(h, w, alpha=False), "alpha": np.ones((h, w), np.float32)})
    assert sorted(c.name for c in raw_header(tmp_path / "a.exr")["channels"]) == ["A", "B", "G", "R"]
    with pytest.raises(UsageError):
        write_layers(tmp_path / "b.exr", {"rgba": linear_rgba(h, w), "alpha": np.ones((h, w), np.float32)})


def test_layers_must_share_a_size(tmp_path):
    with pytest.raises(UsageError):
        write_layers(tmp_path / "l.exr", {"rgba": linear_rgba(4, 4), "m": np.zeros((4, 5), np.float32)})


def test_a_single_luminance_channel_reads_as_one_channel(tmp_path):
    write_layers(tmp_path / "y.exr", {"": np.full((5, 7), 0.25, np.float32)})
    img, info = read_exr(tmp_path / "y.exr")
    assert img.shape == (5, 7, 1) and info.channels == ["Y"] and float(img[0, 0, 0]) == 0.25


def test_extra_attributes_round_trip_and_reserved_ones_are_refused(tmp_path):
    write_exr(tmp_path / "a.exr", linear_rgba(), attributes={"owner": "paicli", "paicli/take": 3,
                                                              "gain": 1.5, "tags": ["fg", "bg"]})
    attrs = read_exr_info(tmp_path / "a.exr").attributes
    assert attrs["owner"] == "paicli" and attrs["paicli/take"] == 3 and attrs["gain"] == 1.5
    assert attrs["tags"] == ["fg", "bg"]
    json.dumps(attrs)  # JSON-safe
    with pytest.raises(UsageError):
        write_exr(tmp_path / "b.exr", linear_rgba(), attributes={"framesPerSecond": 24})
    with pytest.raises(UsageError):
        write_exr(tmp_path / "b.exr", linear_rgba(), attributes={"pair": (1, 2)})


def test_a_write_that_fails_midway_leaves_nothing_under_the_final_name(tmp_path, monkeypatch):
    final = tmp_path / "out.exr"

    def half_then_fail(header, channels, tmp):
        tmp.write_bytes(b"\x76\x2f\x31\x01" + b"\0" * 100)  # a partial file under the temp name
        raise OutputError("disk full")

    monkeypatch.setattr(exr, "_write_file", half_then_fail)
    with pytest.raises(OutputError):
        write_exr(final, linear_rgba())
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rewrite_keeps_the_previous_file(tmp_path, monkeypatch):
    final = tmp_path / "out.exr"
    write_exr(final, linear_rgba(seed=1))
    before = final.read_bytes()

    def fail(header, channels, tmp):
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(exr, "_write_file", fail)
    with pytest.raises(KeyboardInterrupt):
        write_exr(final, linear_rgba(seed=2))
    assert final.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["out.exr"]


def test_missing_output_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError):
        write_exr(tmp_path / "no" / "a.exr", linear_rgba())
    with pytest.raises(OutputError):
        ExrSequenceWriter(tmp_path / "no" / "s.####.exr", rate=24)


@pytest.mark.parametrize("keep", [0.01, 0.5, 0.98])
def test_truncated_exr_is_bad_data_and_prints_nothing_to_stdout(tmp_path, capsys, keep):
    write_exr(tmp_path / "full.exr", linear_rgba(h=64, w=64), compression="none")
    data = (tmp_path / "full.exr").read_bytes()
    (tmp_path / "cut.exr").write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(BadDataError) as e:
        read_exr(tmp_path / "cut.exr")
    assert "\n" not in str(e.value)
    assert capsys.readouterr().out == ""  # the binding's print() must not reach --json output


def test_corrupt_compressed_data_is_bad_data(tmp_path):
    write_exr(tmp_path / "z.exr", linear_rgba(h=64, w=64))
    data = bytearray((tmp_path / "z.exr").read_bytes())
    data[len(data) // 2:len(data) // 2 + 40] = b"\xff" * 40
    (tmp_path / "z.exr").write_bytes(bytes(data))
    with pytest.raises(BadDataError, match="corrupt"):
        read_exr(tmp_path / "z.exr")


def test_garbage_and_missing_files(tmp_path):
    (tmp_path / "junk.exr").write_bytes(b"not an exr at all" * 10)
    with pytest.raises(BadDataError):
        read_exr(tmp_path / "junk.exr")
    with pytest.raises(MissingInputError):
        read_exr(tmp_path / "absent.exr")


def test_openexr_thread_pool_is_used():
    exr._openexr()
    assert OpenEXR.global_thread_count() >= 1
