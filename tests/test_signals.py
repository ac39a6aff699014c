"""SIGTERM, SIGHUP and SIGINT stop a run through its cleanup: exit 128 + the signal number
(143, 129, 130), one line ``paicli: error: interrupted (SIGTERM)``, no temporary file, staging or
partial output left.

The boundary itself is tested in this process with a stand-in command; the real thing with
``paicli render`` and ``paicli key`` in fresh processes, signalled as their frame loop starts
(the trials of ``tests/reliability/cases_settings.py``).
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from pathlib import Path

import pytest
import typer

import paicli.cli as cli
from paicli.media import atomic
from paicli.progress import Interrupted, Progress, StopSignals

sys.path.insert(0, str(Path(__file__).resolve().parent / "reliability"))

import corpus  # noqa: E402,F401 - first: it imports cases_settings while being imported
from cases_settings import SIGNALS, TRIAL_COMMANDS, make_signal_shot, signal_trial  # noqa: E402


class _Unhandled(BaseException):
    """A signal no paicli handler caught (it would have ended the process)."""


@pytest.fixture(autouse=True)
def _unhandled_signals_fail_the_test():
    """SIGTERM or SIGHUP sent to this process with no paicli handler installed fails the test
    instead of ending pytest."""
    def fail(signum, frame):
        raise _Unhandled(signal.Signals(signum).name)

    previous = {s: signal.signal(s, fail) for s in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for s, handler in previous.items():
        signal.signal(s, handler)


def _run_with(monkeypatch, body, keep=()) -> int:
    """``cli.run`` with its command replaced by one that calls ``body()``; the stop signals
    not named in ``keep`` at their defaults."""
    app = typer.Typer()

    @app.command()
    def stand_in() -> None:
        body()

    command = typer.main.get_command(app)
    monkeypatch.setattr(cli.typer.main, "get_command", lambda _app: command)
    # every stop signal as a terminal gives it (a test run started in the background inherits
    # SIGINT ignored, which paicli rightly keeps ignored)
    previous = {getattr(signal, n): signal.signal(getattr(signal, n), signal.default_int_handler
                                                  if n == "SIGINT" else signal.SIG_DFL)
                for n in SIGNALS if n not in keep}
    try:
        return cli.run([])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _lines(capsys) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


@pytest.mark.parametrize("name", SIGNALS)
def test_a_signal_stops_the_command_through_its_cleanup_with_one_line_and_128_plus_its_number(
        name, monkeypatch, capsys, tmp_path):
    signum = getattr(signal, name)
    before = signal.getsignal(signum)
    final = tmp_path / "out.txt"

    def body():
        with atomic.atomic_output(final) as tmp:
            tmp.write_text("half")
            os.kill(os.getpid(), signum)
            time.sleep(30)  # never reached: the handler raises at once

    t0 = time.monotonic()
    assert _run_with(monkeypatch, body) == 128 + signum
    assert time.monotonic() - t0 < 10
    assert _lines(capsys) == [f"paicli: error: interrupted ({name})"]
    assert list(tmp_path.iterdir()) == []  # the temporary file was discarded, nothing under the final name
    assert signal.getsignal(signum) == before  # the handlers are put back


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped exception
def test_a_signal_swallowed_inside_a_c_callback_stops_the_run_at_its_next_frame(monkeypatch, capsys):
    frames = []

    def body():
        # an exception raised inside a ctypes callback (as llvmlite's JIT hook is) is printed and dropped
        ctypes.CFUNCTYPE(None)(lambda: os.kill(os.getpid(), signal.SIGTERM))()
        with Progress("none").task("frames", 100) as task:
            for i in range(100):
                frames.append(i)
                task.advance()

    assert _run_with(monkeypatch, body) == 143
    assert frames == [0]
    assert _lines(capsys)[-1] == "paicli: error: interrupted (SIGTERM)"


def test_a_command_that_ran_on_past_a_swallowed_signal_still_exits_as_interrupted(monkeypatch, capsys):
    def body():
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(30)
        except BaseException:  # noqa: BLE001 - a library that swallows everything
            pass

    assert _run_with(monkeypatch, body) == 129
    assert _lines(capsys) == ["paicli: error: interrupted (SIGHUP)"]


def test_the_signal_handlers_raise_only_inside_the_block_and_the_first_signal_decides():
    stop = StopSignals()
    try:
        with pytest.raises(Interrupted) as e:
            with stop:
                os.kill(os.getpid(), signal.SIGHUP)
                time.sleep(30)
        assert e.value.exit_code == 129 and stop.signum == signal.SIGHUP
        os.kill(os.getpid(), signal.SIGTERM)  # after the block: recorded, not raised (the error line stays one)
        time.sleep(0.01)
        assert stop.signum == signal.SIGHUP
    finally:
        stop.restore()


def test_a_signal_ignored_before_the_run_stays_ignored(monkeypatch, capsys):
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup leaves it; put back by the autouse fixture
    done = []

    def body():
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.05)
        done.append(True)

    assert _run_with(monkeypatch, body, keep=("SIGHUP",)) == 0
    assert done == [True] and _lines(capsys) == []
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


# ------------------------------------------------------------------------------ real runs


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    return make_signal_shot(tmp_path_factory.mktemp("signals") / "shot")


@pytest.mark.parametrize("command", TRIAL_COMMANDS)
@pytest.mark.parametrize("name", SIGNALS)
def test_a_signalled_render_or_key_exits_with_one_line_and_leaves_no_temporary_or_partial_file(
        command, name, shot, tmp_path):
    t = signal_trial(tmp_path, shot, command, name)
    assert t["mid_run"], f"the run ended before it was signalled: {t['stderr']}"
    assert not t["hang"]
    assert t["code"] == 128 + getattr(signal, name)
    assert t["stderr"] == [f"paicli: error: interrupted ({name})"]
    assert t["partial"] == [] and t["temps"] == [] and t["staging"] == []
    assert t["lost_or_changed"] == [] and t["outside"] == []
