"""Concurrency trials: ``paicli render`` processes into one output folder at once.

Shared by ``tests/render/test_lock.py`` (one test per trial) and the reliability table
(``tests/reliability/cases_render.py``, ``extra_rows``). Each trial builds a tiny project in
an empty folder, runs real ``paicli render`` processes side by side and reports, in the
corpus's columns, whether every process ended with an acceptable code and one clear line,
whether one hung, left something half-written under a final name (or staging, temporaries
or lock files once all were done), changed an input or wrote outside the output folder.

To make the processes overlap whatever the machine's load, a process may be started with a
delay before each shot it renders (the real ``render_shot`` is wrapped; nothing else
changes): the shot's lock is held while it waits, as it is while a slow shot renders.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

TIMEOUT = 120.0
# python -c WRAPPER DELAY ARGV...: paicli with a pause before every shot it renders
WRAPPER = """
import sys, time
import paicli.render.run as run
real, delay = run.render_shot, float(sys.argv[1])
def slow(*a, **k):
    time.sleep(delay)
    return real(*a, **k)
run.render_shot = slow
sys.argv = ["paicli", *sys.argv[2:]]
from paicli.cli import main
main()
"""


def project(root: Path, shots: int = 2) -> Path:
    """``root/cut.edl``: ``shots`` events of 4 frames of a tiny example plate, references by a map."""
    from paicli.shot.example import make_example_shot

    root.mkdir(parents=True, exist_ok=True)
    make_example_shot(root / "shot", width=48, height=32, frames=12, start_tc="01:00:00:00", reel="A001C001",
                      rate=Fraction(24))
    lines = ["TITLE: trial", "FCM: NON-DROP FRAME"]
    for i in range(shots):
        src = 4 * (i % 2)
        lines += [f"{i + 1:03d}  A001C001 V     C        01:00:00:{src:02d} 01:00:00:{src + 4:02d} "
                  f"00:00:{4 * i // 24:02d}:{4 * i % 24:02d} 00:00:{(4 * i + 4) // 24:02d}:{(4 * i + 4) % 24:02d}",
                  f"* FROM CLIP NAME:  clip{i + 1}", f"* SOURCE FILE: {root / 'shot' / 'plate.mov'}"]
    (root / "cut.edl").write_text("\n".join(lines) + "\n")
    (root / "map.json").write_text(json.dumps({"A001C001": str(root / "shot" / "refs")}))
    return root / "cut.edl"


def argv(edl: Path, out: Path, *extra: str) -> list[str]:
    return ["render", str(edl), "-o", str(out), "--bg-map", str(edl.parent / "map.json"), "--format", "exr",
            "--no-qc", "--handles", "0", "--progress", "none", *extra]


def environment() -> dict:
    """The caller's environment without paicli settings or farm variables (a shard is given by --shard)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAICLI_", "SLURM_", "CUE_", "SGE_", "PBS_",
                                                                      "AWS_BATCH_"))
           and k != "JOB_COMPLETION_INDEX"}
    env.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return env


def start(args: list[str], delay: float = 0.0) -> subprocess.Popen:
    """``paicli ARGS`` in a process group of its own, pausing ``delay`` s before each shot."""
    cmd = [sys.executable, "-c", WRAPPER, str(delay), *args] if delay else [sys.executable, "-m", "paicli.cli", *args]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=environment(), start_new_session=True)


def finish(procs: list[subprocess.Popen], timeout: float = TIMEOUT) -> tuple[list[int | None], list[list[str]], bool]:
    """(exit codes, stderr lines, whether any hung: killed at ``timeout``) of ``procs``."""
    deadline = time.monotonic() + timeout
    codes, errs, hung = [], [], False
    for p in procs:
        try:
            _, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            codes.append(p.returncode)
        except subprocess.TimeoutExpired:
            hung = True
            kill(p)
            _, err = p.communicate()
            codes.append(None)
        errs.append([ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()])
    return codes, errs, hung


