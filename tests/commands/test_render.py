"""``paicli render``: an edit list in, every shot rendered, a conformed timeline out."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from paicli.cli import run
from paicli.media.atomic import HOST_TAG

EDL = """TITLE: test cut
FCM: NON-DROP FRAME
001  A001C001 V     C        01:00:00:04 01:00:00:12 00:00:00:00 00:00:00:08
* FROM CLIP NAME:  A001C001
002  A001C002 V     C        02:00:00:02 02:00:00:10 00:00:00:08 00:00:00:16
* FROM CLIP NAME:  A001C002
003  A001C001 V     C        01:00:00:14 01:00:00:20 00:00:00:20 00:00:01:02
* FROM CLIP NAME:  A001C001
004  AX       AA    C        00:00:00:00 00:00:01:00 00:00:00:00 00:00:01:00
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from paicli.shot.example import make_example_shot

    root = tmp_path_factory.mktemp("render")
    for reel, tc in (("A001C001", "01:00:00:00"), ("A001C002", "02:00:00:00")):
        make_example_shot(root / "gen" / reel, width=64, height=48, frames=24, start_tc=tc, reel=reel,
                          rate=Fraction(24))
        (root / "media").mkdir(exist_ok=True)
        shutil.copy(root / "gen" / reel / "plate.mov", root / "media" / f"{reel}_take1.mov")
        shutil.copytree(root / "gen" / reel / "refs", root / "refs" / reel)
    (root / "cut.edl").write_text(EDL)
    return root


def _render(project, out, *extra, json_out=True):
    argv = ["render", str(project / "cut.edl"), "--media-root", str(project / "media"), "-o", str(out),
            "--format", "exr", "--handles", "2", "--progress", "none", *extra]
    return run(argv + (["--json"] if json_out else []))


def _doc(capsys):
    return json.loads(capsys.readouterr().out)


def test_every_shot_renders_and_the_conformed_edl_keeps_the_record_timing(project, tmp_path, capsys):
    from paicli.timeline.read import read_edit_list

    assert _render(project, tmp_path / "o") == 0
    doc = _doc(capsys)
    results = doc["summary"]["results"]
    assert [r["status"] for r in results] == ["rendered"] * 3
    comps = [o for o in doc["outputs"] if o["kind"] == "comp"]
    assert len(comps) == 3 and all(o["frame_count"] in (12, 10) for o in comps)
    first = json.loads((tmp_path / "o/001_A001C001/v001/001_A001C001_v001_render.json").read_text())
    assert first["shot"]["media"]["how"] == "media-root: reel prefix" and first["shot"]["render_range"] == [2, 13]
    assert first["outputs"][0]["timecode"]["start"] == "01:00:00:02"  # 01:00:00:04 less 2 handles
    timelines = {Path(o["path"]).suffix: o for o in doc["outputs"] if o["kind"] == "timeline"}
    assert set(timelines) == {".otio", ".edl"}
    original, conformed = read_edit_list(project / "cut.edl"), read_edit_list(timelines[".edl"]["path"])
    for a, b in zip(original.video_clips(), conformed.video_clips(), strict=True):
        assert a.range_in_parent() == b.range_in_parent() and a.source_range == b.source_range
    text = Path(timelines[".edl"]["path"]).read_text()
    assert "* SOURCE FILE: 002_A001C002/v001/002_A001C002_v001_comp.####.exr" in text
    assert "004  AX       AA" in text  # the audio event is kept as it was
    reports = [o for o in doc["outputs"] if o["kind"] == "report"]
    strips = [o["path"] for o in reports if o.get("format") == "jpeg"]
    checks = [o for o in reports if o.get("format") == "html" and o["path"].endswith("_qc.html")]
    assert len(strips) == 3 and reports[-1]["path"] == str(tmp_path / "o" / "report.html")
    assert len(checks) == 3 and all(o["verdict"] in ("pass", "warn", "fail") for o in checks)
    assert checks[0]["path"] == str(tmp_path / "o" / "001_A001C001" / "v001" / "001_A001C001_v001_qc.html")
    page = Path(reports[-1]["path"]).read_text()
    assert page.count('src="data:image/jpeg;base64,') == 3 and "001_A001C001" in page and "http" not in page
    assert 'href="001_A001C001/v001/001_A001C001_v001_qc.html"' in page  # each shot links its check
    assert str(tmp_path / "o" / ".paicli-partial") not in Path(checks[0]["path"]).read_text()
    import cv2

    strip = cv2.imread(strips[0])
    assert strip.shape[0] == 240 and strip.shape[1] == 3 * 160  # 64x48 frames at 120 px high, 3 per row
    otio_clips = read_edit_list(timelines[".otio"]["path"]).video_clips()
    ref = otio_clips[0].media_reference
    assert ref.start_frame == 1001 and ref.available_range.start_time.value == 86402 and not (
        tmp_path / "o" / ".paicli-partial").exists()


