"""Declared colour spaces of inputs and outputs, and conversion to and from the working space.

The working space of every engine is scene-linear Rec.709 (sRGB primaries, D65), float32.
Built-in names need no configuration:

- ``bt709``: BT.709 video (transfer: BT.709 OETF), the default for movies;
- ``srgb``: sRGB-encoded stills (PNG, TIFF, JPEG), the default for stills;
- ``linear``: scene-linear Rec.709, the default for EXR.

Any other name is looked up in OpenColorIO's built-in studio config (``ACEScg``,
``ARRI LogC4``, ``S-Log3 S-Gamut3.Cine`` ...), so no OCIO file is needed.
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from engine import colour
from paicli.errors import UsageError

BUILTIN = ("bt709", "srgb", "linear")
_ALIASES = {
    "rec709": "bt709", "bt.709": "bt709", "video": "bt709",
    "srgb": "srgb", "lin_rec709": "linear", "linear-rec709": "linear", "scene-linear": "linear",
}
_OCIO_CONFIG = "studio-config-latest"
_OCIO_WORKING = "Linear Rec.709 (sRGB)"

Convert = Callable[[np.ndarray], np.ndarray]


def canonical(name: str) -> str:
    """Normalise a user's colour-space name; built-ins lower-cased, OCIO names as OCIO spells them."""
    key = name.strip()
    low = key.lower()
    if low in BUILTIN:
        return low
    if low in _ALIASES:
        return _ALIASES[low]
    return _ocio_name(key)


@functools.lru_cache(maxsize=1)
def _ocio_config():
    import PyOpenColorIO as ocio

    return ocio.Config.CreateFromBuiltinConfig(_OCIO_CONFIG)


def ocio_names() -> list[str]:
    return [cs.getName() for cs in _ocio_config().getColorSpaces()]


def _ocio_name(name: str) -> str:
    cfg = _ocio_config()
    cs = cfg.getColorSpace(name)
    if cs is None:
        known = ", ".join(BUILTIN) + ", or an OpenColorIO built-in name such as ACEScg, 'ARRI LogC4', 'S-Log3 S-Gamut3'"
        raise UsageError(f"unknown colour space {name!r} (use {known})")
    return cs.getName()


@functools.lru_cache(maxsize=32)
def _ocio_cpu(src: str, dst: str):
    return _ocio_config().getProcessor(src, dst).getDefaultCPUProcessor()


def _apply_ocio(src: str, dst: str, image: np.ndarray) -> np.ndarray:
    """Apply an OCIO transform to the RGB channels of a float32 (H, W, 3|4) image."""
    out = np.ascontiguousarray(image[..., :3], dtype=np.float32).copy()
    _ocio_cpu(src, dst).applyRGB(out)
    if image.shape[-1] == 4:
        out = np.concatenate([out, image[..., 3:4].astype(np.float32)], axis=-1)
    return out


def to_linear(space: str) -> Convert:
    """A function mapping images encoded in ``space`` (RGB or RGBA, float32) to working linear.

    Alpha, when present, passes through unchanged. Input values are *straight* (not
    premultiplied): encodings are defined on straight colour.
    """
    space = canonical(space)
    if space in BUILTIN:
        return lambda img: _rgb_only(colour.decode, img, space)
    return lambda img: _apply_ocio(space, _OCIO_WORKING, img)


def from_linear(space: str) -> Convert:
    """A function mapping working-linear images to ``space`` (inverse of :func:`to_linear`)."""
    space = canonical(space)
    if space in BUILTIN:
        return lambda img: _rgb_only(colour.encode, img, space)
    return lambda img: _apply_ocio(_OCIO_WORKING, space, img)


def _rgb_only(fn, img: np.ndarray, transfer: str) -> np.ndarray:
    if img.shape[-1] == 4:
        return np.concatenate([fn(img[..., :3], transfer), img[..., 3:4].astype(np.float32)], axis=-1)
    return fn(img, transfer)


def premultiply(img: np.ndarray) -> np.ndarray:
    """Straight RGBA -> premultiplied RGBA (RGB arrays pass through)."""
    if img.shape[-1] != 4:
        return img
    a = img[..., 3:4]
    return np.concatenate([img[..., :3] * a, a], axis=-1)


def unpremultiply(img: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA -> straight RGBA; colour where alpha is 0 stays 0."""
    if img.shape[-1] != 4:
        return img
    from engine import pixels  # numba: loaded to convert a frame

    out = np.empty(img.shape, np.float32)
    pixels.unpremultiply(np.ascontiguousarray(img, np.float32), out)
    return out
