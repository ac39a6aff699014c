"""The camera track files ``paicli replace`` exports and accepts: JSON, and a Nuke CornerPin2D.

A camera track is one 3x3 homography per frame, ``frame_to_frame0[t]``, float64, mapping
frame-t pixel coordinates ``(x, y, 1)`` to frame-0 pixel coordinates (divide by the third
component), as in the bench's ``gt/camera.json`` and :mod:`engine.classic.track`.

Pixel coordinates follow OpenCV: origin at the top-left, x right, y *down*, pixel centres
at integer coordinates, so the image of a ``width`` x ``height`` frame spans
``[-0.5, width - 0.5] x [-0.5, height - 0.5]``.

JSON (schema ``paicli.camera.1``)::

    {"schema": "paicli.camera.1", "width": 1920, "height": 1080, "rate": "24000/1001",
     "start_timecode": "01:00:00:00", "first_frame": 0, "quality": {...},
     "frame_to_frame0": [[[h00, h01, h02], [h10, h11, h12], [h20, h21, h22]], ...]}

Only ``frame_to_frame0`` is required (the bench form). Matrices are row-major, written at
full float precision (``repr``) and normalised so ``h22 == 1``.

The Nuke export is the same track as one animated ``CornerPin2D`` that, applied to the
frame-0-aligned background plate, moves it with the camera; see :func:`write_nuke_cornerpin`.
"""
from __future__ import annotations

import json
import math
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from paicli.errors import BadDataError, MissingInputError, UsageError
from paicli.media.atomic import write_text
from paicli.media.regular import require_regular

SCHEMA = "paicli.camera.1"
_MAX_COND = 1e12  # beyond this a 3x3 homography is numerically singular (pixel-scale tracks stay below ~1e10)
_NUKE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --------------------------------------------------------------------------- validation

