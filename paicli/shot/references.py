"""Background reference stills for ``paicli replace SHOT --bg REFS...``: find, anchor, load.

A reference is a still of the clean background, taken at (or made for) one frame of the
shot, its *anchor*: a 0-based frame index in ``0 .. frame_count - 1``. Anchors come from
``--bg-at``, else from frame numbers in the file names (``ref.0047.png``, ``bg_1047.exr``),
else the references, in natural name order, are spread over the shot (start, middle, end).

:func:`find_references` only looks at names and folders; :func:`load_references` reads the
pixels. Loaded images are float32 (H, W, 3) scene-linear Rec.709, fitted to the shot's
width x height: exact, scaled (same aspect within 1%) or scaled to cover and centre-cropped
(aspect within 2/3 .. 3/2 of the shot's). Stills are decoded from sRGB unless told otherwise;
EXRs are taken as already scene-linear. Alpha is dropped (a reference is an opaque
background) and gray images are repeated into R, G and B. Pixels come back finite: NaN and
+-Inf are replaced as they are read and counted (:attr:`Reference.nonfinite` and the process
tally of :mod:`paicli.media.nonfinite`). Only regular files are references: a FIFO, a device
or a socket, named or in a ``--bg`` folder, is refused (66) before it is opened. Nothing here
writes files, and every error is raised before the caller writes anything.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from paicli.errors import BadDataError, MissingInputError, PaicliError, UsageError
from paicli.media.colourspace import canonical, to_linear
from paicli.media.regular import exists, require_regular
from paicli.media.stills import read_still

EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".dpx")
ANCHORED_BY = ("name", "bg-at", "default")
FITTED = ("exact", "scaled", "cropped")
_FRAME_IN_NAME = re.compile(r"[._](\d+)$", re.ASCII)
_SAME_ASPECT = 0.01  # relative aspect difference still fitted by plain scaling
_MAX_ASPECT_RATIO = 1.5  # ref/shot aspect beyond 3/2 (or below 2/3) would crop too much away


@dataclass(frozen=True)
class RefSpec:
    """One reference file and the shot frame it shows."""

    path: Path
    anchor: int  # 0-based frame index in the shot (0 .. frame_count-1)
    anchored_by: str  # "name" (frame number in file name), "bg-at" (explicit), "default" (start/middle/end)


@dataclass
class Reference:
    """A loaded reference: ``image`` is float32 (H, W, 3) scene-linear Rec.709 at the shot's size."""

    spec: RefSpec
    image: np.ndarray
    source_size: tuple[int, int]  # width, height of the file
    fitted: str  # "exact", "scaled" or "cropped"
    nonfinite: int = 0  # pixels of the file whose NaN or +-Inf values were replaced


# ---------------------------------------------------------------------------- finding


def find_references(bg: Sequence[str | os.PathLike], frame_count: int, *, bg_at: str | Sequence[int] | None = None,
                    first_frame: int = 0) -> list[RefSpec]:
    """The reference files named by ``bg`` (folders and/or files), each with its anchor frame.

    ``frame_count``: frames in the shot. ``bg_at``: explicit anchors (``"0,47,95"`` or a list),
    one per reference in natural name order. ``first_frame``: the shot's first source frame
    number (1001 for most EXR sequences), so names and ``bg_at`` may use source numbers.
    Returns the references sorted by anchor.

    Raises :class:`MissingInputError` for a missing path or a folder without images,
    :class:`UsageError` for a non-image file or a malformed or miscounted ``bg_at``, and
    :class:`BadDataError` for an anchor outside the shot or two references on one frame.
    """
    if frame_count < 1:
        raise ValueError(f"frame_count must be >= 1, got {frame_count}")
    paths = _reference_files(bg)
    if bg_at is not None:
        numbers = _parse_bg_at(bg_at)
        if len(numbers) != len(paths):
            raise UsageError(f"--bg-at gives {_count(len(numbers), 'anchor')} but there "
                             f"{'is' if len(paths) == 1 else 'are'} {_count(len(paths), 'reference')}; "
                             f"give one frame per reference, in name order")
        anchors = _to_indices(numbers, paths, frame_count, first_frame, by="bg-at")
        how = "bg-at"
    else:
        named = [_frame_in_name(p) for p in paths]
        if all(n is not None for n in named):
            anchors = _to_indices(named, paths, frame_count, first_frame, by="name")
            how = "name"
        else:  # numbers on only some names are more likely takes or versions than frames
            anchors = _default_anchors(len(paths), frame_count)
            how = "default"
    specs = sorted((RefSpec(p, a, how) for p, a in zip(paths, anchors)), key=lambda s: s.anchor)
    for a, b in zip(specs, specs[1:]):
        if a.anchor == b.anchor:
            hint = {"bg-at": "give each its own frame with --bg-at",
                    "name": "rename one or use --bg-at",
                    "default": f"the shot has only {_count(frame_count, 'frame')}; use fewer references"}[how]
            raise BadDataError(f"{a.path} and {b.path} both anchor frame {a.anchor}; {hint}")
    return specs