def test_a_rerun_skips_finished_shots_and_a_changed_setting_makes_a_new_version(project, tmp_path, capsys):
    assert _render(project, tmp_path / "o") == 0
    ids = [r["shot"] for r in _doc(capsys)["summary"]["results"]]
    (tmp_path / f"o/.paicli-partial/{ids[0]}_v001").mkdir(parents=True)  # killed just after moving into place
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "o").rglob("*.exr")}
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a run killed while writing the report and a timeline left these
    stale = [tmp_path / f"o/.report.paicli-tmp-{gone.pid}-{HOST_TAG}0a1b2c3d.html",
             tmp_path / f"o/.cut.paicli-tmp-{gone.pid}-{HOST_TAG}0a1b2c3d.otio"]
    live = [tmp_path / f"o/.report.paicli-tmp-{os.getpid()}-{HOST_TAG}00ff00ff.html",  # concurrent shards'
            tmp_path / f"o/.report.paicli-tmp-{gone.pid}-0badc0de00ff00ff.html"]  # (that one on another machine)
    for f in (*stale, *live):
        f.write_text("<html>half")
    assert _render(project, tmp_path / "o") == 0
    assert [r["status"] for r in _doc(capsys)["summary"]["results"]] == ["skipped"] * 3
    assert not any(f.exists() for f in stale) and all(f.exists() for f in live)
    assert not (tmp_path / "o/.paicli-partial").exists()
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "o").rglob("*.exr")} == before
    assert _render(project, tmp_path / "o", "--seed", "9") == 0
    doc = _doc(capsys)
    assert [(r["status"], r["version"]) for r in doc["summary"]["results"]] == [("rendered", 2)] * 3
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # v001 untouched
    assert "v002" in Path(next(o["path"] for o in doc["outputs"] if o["kind"] == "timeline")).read_text()


def test_the_plan_is_deterministic_and_lists_what_cannot_be_rendered(project, tmp_path, capsys):
    edl = tmp_path / "cut.edl"
    edl.write_text(EDL + "005  ZZZ999 V     C        05:00:00:00 05:00:00:08 00:00:01:02 00:00:01:10\n")
    shutil.copytree(project / "refs", tmp_path / "refs")
    argv = ["render", str(edl), "--media-root", str(project / "media"), "-o", str(tmp_path / "o"), "--plan-only",
            "--json"]
    assert run(argv) == 0
    first = capsys.readouterr().out
    assert run(argv) == 0
    assert capsys.readouterr().out == first
    plan = json.loads(first)["summary"]
    assert plan["counts"] == {"ready": 3, "done": 0, "unresolved": 1, "no-refs": 0}
    bad = plan["shots"][3]
    assert bad["status"] == "unresolved" and bad["reason"] == "no media named ZZZ999 under the --media-root folders"
    assert not (tmp_path / "o").exists()
    assert run(argv[:-2] + ["--strict"]) == 65
    assert "004_ZZZ999: no media named ZZZ999" in capsys.readouterr().err


def test_shards_split_the_shots_deterministically_and_the_last_one_conforms(project, tmp_path, capsys, monkeypatch):
    assert _render(project, tmp_path / "o", "--shard", "1/2") == 0
    one = _doc(capsys)
    assert [r["shot"] for r in one["summary"]["results"]] == ["001_A001C001", "003_A001C001"]
    assert not any(o["kind"] == "timeline" for o in one["outputs"])
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")  # sbatch --array=1-2
    assert _render(project, tmp_path / "o") == 0
    two = _doc(capsys)
    assert [r["shot"] for r in two["summary"]["results"]] == ["002_A001C002"]
    assert two["summary"]["shard"] == {"index": 2, "count": 2, "from": "SLURM_ARRAY_TASK_ID"}
    assert any(o["kind"] == "timeline" for o in two["outputs"])
    assert run(["render", str(project / "cut.edl"), "--shard", "3/2"]) == 2


