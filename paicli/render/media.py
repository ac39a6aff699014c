"""Find the source media of every shot, and the frames of it the shot needs.

In order: the path the list names (``FROM CLIP``/``SOURCE FILE``/``FROM FILE`` comments,
OTIO/XML media references, ``file://`` URLs, image-sequence references; relative paths from
the list's folder), then a search of ``--media-root`` folders by clip name, by reel name (an
EDL keeps only 8 characters of it, so a reel matches any file name it begins) and by source
timecode: a candidate must cover the shot's source span (media without timecode start at
the time the list gives their first frame, else at 00:00:00:00). Every file is probed once.
A shot that cannot be resolved says why; nothing is guessed. Probing never opens anything but
a regular file (:mod:`paicli.media.regular`): a FIFO or a device named by the list or found
under a root is a candidate refused with its reason, and the search goes on to the others.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from paicli.errors import PaicliError, UsageError
from paicli.media.probe import probe as probe_media
from paicli.media.sequence import SequencePattern
from paicli.media.timing import Timecode

MEDIA_SUFFIXES = {".mov", ".mp4", ".m4v", ".mxf", ".mkv", ".avi", ".exr", ".dpx", ".png", ".tif", ".tiff", ".jpg",
                  ".jpeg"}
_SEQUENCE_SUFFIXES = {".exr", ".dpx", ".png", ".tif", ".tiff", ".jpg", ".jpeg"}


@dataclass
class ShotMedia:
    """Where a shot's frames are: ``path`` (a movie or a sequence pattern), the 0-based index
    of the shot's first source frame in it and how many; or ``problem``."""

    path: str | None
    how: str  # "list", "media-root: clip name", ...
    start: int = 0
    count: int = 0
    info: object | None = None  # MediaInfo
    problem: str | None = None

    def to_dict(self) -> dict:
        return {"path": self.path, "how": self.how, "range": [self.start, self.start + self.count - 1]
                if self.path else None, "problem": self.problem}


def url_to_path(url: str | None, base: Path) -> Path | None:
    """A media reference's URL or path as a local path (``file://`` decoded; relative to ``base``)."""
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme in ("file", "localhost") or (parsed.scheme == "" and url.startswith("//")):
        text = unquote(parsed.path)
        if parsed.netloc and parsed.netloc not in ("", "localhost"):
            text = f"//{parsed.netloc}{text}"
    elif parsed.scheme and len(parsed.scheme) > 1:
        return None  # http:, s3: ...: not local media
    else:
        text = url
    p = Path(text)
    return p if p.is_absolute() else base / p


class MediaIndex:
    """The media files under the ``--media-root`` folders, grouped into sequences, by name."""

    def __init__(self, roots: list[Path]):
        self.entries: list[tuple[str, str]] = []  # (lower-case stem, path or sequence pattern)
        seen_sequences: set[str] = set()
        for root in roots:
            for folder, dirs, files in os.walk(root):
                dirs.sort()
                for name in sorted(files):
                    p = Path(folder) / name
                    suffix = p.suffix.lower()
                    if suffix not in MEDIA_SUFFIXES or name.startswith("."):
                        continue
                    if suffix in _SEQUENCE_SUFFIXES:
                        pattern = _as_pattern(p)
                        if pattern is not None:
                            if pattern not in seen_sequences:
                                seen_sequences.add(pattern)
                                self.entries.append((_stem(Path(pattern).name), pattern))
                            continue
                    self.entries.append((_stem(name), str(p)))

    def by_name(self, name: str) -> list[str]:
        key = name.lower()
        return [p for stem, p in self.entries if stem == key]

    def by_prefix(self, prefix: str) -> list[str]:
        key = prefix.lower()
        return [p for stem, p in self.entries if stem.startswith(key)]


def _stem(name: str) -> str:
    """A file's name without extension, frame number or separators: ``A001_C003.####.exr`` -> ``a001_c003``."""
    stem = name.split(".")[0] if "#" in name or "%" in name else Path(name).stem
    return stem.rstrip("._-#").lower()


def _as_pattern(p: Path) -> str | None:
    """The ``####`` pattern of a numbered file (3 digits or more), else None (a still)."""
    try:
        pattern, _ = SequencePattern.parse_member(p)
    except UsageError:
        return None
    return str(pattern) if pattern.padding >= 3 else None


