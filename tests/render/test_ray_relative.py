"""``render --executor ray`` with a relative output folder finishes like the local executor:
every path is made absolute once, on the driver, so workers' outputs, the conformed
timelines and report.html name the same files, byte for byte."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import lock_trials
from paicli.cli import run


def _frames(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*_comp.*.exr"))}


@pytest.mark.needs_ray
def test_a_relative_output_folder_renders_and_conforms_on_ray_as_it_does_locally(tmp_path, monkeypatch, capsys):
    edl = lock_trials.project(tmp_path / "p")
    monkeypatch.chdir(tmp_path)
    args = ["render", "p/cut.edl", "--bg-map", "p/map.json", "--format", "exr", "--no-qc", "--handles", "0",
            "--progress", "none", "--json"]
    assert run([*args, "-o", "local"]) == 0
    capsys.readouterr()
    try:
        code = run([*args, "-o", "ray", "--executor", "ray", "--workers", "1"])
    finally:
        import ray

        ray.shutdown()
    doc = json.loads(capsys.readouterr().out)
    assert code == 0, doc.get("warnings")
    assert [r["status"] for r in doc["summary"]["results"]] == ["rendered", "rendered"]
    kinds = {o["kind"] for o in doc["outputs"]}
    assert {"timeline", "report"} <= kinds
    paths = [Path(o.get("path") or o["sequence"]) for o in doc["outputs"]]
    assert all(p.is_absolute() and p.is_relative_to(tmp_path / "ray") for p in paths)
    for name in ("cut_conform.edl", "cut_conform.otio"):
        assert (tmp_path / "ray" / name).read_text() == (tmp_path / "local" / name).read_text()
    assert (tmp_path / "ray" / "report.html").is_file()
    assert _frames(tmp_path / "ray") == _frames(tmp_path / "local") and len(_frames(tmp_path / "ray")) == 8
    assert edl.is_file()


@pytest.mark.needs_ray
def test_a_ray_render_prints_nothing_of_rays_own_on_stderr(tmp_path):
    """Ray's notices (token authentication, from the driver or the processes it starts) are
    not paicli's lines: a successful run leaves stderr empty, a failing one its one line."""
    import os
    import subprocess
    import sys

    lock_trials.project(tmp_path / "p")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAICLI_", "RAY_"))}
    done = subprocess.run([sys.executable, "-m", "paicli.cli", "render", "p/cut.edl", "--bg-map", "p/map.json",
                           "--format", "exr", "--no-qc", "--handles", "0", "--progress", "none", "-o", "out",
                           "--executor", "ray", "--workers", "1"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
