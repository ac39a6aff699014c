"""Atomic outputs: write under a temporary name, fsync, then rename onto the final name.

A killed run leaves only ``.NAME.paicli-tmp-PID-HOSTRAND.EXT`` files beside the final name,
never a truncated file under it; :func:`sweep_stale_temps` removes those whose writing
process is gone (judged on the host that wrote them; another host's only when long untouched,
since farm jobs on several machines share one output folder).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path
from typing import Iterator

from paicli.errors import OutputError
from paicli.sources import SOURCES

_TMP_MARK = ".paicli-tmp-"
_TMP_RE = re.compile(r"^\..+\.paicli-tmp-(\d+)-([0-9a-f]+)(\.[^.]*)?$")
HOST_TAG = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
OTHER_HOST_STALE_S = 6 * 3600  # another machine's temporary untouched this long is a killed run's


def _token() -> str:
    """``PID-HOSTRAND``: the writing process, its host (:data:`HOST_TAG`) and 8 random hex digits."""
    return f"{os.getpid()}-{HOST_TAG}{secrets.token_hex(4)}"


def temp_path_for(final: Path) -> Path:
    """A unique temporary name beside ``final``, keeping its extension so muxers recognise it."""
    final = Path(final)
    return final.with_name(f".{final.stem}{_TMP_MARK}{_token()}{final.suffix}")


def is_temp_name(name: str) -> bool:
    return bool(_TMP_RE.match(name))


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        _fsync_path(path)


def commit(tmp: Path, final: Path) -> None:
    """fsync ``tmp`` and rename it onto ``final`` (atomic on one filesystem). A ``final``
    that is one of the run's sources (:mod:`paicli.sources`) is refused, ``tmp`` removed."""
    try:
        SOURCES.refuse([final], "", "nothing was replaced")
    except OutputError:
        discard(tmp)
        raise
    try:
        _fsync_path(tmp)
        os.replace(tmp, final)
    except OSError as e:
        raise OutputError(f"cannot write {final}: {e.strerror or e}") from e
    _fsync_dir(Path(final).parent)


def discard(tmp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``final``, on error it is removed.

    The parent folder must exist. Symlinks at ``final`` are replaced, never written through.
    """
    final = Path(final)
    if not final.parent.is_dir():
        raise OutputError(f"output folder does not exist: {final.parent}")
    tmp = temp_path_for(final)
    try:
        yield tmp
    except BaseException:
        discard(tmp)
        raise
    commit(tmp, final)


def write_text(final: str | os.PathLike, text: str) -> Path:
    """Write a text file (UTF-8, ``\\n`` line ends) atomically; a failure to write is
    :class:`OutputError` naming ``final``."""
    final = Path(final)
    with atomic_output(final) as tmp:
        try:
            with open(tmp, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        except OSError as e:
            raise OutputError(f"cannot write {final}: {e.strerror or e}") from e
    return final


def temp_dir_for(final_pattern: Path) -> Path:
    """A hidden temporary folder beside a sequence's final frames, for writing it whole."""
    final_pattern = Path(final_pattern)
    stem = final_pattern.name.split(".")[0] or "seq"
    d = final_pattern.parent / f".{stem}{_TMP_MARK}{_token()}"
    try:
        d.mkdir()
    except OSError as e:
        raise OutputError(f"cannot write in {final_pattern.parent}: {e.strerror or e}") from e
    return d


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(p: Path, pid: int, token: str) -> bool:
    """Whether temporary ``p`` was left by a writer that is gone: one of this host's whose
    process has ended, or another host's (or an unknown writer's) untouched for
    :data:`OTHER_HOST_STALE_S`; a process ID means nothing on another machine."""
    if len(token) == 16 and token.startswith(HOST_TAG):
        return not _pid_alive(pid)
    try:
        return time.time() - p.lstat().st_mtime > OTHER_HOST_STALE_S
    except OSError:
        return False


def sweep_stale_temps(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Delete temporary files left in ``folder`` by writers that are no longer running.

    Returns the paths removed. Files of live processes (a concurrent farm job, on this or
    another machine) are kept.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    entries = folder.rglob(".*") if recursive else folder.glob(".*")
    for p in entries:
        m = _TMP_RE.match(p.name)
        if m and not p.is_symlink() and _stale(p, int(m.group(1)), m.group(2)):
            with contextlib.suppress(OSError):
                if p.is_dir():  # a sequence being written: frames move out only when complete
                    shutil.rmtree(p)
                else:
                    p.unlink()
                removed.append(p)
    return removed
