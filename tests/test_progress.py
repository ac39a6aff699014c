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