def test_one_failed_shot_does_not_stop_the_others_and_the_exit_code_says_so(project, tmp_path, capsys, monkeypatch):
    import paicli.render.run as runner
    from paicli.errors import BadDataError, TemporaryFailure

    real = runner.render_shot

    def flaky(ps, *a, **k):
        if ps.shot.index == 2:
            raise error
        return real(ps, *a, **k)

    monkeypatch.setattr(runner, "render_shot", flaky)
    error = TemporaryFailure("the GPU is busy")
    assert _render(project, tmp_path / "o") == 75
    doc = _doc(capsys)
    assert [r["status"] for r in doc["summary"]["results"]] == ["rendered", "failed", "rendered"]
    assert not any(o["kind"] == "timeline" for o in doc["outputs"]) and not doc["ok"]
    error = BadDataError("corrupt frame")
    assert _render(project, tmp_path / "o") == 65
    assert "002_A001C002 failed: corrupt frame" in _doc(capsys)["warnings"]
    error = PermissionError(13, "Permission denied", "/mnt/farm/cache/x.exr")  # the machine: named, 73
    assert _render(project, tmp_path / "o") == 73
    assert "002_A001C002 failed: cannot create /mnt/farm/cache/x.exr: permission denied" in _doc(capsys)["warnings"]
    error = RuntimeError("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR")  # a bug or a driver: this shot only
    assert _render(project, tmp_path / "o") == 70
    doc = _doc(capsys)
    assert [r["status"] for r in doc["summary"]["results"]] == ["skipped", "failed", "skipped"]
    assert "002_A001C002 failed: internal error: RuntimeError: cuDNN error" in " ".join(doc["warnings"])
    monkeypatch.setenv("PAICLI_DEBUG", "1")  # a developer gets the traceback
    with pytest.raises(RuntimeError, match="cuDNN"):
        _render(project, tmp_path / "o")
    monkeypatch.delenv("PAICLI_DEBUG")
    monkeypatch.setattr(runner, "render_shot", real)
    assert _render(project, tmp_path / "o") == 0
    doc = _doc(capsys)
    assert [r["status"] for r in doc["summary"]["results"]] == ["skipped", "rendered", "skipped"]
    assert any(o["kind"] == "timeline" for o in doc["outputs"])


@pytest.mark.needs_ray
def test_a_local_ray_instance_renders_the_same_shots_as_the_local_executor(project, tmp_path, capsys):
    assert _render(project, tmp_path / "local") == 0
    capsys.readouterr()
    try:
        assert _render(project, tmp_path / "ray", "--executor", "ray", "--workers", "2", "--progress", "plain") == 0
    finally:
        import ray

        ray.shutdown()
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert " 001_A001C001: camera: " in cap.err  # the driver logs each shot's decisions
    assert [r["status"] for r in doc["summary"]["results"]] == ["rendered"] * 3
    assert any(o["kind"] == "timeline" for o in doc["outputs"])

    def frames(out):
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*_comp.*.exr"))}

    assert frames(tmp_path / "ray") == frames(tmp_path / "local") and len(frames(tmp_path / "ray")) == 34


