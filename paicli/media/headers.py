"""Image sizes read from the first bytes of PNG, JPEG, TIFF and DPX files, without decoding.

Used by :func:`paicli.media.limits.check_file` to refuse, before a decoder allocates or reads
anything, a header that claims too many pixels and a file far larger than the pixels its
header describes could need. Each parser reads a few hundred bytes (JPEG: the 4-byte head of
each segment before the frame header, TIFF: the first directory), never the pixel data.

A header that cannot be parsed is :class:`~paicli.errors.BadDataError` (65): every decoder
paicli uses would refuse the file as well, and one cannot bound what it would read.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from paicli.errors import BadDataError

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel (3: palette index)
# JPEG frame headers: SOF0-3, 5-7, 9-11, 13-15 (0xC4 DHT, 0xC8 JPG, 0xCC DAC are not frames)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_NO_LENGTH = frozenset([0x01, *range(0xD0, 0xD8)])  # TEM, RST0-7: markers without a length
_MAX_JPEG_SEGMENTS = 4096  # a real file has a few dozen before its frame header
_MAX_JPEG_GARBAGE = 1 << 16
_TIFF_TYPES = {1: 1, 3: 2, 4: 4, 16: 8}  # BYTE, SHORT, LONG, LONG8 -> bytes
_MAX_TIFF_ENTRIES = 4096
# DPX image element descriptors (SMPTE 268M) -> samples per pixel; unknown ones count as 4
_DPX_CHANNELS = {1: 1, 2: 1, 3: 1, 4: 1, 6: 1, 7: 1, 8: 1, 50: 3, 51: 4, 52: 4, 100: 2, 101: 3, 102: 3, 103: 4}


@dataclass(frozen=True)
class ImageHeader:
    """What a header says: size in pixels, samples per pixel and bits per sample."""

    width: int
    height: int
    channels: int
    bits: int

    @property
    def pixel_bytes(self) -> int:
        """Bytes of the uncompressed picture: rows of ``width * channels * bits`` bits, each
        rounded up to a byte (PNG's and TIFF's packing; DPX pads to 32 bits, within the
        slack callers allow)."""
        return self.height * ((self.width * self.channels * self.bits + 7) // 8)


def read_header(f: BinaryIO, fmt: str, path) -> ImageHeader:
    """The header of an open ``png``, ``jpeg``, ``tiff`` or ``dpx`` file (position 0); raises
    :class:`BadDataError` naming ``path`` if it is not one or its header is damaged."""
    parser = {"png": _png, "jpeg": _jpeg, "tiff": _tiff, "dpx": _dpx}[fmt]
    try:
        return parser(f)
    except (struct.error, ValueError, IndexError, EOFError) as e:
        why = str(e) or "truncated header"
        raise BadDataError(f"cannot decode {path}: corrupt, truncated or not a {fmt.upper()} file ({why})") from None


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise EOFError("truncated header")
    return data


def _png(f: BinaryIO) -> ImageHeader:
    head = _read(f, 33)
    if head[:8] != _PNG_MAGIC or head[12:16] != b"IHDR":
        raise ValueError("no PNG signature and IHDR chunk")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    if colour not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise ValueError(f"bad colour type {colour} or bit depth {depth}")
    return ImageHeader(width, height, _PNG_CHANNELS[colour], depth)


def _jpeg(f: BinaryIO) -> ImageHeader:
    if _read(f, 2) != b"\xff\xd8":
        raise ValueError("no JPEG start-of-image marker")
    for _ in range(_MAX_JPEG_SEGMENTS):
        skipped = 0
        while _read(f, 1) != b"\xff":  # stray bytes between segments: libjpeg skips them too
            skipped += 1
            if skipped > _MAX_JPEG_GARBAGE:
                raise ValueError("no marker where one should be")
        marker = _read(f, 1)[0]
        while marker == 0xFF:  # fill bytes before a marker
            marker = _read(f, 1)[0]
        if marker in _JPEG_NO_LENGTH:
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before it
            raise ValueError("no frame header before the image data")
        length = struct.unpack(">H", _read(f, 2))[0]
        if length < 2:
            raise ValueError("bad segment length")
        if marker in _JPEG_SOF:
            precision, height, width, components = struct.unpack(">BHHB", _read(f, 6))
            return ImageHeader(width, height, max(1, components), max(8, precision))
        f.seek(length - 2, 1)
    raise ValueError("too many segments before the frame header")


def _tiff(f: BinaryIO) -> ImageHeader:
    head = _read(f, 8)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None:
        raise ValueError("no TIFF byte-order mark")
    version = struct.unpack(order + "H", head[2:4])[0]
    if version == 42:
        offset, count_fmt, entry_fmt, entry_size, inline = struct.unpack(order + "I", head[4:8])[0], "H", "HHI", 12, 4
    elif version == 43:  # BigTIFF
        rest = _read(f, 8)
        offset, count_fmt, entry_fmt, entry_size, inline = struct.unpack(order + "Q", rest)[0], "Q", "HHQ", 20, 8
    else:
        raise ValueError(f"unknown TIFF version {version}")
    f.seek(offset)
    n = struct.unpack(order + count_fmt, _read(f, struct.calcsize(count_fmt)))[0]
    if not 0 < n <= _MAX_TIFF_ENTRIES:
        raise ValueError(f"{n} directory entries")
    table = _read(f, n * entry_size)
    tags: dict[int, list[int]] = {}
    for i in range(n):
        entry = table[i * entry_size:(i + 1) * entry_size]
        tag, kind, count = struct.unpack(order + entry_fmt, entry[:4 + inline])
        if tag not in (256, 257, 258, 277) or kind not in _TIFF_TYPES or count < 1:
            continue
        size = _TIFF_TYPES[kind]
        count = min(count, 16)  # samples per pixel beyond 16 are refused below anyway
        raw = entry[4 + inline:]
        if size * count > inline:  # the values are elsewhere: a few bytes, read from their offset
            here = f.tell()
            f.seek(struct.unpack(order + ("I" if inline == 4 else "Q"), raw)[0])
            raw = _read(f, size * count)
            f.seek(here)
        code = {1: "B", 2: "H", 4: "I", 8: "Q"}[size]
        tags[tag] = list(struct.unpack(order + code * count, raw[:size * count]))
    if 256 not in tags or 257 not in tags:
        raise ValueError("no image width or length")
    channels = tags.get(277, [1])[0]
    bits = max(tags.get(258, [1]))
    if not 1 <= channels <= 16 or not 1 <= bits <= 64:
        raise ValueError(f"{channels} samples of {bits} bits")
    return ImageHeader(tags[256][0], tags[257][0], channels, bits)


def _dpx(f: BinaryIO) -> ImageHeader:
    head = _read(f, 808)
    order = {b"SDPX": ">", b"XPDS": "<"}.get(head[:4])
    if order is None:
        raise ValueError("no DPX magic number")
    width, height = struct.unpack(order + "II", head[772:780])
    descriptor, bits = head[800], head[803]
    return ImageHeader(width, height, _DPX_CHANNELS.get(descriptor, 4), bits if 1 <= bits <= 64 else 32)
