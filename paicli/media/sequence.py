"""Image-sequence naming: ``shot.####.exr`` patterns and the frame numbers on disk.

A sequence is a folder of files named ``PREFIX + NUMBER + .EXT`` where the frame number sits
right before the extension. Three pattern spellings are accepted and mean the same thing:
``shot.####.exr`` (Nuke), ``shot.%04d.exr`` (printf/ffmpeg) and ``shot.@@@@.exr``
(Houdini/Katana); the count of ``#`` or ``@`` is the zero-padding width, so ``shot.#.exr``
and ``shot.%d.exr`` are unpadded. Numbers wider than the padding are still members
(``shot.10000.exr`` belongs to ``shot.####.exr``), as every compositor writes them.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from paicli.errors import BadDataError, MissingInputError, UsageError
from paicli.media.regular import exists, require_regular

# The frame token must sit right before a plain extension: ``.exr``, ``.tif``, ``.dpx``.
_EXT = r"\.[A-Za-z0-9]+"
_TOKEN_RE = re.compile(rf"^(?P<prefix>.*?)(?P<token>#+|@+|%0?(?P<width>\d*)d)(?P<suffix>{_EXT})$")
_MEMBER_RE = re.compile(rf"^(?P<prefix>.*?)(?P<digits>\d+)(?P<suffix>{_EXT})$")
_SHOW_MISSING = 8  # how many missing frame numbers an error message lists


@dataclass(frozen=True)
class SequencePattern:
    """A numbered file name: ``folder / (prefix + frame number padded to padding + suffix)``.

    ``suffix`` is the extension with its dot (``".exr"``); ``padding`` is the minimum digit
    count (1 = unpadded).
    """

    folder: Path
    prefix: str
    padding: int
    suffix: str

    @classmethod
    def parse(cls, text: str | os.PathLike) -> "SequencePattern":
        """Parse ``shot.####.exr``, ``shot.%04d.exr`` or ``shot.@@@@.exr`` (with any folder)."""
        p = Path(text)
        m = _TOKEN_RE.match(p.name)
        if not m:
            raise UsageError(f"not an image-sequence pattern: {str(text)!r} "
                             "(expected e.g. shot.####.exr, shot.%04d.exr or shot.@@@@.exr)")
        token = m["token"]
        if token.startswith("%"):
            padding = int(m["width"]) if m["width"] else 1
        else:
            padding = len(token)
        if not 1 <= padding <= 12:
            raise UsageError(f"frame padding {padding} out of range in {str(text)!r}")
        return cls(p.parent, m["prefix"], padding, m["suffix"])

    @classmethod
    def parse_member(cls, path: str | os.PathLike) -> tuple["SequencePattern", int]:
        """The pattern a single numbered file belongs to, and its frame number, from the name alone.

        ``shot.0042.exr`` -> (``shot.####.exr``, 42). A number without leading zero gives its
        own width as padding (``shot.1001.exr`` -> 4), which :func:`find_sequence` refines
        from the siblings on disk. Raises :class:`UsageError` for names with no frame number.
        """
        p = Path(path)
        m = _MEMBER_RE.match(p.name)
        if not m:
            raise UsageError(f"{str(path)!r} has no frame number before its extension, so it is not part of a sequence")
        digits = m["digits"]
        return cls(p.parent, m["prefix"], len(digits), m["suffix"]), int(digits)

    def path(self, frame: int) -> Path:
        """The file name of frame number ``frame`` (>= 0)."""
        if frame < 0:
            raise UsageError(f"negative frame number {frame} for {self}")
        return self.folder / f"{self.prefix}{frame:0{self.padding}d}{self.suffix}"

    def match(self, name: str) -> int | None:
        """The frame number encoded in file name ``name`` (no folder), or None if not a member."""
        if not (name.startswith(self.prefix) and name.endswith(self.suffix)):
            return None
        digits = name[len(self.prefix):len(name) - len(self.suffix)]
        if not digits.isascii() or not digits.isdigit():
            return None
        # "0042" is padding 4; "10000" also belongs to padding 4; "042" and "00042" do not.
        if len(digits) < self.padding or (len(digits) > self.padding and digits[0] == "0"):
            return None
        return int(digits)

    def glob_frames(self) -> list[int]:
        """Sorted frame numbers whose files exist in ``folder`` (hidden temp files ignored).

        A member name that is not a regular file (a FIFO, a device, a folder, a broken
        symlink) is a :class:`MissingInputError` naming it: reading it would block or fail,
        and leaving it out would shorten the sequence without a word."""
        try:
            with os.scandir(self.folder) as it:
                entries = [(e.name, e) for e in it if not e.name.startswith(".")]
        except FileNotFoundError:
            return []
        except OSError as e:
            raise MissingInputError(f"cannot list {self.folder}: {e.strerror or e}") from e
        frames = []
        for name, entry in entries:
            number = self.match(name)
            if number is None:
                continue
            if not entry.is_file():  # DirEntry.is_file stats (following links), never opens
                require_regular(entry.path, "frame")
            frames.append(number)
        return sorted(frames)

    def printf(self) -> str:
        """The ``%04d`` spelling (ffmpeg, OpenTimelineIO ImageSequenceReference)."""
        token = "%d" if self.padding == 1 else f"%0{self.padding}d"
        return str(self.folder / f"{self.prefix}{token}{self.suffix}")

    def __str__(self) -> str:
        return str(self.folder / f"{self.prefix}{'#' * self.padding}{self.suffix}")


