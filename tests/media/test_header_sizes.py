"""A still's size is checked from its header, and the file's size against it, before a decoder
reads anything: a 10 GiB file behind a valid 128 x 72 PNG header, or a header claiming
60000 x 60000 px, is bad data (65), refused in milliseconds, never read into memory (which
ended as "out of memory", 75, telling a farm to retry a file that is simply bad).

The 10 GiB files are sparse (a header, then ``truncate``): they take no disk.
"""
from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from paicli.errors import BadDataError
from paicli.media import limits
from paicli.media.headers import read_header
from paicli.media.reader import open_source
from paicli.media.stills import read_still
from paicli.shot.references import RefSpec, load_references

HUGE = 10 << 30  # bytes: 10 GiB, sparse


# ---------------------------------------------------------------------------- building files


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(w: int = 128, h: int = 72, extra: bytes = b"") -> bytes:
    """A valid 8-bit RGB PNG, with ``extra`` chunks after its header."""
    ok, buf = cv2.imencode(".png", np.full((h, w, 3), 80, np.uint8))
    data = buf.tobytes()
    return data[:33] + extra + data[33:]


def jpeg_bytes(w: int = 128, h: int = 72) -> bytes:
    return cv2.imencode(".jpg", np.full((h, w, 3), 80, np.uint8))[1].tobytes()


