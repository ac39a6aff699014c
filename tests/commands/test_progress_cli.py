"""Progress on stderr says true things: no rate before it is measured over a second, every
task in its own unit (frames, shots, steps ...), and the DiT's slow first phases on lines of
their own before sampling. Timing comes from a fake clock, so no test depends on the machine's
speed."""
from __future__ import annotations

import json
import re
from fractions import Fraction
from types import SimpleNamespace

import pytest

import paicli.progress
from paicli.cli import run


class FakeClock:
    """``time.monotonic`` for :mod:`paicli.progress`: every reading is ``step`` seconds after
    the last, so a run takes as long as the progress code looks at the clock, on any machine."""

    def __init__(self, step: float):
        self.now, self.step = 1000.0, step

    def monotonic(self) -> float:
        self.now += self.step
        return self.now


def fake_clock(monkeypatch, step: float) -> None:
    monkeypatch.setattr(paicli.progress, "time", SimpleNamespace(monotonic=FakeClock(step).monotonic))


RATE = re.compile(r"\d fps|/s\b| per ")  # 13.7 fps, 2.5 steps/s, 4.8 s per step


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    from paicli.shot.example import make_example_shot

    root = tmp_path_factory.mktemp("shot")
    make_example_shot(root, width=96, height=64, frames=24)
    return root


def _plain(err: str) -> list[str]:
    """The progress lines of stderr, less their timestamps."""
    return [line.split(" ", 1)[1] for line in err.splitlines() if line[:4].isdigit()]


def _records(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("mode", ["plain", "json"])
def test_a_key_whose_tasks_last_microseconds_shows_no_rate_at_all(shot, tmp_path, monkeypatch, capsys, mode):
    fake_clock(monkeypatch, 1e-6)  # the whole run takes well under a second
    assert run(["key", str(shot / "plate.mov"), "-o", str(tmp_path / "o"), "--progress", mode]) == 0
    err = capsys.readouterr().err
    if mode == "plain":
        lines = _plain(err)
        assert not [line for line in lines if RATE.search(line)]
        assert lines[0] == "key plate.mov: start (24 frames)" and lines[-1] == "key plate.mov: done 24 frames in 0.0 s"
    else:
        records = _records(err)
        assert not [r for r in records if r.get("rate") is not None or "fps" in r]
        assert [(r["event"], r["done"], r["unit"]) for r in records if r["event"] != "start"] == [("done", 24, "frames")]


def test_a_replace_in_json_gives_a_rate_once_measured_over_a_second_in_its_unit(shot, tmp_path, monkeypatch, capsys):
    fake_clock(monkeypatch, 0.25)  # a second every few frames
    assert run(["replace", str(shot / "plate.mov"), "--bg", str(shot / "refs"), "-o", str(tmp_path / "o"),
                "--progress", "json"]) == 0
    records = [r for r in _records(capsys.readouterr().err) if r["event"] != "message"]
    assert records and all(r["unit"] == "frames" for r in records)
    rated = [r for r in records if r["event"] in ("progress", "done") and r["rate"] is not None]
    assert rated and all(r["seconds"] >= 1.0 and r["done"] >= 2 for r in rated)
    assert all("fps" not in r for r in records)  # a rate is per second of its unit, not always frames


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory):
    import shutil

    from paicli.shot.example import make_example_shot

    root = tmp_path_factory.mktemp("list")
    make_example_shot(root / "gen", width=64, height=48, frames=12, start_tc="01:00:00:00", reel="A001C001",
                      rate=Fraction(24))
    (root / "media").mkdir()
    shutil.copy(root / "gen" / "plate.mov", root / "media" / "A001C001_take1.mov")
    shutil.copytree(root / "gen" / "refs", root / "refs" / "A001C001")
    (root / "cut.edl").write_text(
        "TITLE: two shots\nFCM: NON-DROP FRAME\n"
        "001  A001C001 V     C        01:00:00:00 01:00:00:04 00:00:00:00 00:00:00:04\n"
        "* FROM CLIP NAME:  A001C001\n"
        "002  A001C001 V     C        01:00:00:06 01:00:00:10 00:00:00:04 00:00:00:08\n"
        "* FROM CLIP NAME:  A001C001\n")
    return root


@pytest.mark.parametrize("mode", ["plain", "json"])
def test_render_counts_its_shots_in_shots(two_shots, tmp_path, capsys, mode):
    assert run(["render", str(two_shots / "cut.edl"), "--media-root", str(two_shots / "media"), "-o",
                str(tmp_path / "o"), "--no-qc", "--progress", mode]) == 0
    err = capsys.readouterr().err
    if mode == "plain":
        lines = _plain(err)
        assert "shots: start (2 shots)" in lines
        assert [line for line in lines if line.startswith("shots: done 2 shots in ")]
        assert not [line for line in lines if line.startswith("shots:") and "frame" in line]
    else:
        shots = [r for r in _records(err) if r.get("task") == "shots"]
        assert shots[0]["event"] == "start" and shots[-1]["event"] == "done"
        assert {r["unit"] for r in shots} == {"shots"} and shots[-1]["done"] == 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from paicli.engines.checkpoints import init_tiny
    from paicli.shot.example import make_example_shot

    root = tmp_path_factory.mktemp("dit")
    make_example_shot(root / "shot", width=96, height=64, frames=9)
    init_tiny(root / "tiny", seed=3)  # a checkpoint of its own: no other test has warmed its weights
    return root


def test_a_dit_replace_reports_loading_and_encoding_before_sampling_in_steps(tiny, tmp_path, capsys):
    argv = ["replace", str(tiny / "shot" / "plate.mov"), "--bg", str(tiny / "shot" / "refs"), "--engine", "dit",
            "--model", str(tiny / "tiny"), "--steps", "2", "--window", "2", "--overlap", "1", "--format", "exr"]
    assert run([*argv, "-o", str(tmp_path / "a"), "--progress", "json"]) == 0
    records = _records(capsys.readouterr().err)
    starts = [r for r in records if r["event"] == "start"]
    assert [r["task"] for r in starts] == ["load text encoder", "encode prompt", "load transformer", "load vae",
                                           "encode plate.mov", "encode references", "sample plate.mov",
                                           "replace plate.mov"]
    units = {r["task"]: (r["total"], r["unit"]) for r in starts}
    assert units["load transformer"] == (None, None)  # timed, not counted
    assert units["encode plate.mov"] == (9, "frames") and units["encode references"][1] == "stills"
    assert units["sample plate.mov"] == (2, "steps") and units["replace plate.mov"] == (9, "frames")
    done = {r["task"]: r for r in records if r["event"] == "done"}
    assert done["sample plate.mov"]["done"] == 2 and done["encode plate.mov"]["done"] == 9
    assert run([*argv, "-o", str(tmp_path / "b"), "--progress", "plain"]) == 0  # the weights are warm now
    lines = _plain(capsys.readouterr().err)
    assert "sample plate.mov: start (2 steps)" in lines and "encode plate.mov: start (9 frames)" in lines
    assert not [line for line in lines if line.startswith("load ")]  # nothing loads twice in a process