def is_pattern(text: str | os.PathLike) -> bool:
    """True if the file name holds a ``####``, ``@@@@`` or ``%04d`` frame token."""
    return bool(_TOKEN_RE.match(Path(text).name))


def find_sequence(path: str | os.PathLike, *, allow_gaps: bool = False) -> tuple[SequencePattern, list[int]]:
    """Find an image sequence from a pattern, one member file, or a folder holding one sequence.

    Returns the pattern and its sorted frame numbers (never empty). Raises
    :class:`MissingInputError` if nothing is on disk, :class:`UsageError` if a folder holds
    no sequence or several, and :class:`BadDataError` if frames are missing between the first
    and last unless ``allow_gaps``.
    """
    text = str(path)
    p = Path(path)
    if is_pattern(p):
        pattern = SequencePattern.parse(p)
        if not pattern.folder.is_dir():
            raise MissingInputError(f"folder does not exist: {pattern.folder}")
    elif p.is_dir():
        pattern = _only_sequence_in(p)
    elif p.is_file():
        pattern = _pattern_of_member(p)
    else:
        if exists(p):
            require_regular(p)  # a FIFO, a socket, a device: refused, never opened
        raise MissingInputError(f"no such file or folder: {text}")
    frames = pattern.glob_frames()
    if not frames:
        raise MissingInputError(f"no frames found for {pattern}")
    if not allow_gaps:
        check_gaps(pattern, frames)
    return pattern, frames


def missing_frames(frames: list[int]) -> list[int]:
    """Frame numbers absent between the first and last of sorted ``frames``."""
    present = set(frames)
    return [n for n in range(frames[0], frames[-1] + 1) if n not in present] if frames else []


def check_gaps(pattern: SequencePattern, frames: list[int]) -> None:
    """Raise :class:`BadDataError` naming the first missing frame numbers, if any."""
    missing = missing_frames(frames)
    if missing:
        shown = ", ".join(map(str, missing[:_SHOW_MISSING]))
        more = f" and {len(missing) - _SHOW_MISSING} more" if len(missing) > _SHOW_MISSING else ""
        raise BadDataError(f"{pattern} has {len(missing)} missing frame(s) between {frames[0]} and {frames[-1]}: "
                           f"{shown}{more}")


def _pattern_of_member(path: Path) -> SequencePattern:
    """The sequence ``path`` belongs to, with the padding its siblings agree on."""
    pattern, _ = SequencePattern.parse_member(path)
    digits = path.name[len(pattern.prefix):len(path.name) - len(pattern.suffix)]
    if _zero_led(digits):
        return pattern  # zero-padded: the width is the padding
    # Unpadded-looking number (1001): the narrowest sibling without a leading zero sets the
    # padding, so 998, 999, 1000 and 1001 all read as one unpadded (or 3-padded) sequence.
    widths = [len(d) for d in _sibling_digits(pattern) if not _zero_led(d)]
    return SequencePattern(pattern.folder, pattern.prefix, min(widths, default=len(digits)), pattern.suffix)


def _zero_led(digits: str) -> bool:
    """``0042`` is zero-padded (its width is its padding); ``0`` and ``42`` are not."""
    return len(digits) > 1 and digits[0] == "0"


def _sibling_digits(pattern: SequencePattern) -> list[str]:
    out = []
    with os.scandir(pattern.folder) as it:
        for e in it:
            n = e.name
            if n.startswith(pattern.prefix) and n.endswith(pattern.suffix) and not n.startswith("."):
                d = n[len(pattern.prefix):len(n) - len(pattern.suffix)]
                if d.isascii() and d.isdigit():
                    out.append(d)
    return out


def _only_sequence_in(folder: Path) -> SequencePattern:
    """The one sequence in ``folder``; a UsageError lists what is there otherwise."""
    try:
        with os.scandir(folder) as it:
            names = sorted(e.name for e in it if not e.name.startswith(".") and e.is_file())
    except OSError as e:
        raise MissingInputError(f"cannot list {folder}: {e.strerror or e}") from e
    groups: dict[tuple[str, str], list[str]] = {}
    for name in names:
        m = _MEMBER_RE.match(name)
        if m:
            groups.setdefault((m["prefix"], m["suffix"]), []).append(m["digits"])
    found = []
    for (prefix, suffix), digits in groups.items():
        widths = {len(d) for d in digits if _zero_led(d)}
        # a plain number belongs to every padding no wider than itself
        uncovered = [len(d) for d in digits if not _zero_led(d) and all(len(d) < w for w in widths)]
        if uncovered:
            widths.add(min(uncovered))
        found.extend(SequencePattern(folder, prefix, w, suffix) for w in sorted(widths))
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(f"no numbered image sequence in folder {folder}")
    listing = "; ".join(f"{p.prefix}{'#' * p.padding}{p.suffix} ({len(p.glob_frames())} frames)" for p in found[:6])
    more = f"; and {len(found) - 6} more" if len(found) > 6 else ""
    raise UsageError(f"folder {folder} holds {len(found)} image sequences, name one: {listing}{more}")
