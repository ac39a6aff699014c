"""Renders into one output folder at once are kept apart: a whole-list run holds the folder
(a second one stops at once, 75, naming the holder), farm shards share it, every shot renders
under its own lock, and locks left by a killed run never stand in the way of a resume."""
from __future__ import annotations

import errno
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lock_trials
from paicli.cli import run
from paicli.render import lock
from paicli.render.lock import FOLDER_LOCK, Busy, acquire, folder_lock


@pytest.fixture
def edl(tmp_path) -> Path:
    return lock_trials.project(tmp_path / "p")


def _run(edl: Path, out: Path, *extra: str) -> int:
    return run(lock_trials.argv(edl, out, *extra))


def _results(capsys) -> tuple[dict, list[str]]:
    captured = capsys.readouterr()
    return json.loads(captured.out), [ln for ln in captured.err.splitlines() if ln.strip()]


def test_a_whole_list_render_into_a_held_folder_stops_at_once_naming_the_holder(edl, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out, shared=False):
        t0 = time.monotonic()
        assert _run(edl, out) == 75
        assert time.monotonic() - t0 < 30
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("paicli: error: ")
    assert f"{out} is being rendered by pid {os.getpid()} on host {socket.gethostname()} since " in err[0]
    assert f"({FOLDER_LOCK})" in err[0]
    assert lock_trials.finished(out) == set() and not (out / ".paicli-partial").exists()
    assert not (out / FOLDER_LOCK).exists()  # its last holder removed it
    assert _run(edl, out) == 0 and lock_trials.finished(out) == {"001_clip1", "002_clip2"}
    assert lock_trials.leftovers(out) == []


def test_shards_share_the_folder_and_a_whole_list_run_waits_for_them(edl, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out, shared=True, shard="2/2"):
        assert _run(edl, out, "--shard", "1/2", "--json") == 0
        assert [r["status"] for r in _results(capsys)[0]["summary"]["results"]] == ["rendered"]
        assert _run(edl, out) == 75
        err = capsys.readouterr().err  # a holder of this process (shard 1/2's line outlives it: same pid)
        assert re.search(rf"is being rendered by pid {os.getpid()} on host .+ since .+ \(shard [12]/2\) "
                         rf"\({FOLDER_LOCK}\)", err)
    assert _run(edl, out, "--shard", "2/2") == 0
    assert lock_trials.finished(out) == {"001_clip1", "002_clip2"} and (out / "cut_conform.edl").is_file()
    assert lock_trials.leftovers(out) == []


def test_a_shot_another_process_is_rendering_is_left_to_it_and_its_staging_kept(edl, tmp_path, capsys):
    out = tmp_path / "out"
    staging = out / ".paicli-partial" / "001_clip1_v001"
    staging.mkdir(parents=True)
    (staging / "frame.exr").write_bytes(b"being written")
    with acquire(out / ".paicli-partial" / "001_clip1_v001.lock"):
        assert _run(edl, out, "--json") == 75
        doc, err = _results(capsys)
        busy, other = doc["summary"]["results"]
        assert busy["status"] == "busy" and busy["exit_code"] == 75 and f"left to pid {os.getpid()}" in busy["error"]
        assert other["status"] == "rendered"
        assert len(err) == 1 and "1 of 2 shot(s) not rendered; first: 001_clip1: left to pid" in err[0]
        assert (staging / "frame.exr").read_bytes() == b"being written"
    assert _run(edl, out, "--json") == 0
    assert [r["status"] for r in _results(capsys)[0]["summary"]["results"]] == ["rendered", "skipped"]
    assert lock_trials.leftovers(out) == []


