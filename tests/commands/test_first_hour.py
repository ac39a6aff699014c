"""What a new user meets on the terminal: where results go, what a rerun does, the summary's
lines (kinds, screen, camera, the decisions that changed the result) and tables piped whole."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from paicli.cli import run

W, H, N = 96, 64, 6


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    from paicli.shot.example import make_example_shot

    d = tmp_path_factory.mktemp("first_hour")
    make_example_shot(d / "shots", width=W, height=H, frames=N)
    return d / "shots"


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = run([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _copy(shot: Path, tmp_path: Path) -> Path:
    """The example shot in a folder of its own (the default output goes beside it)."""
    d = tmp_path / "cut"
    shutil.copytree(shot, d)
    return d


# ------------------------------------------------------------ where results go, reruns

def test_without_o_results_go_beside_the_shot_whatever_the_working_directory(shot, tmp_path, capsys, monkeypatch):
    d = _copy(shot, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = _run(capsys, "key", d / "plate.mov", "--progress", "none", "--dry-run", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["summary"]["output_folder"] == str(d / "paicli")  # the dry run names it
    code, out, err = _run(capsys, "key", d / "plate.mov", "--progress", "none")
    assert code == 0, err
    assert f"wrote rgba: {d / 'paicli' / 'plate_key.####.exr'}" in out
    assert (d / "paicli" / "plate_key.1001.exr").is_file() and not any(elsewhere.iterdir())


def test_a_rerun_into_the_same_folder_is_refused_without_force_and_nothing_changes(shot, tmp_path, capsys):
    d = _copy(shot, tmp_path)
    argv = ["replace", d / "plate.mov", "--bg", d / "refs", "--progress", "none"]
    assert _run(capsys, *argv)[0] == 0
    comp = d / "paicli" / "plate_comp.mov"
    before = comp.stat().st_mtime_ns, comp.stat().st_ino
    code, out, err = _run(capsys, *argv)
    assert code == 73 and out == ""
    assert err.startswith(f"paicli: error: {d / 'paicli'} already holds plate's results from an earlier run")
    assert "--force" in err and len(err.strip().splitlines()) == 1
    assert (comp.stat().st_mtime_ns, comp.stat().st_ino) == before
    code, out, err = _run(capsys, *argv, "--dry-run")  # the dry run says what a run would meet
    assert code == 0 and "holds results of an earlier run (plate_camera.json" in out
    assert out.rstrip().endswith(": the run is refused without --force")
    code, out, err = _run(capsys, *argv, "--dry-run", "--force")
    assert code == 0 and out.rstrip().endswith(": the run replaces them (--force)")


def test_force_replaces_and_removes_what_the_earlier_run_left_that_this_one_does_not_make(shot, tmp_path, capsys):
    d = _copy(shot, tmp_path)
    out_dir = tmp_path / "o"
    argv = ["replace", d / "plate.mov", "--bg", d / "refs", "-o", out_dir, "--progress", "none", "--format", "exr"]
    assert _run(capsys, *argv, "--layers")[0] == 0
    (out_dir / "plate_qc.html").write_text("<p>a report on the earlier comp</p>")  # as relight-check leaves it
    (out_dir / "notes.txt").write_text("the editor's own file")
    code, out, err = _run(capsys, *argv, "--frames", "0-2", "--force", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["summary"]["removed_earlier"] == [f"plate_comp.####.exr 1004-{1000 + N}",
                                                 f"plate_layers.####.exr 1001-{1000 + N}", "plate_qc.html"]
    left = sorted(p.name for p in out_dir.iterdir())
    assert left == ["notes.txt", "plate_camera.json", "plate_comp.1001.exr", "plate_comp.1002.exr",
                    "plate_comp.1003.exr", "plate_cornerpin.nk", "plate_replace.json"]


def test_key_force_on_the_terminal_names_what_it_removed(shot, tmp_path, capsys):
    d = _copy(shot, tmp_path)
    assert _run(capsys, "key", d / "plate.mov", "--progress", "none", "--outputs", "rgba,matte,fg")[0] == 0
    code, out, err = _run(capsys, "key", d / "plate.mov", "--progress", "none", "--force")
    assert code == 0, err
    assert f"removed from the earlier run (not made again): plate_fg.####.exr 1001-{1000 + N}" in out
    assert not list((d / "paicli").glob("plate_fg.*"))


def test_render_without_o_renders_beside_the_edit_list(tmp_path, capsys, monkeypatch):
    (tmp_path / "edit").mkdir()
    (tmp_path / "edit" / "my cut.v2.edl").write_text(EDL)
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "render", tmp_path / "edit" / "my cut.v2.edl", "--plan-only", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["summary"]["output_folder"] == str(tmp_path / "edit" / "my_cut.v2_renders")  # not cut.v1's
    code, out, err = _run(capsys, "render", tmp_path / "edit" / "my cut.v2.edl", "--plan-only")
    assert out.splitlines()[0].endswith(f"rendering into {tmp_path / 'edit' / 'my_cut.v2_renders'}")


# ------------------------------------------------------------ the summary's lines

def test_key_reports_its_premultiplied_rgba_as_its_own_kind_and_the_screen_once(shot, tmp_path, capsys):
    code, out, err = _run(capsys, "key", shot / "plate.mov", "-o", tmp_path / "k", "--outputs", "rgba,matte,fg",
                          "--progress", "none", "--json")
    assert code == 0, err
    kinds = {Path(o["sequence"]).name: o["kind"] for o in json.loads(out)["outputs"]}
    assert kinds == {"plate_key.####.exr": "rgba", "plate_matte.####.exr": "matte", "plate_fg.####.exr": "fg"}
    code, out, err = _run(capsys, "key", shot / "plate.mov", "-o", tmp_path / "k2", "--progress", "none")
    first = out.splitlines()[0]
    assert first.startswith("screen: green screen, colour ") and "screen screen" not in first
    assert "wrote rgba:" in out and "wrote fg:" not in out


def test_the_camera_line_appears_once_with_progress_on_the_same_terminal(shot, tmp_path, capsys):
    code, out, err = _run(capsys, "replace", shot / "plate.mov", "--bg", shot / "refs", "-o", tmp_path / "r",
                          "--progress", "plain", "--frames", "0-3")
    assert code == 0, err
    assert sum(bool(re.search(r"(^|\s)camera: (tracked|static|supplied)", line))
               for line in (out + err).splitlines()) == 1


def test_relighting_that_does_nothing_says_why(shot, tmp_path, capsys):
    # the example's subject is of few colours: grey world cannot tell the colour of its light
    code, out, err = _run(capsys, "replace", shot / "plate.mov", "--bg", shot / "refs", "-o", tmp_path / "r",
                          "--progress", "none", "--frames", "0-3")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("relight"))
    assert line.startswith("relight gains r,g,b: 1.000, 1.000, 1.000; white balance kept: ")
    assert line.endswith(("no solid foreground to measure", "to tell the colour of its light"))
    code, out, err = _run(capsys, "replace", shot / "plate.mov", "--bg", shot / "refs", "-o", tmp_path / "r2",
                          "--progress", "none", "--frames", "0-3", "--keep-lighting")
    assert "relight: none (--keep-lighting)" in out.splitlines()


def test_a_reference_anchored_outside_the_range_gets_a_line(shot, tmp_path, capsys):
    refs = sorted((shot / "refs").iterdir())
    last = refs[-1]  # anchored at the shot's last frame, outside frames 0-1
    code, out, err = _run(capsys, "replace", shot / "plate.mov", "--bg", shot / "refs", "-o", tmp_path / "r",
                          "--progress", "none", "--frames", "0-1")
    assert code == 0, err
    assert any(x.startswith(f"note: {last.name} anchors frame") and "outside the range" in x
               for x in out.splitlines())


def test_a_camera_not_pinned_to_the_references_says_so_in_its_line():
    from paicli.shot.replace import decision_lines

    summary = {"camera": {"mode": "tracked", "mean_inliers": 20.0, "mean_residual_px": 0.1, "failed_frames": 0,
                          "not_pinned_because": "the references disagree with the track by up to 78 px "
                                                "(limit 8): not pinned to them"}}
    assert decision_lines(summary) == ["camera: tracked, 20.0 screen points per frame, residual 0.1 px, 0 frames "
                                       "lost; the references disagree with the track by up to 78 px (limit 8): "
                                       "not pinned to them"]


EDL = """TITLE: rate test
FCM: NON-DROP FRAME
001  A001C001 V     C        01:00:00:00 01:00:00:04 00:00:00:00 00:00:00:04
* FROM CLIP NAME:  A001C001
"""


def test_an_edl_read_at_24_whose_media_run_at_23976_gets_a_note(tmp_path, capsys):
    from paicli.shot.example import make_example_shot

    make_example_shot(tmp_path / "A001C001", width=64, height=48, frames=8, rate=Fraction(24000, 1001))
    (tmp_path / "refs").mkdir()
    shutil.copytree(tmp_path / "A001C001" / "refs", tmp_path / "refs" / "A001C001")
    shutil.copy(tmp_path / "A001C001" / "plate.mov", tmp_path / "A001C001.mov")
    (tmp_path / "cut.edl").write_text(EDL)
    code, out, err = _run(capsys, "render", tmp_path / "cut.edl", "--plan-only", "-o", tmp_path / "r",
                          "--media-root", tmp_path)
    assert code == 0, err
    notes = [x for x in out.splitlines() if x.startswith("note: the edit list's rate, 24 fps (the default")]
    assert len(notes) == 1 and "media (24000/1001 fps)" in notes[0] and "say --rate 24000/1001" in notes[0]


# ------------------------------------------------------------ tables piped whole

def test_a_piped_probe_table_keeps_long_paths_and_timecodes_whole(shot, tmp_path):
    deep = tmp_path / ("a_rather_long_folder_name_for_a_shot_" * 3) / "reel_A001"
    deep.mkdir(parents=True)
    shutil.copy(shot / "plate.mov", deep / "A001C001_220412_take_03_plate.mov")
    env = {**os.environ, "COLUMNS": "80"}
    movie = deep / "A001C001_220412_take_03_plate.mov"
    done = subprocess.run([sys.executable, "-m", "paicli.cli", "probe", str(movie)], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stderr
    row = next(x for x in done.stdout.splitlines() if x.startswith(str(deep)))
    assert "01:00:00:00" in row and "01:00:00:05" in row and "24000/1001" in row
    assert "…" not in done.stdout and "\x1b[" not in done.stdout


def test_each_rendered_shot_logs_its_decisions_and_keeps_them_with_its_comp(tmp_path, capsys):
    from paicli.shot.example import make_example_shot

    make_example_shot(tmp_path / "A001C001", width=64, height=48, frames=8, rate=Fraction(24000, 1001))
    shutil.copytree(tmp_path / "A001C001" / "refs", tmp_path / "refs" / "A001C001")
    shutil.copy(tmp_path / "A001C001" / "plate.mov", tmp_path / "A001C001.mov")
    (tmp_path / "cut.edl").write_text(EDL)
    code, out, err = _run(capsys, "render", tmp_path / "cut.edl", "-o", tmp_path / "r", "--media-root", tmp_path,
                          "--progress", "plain", "--no-qc", "--json")
    assert code == 0, err
    comp = next(o for o in json.loads(out)["outputs"] if o["kind"] == "comp")
    assert comp["decisions"] and comp["decisions"][0].startswith("camera: ")
    logged = [x.split(" ", 1)[1] for x in err.splitlines() if " 001_A001C001: " in x]
    assert logged == [f"001_A001C001: {line}" for line in comp["decisions"]]


def test_a_shot_where_no_output_folder_can_be_made_beside_it_is_told_to_give_o(shot, tmp_path, capsys, monkeypatch):
    d = _copy(shot, tmp_path)
    (d / "paicli").write_text("a file where the folder would go")
    code, out, err = _run(capsys, "key", d / "plate.mov", "--progress", "none")
    assert code == 73 and err == (f"paicli: error: cannot create {d / 'paicli'}, the output folder beside the shot "
                                  "(File exists): give one with -o\n")
    (d / "paicli").unlink()

    def read_only(self, *a, **k):  # a shot on a read-only volume (root ignores permissions)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", read_only)
    code, out, err = _run(capsys, "replace", d / "plate.mov", "--bg", d / "refs", "--progress", "none")
    assert code == 73 and "(Permission denied): give one with -o" in err


def test_a_forced_run_that_fails_leaves_the_earlier_results_as_they_were(shot, tmp_path, capsys, monkeypatch):
    from paicli.errors import BadDataError
    from paicli.shot import replace as job

    d = _copy(shot, tmp_path)
    argv = ["replace", d / "plate.mov", "--bg", d / "refs", "--progress", "none", "--format", "exr"]
    assert _run(capsys, *argv)[0] == 0
    folder = d / "paicli"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real = job.replace_shot

    def fails_half_way(info, out_dir, *a, **k):
        (out_dir / "plate_comp.1001.exr").write_bytes(b"a new frame")  # written, then the run fails
        raise BadDataError("the screen vanished")

    monkeypatch.setattr(job, "replace_shot", fails_half_way)
    code, out, err = _run(capsys, *argv, "--force", "--frames", "0-2")
    assert code == 65 and "the screen vanished" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no new frame, no hidden folder
    monkeypatch.setattr(job, "replace_shot", real)


def test_convert_into_the_sources_own_folder_never_touches_the_source(shot, tmp_path, capsys):
    d = _copy(shot, tmp_path)
    source = (d / "plate.mov").read_bytes()
    for _ in range(2):  # the second run replaces the first's frames, with --force
        code, out, err = _run(capsys, "convert", d / "plate.mov", "-o", d, "--format", "exr", "--force",
                              "--progress", "none")
        assert code == 0, err
    assert (d / "plate.mov").read_bytes() == source and (d / "plate.1001.exr").is_file()
    code, out, err = _run(capsys, "convert", d / "plate.mov", "-o", d, "--format", "exr", "--progress", "none")
    assert code == 73 and "(plate.####.exr 1001-" in err and "plate.mov" not in err.split("(")[1]


def test_a_piped_or_terminal_table_prints_cells_as_they_are(capsys, monkeypatch):
    from paicli.commands import tables

    for tty in (False, True):
        monkeypatch.setattr(tables, "_isatty", lambda stream, tty=tty: tty)
        tables.print_table("t", ("file", "error"), [("/a/shot[v2]/p[bold].mov", "[/] broken")])
        out = capsys.readouterr().out
        assert "/a/shot[v2]/p[bold].mov" in out and "[/] broken" in out


def test_a_list_where_no_renders_folder_can_be_made_beside_it_is_told_to_give_o(tmp_path, capsys):
    (tmp_path / "cut.edl").write_text(EDL)
    (tmp_path / "cut_renders").write_text("a file where the folder would go")
    code, out, err = _run(capsys, "render", tmp_path / "cut.edl", "--progress", "none")
    assert code == 73 and err == (f"paicli: error: cannot create {tmp_path / 'cut_renders'}, the output folder beside "
                                  "the edit list (File exists): give one with -o\n")