def test_a_long_shot_renders_in_frame_chunks_and_counts_once_they_cover_it(project, tmp_path, capsys):
    out = tmp_path / "o"
    folder = out / "001_A001C001" / "v001"
    assert _render(project, out, "--shot", "001_A001C001", "--frames", "1001-1006") == 0
    assert _doc(capsys)["summary"]["results"][0]["status"] == "chunk rendered"
    assert len(list(folder.glob("*_comp.*.exr"))) == 6 and not list(folder.glob("*_render.json"))
    assert _render(project, out, "--shot", "001_A001C001", "--frames", "1007-1012") == 0
    assert _doc(capsys)["summary"]["results"][0]["status"] == "rendered"
    side = json.loads((folder / "001_A001C001_v001_render.json").read_text())
    comp = side["outputs"][0]
    assert comp["frame_range"] == [1001, 1012] and comp["timecode"]["start"] == "01:00:00:02"
    assert sorted(int(p.name.split(".")[-2]) for p in folder.glob("*_comp.*.exr")) == list(range(1001, 1013))
    qc = json.loads((folder / "001_A001C001_v001_qc.json").read_text())  # checked whole once the chunks cover it
    assert qc["frames"] == [1001, 1012] and qc["inputs"]["camera"] == "solved from the plate"
    assert qc["inputs"]["plate_from"] == "sidecar" and any("chunks" in n for n in qc["notes"])
    assert _render(project, out) == 0  # the whole list now skips that shot and conforms
    doc = _doc(capsys)
    assert [r["status"] for r in doc["summary"]["results"]] == ["skipped", "rendered", "rendered"]
    assert any(o["kind"] == "timeline" for o in doc["outputs"])
    assert _render(project, out, "--frames", "1001-1002") == 2
    assert "--shot" in capsys.readouterr().err
    assert _render(project, out, "--shot", "nope") == 2
    assert _render(project, tmp_path / "p", "--shot", "002_A001C002", "--frames", "1001-1003", "--format",
                   "prores") == 2
    assert _render(project, tmp_path / "p", "--shot", "002_A001C002", "--frames", "1001-1099") == 2
    assert "outside 002_A001C002's frames 1001-1012" in capsys.readouterr().err


RETIMED_EDL = """TITLE: t
001  TST V     C        01:00:04:05 01:00:04:14 01:00:00:00 01:00:00:09
* FROM CLIP NAME:  clip_A
002  TST V     C        01:00:04:14 01:00:04:14 01:00:00:09 01:00:00:09
002  TST V     D    010 01:00:08:08 01:00:08:18 01:00:00:09 01:00:00:19
* FROM CLIP NAME:  clip_A
* TO CLIP NAME:  clip_B
003  R3 V     C        02:00:00:00 02:00:00:12 01:00:01:00 01:00:01:06
M2   R3       -024.0                02:00:00:00
* FROM CLIP NAME:  backwards with a long name that goes on and on
004  R4 V     C        03:00:00:00 03:00:00:12 01:00:01:06 01:00:01:18
M2   R4       000.0                03:00:00:00
* FROM CLIP NAME:  Z682_156 (LAY3) FF
"""


def test_plan_only_shows_record_source_retime_and_transitions_untruncated_when_piped(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")  # a narrow pipe or farm log: nothing may be cut or wrapped
    (tmp_path / "cut.edl").write_text(RETIMED_EDL)
    assert run(["render", str(tmp_path / "cut.edl"), "-o", str(tmp_path / "o"), "--plan-only"]) == 0
    out = capsys.readouterr().out
    rows = {ln.split()[0]: ln for ln in out.splitlines() if ln[:3].isdigit()}
    assert set(rows) == {"001_clip_A", "002_clip_B", "003_backwards_with_a_long_name_that_goes_on_and_on",
                         "004_Z682_156_LAY3"}
    back = rows["003_backwards_with_a_long_name_that_goes_on_and_on"].split()
    assert back[1:5] == ["01:00:01:00", "01:00:01:06", "01:59:59:19", "02:00:00:01"] and "reverse" in back
    freeze = rows["004_Z682_156_LAY3"].split()
    assert freeze[3:5] == ["03:00:00:00", "03:00:00:01"] and "freeze" in freeze
    assert "out: SMPTE_Dissolve 10f" in rows["001_clip_A"] and "in: SMPTE_Dissolve 10f" in rows["002_clip_B"]
    assert run(["render", str(tmp_path / "cut.edl"), "-o", str(tmp_path / "o"), "--plan-only", "--json"]) == 0
    shots = {s["id"]: s for s in json.loads(capsys.readouterr().out)["summary"]["shots"]}
    s = shots["003_backwards_with_a_long_name_that_goes_on_and_on"]
    assert (s["record"]["in"], s["record"]["out"]) == ("01:00:01:00", "01:00:01:06")
    assert (s["source"]["in_tc"], s["source"]["out_tc"]) == ("01:59:59:19", "02:00:00:01")
    assert s["retime"] == "reverse 1.000x" and s["speed"] == -1.0
    assert shots["004_Z682_156_LAY3"]["speed"] == 0.0 and shots["001_clip_A"]["transitions"]
