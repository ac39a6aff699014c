"""Render cases of the corpus: name collisions, a render over its own media, and the
concurrency trials.

- "name collisions": two events that a ``--name-template`` without ``{shot}`` or ``{index}``
  names alike (the same clip under ``{clip}_v{version}``, the same reel under
  ``{reel}/{reel}_v{version}``, clips ``.`` and ``..``, clips differing only in case): both
  shots render, each under a version of its own (exit 0, both in the ``--json`` results,
  two render sidecars whose names differ case-insensitively).
- "output equals input": ``render -o`` on the media folder with a template that yields the
  media's name: exit 73 naming both before any work, the source intact, nothing written.
- "concurrency" (:func:`extra_rows`): real ``paicli render`` processes into one folder at
  once (the trials of ``tests/render/lock_trials.py``, also run by
  ``tests/render/test_lock.py``): two unrelated renders started together, two shards of one
  list, one shard started twice, and a render beside the lock files of a killed run.

``corpus`` imports this module while it is being imported itself (its ``CASES``): import
``corpus`` first.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from corpus import Case, Workspace, _bg_map, _decoded, _edl, _render, run_trials

COLLIDE = "name collisions"
SAME = "output equals input"


def _two_events(ws: Workspace, events: list[tuple[bytes, bytes]], template: str) -> list[str]:
    """A list of (reel, clip name) events over the example plate, rendered for real under ``template``."""
    source = str(ws.plate).encode()
    edl = ws.write("list/cut.edl", _edl([(reel, clip, source) for reel, clip in events]))
    bgmap = _bg_map(ws, {_decoded(c).strip() for _, c in events} | {_decoded(r) for r, _ in events})
    return _render(edl, ws, "--bg-map", str(bgmap), "--name-template", template, "--no-qc", "--format", "exr",
                   "--json")


def _both_shots_kept(stdout: bytes) -> str | None:
    """What is wrong with a collision run's ``--json``: both shots rendered, with render
    sidecars of names that differ even case-insensitively."""
    results = json.loads(stdout)["summary"]["results"]
    if [r["status"] for r in results] != ["rendered", "rendered"]:
        return f"statuses {[r['status'] for r in results]}, expected both rendered"
    sidecars = [next((p for p in r["outputs"] if p.endswith("_render.json")), None) for r in results]
    if None in sidecars or len({p.casefold() for p in sidecars}) != 2:
        return f"the shots' render sidecars are not two different files: {sidecars}"
    return None


def _over_its_media(ws: Workspace) -> list[str]:
    """``-o`` on the media folder, where the media is named as the shot's comp will be."""
    media = ws.path("media/A001C001_v001_comp.mov")
    shutil.copy(ws.plate, media)
    edl = ws.write("list/cut.edl", _edl([(b"A001C001", b"A001C001", str(media).encode())]))
    bgmap = _bg_map(ws, ["A001C001"])
    return ["render", str(edl), "-o", str(media.parent), "--progress", "none", "--bg-map", str(bgmap),
            "--name-template", "{clip}_v{version}", "--no-qc", "--format", "prores"]


CASES = [
    Case(COLLIDE, "same_clip_twice_under_clip_version", lambda ws: _two_events(
        ws, [(b"A001C001", b"A001C001")] * 2, "{clip}_v{version}"), (0,), check_stdout=_both_shots_kept),
    Case(COLLIDE, "same_reel_twice_under_reel_folder", lambda ws: _two_events(
        ws, [(b"A001C001", b"first"), (b"A001C001", b"second")], "{reel}/{reel}_v{version}"), (0,),
         check_stdout=_both_shots_kept),
    Case(COLLIDE, "clips_dot_and_dotdot", lambda ws: _two_events(
        ws, [(b"A001C001", b"."), (b"A001C001", b"..")], "{clip}_v{version}"), (0,), check_stdout=_both_shots_kept),
    Case(COLLIDE, "clips_differing_only_in_case", lambda ws: _two_events(
        ws, [(b"A001C001", b"A001C001"), (b"A001C001", b"a001c001")], "{clip}_v{version}"), (0,),
         check_stdout=_both_shots_kept),
    Case(SAME, "render_into_the_media_folder_over_the_media", _over_its_media, (73,), "would overwrite the source",
         writes=False),
]


def _trials():
    here = Path(__file__).resolve().parent.parent / "render"
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    import lock_trials

    return lock_trials


def run_concurrency_trials(folder: str | Path) -> list[dict]:
    """Every concurrency trial, one after another, each in ``folder/<trial>``."""
    trials = _trials()
    return [trial(Path(folder) / trial.__name__) for trial in trials.TRIALS]


def concurrency_row(trials: list[dict]) -> dict:
    """The trials as one table row (counts of trials), with each trial's problems."""
    row = {"category": "concurrency", "tried": len(trials)}
    for key in ("right_code", "right_message", "hangs", "partial", "lost_or_changed", "outside"):
        row[key] = sum(t[key] for t in trials)
    row["trials"] = [{"trial": t["trial"], "ok": t["ok"], "problems": t["problems"]} for t in trials]
    return row


def extra_rows() -> list[dict]:
    """Rows the one-command case runner cannot make: the concurrency trials."""
    return [concurrency_row(run_trials(run_concurrency_trials, "paicli-concurrency-"))]


if __name__ == "__main__":  # python tests/reliability/cases_render.py: the concurrency trials, one JSON line each
    run_trials(run_concurrency_trials, "paicli-concurrency-", show=True)
