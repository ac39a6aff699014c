"""Crash and exhausted-machine scenarios, shared by ``test_crash_and_limits.py`` and
``benchmarks/reliability.py``: each returns what happened as a dict, the callers judge it.

Every scenario renders a small edit list over one generated 25 fps screen shot with the
classic engine to EXR (deterministic: a rerun reproduces the bytes)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path


def make_project(root: Path, shots: int = 4, size: tuple[int, int] = (48, 32)) -> Path:
    """An EDL of ``shots`` 6-frame events over one generated screen shot, with a reference map."""
    from paicli.shot.example import make_example_shot
    from paicli.media.timing import Timecode

    media = root / "A001C001"
    if not (media / "plate.mov").exists():
        make_example_shot(media, width=size[0], height=size[1], frames=6 * shots + 4, start_tc="01:00:00:00",
                          reel="A001C001", rate=Fraction(25))
    lines = ["TITLE: crash", "FCM: NON-DROP FRAME"]
    base = Timecode.parse("01:00:00:00", Fraction(25)).frames
    for n in range(shots):
        tc = [str(Timecode(f, 25)) for f in (base + 6 * n, base + 6 * n + 6, base + 6 * n, base + 6 * n + 6)]
        lines += [f"{n + 1:03d}  A001C001 V     C        {' '.join(tc)}", f"* FROM CLIP NAME:  shot{n + 1:02d}",
                  f"* SOURCE FILE: {media / 'plate.mov'}"]
    edl = root / "crash.edl"
    edl.write_text("\n".join(lines) + "\n")
    (root / "map.json").write_text(json.dumps({f"shot{n + 1:02d}": str(media / "refs") for n in range(shots)}))
    return edl


def render_argv(edl: Path, out: Path, *extra: str) -> list[str]:
    return ["render", str(edl), "-o", str(out), "--bg-map", str(edl.parent / "map.json"), "--format", "exr",
            "--rate", "25", "--no-qc", "--progress", "none", *extra]


def pictures(out: Path) -> dict[str, bytes]:
    """Every finished picture and camera file by path under ``out`` (sidecars and reports hold times)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and (p.suffix == ".exr" or p.name.endswith("_camera.json"))
            and ".paicli-partial" not in p.parts}


def leftovers(out: Path) -> list[str]:
    """Staging folders and temporaries left under ``out``."""
    return [str(p) for p in out.rglob("*") if ".paicli-partial" in p.parts or "paicli-tmp" in p.name]


