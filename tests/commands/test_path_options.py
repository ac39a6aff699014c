"""Path options are not judged by option parsing: a folder the system says cannot be read (a
mode-000 output folder) reaches paicli, which says in one line what it cannot create (73),
instead of Click's usage block (exit 2)."""
from __future__ import annotations

import os

import pytest

from paicli.cli import run


@pytest.mark.parametrize("argv", [
    ["key", "{shot}", "-o", "{out}", "--dry-run"],
    ["convert", "{shot}", "-o", "{out}", "--dry-run"],
    ["replace", "{shot}", "--bg", "{refs}", "-o", "{out}", "--dry-run"],
])
def test_an_output_folder_the_system_calls_unreadable_is_not_a_usage_error(argv, tmp_path, monkeypatch, capsys):
    from paicli.shot.example import make_example_shot

    make_example_shot(tmp_path / "shot", width=64, height=36, frames=2, start_tc="01:00:00:00")
    out = tmp_path / "locked"
    out.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if str(p) == str(out) else real(p, mode, *a, **k))
    code = run([a.format(shot=tmp_path / "shot" / "plate.mov", refs=tmp_path / "shot" / "refs", out=out) for a in argv])
    assert code == 0, capsys.readouterr().err
