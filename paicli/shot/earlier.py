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
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from paicli.errors import OutputError
from paicli.media.atomic import temp_path_for
from paicli.media.probe import MediaInfo
from paicli.media.sequence import SequencePattern, is_pattern
from paicli.sources import SOURCES

DEFAULT_FOLDER = "paicli"  # beside the source


def default_output(info: MediaInfo) -> Path:
    """The output folder when ``-o`` is not given: ``paicli/`` beside the shot (a movie's
    folder, or the folder holding a sequence's frames)."""
    return Path(info.pattern or info.path).parent / DEFAULT_FOLDER


def qc_report_names(stem: str) -> dict[str, str]:
    """The quality-check report ``relight-check`` writes beside the comp of ``stem`` (page and
    figures): a result of an earlier run too, since it describes that run's comp."""
    return {"html": f"{stem}_qc.html", "json": f"{stem}_qc.json"}


class Family:
    """The file names a command can leave for one name stem: plain names and ``####``
    sequences, whose members are what :class:`~paicli.media.sequence.SequencePattern`
    says they are."""

    def __init__(self, names: Iterable[str]):
        names = set(names)
        self.files = {n for n in names if not is_pattern(n)}
        self.sequences = {n: SequencePattern.parse(n) for n in sorted(names) if is_pattern(n)}

    def frame_of(self, name: str) -> tuple[str, int] | None:
        """(the sequence's pattern, the frame number) when ``name`` is a frame of one, else None."""
        for pattern, seq in self.sequences.items():
            number = seq.match(name)
            if number is not None:
                return pattern, number
        return None

    def holds(self, name: str) -> bool:
        return name in self.files or self.frame_of(name) is not None

    def collapsed(self, names: Iterable[str]) -> list[str]:
        """``names`` with the frames of one sequence shown once, as its pattern and the frame
        numbers it holds: ``plate_comp.####.exr 1004-1048``."""
        plain, frames = [], {}
        for n in names:
            frame = self.frame_of(n)
            if frame is None:
                plain.append(n)
            else:
                frames.setdefault(frame[0], []).append(frame[1])
        return sorted(plain + [f"{pattern} {_ranges(numbers)}" for pattern, numbers in frames.items()])


@dataclass
class Earlier:
    """The files of a name ``family`` an earlier run left in ``folder``; with ``--force``
    moved into ``aside`` until the run ends (:meth:`retire` or :meth:`restore`); ``removed``:
    those the run did not make again, once retired."""

    folder: Path
    family: Family
    found: list[Path] = field(default_factory=list)
    aside: Path | None = None
    removed: list[str] = field(default_factory=list)

    def ours(self, entry: os.DirEntry) -> bool:
        """Whether a folder entry is one of the family's files (never a folder, never a source)."""
        return self.family.holds(entry.name) and not entry.is_dir(follow_symlinks=False) \
            and SOURCES.source_at(entry.path) is None

    @property
    def names(self) -> list[str]:
        """The files found, frames of one sequence collapsed (``NAME.####.exr 1001-1048``)."""
        return self.family.collapsed(p.name for p in self.found)

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

    def retire(self) -> None:
        """After a run that succeeded: delete the earlier files, naming in :attr:`removed`
        those it did not make again (collapsed)."""
        if self.aside is None:
            return
        self.removed = self.family.collapsed(p.name for p in self.found if not os.path.lexists(p))
        shutil.rmtree(self.aside, ignore_errors=True)
        self.aside = None

    def restore(self) -> None:
        """After a run that failed or was stopped: remove what it wrote under the family's
        names and put the earlier files back."""
        if self.aside is None:
            return
        for entry in os.scandir(self.folder):
            if self.ours(entry):
                os.unlink(entry.path)
        for entry in os.scandir(self.aside):
            os.replace(entry.path, self.folder / entry.name)
        self.aside.rmdir()
        self.aside = None


def find(folder: Path, family: Iterable[str]) -> Earlier:
    """The files (and symlinks, which :func:`claim` refuses) in ``folder`` whose names
    belong to ``family`` (file names and ``####`` patterns), never a source of the run;
    nothing when the folder does not exist yet."""
    earlier = Earlier(folder, Family(family))
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return earlier
    except OSError as e:
        raise OutputError(f"cannot read output folder {folder}: {e.strerror or e}") from None
    earlier.found = [Path(e.path) for e in sorted(entries, key=lambda e: e.name) if earlier.ours(e)]
    return earlier


def claim(folder: Path, family: Iterable[str], *, force: bool, stem: str, default: bool = False) -> Earlier:
    """Make ``folder`` ready for a run that writes the name ``family`` of ``stem``: refused
    (:class:`OutputError`, exit 73) when an earlier run's files are there and ``force`` is
    off; with ``force`` they are moved aside, for :meth:`Earlier.retire` after the run or
    :meth:`Earlier.restore` when it fails (:func:`replacing` does both). ``default``: the
    folder is the one beside the shot (no ``-o``), made here so that a shot in a read-only
    place is told to give ``-o``."""
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


@contextmanager
def replacing(folder: Path, family: Iterable[str], *, force: bool, stem: str,
              default: bool = False) -> Iterator[Earlier]:
    """The run inside the block writes into ``folder`` (:func:`claim`): when it succeeds the
    earlier files are deleted (:attr:`Earlier.removed` names those it did not make again);
    when it fails or is stopped they are put back."""
    earlier = claim(folder, family, force=force, stem=stem, default=default)
    try:
        yield earlier
    except BaseException:
        earlier.restore()
        raise
    earlier.retire()


def preview(folder: Path, family: Iterable[str], force: bool) -> dict:
    """What a dry run says of ``folder``: the earlier results there and whether the run
    would replace them (``--force``) or be refused."""
    return {"earlier_outputs": find(folder, family).names, "force": force}


def removed_line(names: list[str]) -> str | None:
    """The summary's line on the earlier run's files a forced run did not make again."""
    return "removed from the earlier run (not made again): " + ", ".join(names) if names else None


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
