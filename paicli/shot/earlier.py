"""Where a shot's results go, and what happens to the results of an earlier run there.

Without ``-o`` a command writes into ``paicli/`` beside its source (beside the movie, or in
the folder of the sequence's frames), so results stay with the shot whatever the working
directory. An output folder that already holds files a command would write for this name
stem (any of its spellings: ProRes or EXR, with or without layers, and the reports written
about them, such as ``relight-check``'s ``_qc.html``) is refused unless ``--force``: a rerun
never silently mixes an old run's files with a new one's. With ``--force`` the run writes
its files and then removes the earlier files it did not replace (an EXR sequence's frames
outside the new range, ``_layers`` of a run that had them, a QC report on the old comp), so
the folder describes one run. Only files under the family's own names are ever touched.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from paicli.errors import OutputError
from paicli.media.probe import MediaInfo

DEFAULT_FOLDER = "paicli"  # beside the source


def default_output(info: MediaInfo) -> Path:
    """The output folder when ``-o`` is not given: ``paicli/`` beside the shot (a movie's
    folder, or the folder holding a sequence's frames)."""
    return Path(info.pattern or info.path).parent / DEFAULT_FOLDER


def _matcher(name: str) -> re.Pattern:
    """A file name, or a ``####`` frame pattern matching any frame number of four or more digits."""
    if "#" not in name:
        return re.compile(re.escape(name) + r"\Z")
    head, _, tail = name.partition("#")
    tail = tail.lstrip("#")
    return re.compile(re.escape(head) + r"\d{4,}" + re.escape(tail) + r"\Z")


@dataclass
class Earlier:
    """The files of a name family found in an output folder before a run: path -> the file's
    (device, inode) then. A file this run writes appears under a new inode (outputs are
    renamed into place), so what still has its old inode afterwards was not replaced."""

    folder: Path
    found: dict[Path, tuple[int, int]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return sorted(p.name for p in self.found)

    def described(self, most: int = 3) -> str:
        """``a, b, c and 4 more``: the files found, for one line."""
        names = _collapsed(self.names)
        shown = ", ".join(names[:most])
        return shown + (f" and {len(names) - most} more" if len(names) > most else "")

    def retire(self) -> list[str]:
        """Remove the files found before the run that the run did not replace; returns their
        names, frames of one sequence collapsed to its ``####`` pattern."""
        gone = []
        for path, ident in sorted(self.found.items()):
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) != ident:
                continue  # replaced by this run
            try:
                path.unlink()
            except OSError as e:
                raise OutputError(f"cannot remove {path} (left by an earlier run): {e.strerror or e}") from None
            gone.append(path.name)
        return _collapsed(gone)


def find(folder: Path, family: Iterable[str]) -> Earlier:
    """The files (and symlinks, which :func:`claim` refuses) in ``folder`` whose names
    belong to ``family`` (file names and ``####`` patterns); nothing when the folder does
    not exist yet."""
    matchers = [_matcher(n) for n in set(family)]
    earlier = Earlier(folder)
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return earlier
    except OSError as e:
        raise OutputError(f"cannot read output folder {folder}: {e.strerror or e}") from None
    for entry in entries:
        if any(m.match(entry.name) for m in matchers) and not entry.is_dir(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            earlier.found[Path(entry.path)] = (st.st_dev, st.st_ino)
    return earlier


def claim(folder: Path, family: Iterable[str], *, force: bool, stem: str, default: bool = False) -> Earlier:
    """Check ``folder`` before a run that writes the name ``family`` of ``stem``: refused
    (:class:`OutputError`, exit 73) when an earlier run's files are there and ``force`` is
    off; else what was found, for :meth:`Earlier.retire` after the run. ``default``: the
    folder is the one beside the shot (no ``-o``), made here so that a shot in a read-only
    place is told to give ``-o``."""
    if default:
        try:
            folder.mkdir(exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create {folder}, the output folder beside the shot "
                              f"({e.strerror or e}): give one with -o") from None
    earlier = find(folder, family)
    links = [p for p in sorted(earlier.found) if p.is_symlink()]
    if links:  # never written through, never removed: whatever it points to is not ours
        raise OutputError(f"refusing to write through a symlink: {links[0]}")
    if earlier.found and not force:
        raise OutputError(f"{folder} already holds {stem}'s results from an earlier run ({earlier.described()}): "
                          "--force replaces them; or choose another -o or --name")
    return earlier


def _collapsed(names: list[str]) -> list[str]:
    """File names with numbered frames of one sequence shown once as ``NAME.####.exr``."""
    out, seen = [], set()
    for n in sorted(names):
        m = re.fullmatch(r"(.*\.)(\d{4,})(\.[A-Za-z0-9]+)", n)
        shown = f"{m.group(1)}{'#' * 4}{m.group(3)}" if m else n
        if shown not in seen:
            seen.add(shown)
            out.append(shown)
    return out
