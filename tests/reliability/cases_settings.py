"""Settings and farm cases of the corpus, and the stop-signal trials.

- "farm variables": array-job variables (``SLURM_ARRAY_TASK_ID``, ``JOB_COMPLETION_INDEX``,
  ``PAICLI_SHARD_COUNT`` ...) that are set but are not whole numbers 0 or more: exit 78
  naming the variable, never a render of every shot.
- "non-finite values": nan, inf and -inf on the command line (2), in ``PAICLI_*`` variables
  and in ``paicli.toml`` (78); a TOML boolean where a number goes; a first frame past nine
  digits; a ``paicli.toml`` nested 100,000 deep (78 naming the file, not a RecursionError or
  a dotted key whose prefixes fill the memory).
- "signals" (:func:`extra_rows`): SIGTERM, SIGHUP and SIGINT sent to a running ``render``
  (an EXR sequence) and a running ``key`` (a ProRes movie): exit 128 + the signal number,
  one line ``interrupted (SIGTERM)``, no temporary file, staging folder or partial output
  left, inputs intact.

``corpus`` imports this module while it is being imported itself (its ``CASES``): import
``corpus`` first; names it defines after its ``CASES`` (``snapshot``) are used as
``corpus.snapshot`` at run time.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from fractions import Fraction
from pathlib import Path

import corpus
from corpus import PAICLI, Case, Workspace, _bg_map, _edl, _render, _replace, child_env, run_trials

# ------------------------------------------------------------------------------ farm variables


def _sharded_render(ws: Workspace) -> list[str]:
    edl = ws.write("list/cut.edl", _edl([(b"A001C001", b"A001C001", str(ws.plate).encode())]))
    return _render(edl, ws, "--bg-map", str(_bg_map(ws, ["A001C001"])), "--no-qc", "--format", "exr")


def _farm(name: str, env: dict[str, str], fragment: str | tuple[str, ...]) -> Case:
    return Case("farm variables", name, _sharded_render, (78,), fragment, env=env, writes=False)


_FARM = [
    _farm("slurm_task_id_abc", {"SLURM_ARRAY_TASK_ID": "abc", "PAICLI_SHARD_COUNT": "2"}, "SLURM_ARRAY_TASK_ID='abc'"),
    _farm("slurm_task_id_1.5", {"SLURM_ARRAY_TASK_ID": "1.5", "PAICLI_SHARD_COUNT": "2"}, "SLURM_ARRAY_TASK_ID='1.5'"),
    _farm("k8s_completion_index_-1", {"JOB_COMPLETION_INDEX": "-1", "PAICLI_SHARD_COUNT": "2"},
          "JOB_COMPLETION_INDEX='-1'"),
    _farm("sge_task_id_x", {"SGE_TASK_ID": "2x", "PAICLI_SHARD_COUNT": "2"}, "SGE_TASK_ID='2x'"),
    _farm("aws_batch_index_unicode_digit", {"AWS_BATCH_JOB_ARRAY_INDEX": "\u0663", "PAICLI_SHARD_COUNT": "4"},
          "AWS_BATCH_JOB_ARRAY_INDEX"),
    _farm("shard_count_abc", {"JOB_COMPLETION_INDEX": "0", "PAICLI_SHARD_COUNT": "abc"}, "PAICLI_SHARD_COUNT='abc'"),
    _farm("shard_count_0", {"JOB_COMPLETION_INDEX": "0", "PAICLI_SHARD_COUNT": "0"}, "PAICLI_SHARD_COUNT=0"),
    _farm("shard_count_-1", {"JOB_COMPLETION_INDEX": "0", "PAICLI_SHARD_COUNT": "-1"}, "PAICLI_SHARD_COUNT='-1'"),
    _farm("shard_count_1.5", {"JOB_COMPLETION_INDEX": "0", "PAICLI_SHARD_COUNT": "1.5"}, "PAICLI_SHARD_COUNT='1.5'"),
    _farm("shard_count_5001_digits", {"JOB_COMPLETION_INDEX": "0", "PAICLI_SHARD_COUNT": "9" * 5001},
          ("PAICLI_SHARD_COUNT", "too large")),
    _farm("slurm_task_count_x", {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "x"},
          "SLURM_ARRAY_TASK_COUNT='x'"),
    _farm("slurm_task_min_x", {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "x", "SLURM_ARRAY_TASK_COUNT": "2"},
          "SLURM_ARRAY_TASK_MIN='x'"),
    _farm("slurm_task_max_x", {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MAX": "x"}, "SLURM_ARRAY_TASK_MAX='x'"),
    _farm("opencue_shard_first_x", {"CUE_IFRAME": "1", "PAICLI_SHARD_COUNT": "2", "PAICLI_SHARD_FIRST": "x"},
          "PAICLI_SHARD_FIRST='x'"),
]


# ------------------------------------------------------------------------------ non-finite values


def _with_project_file(text: str):
    """A replace run whose working folder holds ``paicli.toml`` = ``text``."""
    def build(ws: Workspace) -> list[str]:
        ws.write("cwd/paicli.toml", text)
        return _replace(ws.plate, ws.refs, ws)
    return build


def _option(*extra: str):
    return lambda ws: _replace(ws.plate, ws.refs, ws, *extra)


def _values(name: str, build, codes: tuple[int, ...], fragment, env: dict | None = None) -> Case:
    return Case("non-finite values", name, build, codes, fragment, env=env, writes=False)


_DEEP = 100_000
_SETTINGS = [
    _values("option_parallax_nan", _option("--parallax", "nan"), (2,), ("--parallax", "finite")),
    _values("option_shutter_angle_nan", _option("--shutter-angle", "nan"), (2,), ("--shutter-angle", "finite")),
    _values("option_strength_inf", _option("--strength", "inf"), (2,), ("--strength", "finite")),
    _values("option_shutter_angle_-inf", _option("--shutter-angle=-inf"), (2,), ("--shutter-angle", "finite")),
    _values("option_first_frame_20_digits", _option("--first-frame", "99999999999999999999", "--format", "exr"), (2,),
            ("first frame", "too large")),
    _values("env_strength_nan", _option(), (78,), ("PAICLI_STRENGTH", "finite"), env={"PAICLI_STRENGTH": "nan"}),
    _values("env_parallax_inf", _option(), (78,), ("PAICLI_PARALLAX", "finite"), env={"PAICLI_PARALLAX": "inf"}),
    _values("env_first_frame_20_digits", _option("--format", "exr"), (78,), "PAICLI_FIRST_FRAME",
            env={"PAICLI_FIRST_FRAME": "99999999999999999999"}),
    _values("project_strength_nan", _with_project_file("strength = nan\n"), (78,), ("paicli.toml", "finite")),
    _values("project_shutter_angle_-inf", _with_project_file("[replace]\nshutter_angle = -inf\n"), (78,),
            ("paicli.toml", "finite")),
    _values("project_seed_true", _with_project_file("seed = true\n"), (78,), ("paicli.toml", "seed")),
    _values("project_strength_true", _with_project_file("strength = true\n"), (78,), ("paicli.toml", "strength")),
    _values("project_handles_1e400", _with_project_file("handles = 1e400\n"), (78,), ("paicli.toml", "handles")),
    _values("project_int_of_5000_digits", _with_project_file("seed = " + "9" * 5000 + "\n"), (78,), "paicli.toml"),
    _values("project_arrays_100000_deep", _with_project_file("a = " + "[" * _DEEP + "]" * _DEEP + "\n"), (78,),
            "paicli.toml"),
    _values("project_inline_tables_100000_deep", _with_project_file("a = " + "{b=" * _DEEP + "1" + "}" * _DEEP + "\n"),
            (78,), "paicli.toml"),
    _values("project_table_header_100000_parts", _with_project_file("[" + ".".join(["a"] * _DEEP) + "]\n"), (78,),
            "paicli.toml"),
    _values("project_dotted_key_100000_parts", _with_project_file("a" + ".a" * _DEEP + " = 1\n"), (78,),
            "paicli.toml"),
]

CASES = _FARM + _SETTINGS


# ------------------------------------------------------------------------------ stop signals

SIGNALS = ("SIGTERM", "SIGHUP", "SIGINT")
TRIAL_COMMANDS = ("render", "key")
TRIAL_TIMEOUT = 120.0


def make_signal_shot(folder: Path) -> Path:
    """A shot long enough to be still running when signalled: 96 frames of 256x144 at 24 fps
    (a few seconds to key or replace); its references in ``refs/``."""
    from paicli.shot.example import make_example_shot

    folder = Path(folder)
    if not (folder / "meta.json").exists():
        make_example_shot(folder, width=256, height=144, frames=96, rate=Fraction(24), start_tc="01:00:00:00")
    return folder


def _trial_argv(command: str, shot: Path, root: Path, out: Path) -> list[str]:
    if command == "key":
        return ["key", str(shot / "plate.mov"), "-o", str(out), "--format", "prores", "--progress", "json"]
    edl = root / "list" / "cut.edl"
    edl.parent.mkdir(parents=True, exist_ok=True)
    edl.write_text("TITLE: signals\nFCM: NON-DROP FRAME\n"
                   "001  A001C001 V     C        01:00:00:00 01:00:04:00 00:00:00:00 00:00:04:00\n"
                   f"* FROM CLIP NAME:  shot01\n* SOURCE FILE: {shot / 'plate.mov'}\n")
    bg_map = root / "list" / "map.json"
    bg_map.write_text(json.dumps({"shot01": str(shot / "refs")}))
    return ["render", str(edl), "-o", str(out), "--bg-map", str(bg_map), "--format", "exr", "--progress", "json"]


def _frames_started(line: str, command: str) -> bool:
    """The JSON progress line that opens the frame loop (``key plate.mov``, ``replace plate.mov``)."""
    try:
        rec = json.loads(line)
    except ValueError:
        return False
    task = str(rec.get("task", "")) if isinstance(rec, dict) else ""
    return rec.get("event") == "start" and task.startswith("replace " if command == "render" else "key ")


def _default_signals() -> None:
    """In the trial's process: every stop signal at its default, as a farm job or a terminal
    gives it (a test run started in the background inherits SIGINT ignored, which paicli rightly
    keeps ignored)."""
    for name in SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_DFL)


def signal_trial(root: str | os.PathLike, shot: Path, command: str, sig_name: str,
                 timeout: float = TRIAL_TIMEOUT, delay: float = 0.0) -> dict:
    """Run ``paicli COMMAND`` on ``shot`` in the empty folder ``root``, send ``sig_name`` to it
    ``delay`` seconds after its frame loop starts, and report what was left: exit code, stderr lines
    (JSON progress left out), final-named files in the output folder, temporary files and
    staging entries anywhere under it, inputs lost or changed, writes outside it."""
    root = Path(root)
    out, cwd = root / "out", root / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    argv = _trial_argv(command, shot, root, out)
    before_shot, before_root = corpus.snapshot(shot), corpus.snapshot(root)
    signum = int(getattr(signal, sig_name))
    proc = subprocess.Popen(PAICLI + argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=child_env(), start_new_session=True,
                            preexec_fn=_default_signals)
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        for raw in proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            lines.append(line)
            if _frames_started(line, command):
                started.set()
        proc.stderr.close()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    t0 = time.monotonic()
    while not started.wait(0.05) and proc.poll() is None and time.monotonic() - t0 < timeout:
        pass
    if started.is_set() and delay > 0:
        time.sleep(delay)
    mid_run = started.is_set() and proc.poll() is None
    if mid_run:
        os.kill(proc.pid, signum)
    hung = False
    try:
        code = proc.wait(max(1.0, timeout - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        hung = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        code = proc.wait()
    reader.join(10)

    after_shot, after_root = corpus.snapshot(shot), corpus.snapshot(root)
    messages = [ln for ln in lines if ln.strip() and not ln.startswith("{")]
    want = f"paicli: error: interrupted ({sig_name})"
    in_out = [k[len("out/"):] for k, v in after_root.items() if corpus._under(k, "out") and k != "out" and v != "dir"]
    new = [k for k in after_root if k not in before_root]
    return {
        "command": command, "signal": sig_name, "argv": argv, "mid_run": mid_run, "code": code, "hang": hung,
        "right_code": mid_run and not hung and code == 128 + signum,
        "right_message": messages == [want], "stderr": messages[:6],
        "partial": sorted(k for k in in_out if not corpus._hidden(k)),
        "temps": sorted(k for k in after_root if "paicli-tmp" in k),
        "staging": sorted(k for k in after_root if ".paicli-partial" in k.split("/")),
        "lost_or_changed": sorted(k for k, v in before_shot.items() if after_shot.get(k) != v)
        + sorted(k for k, v in before_root.items() if v != "dir" and after_root.get(k) != v),
        "outside": sorted(k for k in new if not corpus._under(k, "out")),
    }


def run_signal_trials(folder: str | os.PathLike) -> list[dict]:
    """Every (command, signal) trial, one after another, each in ``folder/<command>-<signal>``."""
    folder = Path(folder)
    shot = make_signal_shot(folder / "shot")
    return [signal_trial(folder / f"{c}-{s}", shot, c, s) for c in TRIAL_COMMANDS for s in SIGNALS]


def signals_row(trials: list[dict]) -> dict:
    """The trials as one table row (counts of trials). A trial left partial if any final-named
    file, temporary file or staging entry remained."""
    return {
        "category": "signals", "tried": len(trials),
        "right_code": sum(bool(t["right_code"]) for t in trials),
        "right_message": sum(bool(t["right_message"]) for t in trials),
        "hangs": sum(bool(t["hang"]) for t in trials),
        "partial": sum(bool(t["partial"] or t["temps"] or t["staging"]) for t in trials),
        "lost_or_changed": sum(bool(t["lost_or_changed"]) for t in trials),
        "outside": sum(bool(t["outside"]) for t in trials),
    }


def extra_rows() -> list[dict]:
    """Rows the one-command case runner cannot make: the stop-signal trials."""
    return [signals_row(run_trials(run_signal_trials, "paicli-signals-"))]


if __name__ == "__main__":  # python tests/reliability/cases_settings.py: the signal trials, one JSON line each
    run_trials(run_signal_trials, "paicli-signals-", show=True)
