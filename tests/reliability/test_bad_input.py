"""Every bad input of the corpus ends cleanly: the right exit code, one clear line, nothing lost.

One test per case of ``corpus.py`` (ids ``category/name``). The selected cases run once, side
by side in fresh ``paicli`` processes (a module-scoped fixture), and each test then checks its
own case: the expected sysexits code (or exit 0 for inputs that must just work), exactly one
``paicli: error: ...`` line on stderr holding the case's message and no traceback, no hang,
no partial output under a final name, every input file intact and nothing written outside
the output folder.
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import CASES, Assets, run_cases  # noqa: E402

JOBS = int(os.environ.get("CORPUS_JOBS", "0")) or min(4, max(2, os.cpu_count() or 2))


@pytest.fixture(scope="module")
def results(request, tmp_path_factory):
    """Run the cases selected in this session (all of them, unless ``-k`` chose some)."""
    wanted = [item.callspec.params["case"] for item in request.session.items
              if getattr(item, "module", None) is request.module and hasattr(item, "callspec")]
    cases = list({c.id: c for c in wanted}.values()) or CASES
    assets = Assets(tmp_path_factory.mktemp("corpus_assets"))
    return run_cases(cases, tmp_path_factory.mktemp("corpus"), jobs=JOBS, assets=assets)


def _describe(r: dict) -> str:
    argv = " ".join(shlex.quote(a) for a in r.get("argv") or [])
    err = "\n    ".join(r.get("stderr_lines") or ["(nothing)"])
    return (f"\n  command: paicli {argv}\n  exit code: {r.get('code')} (expected {r['expected_codes']})"
            f"\n  stderr:\n    {err}")


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.needs_ffmpeg) if c.runs_ffmpeg else c
                                  for c in CASES], ids=[c.id for c in CASES])
def test_a_bad_input_ends_in_one_clear_line_and_loses_nothing(case, results):
    r = results[case.id]
    wrong = []
    if not r.get("argv"):
        wrong += r["problems"]  # the inputs could not be built
    if r["hang"]:
        wrong.append("hang: the run was killed at its timeout")
    elif not r["code_ok"]:
        wrong.append(f"exit code {r['code']}, expected {' or '.join(map(str, case.codes))}")
    if not r["message_ok"]:
        if case.must_succeed or r["code"] == 0:
            wrong.append("a successful run printed an error or a traceback")
        else:
            wrong.append(f"stderr is not one 'paicli: error:' line containing {case.fragment!r} "
                         "(and no traceback)")
    if r["partial_outputs"]:
        wrong.append(f"partial outputs under final names: {r['partial_outputs']}")
    if r["inputs_lost"] or r["inputs_changed"]:
        wrong.append(f"inputs lost {r['inputs_lost']}, changed {r['inputs_changed']}")
    if r["outside"]:
        wrong.append(f"files written outside the output folder: {r['outside']}")
    wrong += [p for p in r["problems"] if p.startswith(("exit 0 but", "stdout:"))]
    assert not wrong, "; ".join(wrong) + _describe(r)