def _cli(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paicli.cli", *argv], capture_output=True, text=True, **kw)


def _in_process(argv: list[str]) -> tuple[int, str, str]:
    from paicli.cli import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(argv)
    return code, out.getvalue(), err.getvalue()


def crash_trials(root: Path, trials: int = 20, seed: int = 8) -> list[dict]:
    """Render once uninterrupted; then ``trials`` times: SIGKILL the render at a random point
    of its run time, look at what stands under final names, rerun it to the end and compare."""
    edl = make_project(root)
    full = float("inf")
    for name in ("whole", "warm"):  # the first run pays for cold caches: time the warm one too
        t0 = time.monotonic()
        done = _cli(render_argv(edl, root / name), timeout=600)
        full = min(full, time.monotonic() - t0)
        if done.returncode != 0:
            raise RuntimeError(f"the uninterrupted render failed: {done.stderr.strip()}")
    reference = pictures(root / "whole")
    source = (root / "A001C001" / "plate.mov").read_bytes()
    rng = random.Random(seed)
    out_trials = []
    for trial in range(trials):
        out = root / f"trial{trial:02d}"
        delay = rng.uniform(0.05, 0.85) * full  # inside the run even when this one goes a little faster
        proc = subprocess.Popen([sys.executable, "-m", "paicli.cli", *render_argv(edl, out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=delay)
            killed = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            killed = True
        after_kill = pictures(out) if out.exists() else {}
        incomplete = [n for n, data in after_kill.items() if data != reference.get(n)]
        code, _, err = _in_process(render_argv(edl, out))
        final = pictures(out)
        out_trials.append({"trial": trial, "delay_s": round(delay, 2), "killed": killed,
                           "finished_before_rerun": len(after_kill), "incomplete_under_final_names": incomplete,
                           "rerun_code": code, "rerun_stderr": err.strip(),
                           "lost_or_different": sorted(set(reference) ^ set(final)
                                                       | {n for n in final if final[n] != reference.get(n)}),
                           "leftovers": leftovers(out),
                           "source_changed": (root / "A001C001" / "plate.mov").read_bytes() != source})
    return out_trials


def file_size_limit(limit_bytes: int):
    """A ``preexec_fn``: a full disk, per file (writes past the limit fail with EFBIG instead
    of the process being killed by SIGXFSZ)."""
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return pre


def full_disk_render(root: Path) -> dict:
    """Two shots finished; a third, larger shot added and rendered with a 120 kB file-size limit."""
    from paicli.shot.example import make_example_shot

    edl = make_project(root, shots=2)
    out = root / "out"
    code, _, err = _in_process(render_argv(edl, out))
    if code != 0:
        raise RuntimeError(f"the first render failed: {err.strip()}")
    finished = pictures(out)
    make_example_shot(root / "big", width=640, height=360, frames=8, rate=Fraction(25), reel="B001C001")
    edl.write_text(edl.read_text() + "003  B001C001 V     C        01:00:00:00 01:00:00:06 01:00:00:12 01:00:00:18\n"
                   f"* FROM CLIP NAME:  big\n* SOURCE FILE: {root / 'big' / 'plate.mov'}\n")
    refs = {"shot01": root / "A001C001" / "refs", "shot02": root / "A001C001" / "refs", "big": root / "big" / "refs"}
    (root / "map.json").write_text(json.dumps({k: str(v) for k, v in refs.items()}))
    r = _cli(render_argv(edl, out, "--json"), preexec_fn=file_size_limit(120_000), timeout=600)
    doc = json.loads(r.stdout) if r.stdout.strip() else {}
    return {"code": r.returncode, "stderr": r.stderr.strip().splitlines(),
            "results": {x["shot"]: x for x in doc.get("summary", {}).get("results", [])},
            "finished_kept": pictures(out) == finished, "leftovers": leftovers(out)}


def full_disk_replace(root: Path) -> dict:
    """``replace`` of a 320x180 shot with a 40 kB file-size limit."""
    from paicli.shot.example import make_example_shot

    make_example_shot(root / "s", width=320, height=180, frames=4)
    out = root / "out"
    r = _cli(["replace", str(root / "s" / "plate.mov"), "--bg", str(root / "s" / "refs"), "-o", str(out),
              "--progress", "none"], preexec_fn=file_size_limit(40_000), timeout=600)
    return {"code": r.returncode, "stderr": r.stderr.strip().splitlines(),
            "outputs": sorted(p.name for p in out.iterdir()) if out.exists() else []}


class OutOfMemoryError(RuntimeError):
    """What torch raises when a GPU runs out of memory (torch.OutOfMemoryError)."""


@contextlib.contextmanager
def engine_out_of_memory(error: type[BaseException], on_call: int = 2):
    """The classic engine raises ``error`` on its ``on_call``-th shot (a simulated OOM)."""
    from engine.classic.replace import ClassicReplaceEngine

    real = ClassicReplaceEngine.replace
    calls = []

    def replace(self, open_frames, count, refs, on_progress=None):
        calls.append(count)
        if len(calls) == on_call:
            raise error("CUDA out of memory. Tried to allocate 20.00 GiB")
        yield from real(self, open_frames, count, refs, on_progress)

    ClassicReplaceEngine.replace = replace
    try:
        yield
    finally:
        ClassicReplaceEngine.replace = real


def oom_render(root: Path, error: type[BaseException]) -> dict:
    """Three shots, the second's engine out of memory; then a retry with memory enough."""
    edl = make_project(root, shots=3)
    out = root / "out"
    with engine_out_of_memory(error):
        code, stdout, err = _in_process(render_argv(edl, out, "--json"))
    doc = json.loads(stdout)
    kept = pictures(out)
    retry, _, _ = _in_process(render_argv(edl, out))
    return {"code": code, "stderr": err.strip().splitlines(),
            "results": [(x["shot"], x["status"], x["exit_code"], x["error"]) for x in doc["summary"]["results"]],
            "leftovers": leftovers(out), "retry_code": retry,
            "finished_kept": all(pictures(out).get(k) == v for k, v in kept.items())}


def oom_replace(root: Path) -> dict:
    from paicli.shot.example import make_example_shot

    make_example_shot(root / "s", width=64, height=48, frames=3)
    with engine_out_of_memory(OutOfMemoryError, on_call=1):
        code, _, err = _in_process(["replace", str(root / "s" / "plate.mov"), "--bg", str(root / "s" / "refs"),
                                    "-o", str(root / "out"), "--progress", "none"])
    return {"code": code, "stderr": err.strip().splitlines(),
            "outputs": sorted(p.name for p in (root / "out").iterdir()) if (root / "out").exists() else []}
