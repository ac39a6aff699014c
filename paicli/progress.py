"""Progress on stderr: rich bars on a terminal, timestamped lines or JSON lines in farm logs.

Library code reports through a :class:`Progress` (``task`` / ``advance`` / ``log``); it
never prints. Mode ``auto`` picks ``rich`` when stderr is a TTY and ``plain`` otherwise.
Plain and JSON modes throttle per-frame updates (``interval`` seconds) so logs stay short.

Stop signals: while :class:`StopSignals` is active (the CLI's ``run``), SIGINT, SIGTERM and
SIGHUP raise :class:`Interrupted` in the main thread, so ``finally`` blocks, staging and
atomic writers clean up on the way out. A signal that lands inside a C callback (llvmlite's
JIT cache hook, a ``__del__``) has its exception printed and dropped by Python; every
:meth:`Task.advance` raises it again, so a run stops at its next frame at the latest.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator, TextIO

from paicli.errors import UsageError

MODES = ("auto", "rich", "plain", "json", "none")


def mode_from(value: str | None) -> str:
    """The progress mode: ``value`` (``--progress``), else ``PAICLI_PROGRESS``, else auto;
    checked (a usage error names the modes)."""
    mode = (value or os.environ.get("PAICLI_PROGRESS") or "auto").lower()
    if mode not in MODES:
        raise UsageError(f"--progress: {mode!r} is not one of {', '.join(MODES)}")
    return mode


class Task:
    def __init__(self, progress: "Progress", name: str, total: int | None):
        self.progress, self.name, self.total = progress, name, total
        self.done = 0
        self.started = time.monotonic()
        self._last_report = 0.0
        self._rich_id = None

    def advance(self, n: int = 1) -> None:
        raise_if_stopped()
        self.done += n
        self.progress._update(self)

    @property
    def fps(self) -> float:
        dt = time.monotonic() - self.started
        return self.done / dt if dt > 0 else 0.0


class Progress:
    """Reports tasks and messages to ``stream`` (stderr by default)."""

    def __init__(self, mode: str = "auto", stream: TextIO | None = None, interval: float = 2.0):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "rich" if _isatty(self.stream) else "plain"
        if mode not in MODES:
            raise ValueError(f"unknown progress mode {mode!r}")
        self.mode = mode
        self.interval = interval
        self._rich = None

    @contextmanager
    def task(self, name: str, total: int | None = None) -> Iterator[Task]:
        t = Task(self, name, total)
        if self.mode == "rich":
            self._ensure_rich()
            t._rich_id = self._rich.add_task(name, total=total)
        else:
            self._emit({"event": "start", "task": name, "total": total})
        try:
            yield t
        finally:
            if self.mode == "rich":
                self._rich.update(t._rich_id, completed=t.done, visible=True)
                self._rich.stop_task(t._rich_id)
            else:
                self._emit({"event": "done", "task": name, "done": t.done, "total": total,
                            "seconds": round(time.monotonic() - t.started, 3), "fps": round(t.fps, 2)})

    def log(self, message: str, **fields) -> None:
        """A one-off message (warnings, summaries) in the current mode."""
        if self.mode == "rich":
            self._ensure_rich()
            self._rich.console.print(message, markup=False, highlight=False)
        else:
            self._emit({"event": "message", "message": message, **fields})

    def callback(self, task: Task):
        """A ``callback(dict)`` for engines: ``{"frames": n}`` advances the task."""
        def cb(info: dict) -> None:
            task.advance(int(info.get("frames", 1)))
        return cb

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- internals
    def _update(self, t: Task) -> None:
        if self.mode == "rich":
            self._rich.update(t._rich_id, completed=t.done)
            return
        now = time.monotonic()
        final = t.total is not None and t.done >= t.total
        if now - t._last_report >= self.interval and not final:
            t._last_report = now
            self._emit({"event": "progress", "task": t.name, "done": t.done, "total": t.total, "fps": round(t.fps, 2)})

    def _emit(self, record: dict) -> None:
        if self.mode == "none":
            return
        stamp = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        if self.mode == "json":
            self.stream.write(json.dumps({"time": stamp, **record}) + "\n")
        else:
            ev = record.get("event")
            if ev == "message":
                text = record["message"]
            elif ev == "start":
                text = f"{record['task']}: start" + (f" ({record['total']} frames)" if record.get("total") else "")
            elif ev == "progress":
                total = f"/{record['total']}" if record.get("total") else ""
                text = f"{record['task']}: {record['done']}{total} ({record['fps']} fps)"
            else:
                text = f"{record['task']}: done {record['done']} in {record['seconds']} s ({record['fps']} fps)"
            self.stream.write(f"{stamp} {text}\n")
        self.stream.flush()

    def _ensure_rich(self) -> None:
        if self._rich is None:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self._rich = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(), console=Console(file=self.stream), transient=False,
            )
            self._rich.start()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ------------------------------------------------------------------------------ stop signals

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")  # Ctrl-C; a farm's stop (before SIGKILL); a closed terminal


class Interrupted(BaseException):
    """A stop signal, raised through the running code. A BaseException like KeyboardInterrupt
    (and not one, so that Click does not turn it into a silent exit 130): the ``except
    Exception`` that makes one shot's failure a report lets it through."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def signal_name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process a signal ended: 130, 143, 129."""
        return 128 + self.signum

    def __str__(self) -> str:
        return f"interrupted ({self.signal_name})"


class StopSignals:
    """``with StopSignals() as stop``: SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted`
    in the main thread; ``stop.signum`` is the first one received. Leaving the block stops
    raising (a signal is then only recorded, so the error report stays one line); call
    :meth:`restore` at the very end to put the previous handlers back. A signal ignored when
    it starts stays ignored; outside the main thread it installs nothing."""

    def __init__(self):
        self.signum: int | None = None
        self._raising = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopSignals":
        global _active
        if threading.current_thread() is threading.main_thread():
            for name in STOP_SIGNALS:
                sig = getattr(signal, name, None)
                if sig is None or sig in self._previous or signal.getsignal(sig) is signal.SIG_IGN:
                    continue  # an ignored signal stays ignored: ``nohup`` (SIGHUP), a background job (SIGINT)
                self._previous[sig] = signal.signal(sig, self._handle)
        self._raising = True
        _active = self
        return self

    def __exit__(self, *exc) -> bool:
        self._raising = False
        return False

    def restore(self) -> None:
        global _active
        self._raising = False
        for sig, handler in self._previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()
        if _active is self:
            _active = None

    def _handle(self, signum: int, frame) -> None:
        if self.signum is None:
            self.signum = signum
        if self._raising:
            raise Interrupted(signum)


_active: StopSignals | None = None


def raise_if_stopped() -> None:
    """Raise :class:`Interrupted` (main thread, inside an active :class:`StopSignals`) when a
    stop signal was received: again, if its first exception was swallowed."""
    stop = _active
    if stop is not None and stop._raising and stop.signum is not None \
            and threading.current_thread() is threading.main_thread():
        raise Interrupted(stop.signum)
