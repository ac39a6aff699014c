"""Where a shot's results go, and what happens to the results of an earlier run there.

Without ``-o`` a command writes into ``paicli/`` beside its source (beside the movie, or in
the folder of the sequence's frames), so results stay with the shot whatever the working
directory. An output folder that already holds files a command would write for this name
stem (any of its spellings: ProRes or EXR, with or without layers, and the reports written
about them, such as ``relight-check``'s ``_qc.html``) is refused unless ``--force``: a rerun
never silently mixes an old run's files with a new one's. A source of the run is never one
of those files, whatever its name.

With ``--force`` the earlier files are moved aside (into a hidden temporary folder in the
output folder) before the run writes anything. When the run succeeds they are deleted, and
the ones it did not make again are named (frames outside a new range, ``_layers`` of a run
that had them, a QC report on the old comp); when it fails or is stopped, what it wrote is
removed and they are put back. Either way the folder holds one run's files. A run killed
outright (SIGKILL) leaves the hidden folder, which the next run sweeps away as a dead
process's temporary (:func:`paicli.media.atomic.sweep_stale_temps`).
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from paicli.errors import OutputError
from paicli.media.atomic import temp_path_for
from paicli.media.probe import MediaInfo
from paicli.sources import SOURCES

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
    """The files of a name family (``matchers``) an earlier run left in ``folder``; with
    ``--force`` moved into ``aside`` until the run ends (:meth:`retire` or :meth:`restore`)."""

    folder: Path
    matchers: list[re.Pattern]
    found: list[Path] = field(default_factory=list)
    aside: Path | None = None

    @property
    def names(self) -> list[str]:
        """The files found, frames of one sequence collapsed (``NAME.####.exr 1001-1048``)."""
        return collapsed([p.name for p in self.found])

    def described(self, most: int = 3) -> str:
        """``a, b, c and 4 more``: the files found, for one line."""
        names = self.names
        shown = ", ".join(names[:most])
        return shown + (f" and {len(names) - most} more" if len(names) > most else "")

    def move_aside(self) -> None:
        """Move the files found out of the way of the run (see the module notes)."""
        if not self.found:
            return
        aside, moved = temp_path_for(self.folder / "earlier-results"), []
        try:
            aside.mkdir()
            for path in self.found:
                os.replace(path, aside / path.name)
                moved.append(path)
        except OSError as e:  # put back what moved; nothing else is touched
            for path in moved:
                os.replace(aside / path.name, path)
            if aside.exists():
                aside.rmdir()
            raise OutputError(f"cannot move the earlier results in {self.folder} aside: {e.strerror or e}") from None
        self.aside = aside

    def retire(self) -> list[str]:
        """After a run that succeeded: delete the earlier files; returns the names of those
        it did not make again (collapsed)."""
        if self.aside is None:
            return []
        gone = [p.name for p in self.found if not os.path.lexists(p)]
        shutil.rmtree(self.aside, ignore_errors=True)
        self.aside = None
        return collapsed(gone)

    def restore(self) -> None:
        """After a run that failed or was stopped: remove what it wrote under the family's
        names and put the earlier files back."""
        if self.aside is None:
            return
        for entry in os.scandir(self.folder):
            if any(m.match(entry.name) for m in self.matchers) and not entry.is_dir(follow_symlinks=False) \
                    and SOURCES.source_at(entry.path) is None:
                os.unlink(entry.path)
        for entry in os.scandir(self.aside):
            os.replace(entry.path, self.folder / entry.name)
        self.aside.rmdir()
        self.aside = None


def find(folder: Path, family: Iterable[str]) -> Earlier:
    """The files (and symlinks, which :func:`claim` refuses) in ``folder`` whose names
    belong to ``family`` (file names and ``####`` patterns), never a source of the run;
    nothing when the folder does not exist yet."""
    earlier = Earlier(folder, [_matcher(n) for n in sorted(set(family))])
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return earlier
    except OSError as e:
        raise OutputError(f"cannot read output folder {folder}: {e.strerror or e}") from None
    for entry in sorted(entries, key=lambda e: e.name):
        if any(m.match(entry.name) for m in earlier.matchers) and not entry.is_dir(follow_symlinks=False) \
                and SOURCES.source_at(entry.path) is None:
            earlier.found.append(Path(entry.path))
    return earlier


def claim(folder: Path, family: Iterable[str], *, force: bool, stem: str, default: bool = False) -> Earlier:
    """Make ``folder`` ready for a run that writes the name ``family`` of ``stem``: refused
    (:class:`OutputError`, exit 73) when an earlier run's files are there and ``force`` is
    off; with ``force`` they are moved aside, for :meth:`Earlier.retire` after the run or
    :meth:`Earlier.restore` when it fails. ``default``: the folder is the one beside the
    shot (no ``-o``), made here so that a shot in a read-only place is told to give ``-o``."""
    if default:
        try:
            folder.mkdir(exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create {folder}, the output folder beside the shot "
                              f"({e.strerror or e}): give one with -o") from None
    earlier = find(folder, family)
    links = [p for p in earlier.found if p.is_symlink()]
    if links:  # never written through, never removed: whatever it points to is not ours
        raise OutputError(f"refusing to write through a symlink: {links[0]}")
    if earlier.found and not force:
        raise OutputError(f"{folder} already holds {stem}'s results from an earlier run ({earlier.described()}): "
                          "--force replaces them; or choose another -o or --name")
    earlier.move_aside()
    return earlier


def removed_line(names: list[str]) -> str | None:
    """The summary's line on the earlier run's files a forced run did not make again."""
    return "removed from the earlier run (not made again): " + ", ".join(names) if names else None


def collapsed(names: list[str]) -> list[str]:
    """File names with the numbered frames of one sequence shown once, as its ``####``
    pattern and the frame numbers it holds: ``plate_comp.####.exr 1004-1048``."""
    plain, frames = [], {}
    for n in sorted(names):
        m = re.fullmatch(r"(.*\.)(\d{4,})(\.[A-Za-z0-9]+)", n)
        if m:
            frames.setdefault(f"{m.group(1)}{'#' * 4}{m.group(3)}", []).append(int(m.group(2)))
        else:
            plain.append(n)
    return sorted(plain + [f"{pattern} {_ranges(numbers)}" for pattern, numbers in frames.items()])


def _ranges(numbers: list[int]) -> str:
    """``1001-1004,1010``: sorted frame numbers as runs."""
    numbers, runs = sorted(numbers), []
    start = prev = numbers[0]
    for n in numbers[1:] + [None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        runs.append(f"{start}-{prev}" if prev > start else str(start))
        if n is not None:
            start = prev = n
    return ",".join(runs)
