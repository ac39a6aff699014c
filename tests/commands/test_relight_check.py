"""``paicli relight-check``: verdicts, exit codes, reports, inputs found from a render, errors."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from paicli.cli import run


def _check(capsys, *argv) -> tuple[int, dict | None]:
    code = run(["relight-check", *map(str, argv), "--json", "--progress", "none"])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else None)


def _args(shot, comp: str, *extra):
    f = shot["folder"]
    return [f / comp, "--matte", f / "matte.%04d.png", "--plate", f / "plate.mov", "--bg", f / "refs", *extra]


def test_a_background_that_moves_with_the_camera_passes_and_writes_both_reports(check_shot, tmp_path, capsys):
    code, doc = _check(capsys, *_args(check_shot, "good.mov", "--camera", check_shot["folder"] / "camera.json",
                                      "-o", tmp_path / "qc"))
    s = doc["summary"]
    assert code == 0 and doc["ok"] and s["verdict"] in ("pass", "warn"), s
    m = s["metrics"]
    assert m["bg_motion"]["verdict"] == "pass" and m["bg_motion"]["value"] < 0.3
    assert m["identity_psnr"]["value"] > 40 and m["bg_psnr"]["verdict"] == "pass"
    assert m["harmony"]["verdict"] == "pass" and m["spill"]["verdict"] == "pass"
    reports = {o["format"]: o for o in doc["outputs"]}
    assert set(reports) == {"html", "json"} and all(o["kind"] == "report" for o in doc["outputs"])
    assert reports["html"]["path"] == str(tmp_path / "qc" / "good_qc.html")
    assert reports["html"]["frame_range"] == [0, check_shot["n"] - 1] and reports["html"]["verdict"] == s["verdict"]
    saved = json.loads(Path(reports["json"]["path"]).read_text())
    assert saved["schema"] == "paicli.relight_check.1" and len(saved["series"]["bg_motion"]) == check_shot["n"]
    assert sorted(p.name for p in (tmp_path / "qc").iterdir()) == ["good_qc.html", "good_qc.json"]


def test_a_background_that_stays_put_while_the_camera_pans_fails_on_motion(check_shot, tmp_path, capsys):
    code, doc = _check(capsys, *_args(check_shot, "static.mov", "--camera", check_shot["folder"] / "camera.json",
                                      "-o", tmp_path))
    s = doc["summary"]
    assert code == 1 and not doc["ok"] and s["verdict"] == "fail" and s["score"] <= 49
    assert s["metrics"]["bg_motion"]["verdict"] == "fail" and 2.0 < s["metrics"]["bg_motion"]["value"] < 4.0


def test_without_a_camera_file_the_camera_is_solved_from_the_plate(check_shot, tmp_path, capsys):
    code, doc = _check(capsys, *_args(check_shot, "static.mov", "-o", tmp_path))
    assert doc["summary"]["inputs"]["camera"] == "solved from the plate"
    assert code == 1 and doc["summary"]["metrics"]["bg_motion"]["verdict"] == "fail"
    code, doc = _check(capsys, *_args(check_shot, "good.mov", "-o", tmp_path))
    assert doc["summary"]["metrics"]["bg_motion"]["value"] < 0.5


def test_a_result_cut_from_the_plate_is_aligned_to_it_by_timecode(check_shot, tmp_path, capsys):
    from fractions import Fraction

    from paicli.media.prores import ProResWriter
    from paicli.media.reader import open_source
    from paicli.media.timing import Timecode

    f = check_shot["folder"]
    with open_source(str(f / "good.mov")) as src, ProResWriter(
            tmp_path / "cut.mov", check_shot["w"], check_shot["h"], Fraction(24),
            start_timecode=Timecode.parse("01:00:00:03", Fraction(24))) as out:
        for frame in src.frames(3, 4):
            out.write(frame)
    matte = tmp_path / "matte.png"
    matte.write_bytes((f / "matte.0000.png").read_bytes())  # the subject does not move: one still
    code, doc = _check(capsys, tmp_path / "cut.mov", "--matte", matte, "--plate", f / "plate.mov", "-o", tmp_path)
    s = doc["summary"]
    assert s["inputs"]["plate_from"] == "option, aligned by timecode (+3 frames)"
    assert s["metrics"]["identity_psnr"]["value"] > 40 and s["metrics"]["bg_motion"]["value"] < 0.5


def test_limits_come_from_the_preset_and_can_be_overridden(check_shot, tmp_path, capsys):
    code, doc = _check(capsys, *_args(check_shot, "static.mov", "--camera", check_shot["folder"] / "camera.json",
                                      "-o", tmp_path, "--limit", "bg_motion=50,100", "--limit", "bg-psnr=5,1"))
    assert code == 0 and doc["summary"]["metrics"]["bg_motion"]["fail"] == 100
    assert doc["settings"]["bg_motion_warn"] == 50 and doc["settings"]["spill_fail"] == 0.1  # from presets/qc.toml
    preset = tmp_path / "strict.toml"
    preset.write_text('[relight-check]\nidentity_psnr_warn = 99.0\nidentity_psnr_fail = 98.0\n')
    code, doc = _check(capsys, *_args(check_shot, "good.mov", "--camera", check_shot["folder"] / "camera.json",
                                      "-o", tmp_path, "--preset", str(preset)))
    assert code == 1 and doc["summary"]["metrics"]["identity_psnr"]["verdict"] == "fail"


def test_a_replace_folder_gives_the_plate_camera_and_references(check_shot, tmp_path, capsys):
    f = check_shot["folder"]
    code = run(["replace", str(f / "plate.mov"), "--bg", str(f / "refs"), "-o", str(tmp_path / "r"),
                "--progress", "none", "--json"])
    capsys.readouterr()
    assert code == 0
    code, doc = _check(capsys, tmp_path / "r")
    inputs = doc["summary"]["inputs"]
    assert inputs["plate"] == str(f / "plate.mov") and inputs["camera"] == "sidecar"
    assert inputs["matte"] == "keyed from the plate" and len(inputs["references"]) == 2
    assert code == (1 if doc["summary"]["verdict"] == "fail" else 0)
    assert doc["summary"]["metrics"]["bg_motion"]["verdict"] == "pass"
    assert (tmp_path / "r" / "plate_qc.html").is_file()  # beside the render by default


def test_a_render_with_layers_gives_the_matte_and_a_moved_folder_checks_its_own_files(check_shot, tmp_path,
                                                                                      capsys):
    import shutil

    f = check_shot["folder"]
    code = run(["replace", str(f / "plate.mov"), "--bg", str(f / "refs"), "-o", str(tmp_path / "r"), "--layers",
                "--format", "exr", "--progress", "none"])
    capsys.readouterr()
    assert code == 0
    shutil.copytree(tmp_path / "r", tmp_path / "copy")
    for p in (tmp_path / "r").glob("*_comp.*.exr"):
        p.unlink()  # the original comp is gone: the copy must be read from its own folder
    code, doc = _check(capsys, tmp_path / "copy")
    s = doc["summary"]
    assert s["inputs"]["matte"] == "sidecar layers" and s["inputs"]["camera"] == "sidecar"
    assert doc["inputs"][0]["path"].startswith(str(tmp_path / "copy"))
    assert s["frames"] == [1001, 1000 + check_shot["n"]] and doc["outputs"][0]["frame_range"] == s["frames"]
    assert s["metrics"]["bg_motion"]["verdict"] == "pass" and code == (1 if s["verdict"] == "fail" else 0)


def test_a_malformed_sidecar_is_bad_data(check_shot, tmp_path, capsys):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "x_replace.json").write_text(json.dumps({"schema": "paicli.replace.1", "shot": {"range": ["a", 2]},
                                                       "outputs": []}))
    code = run(["relight-check", str(folder), "--progress", "none"])
    err = capsys.readouterr().err
    assert code == 65 and "malformed sidecar (shot.range)" in err


def test_the_working_copy_maps_camera_tracks_to_its_pixels():
    from paicli.check.measure import _working

    down, to_working = _working(2)
    assert down(np.zeros((1080, 1920, 3), np.float32)).shape == (540, 960, 3)
    pan = np.array([[1, 0, 6.0], [0, 1, 0], [0, 0, 1]])  # frame t + 6 px = frame 0, in source pixels
    w = to_working(pan)
    src = np.array([100.0, 50.0, 1.0])  # a source pixel and the same point in working pixels
    work = np.array([(src[0] + 0.5) / 2 - 0.5, (src[1] + 0.5) / 2 - 0.5, 1.0])
    mapped_src, mapped_work = pan @ src, w @ work
    assert np.allclose(mapped_work[:2], [(mapped_src[0] + 0.5) / 2 - 0.5, (mapped_src[1] + 0.5) / 2 - 0.5])
    assert _working(1)[1](pan) is pan


def test_the_human_summary_is_a_table_and_the_report_paths(check_shot, tmp_path, capsys):
    code = run(["relight-check", *map(str, _args(check_shot, "good.mov", "-o", tmp_path)), "--progress", "none"])
    out = capsys.readouterr().out
    assert code == 0 and "relight-check good" in out and "background vs camera" in out
    assert f"wrote report: {tmp_path / 'good_qc.html'}" in out


@pytest.mark.parametrize("case, code, words", [
    ("missing", 66, "no such result"),
    ("no_sidecar", 66, "no _replace.json sidecar"),
    ("no_matte", 66, "no matte"),
    ("matte_size", 65, "is 32x16"),
    ("bad_limit", 2, "--limit"),
    ("limit_order", 2, "wrong side"),
    ("limit_value", 2, "--limit 'spill=abc': a limit is a number"),
])
def test_user_errors_are_one_line_with_their_exit_code(check_shot, tmp_path, capsys, case, code, words):
    f = check_shot["folder"]
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((16, 32), np.uint8))
    argv = {
        "missing": [tmp_path / "nope.mov"],
        "no_sidecar": [tmp_path],
        "no_matte": [f / "good.mov"],
        "matte_size": [f / "good.mov", "--matte", small],
        "bad_limit": _args(check_shot, "good.mov", "--limit", "sharpness=1"),
        "limit_order": _args(check_shot, "good.mov", "--limit", "spill=0.2,0.1"),
        "limit_value": _args(check_shot, "good.mov", "--limit", "spill=abc"),
    }[case]
    got = run(["relight-check", *map(str, argv), "-o", str(tmp_path / "o"), "--progress", "none"])
    err = capsys.readouterr().err.strip().splitlines()
    assert got == code and len(err) == 1 and words in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
