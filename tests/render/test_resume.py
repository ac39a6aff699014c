"""A 20-shot edit list renders, is killed mid-run, and resumes without re-rendering finished
shots; the outputs are byte-identical to an uninterrupted run's."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

from paicli.cli import run
from paicli.media.timing import Timecode


def _project(root: Path) -> Path:
    from paicli.shot.example import make_example_shot

    for reel, tc in (("A001C001", "01:00:00:00"), ("A001C002", "02:00:00:00")):
        make_example_shot(root / reel, width=48, height=32, frames=48, start_tc=tc, reel=reel, rate=Fraction(25))
    lines = ["TITLE: twenty", "FCM: NON-DROP FRAME"]
    rec = 0
    for n in range(1, 21):
        reel = "A001C001" if n % 2 else "A001C002"
        src = Timecode.parse("01:00:00:00" if n % 2 else "02:00:00:00", Fraction(25)).frames + (n * 2) % 40
        tc = [str(Timecode(f, 25)) for f in (src, src + 4, rec, rec + 4)]
        lines += [f"{n:03d}  {reel} V     C        {' '.join(tc)}", f"* FROM CLIP NAME:  shot{n:02d}",
                  f"* SOURCE FILE: {root / reel / 'plate.mov'}"]
        rec += 4
    (root / "twenty.edl").write_text("\n".join(lines) + "\n")
    (root / "map.json").write_text(json.dumps({f"shot{n:02d}": str(root / "A001C001" / "refs") for n in range(1, 21)}))
    return root / "twenty.edl"


def _argv(edl: Path, out: Path) -> list[str]:
    return ["render", str(edl), "-o", str(out), "--bg-map", str(edl.parent / "map.json"), "--format", "exr",
            "--handles", "1", "--progress", "none"]


def _frames(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*_comp.*.exr"))}


def _finished_count(out: Path) -> int:
    """Render sidecars of shots moved into place under ``out``, while the run moves folders
    about (os.walk skips a folder renamed away mid-walk; Path.rglob would raise)."""
    count = 0
    for _, dirs, names in os.walk(out):
        dirs[:] = [d for d in dirs if d != ".paicli-partial"]  # a sidecar there is not finished yet
        count += sum(n.endswith("_render.json") for n in names)
    return count


def test_a_killed_render_resumes_to_the_same_bytes(tmp_path, capsys):
    edl = _project(tmp_path)
    assert run(_argv(edl, tmp_path / "whole")) == 0
    capsys.readouterr()
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "paicli.cli", *_argv(edl, out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _finished_count(out) < 6 and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # finished = moved into place (a kill can fall after a sidecar is written in staging, before the move)
    finished = {p.parent for p in out.rglob("*_render.json") if ".paicli-partial" not in p.parts}
    assert 6 <= len(finished) < 20, "the run should be killed part way"
    # nothing under a final name but finished shots: every shot folder holds its render sidecar
    shot_dirs = {p.parent for p in out.rglob("*_comp.*.exr") if ".paicli-partial" not in p.parts}
    assert shot_dirs <= finished
    assert not list(out.glob("*_conform.*"))
    assert run([*_argv(edl, out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    statuses = [r["status"] for r in doc["summary"]["results"]]
    assert statuses.count("skipped") == len(finished) and statuses.count("rendered") == 20 - len(finished)
    assert _frames(out) == _frames(tmp_path / "whole")
    assert not (out / ".paicli-partial").exists() and not list(out.rglob("*paicli-tmp*"))
    assert (out / "twenty_conform.edl").read_text().count("SOURCE FILE") == 20
