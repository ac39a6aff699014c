"""Keeping concurrent renders into one output folder apart: a folder lock and per-shot locks.

A render holds ``OUT/.paicli-lock`` for as long as it runs. A run of a whole list holds it
exclusively, so a second render into the folder stops at once with a
:class:`~paicli.errors.TemporaryFailure` (75: retry later) naming the holder (pid, host,
start time, from the holder lines the file keeps). A run of part of a list (a farm shard,
``--shot``, ``--frames``) holds it shared: shards of one job render into one folder by
design, and only a whole-list run is kept out while they do.

Inside the folder, every shot (or chunk of a shot) is rendered under
``OUT/.paicli-partial/<id>_v<NNN>[_<chunk>].lock``, held exclusively from before its staging
folder is touched until it has moved into place. A process that finds a shot locked leaves
it to the process rendering it; a stale staging folder is deleted only by a process that
holds its lock, so no process deletes what another live one is writing.

The locks are ``flock(2)`` locks, released by the kernel when their process ends, however it
ends (a crash, SIGKILL): a lock file a killed run left behind is taken again by the next run,
so a lock never stands in the way of a resume. A lock file is removed by its last holder on
a clean exit; a process that opened a file another removed meanwhile sees the inode change
and opens the new one, so two holders never lock different files of one name.

Limits: ``flock`` works between processes of one machine. On NFS, Linux emulates it with NFS
byte-range locks, which keep machines apart only where the server's locking works (NFSv4, or
NFSv3 with lockd; never a mount with ``nolock`` or ``local_lock``); SMB and FUSE shares vary.
Where the filesystem refuses locks, the run goes on unlocked and says so. Farm shards on
several machines stay safe without locks when each shard renders only its own shots.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from paicli.errors import OutputError, TemporaryFailure

FOLDER_LOCK = ".paicli-lock"
_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS}
_MAX_HOLDERS_BYTES = 64 << 10  # a shared lock file's holder lines, at most
# A shared lock is held exclusively for a moment by its first holder (resetting the holder
# lines) and its last (removing the file): a process asking to share it waits that out, this
# long at most, before it reads the exclusive hold as a whole-list run's
MOMENTARY_EXCLUSIVE_S = 2.0


class Busy(Exception):
    """The lock is held by another process; ``holder`` is what its file says of it, if anything."""

    def __init__(self, holder: dict | None):
        super().__init__(describe(holder))
        self.holder = holder


def holder_line(**extra) -> dict:
    """What a lock file says of this process: pid, host, start time (ISO 8601, local), command."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join(shlex.quote(a) for a in sys.argv)[:400], **extra}


def describe(holder: dict | None) -> str:
    """``pid 1234 on host X since 10:02`` (the date too when not today); ``another process``
    when the lock file says nothing readable."""
    if not holder:
        return "another process"
    since = str(holder.get("since", ""))
    try:
        t = time.strptime(since[:19], "%Y-%m-%dT%H:%M:%S")
        since = time.strftime("%H:%M" if t[:3] == time.localtime()[:3] else "%Y-%m-%d %H:%M", t)
    except ValueError:
        pass
    text = f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}" + (f" since {since}" if since else "")
    return text + (f" (shard {holder['shard']})" if holder.get("shard") else "")


def _alive(holder: dict) -> bool:
    """Whether a holder line may be a live process: any on another host; on this one, a pid that runs."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except (ProcessLookupError, ValueError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def _holders(fd: int) -> list[dict]:
    """The holder lines of an open lock file, oldest first; unreadable lines left out."""
    try:
        data = os.pread(fd, _MAX_HOLDERS_BYTES, 0)
    except OSError:
        return []
    out = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def _current_holder(fd: int) -> dict | None:
    """The latest holder line that may be live (a holder that died left its line behind)."""
    lines = _holders(fd)
    live = [h for h in lines if _alive(h)]
    return (live or lines or [None])[-1]


def _for_a_moment(attempt: Callable[[], Any]) -> Any:
    """``attempt()`` again until it gives something other than None (or False), for at most
    :data:`MOMENTARY_EXCLUSIVE_S`; its last answer."""
    deadline = time.monotonic() + MOMENTARY_EXCLUSIVE_S
    while not (got := attempt()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return got


def _holder_named(fd: int) -> dict | None:
    """:func:`_current_holder`, waiting a moment for a holder that has just taken the lock to
    write its line: a process refused in that moment still names who holds it."""
    return _for_a_moment(lambda: _current_holder(fd))


@dataclass
class Lock:
    """One held lock file (``path``), exclusive or shared; ``fd`` is None where the filesystem
    does not lock (``note`` says so)."""

    path: Path
    fd: int | None
    shared: bool = False
    note: str | None = None

    def release(self) -> None:
        """Unlock and close; the last holder removes the file first (see the module notes)."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        try:
            if self.shared:  # the last shared holder is the one that can take it exclusively
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return
            if _same_file(fd, self.path):
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
        finally:
            os.close(fd)  # closing releases the flock

    def __enter__(self) -> "Lock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        st, now = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)


