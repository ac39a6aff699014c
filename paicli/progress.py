"""Progress on stderr: rich bars on a terminal, timestamped lines or JSON lines in farm logs.

Library code reports through a :class:`Progress` (``task`` / ``advance`` / ``log``); it
never prints. Every task counts its own unit (frames unless told: shots, steps, stills ...),
and an engine's stages become tasks through :meth:`Progress.stages`. Mode ``auto`` picks
``rich`` when stderr is a TTY and ``plain`` otherwise. Plain and JSON modes throttle updates
(``interval`` seconds, the first one ``interval`` after a task opens) so logs stay short. A
rate is shown only once it is measured over a second or more (:attr:`Task.rate`), and
durations read as people write them (``0.4 s``, ``2 min 13 s``).

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


MIN_RATE_SECONDS = 1.0  # a rate is measured over at least this long, else it is noise
MIN_RATE_UNITS = 2  # ... and over at least this many units after the first ones


class Task:
    """One counted piece of work: ``done`` of ``total`` (None: not known) ``unit`` (plural:
    frames, shots, steps, stills ...; None: a phase that is timed, not counted), timed from
    when it opened (``seconds``)."""

    def __init__(self, progress: "Progress", name: str, total: int | None, unit: str | None = "frames"):
        self.progress, self.name, self.total, self.unit = progress, name, total, unit
        self.done = 0
        self.started = time.monotonic()
        self._first: tuple[float, int] | None = None  # (time, done) when the first units were done
        self._last_report = self.started  # plain and JSON lines: the first after ``interval``
        self._rich_id = None

    def advance(self, n: int = 1) -> None:
        """``n`` more units done (0: none, but a stop signal is still raised here)."""
        raise_if_stopped()
        self.done += n
        if self._first is None and self.done > 0:
            self._first = (time.monotonic(), self.done)
        self.progress._update(self)

    @property
    def seconds(self) -> float:
        """Seconds since the task opened."""
        return time.monotonic() - self.started

    @property
    def rate(self) -> float | None:
        """Units per second since the first units were done, once that means something: at
        least :data:`MIN_RATE_SECONDS` later and :data:`MIN_RATE_UNITS` more units; else None. Measured
        from the first units, not from the start, so a task opened as its first unit finished,
        or one whose first unit carried a warm-up, does not claim thousands per second."""
        if self._first is None:
            return None
        since, first = self._first
        dt = time.monotonic() - since
        return (self.done - first) / dt if dt >= MIN_RATE_SECONDS and self.done >= first + MIN_RATE_UNITS else None


class Stages:
    """An engine's progress ``callback(dict)`` (:mod:`engine.interface`) as tasks: each
    ``stage`` (and ``subject``) its own task, named ``<label> <subject>`` (``labels`` maps a
    stage to its label, default the stage's name; ``subject`` defaults to this one's), with the
    event's ``total`` and ``unit`` (frames when it gives none). A new stage ends the previous
    one's task. An event with ``done`` (units finished so far; 0 opens the stage before its
    work starts) sets the count; one without counts one unit. ``with`` ends the last task."""

    def __init__(self, progress: "Progress", subject: str, labels: dict[str, str] | None = None):
        self.progress, self.subject, self.labels = progress, subject, labels or {}
        self._key, self._open, self._task = None, None, None

    def __call__(self, event: dict) -> None:
        stage, subject = event["stage"], event.get("subject", self.subject)
        if (stage, subject) != self._key:
            self.close()
            self._open = self.progress.task(f"{self.labels.get(stage, stage)} {subject}", total=event.get("total"),
                                            unit=event.get("unit", "frames"))
            self._task, self._key = self._open.__enter__(), (stage, subject)
        self._task.advance(event["done"] - self._task.done if "done" in event else 1)

    def close(self) -> None:
        """End the open stage's task, if any."""
        if self._open is not None:
            opened, self._open, self._task, self._key = self._open, None, None, None
            opened.__exit__(None, None, None)

    def __enter__(self) -> "Stages":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
    def task(self, name: str, total: int | None = None, unit: str | None = "frames") -> Iterator[Task]:
        """A task of ``total`` ``unit`` (plural; ``total`` None: an unknown number; ``unit``
        None: timed, not counted), reported from when the block opens to when it ends."""
        t = Task(self, name, total, unit)
        if self.mode == "rich":
            self._ensure_rich()
            t._rich_id = self._rich.add_task(name, total=total, count=_count(0, total, unit), rate="")
        else:
            self._emit({"event": "start", "task": name, "total": total, "unit": unit})
        try:
            yield t
        finally:
            if self.mode == "rich":
                whole = t.total if t.total is not None else max(t.done, 1)  # a task of unknown length: full
                self._rich.update(t._rich_id, total=whole, completed=t.done if t.total is not None else whole,
                                  count=_count(t.done, t.total, unit), rate=_rate_text(t.rate, unit))
                self._rich.stop_task(t._rich_id)
            else:
                self._emit(self._record("done", t))

    def stages(self, subject: str, labels: dict[str, str] | None = None) -> Stages:
        """An engine's progress callback reporting each of its stages as a task (:class:`Stages`)."""
        return Stages(self, subject, labels)

    def log(self, message: str, **fields) -> None:
        """A one-off message (warnings, summaries) in the current mode."""
        if self.mode == "rich":
            self._ensure_rich()
            self._rich.console.print(message, markup=False, highlight=False)
        else:
            self._emit({"event": "message", "message": message, **fields})

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
            self._rich.update(t._rich_id, completed=t.done, count=_count(t.done, t.total, t.unit),
                              rate=_rate_text(t.rate, t.unit))
            return
        now = time.monotonic()
        final = t.total is not None and t.done >= t.total
        if now - t._last_report >= self.interval and not final:
            t._last_report = now
            self._emit(self._record("progress", t))

    @staticmethod
    def _record(event: str, t: Task) -> dict:
        """A progress or done record: ``seconds`` since the task opened, ``rate`` in units per
        second (None until it means something: :attr:`Task.rate`)."""
        rate = t.rate
        return {"event": event, "task": t.name, "done": t.done, "total": t.total, "unit": t.unit,
                "seconds": round(t.seconds, 3), "rate": None if rate is None else round(rate, 3)}

    def _emit(self, record: dict) -> None:
        if self.mode == "none":
            return
        stamp = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        if self.mode == "json":
            self.stream.write(json.dumps({"time": stamp, **record}) + "\n")
        else:
            self.stream.write(f"{stamp} {_line(record)}\n")
        self.stream.flush()

    def _ensure_rich(self) -> None:
        if self._rich is None:
            from rich.console import Console
            from rich.progress import (BarColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._rich = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=False,
            )
            self._rich.start()


