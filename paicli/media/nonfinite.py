"""Non-finite pixel values (NaN, +Inf, -Inf) replaced where float images enter and leave paicli.

One NaN in a plate spreads through every blur, screen estimate and despill it touches (a
single NaN pixel turned 43% of a key frame into NaN), so float pixels are made finite as
they are read (EXR plates, stills, references, mattes, clean plates; float TIFFs) and again
before they are written (a last line of defence against an engine's own NaN). The policy,
for scene-linear Rec.709 values and display-encoded float stills alike:

* NaN -> 0: nothing is known about the pixel; black (or, in alpha, transparent) is what
  compositors substitute and it cannot brighten anything around it.
* +Inf -> 65504 (the largest half float, what paicli's half EXRs clip to): a blown
  highlight stays the brightest value in the frame, as a studio expects of a clipped sun,
  and every product of it stays finite in float32. In an alpha channel (the last channel of
  a 2- or 4-channel image) +Inf -> 1, fully opaque: alpha is a coverage in [0, 1].
* -Inf -> 0: negative scene-linear light is a gamut artefact, and -Inf is always an
  arithmetic failure (log(0), 0/0 upstream); an extreme negative would pull every filter
  tap near it below black.

Each replacement is counted per *pixel* (a pixel with several non-finite channels counts
once) under a label, in a process-wide tally that commands report in their summaries::

    img = sanitise(img, "plate")    # in place when allowed; returns the array to use
    tally()                         # {"plate": 3, "references": 1}

Readers count each file once per label (``source``: its path), however often it is read: a
plate streamed twice (analysis, then render) or a reference loaded for every shot is not
counted twice. Counts without a source (frames reaching a writer) add up.

Checking costs one sum over the array (about 6 ms for a 4K RGBA float32 frame); only arrays
that hold a non-finite value pay for the replacement.
"""
from __future__ import annotations

import threading

import numpy as np

POS_INF_VALUE = 65504.0  # +Inf in colour -> the largest half float
NAN_VALUE = 0.0
NEG_INF_VALUE = 0.0
ALPHA_POS_INF_VALUE = 1.0

_lock = threading.Lock()
_added: dict[str, int] = {}  # label -> pixels, counted without a source
_by_source: dict[tuple[str, str], int] = {}  # (label, file) -> pixels, the file's latest read


def all_finite(array: np.ndarray) -> bool:
    """True if every value of a float array is finite (integer arrays always are)."""
    a = np.asarray(array)
    if a.dtype.kind != "f" or a.size == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(a, axis=None)  # NaN and +-Inf survive a sum; an overflow only costs the slow path
    return bool(np.isfinite(total)) or bool(np.isfinite(a).all())


def replace(array: np.ndarray, *, inplace: bool = False, alpha_last: bool | None = None) -> tuple[np.ndarray, int]:
    """``array`` with its non-finite values replaced (see the module notes) and the number of
    pixels that held one. Float arrays of shape (H, W), (H, W, C) or (N,) (C: channels; with
    ``alpha_last`` None, the last channel is alpha when C is 2 or 4). Returns ``array``
    itself when all is finite; otherwise the same array changed (``inplace`` and writable) or
    a changed copy. Never changes the caller's array unless ``inplace``."""
    a = np.asarray(array)
    if all_finite(a):
        return array, 0
    bad = ~np.isfinite(a)
    pixels = int(bad.any(axis=-1).sum()) if a.ndim == 3 else int(bad.sum())
    out = a if inplace and a.flags.writeable else a.copy()
    if alpha_last is None:
        alpha_last = a.ndim == 3 and a.shape[-1] in (2, 4)
    if alpha_last and a.ndim == 3:
        colour, alpha = out[..., :-1], out[..., -1]
        np.nan_to_num(colour, copy=False, nan=NAN_VALUE, posinf=POS_INF_VALUE, neginf=NEG_INF_VALUE)
        np.nan_to_num(alpha, copy=False, nan=NAN_VALUE, posinf=ALPHA_POS_INF_VALUE, neginf=NEG_INF_VALUE)
    else:
        np.nan_to_num(out, copy=False, nan=NAN_VALUE, posinf=POS_INF_VALUE, neginf=NEG_INF_VALUE)
    return out, pixels


def sanitise(array: np.ndarray, what: str | None = None, *, inplace: bool = False,
             source: str | None = None) -> np.ndarray:
    """:func:`replace` the non-finite values of ``array`` and count the pixels that held one in
    the process-wide tally under ``what`` (``"plate"``, ``"references"``, a path...; None: not
    counted), once per ``source`` file if given. Returns the array to use from now on."""
    out, n = replace(array, inplace=inplace)
    count(what, n, source=source)
    return out


def count(what: str | None, pixels: int, *, source: str | None = None) -> None:
    """Count ``pixels`` replaced pixels under ``what`` (nothing for None): added up, or with
    ``source`` (a file's path) recorded for that file, replacing an earlier read's count."""
    if what is None or pixels <= 0:
        return
    with _lock:
        if source is not None:
            _by_source[(what, str(source))] = int(pixels)
        else:
            _added[what] = _added.get(what, 0) + int(pixels)


def tally() -> dict[str, int]:
    """Pixels replaced so far in this process, by label (only labels with a replacement)."""
    with _lock:
        out = dict(_added)
        for (what, _), n in _by_source.items():
            out[what] = out.get(what, 0) + n
    return {k: v for k, v in out.items() if v}


def reset() -> dict[str, int]:
    """Empty the tally (between shots of one process, and in tests); returns what it held."""
    held = tally()
    with _lock:
        _added.clear()
        _by_source.clear()
    return held


def note(summary: dict, warnings: list[str]) -> None:
    """Pixels replaced since the last :func:`reset` (a job's start), if any: the counts by input
    or output into ``summary["nonfinite_pixels"]`` and one line (:func:`warning`) into ``warnings``."""
    counts = tally()
    line = warning(counts)
    if line:
        summary["nonfinite_pixels"] = counts
        warnings.append(line)


def warning(counts: dict[str, int]) -> str | None:
    """The one line a command prints for ``counts`` (:func:`tally`), or None when empty."""
    if not counts:
        return None
    where = ", ".join(f"{n} in {what}" for what, n in sorted(counts.items()))
    return (f"non-finite pixels (NaN/Inf) replaced: {where} (NaN and -Inf -> 0, +Inf -> {POS_INF_VALUE:g}, "
            "alpha +Inf -> 1)")
