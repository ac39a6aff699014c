"""Single image files: exact code values, channel order, formats, corrupt files."""
from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from paicli.errors import BadDataError, MissingInputError, UsageError
from paicli.media.exr import write_exr
from paicli.media.stills import read_still, write_png16


def codes(shape, top, seed=0):
    """Random integer code values 0..top, every channel different, as uint16 (H, W, C)."""
    return np.random.default_rng(seed).integers(0, top + 1, shape).astype(np.uint16)


def to_bgr(rgb):
    return rgb[..., [2, 1, 0, 3]] if rgb.shape[2] == 4 else rgb[..., ::-1]


def write_dpx(path, rgb10: np.ndarray) -> None:
    """A 10-bit RGB DPX written with FFmpeg's encoder (rgb10: uint16 (H, W, 3) in 0..1023)."""
    h, w, _ = rgb10.shape
    ctx = av.CodecContext.create("dpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = w, h, "gbrp10le", Fraction(1, 24)
    frame = av.VideoFrame(w, h, "gbrp10le")
    for plane, channel in zip(frame.planes, (1, 2, 0)):  # planes are G, B, R
        stride = plane.line_size // 2
        buf = np.zeros((h, stride), np.uint16)
        buf[:, :w] = rgb10[..., channel]
        plane.update(buf.tobytes())
    packets = ctx.encode(frame) + ctx.encode(None)
    path.write_bytes(b"".join(bytes(p) for p in packets))


@pytest.mark.parametrize("channels", [3, 4])
def test_8bit_png_values_are_exact_and_rgb_ordered(tmp_path, channels):
    c = codes((6, 9, channels), 255).astype(np.uint8)
    c[0, 0, :3] = [255, 128, 0]  # unmistakably red-orange: catches a BGR mix-up
    cv2.imwrite(str(tmp_path / "a.png"), to_bgr(c))
    img, info = read_still(tmp_path / "a.png")
    assert img.dtype == np.float32 and img.shape == (6, 9, channels)
    np.testing.assert_array_equal(np.rint(img * 255).astype(np.uint8), c)
    assert img[0, 0, 0] == 1.0 and img[0, 0, 2] == 0.0
    assert (info.width, info.height, info.channels, info.bit_depth, info.format) == (9, 6, channels, 8, "png")
    assert info.has_alpha == (channels == 4)


@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_png_round_trip_through_write_png16_is_exact(tmp_path, channels):
    c = codes((7, 5, channels), 65535, seed=1)
    write_png16(tmp_path / "b.png", c.astype(np.float32) / 65535)
    img, info = read_still(tmp_path / "b.png")
    np.testing.assert_array_equal(np.rint(img * 65535).astype(np.uint16), c)
    assert info.bit_depth == 16
    # and what OpenCV (BGR) sees on disk is the same codes
    np.testing.assert_array_equal(to_bgr(cv2.imread(str(tmp_path / "b.png"), cv2.IMREAD_UNCHANGED)), c)
    assert [p.name for p in tmp_path.iterdir()] == ["b.png"]  # no temp files left


@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_tiff_values_are_exact(tmp_path, channels):
    c = codes((8, 6, channels), 65535, seed=2)
    cv2.imwrite(str(tmp_path / "c.tif"), to_bgr(c))
    img, info = read_still(tmp_path / "c.tif")
    np.testing.assert_array_equal(np.rint(img * 65535).astype(np.uint16), c)
    assert (info.bit_depth, info.format, info.has_alpha) == (16, "tiff", channels == 4)


def test_8bit_tiff_and_float_tiff(tmp_path):
    c = codes((4, 5, 3), 255, seed=3).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "d.tiff"), to_bgr(c))
    img, info = read_still(tmp_path / "d.tiff")
    np.testing.assert_array_equal(np.rint(img * 255).astype(np.uint8), c)
    f = np.random.default_rng(4).random((4, 5, 3), dtype=np.float32) * 2  # float TIFFs may exceed 1
    cv2.imwrite(str(tmp_path / "e.tif"), to_bgr(f))
    img, info = read_still(tmp_path / "e.tif")
    np.testing.assert_array_equal(img, f)
    assert info.bit_depth == 32


def test_gray_png_is_one_channel(tmp_path):
    g = codes((5, 6), 65535, seed=5)
    cv2.imwrite(str(tmp_path / "g.png"), g)
    img, info = read_still(tmp_path / "g.png")
    assert img.shape == (5, 6, 1) and info.channels == 1 and not info.has_alpha
    np.testing.assert_array_equal(np.rint(img[..., 0] * 65535).astype(np.uint16), g)


def test_jpeg_reads_as_8bit_rgb(tmp_path):
    c = np.zeros((16, 16, 3), np.uint8)
    c[...] = [200, 100, 30]
    cv2.imwrite(str(tmp_path / "j.jpg"), to_bgr(c), [cv2.IMWRITE_JPEG_QUALITY, 100])
    img, info = read_still(tmp_path / "j.jpg")
    assert (info.format, info.bit_depth, info.channels) == ("jpeg", 8, 3)
    np.testing.assert_allclose(img[8, 8] * 255, [200, 100, 30], atol=3)


def test_10bit_dpx_values_are_exact(tmp_path):
    c = codes((6, 8, 3), 1023, seed=6)
    c[0, 0] = [1023, 512, 0]
    write_dpx(tmp_path / "f.0001.dpx", c)
    img, info = read_still(tmp_path / "f.0001.dpx")
    np.testing.assert_array_equal(np.rint(img * 1023).astype(np.uint16), c)
    assert img[0, 0, 0] == 1.0 and img[0, 0, 2] == 0.0
    assert (info.format, info.bit_depth, info.channels, info.has_alpha) == ("dpx", 10, 3, False)


def test_exr_stills_are_delegated_and_linear(tmp_path):
    lin = np.full((4, 4, 3), 4.0, np.float32)  # super-white: not an encoded value
    write_exr(tmp_path / "x.exr", lin)
    img, info = read_still(tmp_path / "x.exr")
    np.testing.assert_array_equal(img, lin)
    assert (info.format, info.bit_depth) == ("exr", 16)


@pytest.mark.parametrize("name", ["bad.png", "bad.tif", "bad.jpg", "bad.dpx", "bad.exr"])
def test_corrupt_files_are_bad_data(tmp_path, name):
    (tmp_path / name).write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    with pytest.raises(BadDataError) as e:
        read_still(tmp_path / name)
    assert "\n" not in str(e.value)


def test_truncated_png_is_bad_data(tmp_path):
    write_png16(tmp_path / "t.png", np.random.default_rng(7).random((64, 64, 3), dtype=np.float32))
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadDataError):
        read_still(tmp_path / "t.png")


def test_missing_and_unsupported(tmp_path):
    with pytest.raises(MissingInputError):
        read_still(tmp_path / "none.png")
    (tmp_path / "clip.gif").write_bytes(b"GIF89a")
    with pytest.raises(UsageError):
        read_still(tmp_path / "clip.gif")


def test_write_png16_clips_and_rounds(tmp_path):
    img = np.array([[[-0.5, 0.5, 1.5]]], np.float32)
    write_png16(tmp_path / "r.png", img)
    back, _ = read_still(tmp_path / "r.png")
    np.testing.assert_array_equal(np.rint(back * 65535), [[[0, 32768, 65535]]])