def _matrix_problem(m: Any) -> str | None:
    """Why ``m`` (parsed JSON or an array) is not a usable homography, or None if it is."""
    if isinstance(m, np.ndarray):
        if m.shape != (3, 3):
            return f"matrix has shape {m.shape}, not 3x3"
        if not (np.issubdtype(m.dtype, np.floating) or np.issubdtype(m.dtype, np.integer)):
            return f"matrix has dtype {m.dtype}, not numbers"
        a = m.astype(np.float64)
    else:
        if not (isinstance(m, (list, tuple)) and len(m) == 3
                and all(isinstance(r, (list, tuple)) and len(r) == 3 for r in m)):
            return "matrix is not 3x3 (a list of three rows of three numbers)"
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for r in m for v in r):
            return "matrix holds something that is not a number"
        a = np.array(m, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        return "matrix holds a non-finite number (NaN or infinity)"
    if not np.linalg.cond(a) < _MAX_COND:
        return "matrix is singular"
    return None


def _as_matrices(frame_to_frame0: Sequence[np.ndarray], where: str) -> list[np.ndarray]:
    """Validated float64 (3, 3) copies; BadDataError naming ``where`` and the frame otherwise."""
    out = []
    for i, m in enumerate(frame_to_frame0):
        try:
            arr = np.asarray(m)
        except ValueError:  # ragged nested lists
            raise BadDataError(f"{where}: frame {i}: matrix is not 3x3") from None
        problem = _matrix_problem(arr)
        if problem:
            raise BadDataError(f"{where}: frame {i}: {problem}")
        out.append(arr.astype(np.float64))
    if not out:
        raise BadDataError(f"{where}: the track has no frames")
    return out


def _check_size(width: int, height: int) -> None:
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise UsageError(f"camera track {name} must be a positive whole number of pixels, got {v!r}")


def _jsonable(x: Any) -> Any:
    """``x`` as plain JSON values: numpy scalars and arrays unwrapped, NaN and infinities as null."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Fraction):
        return f"{x.numerator}/{x.denominator}"
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    return x


# --------------------------------------------------------------------------- JSON

def write_camera_json(path: str | os.PathLike, frame_to_frame0: Sequence[np.ndarray], *, width: int, height: int,
                      rate: Fraction | None = None, start_timecode: str | None = None, first_frame: int = 0,
                      quality: dict | None = None) -> Path:
    """Write the camera track as JSON (schema ``paicli.camera.1``), atomically; return the path.

    ``frame_to_frame0``: one (3, 3) homography per frame, frame-t -> frame-0 pixel
    coordinates (OpenCV convention, see the module notes); each is scaled so ``[2][2] == 1``
    and written at full float precision. ``width``/``height``: the frame size in pixels.
    ``rate``: frames per second, stored as ``"num/den"``. ``first_frame``: the frame number
    of track entry 0. ``quality``: free JSON-able dict (numpy values unwrapped, NaN -> null).

    Everything is validated before anything is written: a bad matrix raises
    :class:`BadDataError` and leaves no file, not even a temporary one.
    """
    final = Path(path)
    _check_size(width, height)
    mats = _as_matrices(frame_to_frame0, f"cannot write camera track {final}")
    for i, m in enumerate(mats):
        if m[2, 2] == 0.0:  # the frame-t origin maps to infinity: cannot be scaled to h22 == 1
            raise BadDataError(f"cannot write camera track {final}: frame {i}: matrix has [2][2] == 0")
    mats = [m / m[2, 2] for m in mats]
    if not all(np.all(np.isfinite(m)) for m in mats):
        raise BadDataError(f"cannot write camera track {final}: a matrix overflows when scaled to [2][2] == 1")
    if rate is not None:
        rate = Fraction(rate)
        if rate <= 0:
            raise UsageError(f"camera track rate must be positive, got {rate}")
    if start_timecode is not None and not isinstance(start_timecode, str):
        raise UsageError(f"camera track start_timecode must be a string, got {start_timecode!r}")
    head: dict[str, Any] = {
        "schema": SCHEMA,
        "width": int(width),
        "height": int(height),
        "rate": None if rate is None else f"{rate.numerator}/{rate.denominator}",
        "start_timecode": start_timecode,
        "first_frame": int(first_frame),
        "quality": _jsonable(quality or {}),
    }
    try:
        lines = [f"  {json.dumps(k)}: {json.dumps(v, allow_nan=False, sort_keys=True)}," for k, v in head.items()]
    except (TypeError, ValueError) as e:
        raise UsageError(f"cannot write camera track {final}: quality is not JSON data ({e})") from e
    # json writes floats with repr, which reads back bit-exact; one matrix per line keeps diffs readable
    rows = [json.dumps(m.tolist()) for m in mats]
    text = "{\n" + "\n".join(lines) + '\n  "frame_to_frame0": [\n    ' + ",\n    ".join(rows) + "\n  ]\n}\n"
    return write_text(final, text)


def read_camera_json(path: str | os.PathLike, *, frame_count: int | None = None, width: int | None = None,
                     height: int | None = None) -> list[np.ndarray]:
    """Read a camera track JSON file: one float64 (3, 3) frame-t -> frame-0 homography per frame.

    Accepts the bench form (only ``frame_to_frame0``) and ``paicli.camera.1``; matrices are
    returned as stored (not rescaled). Given ``frame_count``, ``width`` or ``height``, checks
    the track matches the shot (a file that states no size passes the size check).

    Raises :class:`MissingInputError` (66) if the file is missing or unreadable and
    :class:`BadDataError` (65) for anything wrong inside it, naming the file and the frame.
    """
    p = Path(path)
    try:
        if p.exists():
            require_regular(p, "camera track")  # a FIFO would block the read below
        raw = p.read_bytes()
    except FileNotFoundError:
        raise MissingInputError(f"no such camera track: {p}") from None
    except OSError as e:
        raise MissingInputError(f"cannot read camera track {p}: {e.strerror or e}") from e
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadDataError(f"{p}: not a camera track (not JSON: {e})") from None
    if not isinstance(doc, dict) or "frame_to_frame0" not in doc:
        raise BadDataError(f"{p}: not a camera track (no \"frame_to_frame0\" key)")
    schema = doc.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise BadDataError(f"{p}: camera track schema {schema!r} is not {SCHEMA!r} (written by a newer paicli?)")
    seq = doc["frame_to_frame0"]
    if not isinstance(seq, list) or not seq:
        raise BadDataError(f"{p}: \"frame_to_frame0\" is not a non-empty list of 3x3 matrices")
    mats = []
    for i, m in enumerate(seq):
        problem = _matrix_problem(m)
        if problem:
            raise BadDataError(f"{p}: frame {i}: {problem}")
        mats.append(np.array(m, dtype=np.float64))
    if frame_count is not None and len(mats) != frame_count:
        raise BadDataError(f"{p}: track has {len(mats)} frames, the shot has {frame_count}")
    for key, want in (("width", width), ("height", height)):
        have = doc.get(key)
        if have is None:
            continue
        if isinstance(have, bool) or not isinstance(have, int) or have <= 0:
            raise BadDataError(f"{p}: {key} {have!r} is not a positive whole number of pixels")
        if want is not None and have != want:
            raise BadDataError(f"{p}: track is {_size(doc.get('width'), doc.get('height'))} pixels, "
                               f"the shot is {_size(width, height)}")
    return mats


def _size(w: int | None, h: int | None) -> str:
    return f"{'?' if w is None else w}x{'?' if h is None else h}"


# --------------------------------------------------------------------------- Nuke

def cv_to_nuke(points: np.ndarray, height: int) -> np.ndarray:
    """OpenCV pixel coordinates (N, 2) -> Nuke's: origin bottom-left, y up, pixel centres at +0.5."""
    pts = np.asarray(points, np.float64)
    return np.stack([pts[:, 0] + 0.5, height - 0.5 - pts[:, 1]], axis=1)


def nuke_to_cv(points: np.ndarray, height: int) -> np.ndarray:
    """Nuke pixel coordinates (N, 2) -> OpenCV's (the inverse of :func:`cv_to_nuke`)."""
    pts = np.asarray(points, np.float64)
    return np.stack([pts[:, 0] - 0.5, height - 0.5 - pts[:, 1]], axis=1)


def nuke_corners(width: int, height: int) -> np.ndarray:
    """The image corners in Nuke coordinates, in CornerPin2D order 1..4: BL, BR, TR, TL; (4, 2)."""
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)


