"""How large an image paicli reads: checked against a file's header before its pixels are
allocated, by every image reader (:mod:`paicli.media.stills`, :mod:`paicli.media.exr`)."""
from __future__ import annotations

from paicli import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE
from paicli.errors import BadDataError


def check_size(width: int, height: int, path) -> None:
    """Refuse (65) an image whose header claims more pixels than paicli reads, before
    anything is allocated for it."""
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise BadDataError(f"{path}: {width}x{height} is too large (paicli reads images of up to "
                           f"{MAX_IMAGE_PIXELS // 1_000_000} Mpx, {MAX_IMAGE_SIDE} px a side)")