def test_the_stale_staging_of_a_finished_shot_is_removed_only_under_its_lock(edl, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(edl, out) == 0
    staging = out / ".paicli-partial" / "001_clip1_v001"
    staging.mkdir(parents=True)
    with acquire(out / ".paicli-partial" / "001_clip1_v001.lock"):  # a live process is writing it
        assert _run(edl, out) == 0
        assert staging.is_dir()
    assert _run(edl, out) == 0
    assert not (out / ".paicli-partial").exists()


def test_lock_files_left_by_a_killed_run_do_not_stop_a_resume(edl, tmp_path, capsys):
    out = tmp_path / "out"
    (out / ".paicli-partial").mkdir(parents=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    holder = json.dumps({"pid": gone.pid, "host": socket.gethostname(), "since": "2026-01-01T10:02:00+0000"})
    (out / FOLDER_LOCK).write_text(holder + "\n")
    (out / ".paicli-partial" / "001_clip1_v001.lock").write_text(holder + "\n")
    (out / ".paicli-partial" / "001_clip1_v001").mkdir()  # its half-written staging
    assert _run(edl, out) == 0
    assert lock_trials.finished(out) == {"001_clip1", "002_clip2"} and lock_trials.leftovers(out) == []


def test_a_lock_dies_with_its_process_and_names_it_while_it_lives(tmp_path):
    path = tmp_path / "x.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom paicli.render.lock import acquire\n"
                               f"acquire({str(path)!r})\nprint('held', flush=True)\ntime.sleep(120)"],
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(Busy, match=f"pid {holder.pid} on host {socket.gethostname()} since "):
            acquire(path)
    finally:
        holder.kill()
        holder.wait()
    with acquire(path) as held:  # the kernel released it: the file left behind locks again
        assert held.fd is not None
    assert not path.exists()


def test_a_version_finished_by_another_run_meanwhile_is_never_replaced(edl, tmp_path, capsys, monkeypatch):
    from paicli.render import run as runner

    out = tmp_path / "out"
    real = runner.render_shot

    def other_run_finishes_it_first(ps, out_root, *a, **k):
        folder = out_root / ps.folder
        folder.mkdir(parents=True, exist_ok=True)
        key = ps.key if ps.shot.index == 1 else "another-key"
        (folder / f"{ps.stem}_render.json").write_text(json.dumps({"key": key, "outputs": []}))
        return real(ps, out_root, *a, **k)

    monkeypatch.setattr(runner, "render_shot", other_run_finishes_it_first)
    assert _run(edl, out, "--json") == 75
    results = _results(capsys)[0]["summary"]["results"]
    assert results[0]["status"] == "rendered"  # same key: the same render, replaced by an identical one
    assert results[1]["status"] == "failed" and results[1]["exit_code"] == 75
    assert "finished by another run meanwhile" in results[1]["error"]
    side = out / "002_clip2" / "v001" / "002_clip2_v001_render.json"
    assert json.loads(side.read_text())["key"] == "another-key"  # kept
    assert not list(side.parent.glob("*_comp.*"))


def test_a_filesystem_without_locks_renders_unlocked_and_says_so(edl, tmp_path, capsys, monkeypatch):
    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(lock.fcntl, "flock", no_locks)
    assert _run(edl, tmp_path / "out", "--json") == 0
    doc, _ = _results(capsys)
    assert any("does not lock files" in w for w in doc["warnings"])
    assert lock_trials.finished(tmp_path / "out") == {"001_clip1", "002_clip2"}
    assert lock_trials.leftovers(tmp_path / "out") == []


@pytest.mark.parametrize("trial", lock_trials.TRIALS, ids=[t.__name__ for t in lock_trials.TRIALS])
def test_concurrent_renders_into_one_folder(trial, tmp_path):
    row = trial(tmp_path)
    assert row["ok"], row["problems"]


def test_a_folder_where_no_lock_file_may_be_made_is_one_clear_error(tmp_path, monkeypatch):
    """A read-only output folder (as a user without write permission meets it): no lock file
    exists and none may be created; one OutputError, not a loop that blames the folder."""
    import errno

    from paicli.errors import OutputError
    from paicli.render import lock

    real = os.open

    def read_only_folder(path, flags, *a):
        if str(path).endswith(".paicli-lock"):
            if flags & os.O_CREAT:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        return real(path, flags, *a)

    monkeypatch.setattr(os, "open", read_only_folder)
    with pytest.raises(OutputError, match="cannot create the lock file .*Permission denied"):
        lock._open(tmp_path / ".paicli-lock")


def test_a_shard_waits_out_another_holders_momentary_exclusive_hold(tmp_path):
    """The first holder of a shared lock holds it exclusively while it resets the holder
    lines, the last while it removes the file: a shard arriving then shares it, not 75."""
    import fcntl
    import threading

    path = tmp_path / FOLDER_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another shard, about to share it
    threading.Timer(0.3, lambda: fcntl.flock(fd, fcntl.LOCK_SH)).start()
    held = acquire(path, shared=True, shard="2/2")
    try:
        assert held.shared and held.fd is not None
    finally:
        held.release()
        os.close(fd)


def test_a_lasting_exclusive_hold_is_a_whole_list_run_and_a_shard_stops(tmp_path, monkeypatch):
    import fcntl

    monkeypatch.setattr(lock, "MOMENTARY_EXCLUSIVE_S", 0.2)
    path = tmp_path / FOLDER_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    t0 = time.monotonic()
    with pytest.raises(Busy):
        acquire(path, shared=True)
    assert 0.2 <= time.monotonic() - t0 < 2
    os.close(fd)


def test_a_process_refused_as_the_holder_takes_the_lock_still_names_it(tmp_path):
    """Between a holder's flock and its holder line there is a moment: a process refused in it
    waits for the line rather than blaming 'another process'."""
    import fcntl
    import threading

    path = tmp_path / FOLDER_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a whole-list run that has not written its line yet
    line = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": "2026-12-04T10:00:00+0000"})
    threading.Timer(0.3, lambda: os.write(fd, (line + "\n").encode())).start()
    with pytest.raises(Busy) as e:
        acquire(path)
    assert e.value.holder is not None and e.value.holder["pid"] == os.getpid()
    assert str(e.value).startswith(f"pid {os.getpid()} on host {socket.gethostname()}")
    os.close(fd)
