"""Progress goes to stderr: timestamped lines or JSON lines when not a terminal."""
import io
import json

from paicli.progress import Progress


def test_plain_mode_writes_timestamped_lines():
    buf = io.StringIO()
    with Progress("auto", stream=buf, interval=0.0) as p:  # StringIO is not a TTY -> plain
        assert p.mode == "plain"
        with p.task("key shot010", total=3) as t:
            for _ in range(3):
                t.advance()
        p.log("done all")
    lines = buf.getvalue().splitlines()
    assert lines[0].split(" ", 1)[1] == "key shot010: start (3 frames)"
    assert any("key shot010: done 3" in line for line in lines)
    assert lines[-1].endswith("done all")
    assert all(line[:4].isdigit() and "T" in line.split(" ")[0] for line in lines)  # ISO timestamps


def test_json_mode_writes_one_object_per_line():
    buf = io.StringIO()
    with Progress("json", stream=buf, interval=0.0) as p:
        with p.task("render", total=2) as t:
            t.advance(2)
    records = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [r["event"] for r in records][0] == "start" and records[-1]["event"] == "done"
    assert records[-1]["done"] == 2 and all("time" in r for r in records)


def test_none_mode_is_silent():
    buf = io.StringIO()
    with Progress("none", stream=buf) as p:
        with p.task("x", total=1) as t:
            t.advance()
    assert buf.getvalue() == ""


def test_rich_mode_draws_a_bar():
    buf = io.StringIO()
    with Progress("rich", stream=buf) as p:
        with p.task("encode", total=4) as t:
            t.advance(4)
    assert "encode" in buf.getvalue() and "4/4" in buf.getvalue()


class Clock:
    """``time.monotonic`` for :mod:`paicli.progress`, moved by hand."""

    def __init__(self):
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def _clock(monkeypatch) -> Clock:
    from types import SimpleNamespace

    import paicli.progress

    clock = Clock()
    monkeypatch.setattr(paicli.progress, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock


def test_a_rate_waits_for_a_second_and_a_second_unit_after_the_first(monkeypatch):
    clock = _clock(monkeypatch)
    with Progress("none") as p, p.task("sample", total=30, unit="steps") as t:
        clock.now += 40.0  # a first step that carried a warm-up
        t.advance()
        assert t.rate is None  # one step: nothing to measure yet
        clock.now += 0.5
        t.advance(5)
        assert t.rate is None  # half a second: noise
        clock.now += 0.5
        t.advance(5)
        assert t.rate == 10.0  # ten steps in the second since the first, not 11 in 41 s


def test_plain_lines_name_the_unit_and_give_rates_and_durations_as_people_read_them(monkeypatch):
    clock = _clock(monkeypatch)
    buf = io.StringIO()
    with Progress("plain", stream=buf, interval=2.0) as p, p.task("sample plate.mov", total=30, unit="steps") as t:
        clock.now += 1e-6
        t.advance()  # a line now would be microseconds into the task: none comes
        for _ in range(3):
            clock.now += 12.0
            t.advance()
        clock.now += 100.0
    lines = [line.split(" ", 1)[1] for line in buf.getvalue().splitlines()]
    assert lines == ["sample plate.mov: start (30 steps)",
                     "sample plate.mov: 2/30 steps",  # one step after the first: no rate from a single unit
                     "sample plate.mov: 3/30 steps (12 s per step)",
                     "sample plate.mov: 4/30 steps (12 s per step)",
                     "sample plate.mov: stopped at 4/30 steps after 2 min 16 s"]


def test_durations_read_in_the_largest_units_that_fit():
    from paicli.progress import duration

    assert [duration(s) for s in (0.43, 9.9, 19.4, 133, 3725)] == ["0.4 s", "9.9 s", "19 s", "2 min 13 s",
                                                                     "1 h 2 min"]


def test_an_engines_stages_become_tasks_each_in_its_own_unit():
    buf = io.StringIO()
    with Progress("json", stream=buf, interval=0.0) as p, p.stages("plate.mov", labels={"render": "replace"}) as cb:
        cb({"stage": "load", "subject": "transformer", "done": 0, "total": None, "unit": None})
        cb({"stage": "sample", "done": 0, "total": 2, "unit": "steps"})
        cb({"stage": "sample", "done": 2, "total": 2, "unit": "steps"})
        for frame in range(3):  # an engine that tells each frame (no "done"): one unit each
            cb({"stage": "render", "frame": frame, "total": 3})
    records = [json.loads(line) for line in buf.getvalue().splitlines()]
    tasks = [(r["task"], r["total"], r["unit"]) for r in records if r["event"] == "start"]
    assert tasks == [("load transformer", None, None), ("sample plate.mov", 2, "steps"),
                     ("replace plate.mov", 3, "frames")]
    done = [(r["task"], r["done"]) for r in records if r["event"] == "done"]
    assert done == [("load transformer", 0), ("sample plate.mov", 2), ("replace plate.mov", 3)]