def tiff_bytes(w: int, h: int, bits: int = 8, big: bool = False) -> bytes:
    """An uncompressed one-sample TIFF (BigTIFF with ``big``) whose header says ``w`` x ``h``
    and whose strip holds at most 64 KiB of pixels."""
    strip = bytes(min(w * h * bits // 8, 1 << 16))
    tags = [(256, 4, w), (257, 4, h), (258, 3, bits), (259, 3, 1), (262, 3, 1), (273, 4, 0), (277, 3, 1),
            (278, 4, h), (279, 4, len(strip))]
    slot = 8 if big else 4  # bytes of an entry's value field
    if big:
        head = b"II+\0" + struct.pack("<HHQ", 8, 0, 16)
        ifd = struct.pack("<Q", len(tags))
    else:
        head = b"II*\0" + struct.pack("<I", 8)
        ifd = struct.pack("<H", len(tags))
    data_at = len(head) + len(ifd) + len(tags) * (4 + 2 * slot) + slot
    for tag, kind, value in tags:
        value = data_at if tag == 273 else value
        packed = struct.pack("<H" if kind == 3 else "<I", value)
        ifd += struct.pack("<HHQ" if big else "<HHI", tag, kind, 1) + packed + bytes(slot - len(packed))
    ifd += bytes(slot)  # no next directory
    return head + ifd + strip


def dpx_bytes(w: int = 16, h: int = 8) -> bytes:
    """A 10-bit RGB DPX from FFmpeg's encoder."""
    ctx = av.CodecContext.create("dpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = w, h, "gbrp10le", Fraction(1, 24)
    frame = av.VideoFrame(w, h, "gbrp10le")
    for plane in frame.planes:
        plane.update(np.full((h, plane.line_size // 2), 300, np.uint16).tobytes())
    return b"".join(bytes(p) for p in ctx.encode(frame) + ctx.encode(None))


def claim(data: bytes, fmt: str, w: int, h: int) -> bytes:
    """``data`` with its header's size edited to ``w`` x ``h`` (the pixels stay small)."""
    b = bytearray(data)
    if fmt == "png":
        struct.pack_into(">II", b, 16, w, h)
        struct.pack_into(">I", b, 29, zlib.crc32(bytes(b[12:29])) & 0xFFFFFFFF)
    elif fmt == "jpeg":
        at = next(i for i in range(2, len(b) - 1) if b[i] == 0xFF and b[i + 1] in (0xC0, 0xC1, 0xC2))
        struct.pack_into(">HH", b, at + 5, h, w)
    elif fmt == "dpx":
        struct.pack_into(">II" if b[:4] == b"SDPX" else "<II", b, 772, w, h)
    return bytes(b)


def sparse(path, head: bytes, size: int = HUGE):
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


@pytest.fixture
def no_whole_file_reads(monkeypatch):
    """Fail if a decoder is handed the file: everything here must be refused from its header."""
    def refuse(*a, **k):
        raise AssertionError("the whole file was read before its header was checked")

    monkeypatch.setattr(np, "fromfile", refuse)
    monkeypatch.setattr(cv2, "imdecode", refuse)
    monkeypatch.setattr(av, "open", refuse)


# ---------------------------------------------------------------------------- headers


@pytest.mark.parametrize("shape, depth", [((9, 13), np.uint8), ((9, 13, 3), np.uint8), ((9, 13, 4), np.uint16),
                                          ((9, 13, 2), np.uint8)])
def test_png_headers_give_size_channels_and_depth(shape, depth):
    img = np.zeros(shape, depth)
    if len(shape) == 3 and shape[2] == 2:  # OpenCV writes no gray+alpha: patch the colour type
        data = bytearray(png_bytes(13, 9))
        data[25], data[24] = 4, 8
        h = read_header(io.BytesIO(bytes(data)), "png", "x.png")
        assert (h.width, h.height, h.channels, h.bits) == (13, 9, 2, 8)
        return
    h = read_header(io.BytesIO(cv2.imencode(".png", img)[1].tobytes()), "png", "x.png")
    assert (h.width, h.height, h.channels, h.bits) == (13, 9, 1 if len(shape) == 2 else shape[2],
                                                       8 * np.dtype(depth).itemsize)


@pytest.mark.parametrize("gray", [False, True])
def test_jpeg_headers_are_found_after_exif_and_other_segments(gray):
    data = cv2.imencode(".jpg", np.zeros((11, 17) if gray else (11, 17, 3), np.uint8))[1].tobytes()
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 5000) + b"Exif\0\0" + bytes(4994)
    data = data[:2] + app1 + b"\xff\xff" + data[2:]  # a big EXIF segment, then a fill byte
    h = read_header(io.BytesIO(data), "jpeg", "x.jpg")
    assert (h.width, h.height, h.channels, h.bits) == (17, 11, 1 if gray else 3, 8)
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED).shape[:2] == (11, 17)  # still valid


@pytest.mark.parametrize("dtype, bits", [(np.uint8, 8), (np.uint16, 16), (np.float32, 32)])
def test_tiff_headers_written_by_opencv_give_their_size(tmp_path, dtype, bits):
    cv2.imwrite(str(tmp_path / "a.tif"), np.zeros((10, 14, 3), dtype))
    with open(tmp_path / "a.tif", "rb") as f:
        h = read_header(f, "tiff", "a.tif")
    assert (h.width, h.height, h.channels, h.bits) == (14, 10, 3, bits)


@pytest.mark.parametrize("big", [False, True])
def test_hand_built_tiffs_and_bigtiffs_give_their_size(big):
    h = read_header(io.BytesIO(tiff_bytes(40, 30, 16, big=big)), "tiff", "a.tif")
    assert (h.width, h.height, h.channels, h.bits) == (40, 30, 1, 16)


def test_the_hand_built_tiff_is_a_real_tiff():
    img = cv2.imdecode(np.frombuffer(tiff_bytes(40, 30), np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None and img.shape == (30, 40)


def test_dpx_headers_give_their_size():
    h = read_header(io.BytesIO(dpx_bytes(16, 8)), "dpx", "a.dpx")
    assert (h.width, h.height, h.channels, h.bits) == (16, 8, 3, 10)


@pytest.mark.parametrize("fmt, data", [("png", b"\x89PNG\r\n\x1a\n" + bytes(40)),
                                       ("jpeg", b"\xff\xd8\xff\xda" + bytes(9)),
                                       ("tiff", b"II*\0" + struct.pack("<I", 1 << 30)),
                                       ("dpx", b"NOPE" + bytes(900)), ("png", b"")],
                         ids=["png", "jpeg", "tiff", "dpx", "empty"])
def test_a_damaged_header_is_bad_data(fmt, data):
    with pytest.raises(BadDataError, match="cannot decode"):
        read_header(io.BytesIO(data), fmt, "x")


# ---------------------------------------------------------------------------- huge files behind small headers


@pytest.mark.parametrize("name, head", [("ref.png", png_bytes()), ("ref.jpg", jpeg_bytes()),
                                        ("ref.tif", tiff_bytes(128, 72)), ("ref.dpx", dpx_bytes())],
                         ids=["png", "jpeg", "tiff", "dpx"])
def test_a_10_gib_file_behind_a_small_valid_header_is_refused_unread(tmp_path, no_whole_file_reads, name, head):
    p = sparse(tmp_path / name, head)
    with pytest.raises(BadDataError) as e:
        read_still(p)
    assert "10.0 GiB" in e.value.message and int(e.value.exit_code) == 65


def test_a_10_gib_reference_is_bad_data_naming_the_file(tmp_path, no_whole_file_reads):
    p = sparse(tmp_path / "ref.0000.png", png_bytes())
    with pytest.raises(BadDataError, match="ref.0000.png") as e:
        load_references([RefSpec(p, 0, "name")], 128, 72)
    assert int(e.value.exit_code) == 65


def test_a_10_gib_clean_plate_or_matte_is_bad_data(tmp_path, no_whole_file_reads):
    p = sparse(tmp_path / "clean.png", png_bytes())
    with pytest.raises(BadDataError, match="10.0 GiB"):
        open_source(p)  # a clean plate or a matte is probed, then read, through here


def test_a_file_a_little_larger_than_its_pixels_still_reads(tmp_path):
    text = _chunk(b"tEXt", b"Comment\0" + b"x" * (2 << 20))  # 2 MiB of metadata on a 128 x 72 picture
    (tmp_path / "meta.png").write_bytes(png_bytes(extra=text))
    img, info = read_still(tmp_path / "meta.png")
    assert img.shape == (72, 128, 3) and (info.width, info.height) == (128, 72)


def test_the_size_limit_follows_the_headers_picture():
    small = read_header(io.BytesIO(png_bytes(128, 72)), "png", "x")
    assert limits.max_file_size(small) == limits.FILE_SIZE_FACTOR * 72 * 128 * 3 + limits.FILE_SIZE_SLACK


# ---------------------------------------------------------------------------- headers claiming too many pixels


@pytest.mark.parametrize("name, head", [("ref.png", claim(png_bytes(), "png", 60000, 60000)),
                                        ("ref.jpg", claim(jpeg_bytes(), "jpeg", 60000, 60000)),
                                        ("ref.tif", tiff_bytes(60000, 60000)),
                                        ("ref.dpx", claim(dpx_bytes(), "dpx", 60000, 60000))],
                         ids=["png", "jpeg", "tiff", "dpx"])
def test_a_header_claiming_60000x60000_is_refused_before_decoding(tmp_path, no_whole_file_reads, name, head):
    (tmp_path / name).write_bytes(head)
    with pytest.raises(BadDataError, match="60000x60000 is too large") as e:
        read_still(tmp_path / name)
    assert int(e.value.exit_code) == 65


def test_a_reference_claiming_huge_dimensions_is_refused(tmp_path, no_whole_file_reads):
    (tmp_path / "ref.0000.jpg").write_bytes(claim(jpeg_bytes(), "jpeg", 65535, 65535))
    with pytest.raises(BadDataError, match="too large"):
        load_references([RefSpec(tmp_path / "ref.0000.jpg", 0, "name")], 128, 72)


def test_a_header_claiming_no_pixels_is_refused(tmp_path, no_whole_file_reads):
    (tmp_path / "ref.png").write_bytes(claim(png_bytes(), "png", 0, 72))
    with pytest.raises(BadDataError, match="no picture"):
        read_still(tmp_path / "ref.png")