def cornerpin_to(frame_to_frame0: np.ndarray, width: int, height: int) -> np.ndarray:
    """The animated ``to1..to4`` of one frame, (4, 2) Nuke coordinates: the frame-0 corners seen in frame t.

    Each Nuke corner is taken to OpenCV pixels, mapped through ``inv(frame_to_frame0)``
    (frame 0 -> frame t) and taken back to Nuke coordinates. Returns non-finite values if a
    corner maps to infinity; raises nothing.
    """
    inv = np.linalg.inv(np.asarray(frame_to_frame0, np.float64))
    src = nuke_to_cv(nuke_corners(width, height), height)
    hom = np.concatenate([src, np.ones((4, 1))], axis=1) @ inv.T
    with np.errstate(divide="ignore", invalid="ignore"):
        dst = hom[:, :2] / hom[:, 2:3]
    if not (np.all(hom[:, 2] > 0) or np.all(hom[:, 2] < 0)):  # the camera's horizon crosses the plate
        dst[:] = np.nan
    return cv_to_nuke(dst, height)


def _num(v: float) -> str:
    return repr(float(v))


def write_nuke_cornerpin(path: str | os.PathLike, frame_to_frame0: Sequence[np.ndarray], *, width: int, height: int,
                         first_frame: int = 1001, name: str = "paicli_track") -> Path:
    """Write the track as a ``.nk`` snippet holding one animated ``CornerPin2D``; return the path.

    Paste it into Nuke below the background plate aligned to frame 0: it moves the plate
    with the camera. CornerPin2D maps the quad ``from1..4`` onto ``to1..4``, so:

    - ``from1..4`` are constant: the image corners (0, 0), (w, 0), (w, h), (0, h) in Nuke
      coordinates (bottom-left, bottom-right, top-right, top-left);
    - ``to1..4`` are keyed on every frame, track entry t at Nuke frame ``first_frame + t``:
      those corners mapped by ``inv(frame_to_frame0[t])`` (frame 0 -> frame t).

    Nuke's pixel coordinates have their origin at the bottom-left corner of the image, y up,
    and pixel centres at +0.5; OpenCV's (the track's) have pixel centres at integers and y
    down, so ``x_nuke = x + 0.5`` and ``y_nuke = height - 0.5 - y``.
    """
    final = Path(path)
    _check_size(width, height)
    if not isinstance(name, str) or not _NUKE_NAME.match(name):
        raise UsageError(f"Nuke node name {name!r} must be letters, digits and underscores, not starting with a digit")
    first_frame = int(first_frame)
    where = f"cannot write Nuke corner pin {final}"
    mats = _as_matrices(frame_to_frame0, where)
    to = np.stack([cornerpin_to(m, width, height) for m in mats])  # (T, 4, 2)
    bad = np.flatnonzero(~np.all(np.isfinite(to), axis=(1, 2)))
    if bad.size:
        raise BadDataError(f"{where}: frame {int(bad[0])}: the image corners do not map to a finite quad")

    def curve(values: np.ndarray) -> str:  # keys on consecutive frames from the first "x" frame
        return "{curve x%d %s}" % (first_frame, " ".join(_num(v) for v in values))

    last = first_frame + len(mats) - 1
    corners = nuke_corners(width, height)
    lines = [
        f"# paicli camera track: {name}, {width}x{height}, frames {first_frame}-{last}. "
        "Apply to the background plate aligned to frame 0; it moves with the camera.",
        "# from1..4 = image corners; to1..4 = those corners in each frame (Nuke coordinates, y up).",
        "set cut_paste_input [stack 0]",
        "push $cut_paste_input",
        "CornerPin2D {",
    ]
    for k in range(4):
        lines.append(f" to{k + 1} {{{curve(to[:, k, 0])} {curve(to[:, k, 1])}}}")
    lines.append(" invert false")
    for k in range(4):
        lines.append(f" from{k + 1} {{{int(corners[k, 0])} {int(corners[k, 1])}}}")
    lines += [f" name {name}", "}", ""]
    return write_text(final, "\n".join(lines))
