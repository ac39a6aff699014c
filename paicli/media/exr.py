"""OpenEXR stills and sequences: scene-linear Rec.709, premultiplied, with exact timing metadata.

Images in memory are float32 (H, W, 3|4) scene-linear Rec.709 with premultiplied alpha, as
everywhere in paicli; on disk they are half (default) or float scanline EXRs with channels
R, G, B(, A). Every file carries ``colorInteropID = "lin_rec709_scene"`` and the matching
Rec.709/D65 ``chromaticities`` (for readers that predate the interop ID), and, when known,
``framesPerSecond`` as an exact rational and a SMPTE ``timeCode``. Writes are atomic.

Notes on the OpenEXR 3.5 Python bindings (``import OpenEXR``), learnt the hard way:

* ``framesPerSecond`` must be given as a :class:`fractions.Fraction`; an ``OpenEXR.Rational``
  is refused ("unrecognized type of attribute"). It reads back as a Fraction.
* Channel arrays must be C-contiguous: a strided view (``img[..., 0]``) is written as if it
  were contiguous, silently scrambling the pixels. We always hand over contiguous planes.
* A 2-tuple of ints becomes a V2i attribute and an 8-tuple of floats a chromaticities
  attribute, so user attributes are limited to types that cannot be misread.
* ``OpenEXR.TimeCode`` holds the labelled HH:MM:SS:FF fields and a drop-frame flag but no
  rate, and its frame field stops at 29. Rates above 30 fps store the frame *pair* with
  ``fieldPhase`` as the pair's second-frame flag (SMPTE ST 12-1 style).
* The process-wide thread pool starts at 0 threads (single-threaded compression); we size
  it to the CPUs available on first use unless something set it already.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from paicli.errors import BadDataError, MissingInputError, OutputError, UsageError
from paicli.media import nonfinite
from paicli.media.atomic import atomic_output
from paicli.media.formats import EXR_COMPRESSIONS
from paicli.media.limits import check_size
from paicli.media.quiet import c_stderr
from paicli.media.regular import require_regular
from paicli.media.sequence import SequencePattern
from paicli.media.timing import Timecode, format_rate, nominal_fps, parse_rate

COLOUR_INTEROP_ID = "lin_rec709_scene"
# ITU-R BT.709 primaries, D65 white: (red.x, red.y, green.x, green.y, blue.x, blue.y, white.x, white.y)
REC709_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
COMPRESSIONS = EXR_COMPRESSIONS
PIXEL_TYPES = ("half", "float")
_HALF_MAX = 65504.0
_MAX_THREADS = 16  # compression stops scaling well before this on 1080p/4K scanline files
# Header keys this module writes itself (or that the file structure fixes); users may not set them.
_RESERVED = frozenset({
    "channels", "compression", "dataWindow", "displayWindow", "lineOrder", "type", "name", "tiles",
    "framesPerSecond", "timeCode", "colorInteropID", "chromaticities",
})

_threads_checked = False


def _openexr():
    """Import OpenEXR lazily (importing paicli stays cheap) and size its thread pool once."""
    global _threads_checked
    import OpenEXR

    if not _threads_checked:
        _threads_checked = True
        if OpenEXR.global_thread_count() == 0:
            try:
                cpus = len(os.sched_getaffinity(0))
            except AttributeError:  # macOS, Windows
                cpus = os.cpu_count() or 1
            OpenEXR.set_global_thread_count(max(1, min(cpus, _MAX_THREADS)))
    return OpenEXR


@dataclass
class ExrInfo:
    """What an EXR header says. Windows are inclusive pixel boxes ``((xmin, ymin), (xmax, ymax))``.

    ``width``/``height`` are those of the data window (the returned pixels); ``channels``
    lists every channel in the file; ``pixel_type`` is that of the returned channels
    (``half``, ``float``, ``uint`` or ``mixed``; ``unknown`` from :func:`read_exr_info`, as
    the binding cannot tell without decoding); ``attributes`` holds the remaining header
    attributes as JSON-safe values; ``nonfinite`` counts the pixels whose NaN or +-Inf values
    were replaced when the pixels were read (:mod:`paicli.media.nonfinite`).
    """

    width: int
    height: int
    channels: list[str]
    compression: str
    pixel_type: str
    rate: Fraction | None
    timecode: Timecode | None
    data_window: tuple[tuple[int, int], tuple[int, int]]
    display_window: tuple[tuple[int, int], tuple[int, int]]
    colour_interop_id: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    nonfinite: int = 0


# ---------------------------------------------------------------------------- writing


def write_exr(path: str | os.PathLike, image: np.ndarray, *, compression: str = "zip", pixel_type: str = "half",
              rate: Fraction | str | None = None, timecode: Timecode | str | None = None,
              display_window=None, data_window_origin: tuple[int, int] = (0, 0),
              attributes: dict[str, Any] | None = None) -> Path:
    """Write one float32 (H, W, 3|4) scene-linear, premultiplied image as channels R, G, B(, A).

    ``compression``: one of :data:`COMPRESSIONS` (dwaa/dwab are lossy on R, G, B).
    ``pixel_type``: ``half`` (values beyond +-65504 are clipped to it, not turned into inf)
    or ``float``. ``rate``: frames per second (Fraction or ``"24000/1001"``), written exactly.
    ``timecode``: a :class:`Timecode` (or text, which needs ``rate``). ``display_window``:
    ``((xmin, ymin), (xmax, ymax))`` inclusive, or ``(width, height)`` from the origin; it
    defaults to the data window, which starts at ``data_window_origin`` (x, y) and has the
    image's size. ``attributes``: extra header values (str, int, float, Fraction, or lists of
    str or float). Returns the final path.
    """
    image = _as_image(image, (3, 4), "image")
    return write_layers(path, {"rgba": image}, compression=compression, pixel_type=pixel_type, rate=rate,
                        timecode=timecode, display_window=display_window,
                        data_window_origin=data_window_origin, attributes=attributes)


def write_layers(path: str | os.PathLike, layers: dict[str, np.ndarray], *, compression: str = "zip",
                 pixel_type: str = "half", rate: Fraction | str | None = None,
                 timecode: Timecode | str | None = None, display_window=None,
                 data_window_origin: tuple[int, int] = (0, 0), attributes: dict[str, Any] | None = None) -> Path:
    """Write several same-sized float32 layers into one multi-channel EXR (Nuke layer naming).

    Channel names, chosen so Nuke's Read node shows one layer per entry:

    * layer ``"rgba"`` or ``""``: R, G, B(, A) for (H, W, 3|4); Y for a single channel;
    * layer ``"alpha"`` with a single channel: A (Nuke's ``rgba.alpha``), unless the rgba
      layer already has an alpha;
    * any other layer ``name``: ``name.R``, ``name.G``, ``name.B``(, ``name.A``) for 3|4
      channels and ``name.Y`` for (H, W) or (H, W, 1) mattes.

    Options are those of :func:`write_exr`.
    """
    if not layers:
        raise UsageError("no layers to write")
    dtype = _pixel_dtype(pixel_type)
    comp = _compression(compression)
    channels: dict[str, np.ndarray] = {}
    size = None
    for name, arr in layers.items():
        arr = _as_image(arr, (1, 3, 4), f"layer {name!r}")
        if size is None:
            size = arr.shape[:2]
        elif arr.shape[:2] != size:
            raise UsageError(f"layer {name!r} is {arr.shape[1]}x{arr.shape[0]}, others are {size[1]}x{size[0]}")
        for cname, plane in zip(_channel_names(name, arr.shape[2], layers), _planes(arr, dtype)):
            if cname in channels:
                raise UsageError(f"layers {sorted(layers)} both write channel {cname!r}")
            channels[cname] = plane
    h, w = size
    header = _header(comp, w, h, rate, timecode, display_window, data_window_origin, attributes)
    final = Path(path)
    with atomic_output(final) as tmp:
        _write_file(header, channels, tmp)
    return final


def _final_folder(tmp: Path) -> Path:
    """The folder a temporary file is written for (outside any temporary folder)."""
    p = tmp.parent
    while ("paicli-tmp" in p.name or ".paicli-partial" in (p.name, p.parent.name)) and p.parent != p:
        p = p.parent  # a sequence's temporary folder; a render's staging folder
    return p


def _write_file(header: dict, channels: dict[str, np.ndarray], tmp: Path) -> None:
    """Encode and write ``channels`` under ``tmp``; any failure becomes an :class:`OutputError`."""
    OpenEXR = _openexr()
    try:
        OpenEXR.File(header, channels).write(str(tmp))
    except (RuntimeError, ValueError, OSError) as e:
        why = _first_line(e)
        if "paicli-tmp" in why:  # OpenEXR names the temporary file: keep what it says around it
            why = " ".join(part.strip(" .") for part in re.split(r'"[^"]*paicli-tmp[^"]*"?', why) if part.strip(" ."))
            why = why or "write failed"
            if not re.search(r"(too large|space|quota|read-only|denied)", why, re.I):
                why += " (is the disk full?)"
        name = tmp.name.split(".paicli-tmp")[0].lstrip(".") + tmp.suffix
        raise OutputError(f"cannot write EXR {name} in {_final_folder(tmp)}: {why}") from e


def _as_image(arr: np.ndarray, allowed: tuple[int, ...], what: str) -> np.ndarray:
    """``arr`` as float32 (H, W, C) with C in ``allowed``; (H, W) counts as one channel."""
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in allowed or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{what} must be (H, W, C) with C in {allowed}, got shape {arr.shape}")
    if arr.dtype.kind != "f":
        raise ValueError(f"{what} must be floating point (scene-linear), got {arr.dtype}")
    return arr


def _planes(arr: np.ndarray, dtype) -> list[np.ndarray]:
    """One C-contiguous (H, W) plane per channel in ``dtype`` (half is clipped to its range).

    Contiguity is not optional: the binding ignores strides. Non-finite values are replaced
    (NaN -> 0, +Inf -> 65504, -Inf -> 0; :mod:`paicli.media.nonfinite`) and half is clipped
    to +-65504, because a NaN or inf in a comp poisons every blur and grade after it; the
    caller's array is not changed.
    """
    arr, _ = nonfinite.replace(np.ascontiguousarray(arr, dtype=np.float32))
    if dtype == np.float16 and not (-_HALF_MAX <= arr.min() and arr.max() <= _HALF_MAX):
        arr = np.clip(arr, -_HALF_MAX, _HALF_MAX)
    try:
        planes = _split_cv2(arr, dtype)
    except (ImportError, AttributeError, TypeError, ValueError):
        planes = None
    if planes is None:  # no usable OpenCV: numpy's float16 cast is ~4x slower, but correct
        out = np.empty((arr.shape[2],) + arr.shape[:2], dtype=dtype)
        for i in range(arr.shape[2]):
            out[i] = arr[..., i]
        planes = list(out)
    return [np.ascontiguousarray(p) for p in planes]


def _split_cv2(arr: np.ndarray, dtype) -> list[np.ndarray] | None:
    """Planes via OpenCV's SIMD float32 -> float16 conversion, or None if unavailable."""
    import cv2

    h, w, c = arr.shape
    try:
        # x - 0.0 is exact for every float (and keeps -0.0); the cast is IEEE round-to-nearest-even
        conv = cv2.subtract(arr, 0.0, dtype=cv2.CV_16F) if dtype == np.float16 else arr
    except cv2.error:
        return None
    if conv.dtype != dtype or conv.size != arr.size:
        return None
    # numpy's transpose copy, not cv2.split: the latter has no fast path for 16-bit floats
    return list(np.ascontiguousarray(conv.reshape(h, w, c).transpose(2, 0, 1)))


def _channel_names(layer: str, nch: int, layers: dict) -> list[str]:
    if not isinstance(layer, str) or layer != layer.strip() or layer.endswith(".") or " " in layer:
        raise UsageError(f"bad EXR layer name {layer!r}")
    top = layer.lower() in ("", "rgba")
    if nch == 1:
        if top:
            return ["Y"]
        if layer == "alpha":
            rgba = layers.get("rgba", layers.get(""))
            if rgba is not None and np.asarray(rgba).ndim == 3 and np.asarray(rgba).shape[-1] == 4:
                raise UsageError("an 'alpha' layer cannot be written beside an RGBA layer that has its own alpha")
            return ["A"]
        return [f"{layer}.Y"]
    names = "RGBA"[:nch]
    return list(names) if top else [f"{layer}.{c}" for c in names]


def _pixel_dtype(pixel_type: str):
    kind = str(pixel_type).lower()
    if kind not in PIXEL_TYPES:
        raise UsageError(f"unknown EXR pixel type {pixel_type!r} (choose from {', '.join(PIXEL_TYPES)})")
    return np.float16 if kind == "half" else np.float32


def _compression(name: str):
    key = str(name).lower()
    if key not in COMPRESSIONS:
        raise UsageError(f"unknown EXR compression {name!r} (choose from {', '.join(COMPRESSIONS)})")
    OpenEXR = _openexr()
    return getattr(OpenEXR, "NO_COMPRESSION" if key == "none" else f"{key.upper()}_COMPRESSION")


def _header(compression, width: int, height: int, rate, timecode, display_window, origin, attributes) -> dict:
    OpenEXR = _openexr()
    ox, oy = (int(v) for v in origin)
    data_window = ((ox, oy), (ox + width - 1, oy + height - 1))
    header: dict[str, Any] = {
        "compression": compression,
        "type": OpenEXR.scanlineimage,
        "dataWindow": data_window,
        "displayWindow": _box(display_window) if display_window is not None else data_window,
        "colorInteropID": COLOUR_INTEROP_ID,
        # Python floats: the binding recognises chromaticities only as an 8-tuple of float
        "chromaticities": tuple(float(v) for v in REC709_CHROMATICITIES),
    }
    rate = parse_rate(rate) if rate is not None else None
    if rate is not None:
        header["framesPerSecond"] = Fraction(rate.numerator, rate.denominator)
    if timecode is not None:
        if isinstance(timecode, str):
            if rate is None:
                raise UsageError(f"timecode {timecode!r} needs a frame rate")
            timecode = Timecode.parse(timecode, rate)
        if rate is not None and timecode.fps != nominal_fps(rate):
            raise UsageError(f"timecode {timecode} counts {timecode.fps} fps, not {format_rate(rate)}")
        header["timeCode"] = timecode_to_exr(timecode)
    for key, value in (attributes or {}).items():
        if key in _RESERVED:
            raise UsageError(f"EXR attribute {key!r} is set by paicli and cannot be overridden")
        header[key] = _attribute_value(key, value)
    return header


def _box(value) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((xmin, ymin), (xmax, ymax))`` from that form or from ``(width, height)``."""
    try:
        a, b = value
        if isinstance(a, (tuple, list, np.ndarray)):
            (x0, y0), (x1, y1) = a, b
        else:
            x0, y0, x1, y1 = 0, 0, int(a) - 1, int(b) - 1
        box = ((int(x0), int(y0)), (int(x1), int(y1)))
    except (TypeError, ValueError):
        raise UsageError(f"bad display window {value!r}: use ((xmin, ymin), (xmax, ymax)) or (width, height)") from None
    if box[1][0] < box[0][0] or box[1][1] < box[0][1]:
        raise UsageError(f"empty display window {value!r}")
    return box


def _attribute_value(key: str, value):
    """``value`` in a type the binding stores unambiguously (tuples would become vectors)."""
    if not isinstance(key, str) or not key:
        raise UsageError(f"bad EXR attribute name {key!r}")
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        if not -2**31 <= int(value) < 2**31:
            raise UsageError(f"EXR attribute {key!r}: {value} does not fit a 32-bit int")
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, Fraction):
        return Fraction(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return [float(v) for v in value]
    raise UsageError(f"EXR attribute {key!r}: unsupported value {value!r} "
                     "(use str, int, float, Fraction, or a list of str or float)")


# ---------------------------------------------------------------------------- timecode


def timecode_to_exr(tc: Timecode):
    """An ``OpenEXR.TimeCode`` carrying the labelled fields of ``tc`` and its drop-frame flag."""
    OpenEXR = _openexr()
    if tc.fps > 60:
        raise UsageError(f"an EXR timeCode cannot hold {tc.fps} fps timecode (60 at most)")
    hh, mm, ss, ff = _fields(str(tc))
    out = OpenEXR.TimeCode()
    out.hours, out.minutes, out.seconds = hh, mm, ss
    if tc.fps > 30:
        out.frame, out.fieldPhase = ff // 2, bool(ff % 2)
    else:
        out.frame = ff
    out.dropFrame = bool(tc.drop)
    return out


def timecode_from_exr(tc, rate: Fraction | None) -> Timecode | None:
    """A :class:`Timecode` from an ``OpenEXR.TimeCode``, or None if it is not valid at ``rate``.

    Without a rate the nominal rate is guessed: 30 for drop-frame, else the smallest of 24, 25
    and 30 that the frame field fits (a guess; callers check it against the real rate).
    """
    drop = bool(tc.dropFrame)
    if rate is None:
        rate = Fraction(30000, 1001) if drop else next((Fraction(r) for r in (24, 25) if tc.frame < r), Fraction(30))
    ff = tc.frame * 2 + int(bool(tc.fieldPhase)) if nominal_fps(rate) > 30 else tc.frame
    text = f"{tc.hours:02d}:{tc.minutes:02d}:{tc.seconds:02d}{';' if drop else ':'}{ff:02d}"
    try:
        return Timecode.parse(text, rate, drop=drop)
    except UsageError:
        return None


def _fields(text: str) -> tuple[int, int, int, int]:
    hh, mm, ss, ff = text.replace(";", ":").split(":")
    return int(hh), int(mm), int(ss), int(ff)


# ---------------------------------------------------------------------------- reading


def read_exr(path: str | os.PathLike, *, layer: str | None = None,
             what: str | None = None) -> tuple[np.ndarray, ExrInfo]:
    """Read the colour of an EXR as float32 (H, W, C) over its data window, values as stored
    except non-finite ones: NaN -> 0, +Inf -> 65504 (alpha: 1), -Inf -> 0, counted in
    ``info.nonfinite`` and, under ``what`` when given, in :func:`paicli.media.nonfinite.tally`.

    Without ``layer``: R, G, B(, A) -> C = 3|4; a lone luminance channel Y -> C = 1 (Y with A
    -> C = 4, Y repeated into R, G, B); a file with a single channel of any name -> C = 1; a
    file holding exactly one named layer -> that layer. ``layer="beauty"`` reads
    ``beauty.R``... (or ``beauty.red``..., as Nuke writes them) the same way. Colour is
    whatever the file holds (paicli writes scene-linear Rec.709, premultiplied).

    Raises :class:`MissingInputError` if the file is missing or not a regular file and
    :class:`BadDataError` if it is corrupt, truncated, or holds no such channels.
    """
    f, info = _open(path)
    chans = f.channels()
    names = _select(list(chans), layer)
    if names is None:
        where = f"layer {layer!r}" if layer is not None else "R, G, B or Y channels"
        raise BadDataError(f"{path}: no {where}; its channels are {', '.join(info.channels)}")
    img, info.pixel_type = _stack(chans, names, info, path)
    img, info.nonfinite = nonfinite.replace(img, inplace=True)
    nonfinite.count(what, info.nonfinite, source=str(path))
    return img, info


def read_layers(path: str | os.PathLike, *, what: str | None = None) -> tuple[dict[str, np.ndarray], ExrInfo]:
    """Every layer of an EXR as float32 (H, W, C) arrays keyed by layer name (``rgba`` for the top level).

    The inverse of :func:`write_layers`: R, G, B(, A) -> C = 3|4, Y -> C = 1; a top-level lone
    ``A`` comes back as layer ``alpha``; other channel sets are stacked in file order.
    Non-finite values are replaced and counted as by :func:`read_exr` (summed over layers).
    """
    f, info = _open(path)
    chans = f.channels()
    groups: dict[str, list[str]] = {}
    for name in chans:
        prefix = name.rpartition(".")[0]
        groups.setdefault(prefix, []).append(name)
    out: dict[str, np.ndarray] = {}
    types = set()
    for prefix, members in groups.items():
        key = prefix or "rgba"
        names = _select(members, prefix)
        if prefix == "" and names is None and members == ["A"]:
            key, names = "alpha", ["A"]
        if names is None:
            names = members
        out[key], t = _stack(chans, names, info, path)
        out[key], bad = nonfinite.replace(out[key], inplace=True, alpha_last=key == "alpha" or None)
        info.nonfinite += bad
        types.add(t)
    info.pixel_type = types.pop() if len(types) == 1 else "mixed"
    nonfinite.count(what, info.nonfinite, source=str(path))
    return out, info


def read_exr_info(path: str | os.PathLike) -> ExrInfo:
    """The header of an EXR without decoding its pixels (fast: for probing sequences)."""
    return _open(path, header_only=True)[1]


def _open(path: str | os.PathLike, header_only: bool = False):
    OpenEXR = _openexr()
    p = Path(path)
    require_regular(p)  # a FIFO would block the library's open() forever
    if not os.access(p, os.R_OK):
        raise MissingInputError(f"cannot read {p}: permission denied")
    # The binding reports damaged pixel data with print() to stdout, where it would corrupt
    # --json output; catch it and turn it into the error it really is.
    # (and the library prints to file descriptor 2 as well: captured, so the error stays one line)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), c_stderr() as said:
            f = OpenEXR.File(str(p), separate_channels=True, header_only=True)
            header = f.header()
            info = _info(header, p)
            # before the pixels are read and allocated; the file's own size needs no check here:
            # the library reads chunks through the offset table, never the whole file, and
            # multi-part and deep files rightly hold more than part 0's pixels
            check_size(info.width, info.height, p)
            if not header_only:
                f = OpenEXR.File(str(p), separate_channels=True, header_only=False)
    except (RuntimeError, ValueError, OSError, IndexError) as e:
        raise BadDataError(f"cannot read EXR {p}: {_read_failure(e, printed.getvalue() + chr(10).join(said))}") from e
    if "exception" in printed.getvalue().lower():
        raise BadDataError(f"cannot read EXR {p}: {_read_failure(None, printed.getvalue())}")
    return f, info


def _read_failure(e: BaseException | None, printed: str) -> str:
    """One line saying why a read failed, in words a user can act on."""
    text = str(e or "")
    if "Unable to open" in text:
        return "not an OpenEXR file, or its header is damaged"
    detail = printed.strip().splitlines()[-1].rpartition(" - ")[2] if printed.strip() else _first_line(e or "")
    return f"truncated or corrupt pixel data ({detail})" if detail else "truncated or corrupt file"


def _info(header: dict, path: Path) -> ExrInfo:
    try:
        dw = _window(header["dataWindow"])
        dispw = _window(header.get("displayWindow", header["dataWindow"]))
    except (KeyError, TypeError, ValueError) as e:
        raise BadDataError(f"{path}: EXR header has no usable data window") from e
    rate = _rate(header.get("framesPerSecond"))
    tc = header.get("timeCode")
    timecode = timecode_from_exr(tc, rate) if tc is not None and hasattr(tc, "dropFrame") else None
    comp = header.get("compression")
    cname = getattr(comp, "name", str(comp))
    cname = "none" if cname == "NO_COMPRESSION" else cname.removesuffix("_COMPRESSION").lower()
    channels = [getattr(c, "name", str(c)) for c in header.get("channels", [])]
    skip = {"channels", "compression", "dataWindow", "displayWindow", "framesPerSecond", "colorInteropID"}
    attributes = {k: _json_safe(v) for k, v in header.items() if k not in skip and not (k == "timeCode" and timecode is not None)}
    if tc is not None and timecode is None:
        attributes["timeCode"] = _json_safe(tc)  # kept raw: it is not a valid timecode at this rate
    cid = header.get("colorInteropID")
    return ExrInfo(width=dw[1][0] - dw[0][0] + 1, height=dw[1][1] - dw[0][1] + 1, channels=channels,
                   compression=cname, pixel_type="unknown", rate=rate, timecode=timecode, data_window=dw,
                   display_window=dispw, colour_interop_id=str(cid) if cid is not None else None,
                   attributes=attributes)


_SUFFIXES = {"R": ("R", "red", "r"), "G": ("G", "green", "g"), "B": ("B", "blue", "b"), "A": ("A", "alpha", "a"),
             "Y": ("Y", "y")}


def _select(names: list[str], layer: str | None) -> list[str] | None:
    """The channel names to read, in output order, or None if the layer has no colour."""
    if layer is None:
        found = _select(names, "")
        if found is not None:
            return found
        if len(names) == 1:
            return names
        prefixes = {n.rpartition(".")[0] for n in names}
        return _select(names, prefixes.pop()) if len(prefixes) == 1 else None
    prefix = "" if layer.lower() in ("", "rgba") else f"{layer}."
    present = set(names)

    def find(key: str) -> str | None:
        return next((prefix + s for s in _SUFFIXES[key] if prefix + s in present), None)

    r, g, b, a, y = (find(k) for k in "RGBAY")
    if r and g and b:
        return [r, g, b] + ([a] if a else [])
    if y:
        return [y, y, y, a] if a else [y]
    return None


def _stack(chans: dict, names: list[str], info: ExrInfo, path) -> tuple[np.ndarray, str]:
    """float32 (H, W, len(names)) from the named channels, and their pixel type name."""
    h, w = info.height, info.width
    out = np.empty((h, w, len(names)), dtype=np.float32)
    types = set()
    for i, name in enumerate(names):
        ch = chans[name]
        px = ch.pixels
        if ch.xSampling != 1 or ch.ySampling != 1 or px is None or px.shape[:2] != (h, w):
            raise BadDataError(f"{path}: channel {name!r} is subsampled or does not match the data window")
        out[..., i] = px
        types.add({"float16": "half", "float32": "float", "uint32": "uint"}.get(px.dtype.name, px.dtype.name))
    return out, (types.pop() if len(types) == 1 else "mixed")


def _window(box) -> tuple[tuple[int, int], tuple[int, int]]:
    lo, hi = box
    return (int(lo[0]), int(lo[1])), (int(hi[0]), int(hi[1]))


def _rate(value) -> Fraction | None:
    """``framesPerSecond`` as an exact rate (Fraction; OpenEXR.Rational or float as fallbacks)."""
    if value is None:
        return None
    try:
        if isinstance(value, Fraction):
            rate = value
        elif hasattr(value, "n") and hasattr(value, "d"):
            rate = Fraction(int(value.n), int(value.d))
        else:
            rate = Fraction(float(value)).limit_denominator(1001)
        return parse_rate(rate)
    except (UsageError, ValueError, ZeroDivisionError, TypeError):
        return None  # a nonsense rate in a header is ignored, as if absent


def _json_safe(v):
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, Fraction):
        return format_rate(v) if v > 0 else f"{v.numerator}/{v.denominator}"
    if isinstance(v, np.generic):
        return _json_safe(v.item())
    if isinstance(v, np.ndarray):
        return [_json_safe(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, bytes):
        return v.hex()
    if hasattr(v, "dropFrame") and hasattr(v, "frame"):  # OpenEXR.TimeCode that did not convert
        return f"{v.hours:02d}:{v.minutes:02d}:{v.seconds:02d}{';' if v.dropFrame else ':'}{v.frame:02d}"
    if hasattr(v, "name") and type(v).__module__ == "OpenEXR":
        return str(v.name)  # pybind11 enums (lineOrder, type, envmap)
    return str(v)


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [""])[0][:200]


# ---------------------------------------------------------------------------- sequences


class ExrSequenceWriter:
    """Write numbered EXR frames ``shot.####.exr``, one atomic file per :meth:`write`.

    Every frame carries ``framesPerSecond`` = ``rate`` and, with ``start_timecode``, its own
    ``timeCode`` = start + index. ``first_frame`` is the first frame number, or
    ``"timecode"`` to number frames by the timecode's frame count (01:00:00:00 at 24 fps ->
    86400). With ``overwrite=False`` an existing frame is an :class:`OutputError`.
    """

    def __init__(self, pattern: str | os.PathLike | SequencePattern, *, first_frame: int | str = 1001,
                 rate: Fraction | str, start_timecode: Timecode | str | None = None, compression: str = "zip",
                 pixel_type: str = "half", overwrite: bool = True, display_window=None,
                 attributes: dict[str, Any] | None = None):
        self._pattern = pattern if isinstance(pattern, SequencePattern) else SequencePattern.parse(pattern)
        if self._pattern.suffix.lower() != ".exr":
            raise UsageError(f"EXR sequence pattern must end in .exr: {self._pattern}")
        self.rate = parse_rate(rate)
        if isinstance(start_timecode, str):
            start_timecode = Timecode.parse(start_timecode, self.rate)
        if start_timecode is not None and start_timecode.fps != nominal_fps(self.rate):
            raise UsageError(f"timecode {start_timecode} is counted at {start_timecode.fps} fps, "
                             f"not {format_rate(self.rate)}")
        self.start_timecode = start_timecode
        if first_frame == "timecode":
            if start_timecode is None:
                raise UsageError("first frame 'timecode' needs a start timecode")
            first_frame = start_timecode.frames
        try:
            self.first_frame = int(first_frame)
        except (TypeError, ValueError):
            raise UsageError(f"first frame must be a number or 'timecode', not {first_frame!r}") from None
        if self.first_frame < 0:
            raise UsageError(f"first frame must not be negative: {self.first_frame}")
        _compression(compression)  # fail before the first frame, not after it
        _pixel_dtype(pixel_type)
        self._options = dict(compression=compression, pixel_type=pixel_type, rate=self.rate,
                             display_window=display_window, attributes=attributes)
        self.overwrite = overwrite
        self.count = 0
        self._size: tuple[int, int] | None = None
        self._closed = False
        if not self._pattern.folder.is_dir():
            raise OutputError(f"output folder does not exist: {self._pattern.folder}")

    @property
    def pattern(self) -> str:
        """The ``####`` spelling of the output pattern."""
        return str(self._pattern)

    @property
    def frame_range(self) -> tuple[int, int] | None:
        """(first, last) frame numbers written so far, or None before the first."""
        return (self.first_frame, self.first_frame + self.count - 1) if self.count else None

    def write(self, image: np.ndarray | dict[str, np.ndarray]) -> Path:
        """Write the next frame (float32 (H, W, 3|4) scene-linear premultiplied, or a dict of
        layers as :func:`write_layers` takes them); returns its path."""
        if self._closed:
            raise UsageError("EXR sequence writer is closed")
        layers = image if isinstance(image, dict) else None
        if layers is None:
            image = _as_image(image, (3, 4), "frame")
        shape = next(iter(layers.values())).shape[:2] if layers else image.shape[:2]
        if self._size is None:
            self._size = shape
        elif shape != self._size:
            raise BadDataError(f"frame {self.first_frame + self.count} is {shape[1]}x{shape[0]}, "
                               f"earlier frames are {self._size[1]}x{self._size[0]}")
        number = self.first_frame + self.count
        path = self._pattern.path(number)
        if not self.overwrite and path.exists():
            raise OutputError(f"{path} already exists (not overwriting)")
        tc = self.start_timecode + self.count if self.start_timecode is not None else None
        if layers is not None:
            write_layers(path, layers, timecode=tc, **self._options)
        else:
            write_exr(path, image, timecode=tc, **self._options)
        self.count += 1
        return path

    def close(self) -> None:
        self._closed = True

    def abort(self) -> None:
        """Stop writing. Frames already written are complete files and are kept."""
        self._closed = True

    def __enter__(self) -> "ExrSequenceWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