def _line(record: dict) -> str:
    """A record as a plain line (without its timestamp)."""
    event = record["event"]
    if event == "message":
        return record["message"]
    name, total, unit = record["task"], record["total"], record["unit"]
    if event == "start":
        size = _count(total, None, unit) if total else ""
        return f"{name}: start" + (f" ({size})" if size else "")
    rate = f" ({_rate_text(record['rate'], unit)})" if record["rate"] is not None else ""
    if event == "progress":  # a task that counts nothing says how long it has run
        return f"{name}: {_count(record['done'], total, unit) or duration(record['seconds'])}{rate}"
    took = duration(record["seconds"])
    if total is not None and record["done"] < total:
        return f"{name}: stopped at {_count(record['done'], total, unit)} after {took}"
    if unit is None or (total is None and not record["done"]):
        return f"{name}: done in {took}"
    return f"{name}: done {_count(record['done'], None, unit)} in {took}{rate}"


def _count(done: int, total: int | None, unit: str | None) -> str:
    """``12/48 frames``, ``1 shot``; empty for a task that counts nothing or nothing yet of an
    unknown total."""
    if unit is None or (total is None and not done):
        return ""
    shown = _singular(unit) if (total if total is not None else done) == 1 else unit
    return f"{done}/{total} {shown}" if total is not None else f"{done} {shown}"


def _singular(unit: str) -> str:
    return unit[:-1] if unit.endswith("s") else unit


def _rate_text(rate: float | None, unit: str | None) -> str:
    """``13.7 fps``, ``2.5 steps/s``, or below one a second ``4.8 s per step``; empty for no rate."""
    if rate is None or unit is None:
        return ""
    if rate < 1:
        return f"{duration(1 / rate)} per {_singular(unit)}"
    number = f"{rate:.0f}" if rate >= 100 else f"{rate:.1f}"
    return f"{number} fps" if unit == "frames" else f"{number} {unit}/s"


def duration(seconds: float) -> str:
    """A duration for people: ``0.4 s``, ``19 s``, ``2 min 13 s``, ``1 h 5 min``."""
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


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