def _open(path: Path) -> int:
    """The lock file opened (created if missing, its folder too), never through a symlink."""
    flags = os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(20):
        try:
            try:
                return os.open(path, flags | os.O_RDWR, 0o664)
            except PermissionError as denied:  # another user's lock file: it still locks, read-only
                try:
                    return os.open(path, (flags & ~os.O_CREAT) | os.O_RDONLY)
                except FileNotFoundError:  # no lock file, and none may be made: a read-only folder
                    raise denied from None
        except FileNotFoundError:  # the folder (staging) was removed by a run that just finished
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise OutputError(f"refusing to lock through a symlink: {path}") from None
            raise OutputError(f"cannot create the lock file {path}: {e.strerror or e}") from None
    raise OutputError(f"cannot create the lock file {path}: its folder keeps disappearing")


def acquire(path: str | os.PathLike, *, shared: bool = False, **about) -> Lock:
    """Take the lock file ``path`` without waiting: exclusively, or ``shared`` with other
    shared holders. Raises :class:`Busy` when another process holds it in a way that excludes
    this one; ``about`` goes into this process's holder line (e.g. ``shard="2/4"``)."""
    path = Path(path)
    for _ in range(20):
        fd = _open(path)
        try:
            first = _flock(fd, fcntl.LOCK_EX)  # the first holder resets the holder lines
            if not first and shared:
                _flock_shared(fd)
            elif not first:
                raise BlockingIOError
        except BlockingIOError:
            holder = _holder_named(fd)
            os.close(fd)
            raise Busy(holder) from None
        except OSError as e:
            os.close(fd)
            if e.errno in _UNSUPPORTED:
                with contextlib.suppress(OSError):  # a lock file that locks nothing is not left behind
                    os.unlink(path)
                return Lock(path, None, shared, note=f"the filesystem of {path.parent} does not lock files "
                            f"({e.strerror}); concurrent renders into it are not kept apart")
            raise OutputError(f"cannot lock {path}: {e.strerror or e}") from None
        if not _same_file(fd, path):  # its last holder removed it between our open and our lock
            os.close(fd)
            continue
        try:  # a read-only lock file (another user's) locks all the same, without saying who holds it
            if first:
                os.ftruncate(fd, 0)
            if os.fstat(fd).st_size < _MAX_HOLDERS_BYTES:
                os.write(fd, (json.dumps(holder_line(**about)) + "\n").encode())  # O_APPEND: one line, whole
        except OSError:
            pass
        if first and shared:  # now shared with the shards that come after
            try:
                _flock_shared(fd)
            except BlockingIOError:  # not atomic: a whole-list run took it meanwhile
                holder = _holder_named(fd)
                os.close(fd)
                raise Busy(holder) from None
        return Lock(path, fd, shared)
    raise OutputError(f"cannot lock {path}: it keeps being replaced")


def _flock(fd: int, mode: int) -> bool:
    """flock without waiting: True when taken, False when held."""
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _flock_shared(fd: int) -> None:
    """A shared flock, waiting out another holder's momentary exclusive hold (see
    :data:`MOMENTARY_EXCLUSIVE_S`); BlockingIOError when it lasts longer."""
    if not _for_a_moment(lambda: _flock(fd, fcntl.LOCK_SH)):
        raise BlockingIOError


def folder_lock(output: str | os.PathLike, *, shared: bool, shard: str | None = None) -> Lock:
    """Hold the output folder for this run (see the module notes): :class:`TemporaryFailure`
    (75) naming the holder when another run holds it."""
    path = Path(output) / FOLDER_LOCK
    try:
        return acquire(path, shared=shared, **({"shard": shard} if shard else {}))
    except Busy as busy:
        raise TemporaryFailure(f"{output} is being rendered by {busy} ({FOLDER_LOCK}); "
                               "retry when it has finished, or render into another folder") from None


def try_lock(path: str | os.PathLike, **about) -> Lock | Busy:
    """The exclusive lock ``path`` (a shot's), or the :class:`Busy` that says who holds it."""
    try:
        return acquire(path, **about)
    except Busy as busy:
        return busy
