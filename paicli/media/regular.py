"""Only regular files are media: the check every reader makes before it opens a path.

A named pipe (FIFO) blocks ``open()`` until a writer appears (forever, on a farm); a character
device such as ``/dev/zero`` or ``/dev/stdin`` never ends or waits for a terminal; a socket
cannot be opened at all; a folder where a file is expected fails deep inside a decoder. So
before any picture, still, matte, clean plate, camera file or sequence frame is opened, its
path is checked with :func:`os.stat` (which follows symlinks, as ``open()`` would, and never
opens anything) and :func:`stat.S_ISREG`.

Anything else is refused with :class:`~paicli.errors.MissingInputError` (exit 66, "input file
missing or unreadable"), never 65: the path does not name a file paicli can read at all,
which is a different thing from a file whose *content* is wrong (65, bad data). It is the
same answer a missing or permission-denied file gets, and the one line says what the path is
("shot.mov: is a named pipe (FIFO), not a regular file").
"""
from __future__ import annotations

import os
import stat

from paicli.errors import MissingInputError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def kind_of(mode: int) -> str:
    """What a ``st_mode`` names, in words: ``a regular file``, ``a folder``, ``a named pipe (FIFO)``..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def require_regular(path: str | os.PathLike, what: str = "file") -> os.stat_result:
    """``path``'s :func:`os.stat` result if it is a regular file (symlinks followed); else
    :class:`MissingInputError` (66) naming ``what`` (``file``, ``reference``, ``frame``...) and
    what the path really is. Nothing is opened."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MissingInputError(f"no such {what}: {path}") from None
    except PermissionError:
        raise MissingInputError(f"cannot read {path}: permission denied") from None
    except (OSError, ValueError) as e:  # ENAMETOOLONG, ELOOP, ENOTDIR; ValueError: a NUL in the name
        raise MissingInputError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    if not stat.S_ISREG(st.st_mode):
        named = f"{path}" if what == "file" else f"{what} {path}"
        raise MissingInputError(f"{named}: is {kind_of(st.st_mode)}, not a regular file")
    return st


def is_regular(path: str | os.PathLike) -> bool:
    """True if ``path`` is a regular file (symlinks followed); never raises, never opens it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def exists(path: str | os.PathLike) -> bool:
    """True if anything is at ``path`` (a FIFO, a device, a folder...), following symlinks."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True