class MediaResolver:
    def __init__(self, list_dir: Path, roots: list[Path], probe=None):
        self.base = list_dir
        self.roots = roots
        self._index: MediaIndex | None = None
        self._probe = probe or probe_media
        self._probed: dict[str, object] = {}

    @property
    def index(self) -> MediaIndex:
        if self._index is None:
            self._index = MediaIndex(self.roots)
        return self._index

    def info(self, path: str):
        if path not in self._probed:
            try:
                self._probed[path] = self._probe(path)
            except PaicliError as e:
                self._probed[path] = e
        return self._probed[path]

    def resolve(self, shot) -> ShotMedia:
        named = self._named_path(shot)
        tried: list[str] = []
        if named is not None:
            if Path(named).exists() or "#" in named:
                got = self._check(named, shot, "list")
                if got.problem is None or not self.roots:
                    return got
                tried.append(f"{named}: {got.problem}")
            else:
                tried.append(f"{named}: not found")
        if self.roots:
            for how, candidates in (("clip name", self.index.by_name(shot.clip)),
                                    ("reel", self.index.by_name(shot.reel) if shot.reel else []),
                                    ("reel prefix", self.index.by_prefix(shot.reel) if shot.reel and len(shot.reel) >= 3
                                     else [])):
                fits = []
                for c in candidates:
                    got = self._check(c, shot, f"media-root: {how}")
                    if got.problem is None:
                        fits.append(got)
                    else:
                        tried.append(f"{Path(c).name}: {got.problem}")
                if len(fits) == 1:
                    return fits[0]
                if len(fits) > 1:
                    return ShotMedia(None, f"media-root: {how}", problem="ambiguous: " + ", ".join(
                        Path(f.path).name for f in fits[:4]) + " all cover its source timecode")
        if not tried:
            if self.roots:
                names = " or ".join(dict.fromkeys(n for n in (shot.clip, shot.reel) if n))
                return ShotMedia(None, "none", problem=f"no media named {names} under the --media-root folders")
            where = "the list names no media" if named is None else f"{named} not found"
            return ShotMedia(None, "none", problem=where + " (give --media-root to search)")
        hint = "" if self.roots else " (give --media-root to search)"
        return ShotMedia(None, "none", problem="; ".join(dict.fromkeys(tried))[:300] + hint)

    def _named_path(self, shot) -> str | None:
        if shot.media_kind == "image_sequence" and shot.sequence:
            base = url_to_path(shot.sequence["base"], self.base)
            if base is None:
                return None
            pad = max(int(shot.sequence.get("padding") or 0), 1)
            return str(base / f"{shot.sequence['prefix']}{'#' * pad}{shot.sequence['suffix']}")
        p = url_to_path(shot.media_url, self.base)
        return str(p) if p is not None else None

    def _check(self, path: str, shot, how: str) -> ShotMedia:
        """Does ``path`` hold the shot's source span? Where in it?"""
        info = self.info(path)
        if isinstance(info, PaicliError):
            return ShotMedia(None, how, problem=str(info).split(": ", 1)[-1][:120])
        if round(info.rate) != round(shot.rate):
            return ShotMedia(None, how, problem=f"is {float(info.rate):.3f} fps, the list {float(shot.rate):.3f} "
                                                f"(--rate {info.rate} if the list is at the media's rate)")
        # without embedded timecode: the time the list gives the sequence's first frame, else 00:00:00:00
        start_tc = info.start_timecode.frames if info.start_timecode is not None else 0
        if info.start_timecode is None and shot.sequence and shot.sequence.get("available_start") is not None:
            start_tc = shot.sequence["available_start"]
        first = shot.source_in - start_tc
        count = shot.source_out - shot.source_in
        if first < 0 or first + count > info.frame_count:
            fps = round(info.rate)
            have = f"{Timecode(start_tc, fps, shot.drop_frame)}-{Timecode(start_tc + info.frame_count - 1, fps, shot.drop_frame)}"
            return ShotMedia(None, how, problem=f"covers {have}, the shot needs {shot.source_tc}")
        return ShotMedia(path, how, first, count, info)
