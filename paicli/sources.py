"""Sources are never outputs: the files a run reads, and the refusal to write over any of them.

A run registers what it reads (a movie, every frame of a sequence, every still of a
reference folder, mattes, camera files) in :data:`SOURCES` before it does any work. Files
are known by device and inode, so an output path that reaches a source through a symlink,
``..``, another letter case (on a case-insensitive filesystem) or a hard link is still
recognised. Outputs are checked twice: every planned output when a command has worked out
its names (:meth:`Sources.refuse`, before any frame is read or any weight loaded), and
every final rename of an atomic output (:func:`paicli.media.atomic.commit`), so a name a
plan did not foresee cannot replace a source either. Both refusals are
:class:`~paicli.errors.OutputError` (exit 73) naming the output and the source.

Only files that exist can be sources; an output whose name does not exist yet cannot
replace one. A sequence output (``name.####.exr``) is refused when any existing member of
that sequence is a source, whatever its frame number: writing into a source sequence would
leave a mix of old and new frames.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Iterable

from paicli.errors import OutputError

_MAX_FOLDER_FILES = 100_000  # a reference folder larger than this is not scanned whole


def _identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of the regular file ``path`` leads to (symlinks followed), or None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # missing, unreadable, a NUL in the name
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def _pattern_members(pattern: str | os.PathLike) -> list[Path]:
    """Existing files of the sequence ``pattern`` (``name.####.exr``, ``name.%04d.exr`` or
    ``name.@@@@.exr``), any frame number; [] when it is not a pattern or its folder is missing."""
    from paicli.media.sequence import SequencePattern, is_pattern

    if not is_pattern(pattern):
        return []
    try:
        seq = SequencePattern.parse(pattern)
        names = os.listdir(seq.folder or ".")
    except Exception:  # noqa: BLE001 - not a pattern we can list: nothing of it exists
        return []
    member = re.compile(re.escape(seq.prefix) + r"\d+" + re.escape(seq.suffix) + r"\Z")
    return [Path(seq.folder) / n for n in names if member.match(n)]


class Sources:
    """The files this run reads, by (device, inode), each with the path it was given as."""

    def __init__(self) -> None:
        self._files: dict[tuple[int, int], str] = {}

    def __len__(self) -> int:
        return len(self._files)

    def clear(self) -> None:
        self._files.clear()

    def add(self, *paths: str | os.PathLike | None) -> None:
        """Register inputs: a file, a sequence pattern (every member on disk) or a folder
        (every regular file directly inside it: a reference folder, a sequence's folder).
        Missing paths and ``None`` are skipped; what cannot be read is not a source."""
        for path in paths:
            if path is None or str(path) == "":
                continue
            members = _pattern_members(path)
            if members:
                self._add_files(members)
                continue
            try:
                is_dir = os.path.isdir(path)
            except (OSError, ValueError):
                continue
            if is_dir:
                try:
                    with os.scandir(path) as it:
                        self._add_files(Path(e.path) for _, e in zip(range(_MAX_FOLDER_FILES), it))
                except OSError:
                    continue
            else:
                self._add_files([Path(path)])

    def add_media(self, info) -> None:
        """Register a probed movie or sequence (:class:`paicli.media.probe.MediaInfo`)."""
        self.add(info.pattern or info.path)

    def _add_files(self, files: Iterable[Path]) -> None:
        for f in files:
            ident = _identity(f)
            if ident is not None:
                self._files.setdefault(ident, str(f))

    def source_at(self, output: str | os.PathLike) -> str | None:
        """The source that writing ``output`` (a file, or a sequence pattern) would replace."""
        if not self._files:
            return None
        for f in _pattern_members(output) or [Path(output)]:
            ident = _identity(f)
            if ident is not None and ident in self._files:
                return self._files[ident]
        return None

    def refuse(self, outputs: Iterable[str | os.PathLike], what: str = "the output",
               then: str = "choose another output folder (-o) or name (--name)") -> None:
        """:class:`OutputError` (73) when any of ``outputs`` is, or would replace, a source:
        ``"<what> <output> would overwrite the source <source>; <then>"`` (``what`` may be empty)."""
        for out in outputs:
            src = self.source_at(out)
            if src is not None:
                raise OutputError(f"{what} {out}".strip() + f" would overwrite the source {src}; {then}")


SOURCES = Sources()  # the running command's sources; commands register, outputs are checked against it
