"""How large an image paicli reads: checked against a file's header, and the file's size
against what that header describes, before any pixel is read or allocated, by every image
reader (:mod:`paicli.media.stills`, :mod:`paicli.media.exr`).

Both are bad data (65), never a temporary failure (75): a header claiming 60000 x 60000 px,
or a 10 GiB file behind a 128 x 72 header, is the same file on every machine, and a farm
that retried it with more memory would only fail again, later and at greater cost.
"""
from __future__ import annotations

import os

from paicli import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE
from paicli.errors import BadDataError
from paicli.media.headers import ImageHeader, read_header

# A file may be this many times its header's uncompressed picture, plus the slack: room for
# compression that expands noise (JPEG at quality 100, deflate's stored blocks), metadata
# (ICC profiles, EXIF and XMP, embedded thumbnails and MPF previews, DPX padding) and a few
# more pages of a multi-page TIFF; far below what a damaged or hostile file gets read as.
FILE_SIZE_FACTOR = 4
FILE_SIZE_SLACK = 16 << 20  # bytes


def check_size(width: int, height: int, path) -> None:
    """Refuse (65) an image whose header claims more pixels than paicli reads, before
    anything is allocated for it."""
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise BadDataError(f"{path}: {width}x{height} is too large (paicli reads images of up to "
                           f"{MAX_IMAGE_PIXELS // 1_000_000} Mpx, {MAX_IMAGE_SIDE} px a side)")
    if width < 1 or height < 1:
        raise BadDataError(f"{path}: its header says {width}x{height}: no picture")


def max_file_size(header: ImageHeader) -> int:
    """The largest file, in bytes, that a picture of ``header``'s size could need."""
    return FILE_SIZE_FACTOR * header.pixel_bytes + FILE_SIZE_SLACK


def check_file(path: str | os.PathLike, fmt: str, size: int) -> ImageHeader:
    """Read the header of the ``png``, ``jpeg``, ``tiff`` or ``dpx`` file at ``path`` (already
    known to be a regular file of ``size`` bytes) and refuse (65) it if it claims too many
    pixels (:func:`check_size`) or the file is far larger than those pixels could need
    (:func:`max_file_size`). Reads only the header."""
    with open(path, "rb") as f:
        header = read_header(f, fmt, path)
    check_size(header.width, header.height, path)
    limit = max_file_size(header)
    if size > limit:
        raise BadDataError(f"{path}: the file is {_size(size)} but its header describes a {header.width}x"
                           f"{header.height} picture that needs at most {_size(limit)}: damaged or not a "
                           f"{fmt.upper()} file")
    return header


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"
