#!/usr/bin/env python3
"""Reliability and security: the bad-input corpus, tallied (a script, not a test).

    python benchmarks/reliability.py [--jobs 2] [--only TEXT ...] [--json OUT] [--keep DIR]

Runs every case of ``tests/reliability/corpus.py`` (each in a fresh ``paicli`` process with
a timeout, side by side) and prints one markdown table, a row per category and a totals row:
cases tried; right exit code; right message (one ``paicli: error:`` line holding the
expected words, no traceback); hangs; partial outputs under final names; inputs lost or
changed; files written outside the output folder. The last three must be 0. Then every case
that broke a requirement, with its command and what it printed.

Rows from other checks (crash safety, resource limits) are added through :func:`extra_rows`.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reliability"))

from corpus import CASES, CATEGORIES, run_cases  # noqa: E402

COLUMNS = ("category", "tried", "right exit code", "right message", "hangs", "partial outputs",
           "inputs lost or changed", "written outside")


@dataclass
class Row:
    """One line of the table. Counts are of cases; the last four are failures (want 0)."""

    category: str
    tried: int = 0
    right_code: int = 0
    right_message: int = 0
    hangs: int = 0
    partial: int = 0
    lost_or_changed: int = 0
    outside: int = 0

    def cells(self) -> list[str]:
        return [self.category, str(self.tried), f"{self.right_code}/{self.tried}", f"{self.right_message}/{self.tried}",
                str(self.hangs), str(self.partial), str(self.lost_or_changed), str(self.outside)]

    def add(self, other: "Row") -> None:
        for k, v in asdict(other).items():
            if k != "category":
                setattr(self, k, getattr(self, k) + v)


def summarize(results: Iterable[dict]) -> list[Row]:
    """A row per category, in the corpus's order."""
    rows = {c: Row(c) for c in CATEGORIES}
    for r in results:
        row = rows.setdefault(r["category"], Row(r["category"]))
        row.tried += 1
        row.right_code += bool(r["code_ok"])
        row.right_message += bool(r["message_ok"])
        row.hangs += bool(r["hang"])
        row.partial += bool(r["partial_outputs"])
        row.lost_or_changed += bool(r["inputs_lost"] or r["inputs_changed"])
        row.outside += bool(r["outside"])
    return [row for row in rows.values() if row.tried]


# ------------------------------------------------------------------------------------------
# EXTENSION POINT: rows from other reliability checks (crash safety: runs killed mid-write
# and resumed; resource limits: memory, disk full, file handles) go here, as Row objects in
# the same columns, so they land in the table above the totals. Return [] when there are none.
def extra_rows(args: argparse.Namespace) -> list[Row]:
    """Crash safety (20 renders killed with SIGKILL at random points, then rerun) and resource
    limits (a full disk for render and replace; an engine out of host or GPU memory)."""
    if args.only:
        return []
    from crashes import (OutOfMemoryError, crash_trials, full_disk_render, full_disk_replace, oom_render,
                         oom_replace)

    with tempfile.TemporaryDirectory(prefix="paicli-crash-") as tmp:
        trials = crash_trials(Path(tmp), trials=20)
    crash = Row("crash safety (SIGKILL, rerun)", tried=len(trials))
    for t in trials:
        crash.right_code += t["rerun_code"] == 0
        crash.right_message += t["rerun_stderr"] == ""
        crash.partial += bool(t["incomplete_under_final_names"] or t["leftovers"])
        crash.lost_or_changed += bool(t["lost_or_different"] or t["source_changed"])
    limits = Row("resource limits (disk full, out of memory)")
    scenarios = [("full disk, render", full_disk_render, 73, "shot(s) not rendered"),
                 ("full disk, replace", full_disk_replace, 73, "File too large"),
                 ("out of memory, render", lambda root: oom_render(root, MemoryError), 75, "out of memory"),
                 ("GPU out of memory, render", lambda root: oom_render(root, OutOfMemoryError), 75, "out of memory"),
                 ("GPU out of memory, replace", oom_replace, 75, "out of memory")]
    for _, scenario, code, words in scenarios:
        with tempfile.TemporaryDirectory(prefix="paicli-limits-") as tmp:
            r = scenario(Path(tmp))
        limits.tried += 1
        limits.right_code += r["code"] == code
        limits.right_message += len(r["stderr"]) == 1 and words in r["stderr"][0] and "Traceback" not in r["stderr"][0]
        limits.partial += bool(r.get("leftovers") or r.get("outputs"))
        limits.lost_or_changed += not r.get("finished_kept", True)
    return [crash, limits] + module_rows()


def module_rows() -> list[Row]:
    """Rows of checks that do not fit one command per case (signals, concurrent runs): every
    ``tests/reliability/cases_*.py`` with an ``extra_rows()`` gives dicts in :class:`Row`'s fields."""
    import importlib

    rows = []
    for path in sorted((Path(__file__).resolve().parent.parent / "tests" / "reliability").glob("cases_*.py")):
        module = importlib.import_module(path.stem)
        if hasattr(module, "extra_rows"):
            rows += [Row(**{k: v for k, v in r.items() if k in Row.__dataclass_fields__}) for r in module.extra_rows()]
    return rows


def table(rows: Sequence[Row], extra: Sequence[Row] = ()) -> str:
    """The markdown table: ``rows``, then ``extra`` rows, then the totals of both."""
    total = Row("**total**")
    for row in [*rows, *extra]:
        total.add(row)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" if i == 0 else "---:"
                                                          for i in range(len(COLUMNS))) + "|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in [*rows, *extra, total]]
    return "\n".join(lines)


def failures(results: Iterable[dict]) -> str:
    out = []
    for r in results:
        if r["ok"]:
            continue
        argv = " ".join(shlex.quote(a) for a in r.get("argv") or [])
        out.append(f"- **{r['id']}**: {'; '.join(r['problems'])}\n  `paicli {argv}`")
    return "\n".join(out) or "(none)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=min(4, max(2, os.cpu_count() or 2)),
                    help="cases run side by side (default: the cores, 2 to 4)")
    ap.add_argument("--only", nargs="*", default=None, help="run only cases whose id contains one of these")
    ap.add_argument("--json", type=Path, help="also write every case's result here")
    ap.add_argument("--keep", type=Path, help="build and run the cases in this folder (kept)")
    args = ap.parse_args(argv)

    cases = [c for c in CASES if not args.only or any(t in c.id for t in args.only)]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="paicli-reliability-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        results = run_cases(cases, folder, jobs=args.jobs,
                            on_result=lambda r: print(f"{'ok  ' if r['ok'] else 'FAIL'} {r['id']} "
                                                      f"({r['seconds']} s)", file=sys.stderr, flush=True))
    ordered = [results[c.id] for c in cases]
    print(f"## Bad-input corpus: {len(cases)} cases, {time.perf_counter() - t0:.0f} s with {args.jobs} jobs\n")
    print(table(summarize(ordered), extra_rows(args)))
    print("\n### Cases that broke a requirement\n")
    print(failures(ordered))
    if args.json:
        args.json.write_text(json.dumps(ordered, indent=1, default=str) + "\n")
    return 0 if all(r["ok"] for r in ordered) else 1


if __name__ == "__main__":
    sys.exit(main())