def _reference_files(bg: Sequence[str | os.PathLike]) -> list[Path]:
    """Every image named by ``bg``, once each, in natural name order."""
    if isinstance(bg, (str, os.PathLike)):
        bg = [bg]
    if not bg:
        raise UsageError("no references given (--bg takes image files and/or folders of them)")
    found: dict[Path, Path] = {}  # resolved -> as the user spelled it
    for entry in bg:
        p = Path(entry)
        if p.is_dir():
            images = _images_in(p)
            if not images:
                raise MissingInputError(f"no reference images in {p} (looked for {', '.join(EXTENSIONS)})")
        elif p.is_file():
            if p.suffix.lower() not in EXTENSIONS:
                raise UsageError(f"{p} is not a reference image (use {', '.join(EXTENSIONS)})")
            images = [p]
        else:
            if exists(p):
                require_regular(p, "reference")  # a FIFO or a device: refused, never opened
            raise MissingInputError(f"no such reference: {p}")
        for img in images:
            found.setdefault(img.resolve(), img)
    return sorted(found.values(), key=lambda q: (_natural_key(q.name), q.name, _natural_key(str(q)), str(q)))


def _images_in(folder: Path) -> list[Path]:
    """The image files in ``folder`` (not its subfolders). An image name that is not a regular
    file (a FIFO, a device, a broken link) is refused rather than left out, so a reference
    never goes missing without a word."""
    try:
        with os.scandir(folder) as it:
            entries = [e for e in it
                       if not e.name.startswith(".")  # .DS_Store, macOS ._ resource forks
                       and os.path.splitext(e.name)[1].lower() in EXTENSIONS]
            names = []
            for e in entries:
                if e.is_file():  # stats (following links), never opens
                    names.append(e.name)
                elif not e.is_dir():
                    require_regular(e.path, "reference")
    except OSError as e:
        raise MissingInputError(f"cannot list {folder}: {e.strerror or e}") from None
    return [folder / n for n in names]


def _natural_key(text: str) -> tuple:
    """Sort key in which ``ref2`` comes before ``ref10``; case-insensitive."""
    parts = re.split(r"(\d+)", text.casefold())
    return tuple(int(s) if i % 2 else s for i, s in enumerate(parts))


def _frame_in_name(path: Path) -> int | None:
    m = _FRAME_IN_NAME.search(path.stem)
    return int(m.group(1)) if m else None


def _parse_bg_at(bg_at: str | Sequence[int]) -> list[int]:
    items = bg_at.split(",") if isinstance(bg_at, str) else list(bg_at)
    out = []
    for item in items:
        try:
            if isinstance(item, str):
                value = int(item.strip())
            elif isinstance(item, bool):
                raise TypeError
            else:
                value = int(item.__index__())  # ints and numpy ints, not 4.5
        except (ValueError, TypeError, AttributeError):
            raise UsageError(f"--bg-at takes whole frame numbers separated by commas, not {item!r}") from None
        out.append(value)
    return out


def _to_indices(numbers: list[int], paths: list[Path], frame_count: int, first_frame: int, *, by: str) -> list[int]:
    """Frame numbers -> 0-based indices: each is an index or a source frame number.

    Where every number reads one way (all indices, else all source numbers) that reading
    is used for all, so a 1-based set such as 1, 12, 24 on a 24-frame shot starting at 1 is
    not read partly as indices; otherwise each number is read on its own, index first.
    """
    def is_index(n):
        return 0 <= n < frame_count

    def is_source(n):
        return first_frame <= n < first_frame + frame_count

    if all(map(is_index, numbers)):
        return list(numbers)
    if all(map(is_source, numbers)):
        return [n - first_frame for n in numbers]
    out = []
    for n, p in zip(numbers, paths):
        if is_index(n):
            out.append(n)
        elif is_source(n):
            out.append(n - first_frame)
        else:
            span = f"{_count(frame_count, 'frame')} (0-{frame_count - 1}"
            if first_frame != 0:
                span += f", or source frames {first_frame}-{first_frame + frame_count - 1}"
            span += ")"
            if by == "name":
                raise BadDataError(f"{p} anchors frame {n} but the shot has {span}; rename it or use --bg-at")
            raise BadDataError(f"--bg-at anchors {p} at frame {n} but the shot has {span}")
    return out