def kill(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def finished(out: Path) -> set[str]:
    """Shot ids whose render sidecar is in place (staging left out)."""
    ids = set()
    for p in out.rglob("*_render.json"):
        if ".paicli-partial" not in p.parts:
            ids.add(json.loads(p.read_text())["shot"]["id"])
    return ids


def incomplete(out: Path) -> list[str]:
    """Files under final names that belong to no finished shot (a comp without its sidecar)."""
    bad = []
    for p in out.rglob("*_comp.*"):
        if ".paicli-partial" in p.parts or p.name.startswith("."):
            continue
        stem = p.name.split("_comp.")[0]
        if not (p.parent / f"{stem}_render.json").is_file():
            bad.append(str(p.relative_to(out)))
    return bad


def leftovers(out: Path) -> list[str]:
    """Staging, temporaries and lock files left once every process has ended."""
    return [str(p.relative_to(out)) for p in out.rglob("*") if ".paicli-partial" in p.parts
            or p.name == ".paicli-partial" or "paicli-tmp" in p.name or p.name.endswith(".lock")
            or p.name == ".paicli-lock"]


def hashes(root: Path, skip: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and skip not in p.parents:
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def one_line(lines: list[str], *fragments: str) -> bool:
    """stderr is exactly one ``paicli: error:`` line holding every fragment, and no traceback."""
    return (len(lines) == 1 and lines[0].startswith("paicli: error:") and all(f in lines[0] for f in fragments)
            and "Traceback" not in lines[0])


def _row(name: str, root: Path, out: Path, before: dict, ok_code: bool, ok_message: bool, hung: bool,
         notes: list[str]) -> dict:
    after = hashes(root, out)
    lost_or_changed = any(after.get(k) != v for k, v in before.items())
    outside = sorted(set(after) - set(before))
    partial = incomplete(out) + leftovers(out)
    problems = list(notes)
    if partial:
        problems.append(f"left under final names or in staging: {partial[:5]}")
    if lost_or_changed:
        problems.append("an input was lost or changed")
    if outside:
        problems.append(f"written outside the output folder: {outside[:5]}")
    return {"category": "concurrency", "trial": name, "tried": 1, "right_code": int(ok_code),
            "right_message": int(ok_message), "hangs": int(hung), "partial": int(bool(partial)),
            "lost_or_changed": int(lost_or_changed), "outside": int(bool(outside)), "problems": problems,
            "ok": ok_code and ok_message and not (hung or partial or lost_or_changed or outside)}


def unrelated_renders_together(root: Path) -> dict:
    """Two whole-list renders into one folder, started together: one renders every shot (0);
    the other stops at once (75) naming the holder, or, if it came late, finds every shot
    finished (0)."""
    edl = project(root)
    out, before = root / "out", hashes(root, root / "out")
    procs = [start(argv(edl, out), delay=3.0) for _ in range(2)]
    codes, errs, hung = finish(procs)
    notes = []
    ok_code = not hung and all(c in (0, 75) for c in codes) and 0 in codes
    ok_code = ok_code and finished(out) == {"001_clip1", "002_clip2"} and (out / "cut_conform.edl").is_file()
    ok_message = all(one_line(e, "is being rendered by pid", "on host", ".paicli-lock") if c == 75 else e == []
                     for c, e in zip(codes, errs))
    if codes.count(75) != 1:
        notes.append(f"exit codes {codes}: the processes did not overlap (expected one 75)")
    if not ok_code or not ok_message:
        notes.append(f"exit codes {codes}, stderr {errs}")
    return _row("two unrelated renders into one folder, started together", root, out, before, ok_code, ok_message,
                hung, notes)


def shards_together(root: Path) -> dict:
    """Shards 1/2 and 2/2 of one list into one folder at once: both render their shots (0),
    and the last to finish conforms the list."""
    edl = project(root, shots=4)
    out, before = root / "out", hashes(root, root / "out")
    procs = [start(argv(edl, out, "--shard", f"{i}/2"), delay=1.0) for i in (1, 2)]
    codes, errs, hung = finish(procs)
    ok_code = not hung and codes == [0, 0] and len(finished(out)) == 4 and (out / "cut_conform.edl").is_file()
    ok_message = errs == [[], []]
    notes = [] if ok_code and ok_message else [f"exit codes {codes}, stderr {errs}, finished {sorted(finished(out))}"]
    return _row("two shards of one list into one folder", root, out, before, ok_code, ok_message, hung, notes)


def same_shard_twice(root: Path) -> dict:
    """One shard started twice at once (a farm that requeued a running task): one renders the
    shot (0); the other leaves it to the first (75, naming it)."""
    edl = project(root)
    out, before = root / "out", hashes(root, root / "out")
    procs = [start(argv(edl, out, "--shard", "1/2"), delay=3.0) for _ in range(2)]
    codes, errs, hung = finish(procs)
    ok_code = not hung and sorted(c for c in codes if c is not None) in ([0, 75], [0, 0]) and finished(out) == {
        "001_clip1"}
    ok_message = all(one_line(e, "left to pid", "on host") if c == 75 else e == [] for c, e in zip(codes, errs))
    notes = [] if ok_code and ok_message else [f"exit codes {codes}, stderr {errs}"]
    return _row("the same shard twice at once", root, out, before, ok_code, ok_message, hung, notes)


def beside_a_stale_lock(root: Path) -> dict:
    """A render killed (SIGKILL) while it held the folder and a shot, then rerun: the lock
    files it left stop nothing; the rerun renders every shot (0) and leaves no lock behind."""
    edl = project(root)
    out, before = root / "out", hashes(root, root / "out")
    victim = start(argv(edl, out), delay=60.0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((out / ".paicli-partial").glob("*.lock")):
        time.sleep(0.05)
    kill(victim)
    victim.wait()
    notes = []
    left = (out / ".paicli-lock").exists() and bool(list((out / ".paicli-partial").glob("*.lock")))
    if not left:
        notes.append("the killed run left no lock files: nothing was tried")
    codes, errs, hung = finish([start(argv(edl, out))])
    ok_code = left and codes == [0] and finished(out) == {"001_clip1", "002_clip2"}
    ok_message = errs == [[]]
    if not ok_code or not ok_message:
        notes.append(f"rerun: exit code {codes}, stderr {errs}")
    return _row("a render beside the lock files of a killed run", root, out, before, ok_code, ok_message, hung,
                notes)


TRIALS = [unrelated_renders_together, shards_together, same_shard_twice, beside_a_stale_lock]
