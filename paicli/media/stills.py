"""Single image files: reference stills and PNG/TIFF/DPX/JPEG sequence frames.

:func:`read_still` returns float32 (H, W, C) arrays holding the file's *encoded* values
scaled to [0, 1] (8-bit / 255, 10-bit / 1023, 16-bit / 65535; float TIFFs as stored, which
may exceed 1): no transfer function is undone here, because which one applies (sRGB,
BT.709, log) is the caller's decision. Channels are R, G, B(, A), gray (C = 1) or gray +
alpha (C = 2); alpha is straight, as these formats store it. EXR files are delegated to
:func:`paicli.media.exr.read_exr` and are scene-linear and premultiplied instead.

Decoders: OpenCV for PNG, TIFF and JPEG (JPEG EXIF orientation is applied, as viewers do);
PyAV (FFmpeg's ``dpx`` decoder) for DPX, which OpenCV cannot read.

Before a decoder sees a file: it must be a regular file (:mod:`paicli.media.regular`; a FIFO
or a device would block or never end), and its header's size and the file's size must be
within :mod:`paicli.media.limits` (a decoder reads the whole file, so a 10 GiB file behind a
small header is refused before it is read, as bad data). Float samples (float TIFFs, EXRs)
come back finite: NaN and +-Inf are replaced and counted (:mod:`paicli.media.nonfinite`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.colour import bt709_oetf
from paicli.errors import BadDataError, MissingInputError, OutputError, UsageError
from paicli.media import nonfinite
from paicli.media.atomic import atomic_output
from paicli.media.exr import read_exr
from paicli.media.limits import check_file
from paicli.media.quiet import c_stderr
from paicli.media.regular import require_regular

FORMATS = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".jpg": "jpeg", ".jpeg": "jpeg", ".dpx": "dpx",
           ".exr": "exr"}

_cv2_quietened = False


@dataclass(frozen=True)
class StillInfo:
    """Geometry and storage of one still. ``bit_depth`` is per channel (32 for float)."""

    width: int
    height: int
    channels: int
    bit_depth: int
    format: str  # png | tiff | jpeg | dpx | exr
    has_alpha: bool
    nonfinite: int = 0  # pixels whose NaN or +-Inf samples were replaced (float files only)


def read_still(path: str | os.PathLike, *, what: str | None = None) -> tuple[np.ndarray, StillInfo]:
    """Read a PNG, TIFF, JPEG, DPX or EXR file as float32 (H, W, C); see the module notes.

    ``what``: the label under which replaced non-finite pixels are added to the process-wide
    tally (:func:`paicli.media.nonfinite.tally`); None counts them only in the returned
    :attr:`StillInfo.nonfinite`.

    Raises :class:`MissingInputError` if it does not exist or is not a regular file (a FIFO,
    a device, a folder), :class:`UsageError` for other extensions, and :class:`BadDataError`
    if it cannot be decoded, its header claims too many pixels or the file is far larger
    than its header's picture.
    """
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise UsageError(f"unsupported still format {p.suffix or '(no extension)'!r} for {p} "
                         f"(use {', '.join(sorted(set(FORMATS.values())))})")
    st = require_regular(p)
    if fmt == "exr":
        img, info = read_exr(p, what=what)
        depth = {"half": 16, "float": 32, "uint": 32}.get(info.pixel_type, 32)
        return img, StillInfo(img.shape[1], img.shape[0], img.shape[2], depth, "exr", img.shape[2] in (2, 4),
                              info.nonfinite)
    try:
        check_file(p, fmt, st.st_size)  # before a decoder reads the whole file
    except OSError as e:
        raise MissingInputError(f"cannot read {p}: {e.strerror or e}") from e
    if fmt == "dpx":
        return _read_dpx(p)
    return _read_cv2(p, fmt, what)


def _read_cv2(path: Path, fmt: str, what: str | None) -> tuple[np.ndarray, StillInfo]:
    cv2 = _cv2()
    try:
        # bytes + imdecode rather than imread: the same one-line error for unreadable and
        # corrupt files, and non-ASCII paths work on every platform
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise MissingInputError(f"cannot read {path}: {e.strerror or e}") from e
    flags = cv2.IMREAD_COLOR if fmt == "jpeg" else cv2.IMREAD_UNCHANGED  # COLOR applies EXIF orientation
    try:
        with c_stderr() as said:
            arr = cv2.imdecode(data, flags) if data.size else None
    except cv2.error as e:
        raise BadDataError(f"cannot decode {path}: {str(e).strip().splitlines()[-1]}") from e
    if arr is None:
        why = f" ({said[-1][:120]})" if said else ""
        raise BadDataError(f"cannot decode {path}: corrupt, truncated or not a {fmt.upper()} file{why}")
    if arr.ndim == 2:
        arr = arr[..., None]
    c = arr.shape[2]
    if c == 3:
        arr = arr[..., ::-1]  # OpenCV is BGR
    elif c == 4:
        arr = arr[..., [2, 1, 0, 3]]
    elif c not in (1, 2):
        raise BadDataError(f"{path}: {c}-channel images are not supported")
    if arr.dtype == np.uint8:
        depth, out = 8, arr.astype(np.float32) / np.float32(255)
    elif arr.dtype == np.uint16:
        depth, out = 16, arr.astype(np.float32) / np.float32(65535)
    elif arr.dtype in (np.float32, np.float64, np.float16):
        depth, out = 32 if arr.dtype != np.float16 else 16, arr.astype(np.float32)
    else:
        raise BadDataError(f"{path}: unsupported sample type {arr.dtype}")
    out = np.ascontiguousarray(out)
    bad = 0
    if arr.dtype.kind == "f":
        out, bad = nonfinite.replace(out, inplace=True)
        nonfinite.count(what, bad, source=str(path))
    return out, StillInfo(out.shape[1], out.shape[0], c, depth, fmt, c in (2, 4), bad)


def _read_dpx(path: Path) -> tuple[np.ndarray, StillInfo]:
    import av

    try:
        with av.open(str(path), format="dpx_pipe") as container:
            frame = next(container.decode(video=0))
            pix = frame.format
            bits = max(comp.bits for comp in pix.components)
            has_alpha = any(comp.is_alpha for comp in pix.components)
            gray = len(pix.components) - int(has_alpha) == 1
            target = _dpx_target(bits, has_alpha, gray)
            arr = frame.to_ndarray(format=target) if target != pix.name else frame.to_ndarray()
    except (av.FFmpegError, StopIteration, ValueError) as e:
        why = getattr(e, "strerror", None) or str(e).strip() or "no image in file"
        raise BadDataError(f"cannot decode DPX {path}: {why}") from e
    if arr.ndim == 2:
        arr = arr[..., None]
    # 10- and 12-bit samples arrive in the low bits of uint16 (gbrp10/12); rgb48/rgba64 are 16-bit
    scale = float((1 << (bits if target.startswith("gbr") else arr.dtype.itemsize * 8)) - 1)
    out = np.ascontiguousarray(arr.astype(np.float32) / np.float32(scale))
    return out, StillInfo(out.shape[1], out.shape[0], out.shape[2], bits, "dpx", has_alpha)


def _dpx_target(bits: int, alpha: bool, gray: bool) -> str:
    """The packed format that keeps ``bits`` exactly: native 10/12-bit planes where they exist."""
    if gray:
        return "gray" if bits <= 8 else "gray16le"
    if bits <= 8:
        return "rgba" if alpha else "rgb24"
    if bits in (10, 12):
        return f"gbrap{bits}le" if alpha else f"gbrp{bits}le"
    return "rgba64le" if alpha else "rgb48le"


def write_png16(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write float32 (H, W, 1|2|3|4) encoded values in [0, 1] as a 16-bit PNG, atomically.

    Values are clipped to [0, 1] and rounded to the nearest of 65536 codes; alpha, if any,
    is stored straight (PNG's convention), so unpremultiply before calling.
    """
    cv2 = _cv2()
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"image must be (H, W, 1|2|3|4), got shape {arr.shape}")
    codes = np.rint(np.clip(arr, 0.0, 1.0) * 65535.0).astype(np.uint16)
    c = codes.shape[2]
    if c == 2:  # OpenCV has no gray+alpha writer; gray in RGB is lossless
        codes = np.concatenate([codes[..., :1]] * 3 + [codes[..., 1:]], axis=2)
    codes = codes[..., ::-1] if codes.shape[2] == 3 else codes[..., [2, 1, 0, 3]] if codes.shape[2] == 4 else codes
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(codes))
    if not ok:
        raise OutputError(f"cannot encode PNG {path}")
    final = Path(path)
    with atomic_output(final) as tmp:
        try:
            buf.tofile(tmp)
        except OSError as e:
            raise OutputError(f"cannot write {final}: {e.strerror or e}") from e
    return final


def display_uint8(frame: np.ndarray, height: int | None = None) -> np.ndarray:
    """A scene-linear Rec.709 frame (H, W, >=3) as 8-bit BT.709-encoded RGB for viewing,
    scaled to ``height`` lines (area filter) when given."""
    rgb = (np.clip(bt709_oetf(np.clip(frame[..., :3], 0.0, 1.0)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if height is not None and height != rgb.shape[0]:
        h, w = rgb.shape[:2]
        rgb = _cv2().resize(rgb, (max(1, round(w * height / h)), height), interpolation=_cv2().INTER_AREA)
    return rgb


def jpeg_bytes(rgb8: np.ndarray, quality: int = 85) -> bytes | None:
    """JPEG file bytes of an 8-bit RGB image (H, W, 3), or None if it cannot be encoded."""
    cv2 = _cv2()
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(rgb8), cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return data.tobytes() if ok else None


def _cv2():
    """OpenCV, with its warning log off: corrupt files already become one-line errors."""
    global _cv2_quietened
    import cv2

    if not _cv2_quietened:
        _cv2_quietened = True
        try:
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        except AttributeError:  # older builds without the logging module
            pass
    return cv2