def _default_anchors(n: int, frame_count: int) -> list[int]:
    """Spread ``n`` references over the shot: 0, then evenly to the last frame (24 frames, 3 refs: 0, 11, 23)."""
    if n == 1:
        return [0]
    return [i * (frame_count - 1) // (n - 1) for i in range(n)]


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------------- loading


def load_references(specs: Sequence[RefSpec], width: int, height: int, *,
                    colourspace: str | None = None, what: str | None = "references") -> list[Reference]:
    """Read each reference as float32 (H, W, 3) scene-linear Rec.709 fitted to ``width`` x ``height``.

    ``colourspace`` names how the files are encoded (``srgb``, ``bt709``, ``linear`` or an
    OpenColorIO name); by default sRGB for PNG, JPEG, TIFF and DPX, and linear for EXR.
    ``what``: the label non-finite pixels replaced in the files are tallied under
    (:func:`paicli.media.nonfinite.tally`; None: only in each :attr:`Reference.nonfinite`).

    Raises :class:`BadDataError` (naming the file) for an unreadable file or one whose
    aspect is too far from the shot's, :class:`MissingInputError` if a file has gone, and
    :class:`UsageError` for an unknown colour space.
    """
    if width < 1 or height < 1:
        raise ValueError(f"shot size must be positive, got {width}x{height}")
    declared = canonical(colourspace) if colourspace is not None else None
    return [_load_one(spec, width, height, declared, what) for spec in specs]


def _load_one(spec: RefSpec, width: int, height: int, declared: str | None, what: str | None) -> Reference:
    try:
        encoded, info = read_still(spec.path, what=what)
    except PaicliError as e:
        msg = " ".join(e.message.split())  # one line, whatever the decoder said
        if str(spec.path) not in msg:
            msg = f"{spec.path}: {msg}"
        raise type(e)(msg, e.exit_code) from e
    space = declared or ("linear" if info.format == "exr" else "srgb")
    rgb = _rgb(encoded)
    linear = np.asarray(to_linear(space)(rgb), dtype=np.float32)
    image, fitted = _fit(linear, width, height, spec.path)
    return Reference(spec, np.ascontiguousarray(image, dtype=np.float32), (info.width, info.height), fitted,
                     info.nonfinite)


def _rgb(img: np.ndarray) -> np.ndarray:
    """(H, W, 1|2|3|4) -> (H, W, 3): gray repeated, alpha dropped."""
    c = img.shape[2]
    if c in (1, 2):
        return np.repeat(img[..., :1], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def _fit(img: np.ndarray, width: int, height: int, path: Path) -> tuple[np.ndarray, str]:
    """Fit a (h, w, 3) image to (height, width, 3): exact, scaled, or scaled to cover and centre-cropped."""
    h, w = img.shape[:2]
    if (w, h) == (width, height):
        return img, "exact"
    ratio = (w / h) / (width / height)
    if abs(ratio - 1) <= _SAME_ASPECT:
        return _resize(img, width, height), "scaled"
    if not 1 / _MAX_ASPECT_RATIO <= ratio <= _MAX_ASPECT_RATIO:
        raise BadDataError(f"{path} is {w}x{h} (aspect {w / h:.2f}), the shot is {width}x{height} "
                           f"({width / height:.2f}): too different to fit")
    scale = max(width / w, height / h)
    cover_w, cover_h = max(width, round(w * scale)), max(height, round(h * scale))
    covered = img if (cover_w, cover_h) == (w, h) else _resize(img, cover_w, cover_h)
    x0, y0 = (cover_w - width) // 2, (cover_h - height) // 2
    return covered[y0:y0 + height, x0:x0 + width], "cropped"


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    shrinking = width * height < w * h
    out = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    if not shrinking:
        np.maximum(out, 0, out=out)  # bicubic rings below black next to bright edges
    return out
