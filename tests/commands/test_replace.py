"""``paicli replace``: outputs, timing, camera, relighting switch and the errors a user can cause."""
from __future__ import annotations

import json
import shutil
from fractions import Fraction

import cv2
import numpy as np
import pytest

from paicli.cli import run

W, H, N = 256, 144, 8


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    from paicli.shot.example import make_example_shot

    d = tmp_path_factory.mktemp("example")
    meta = make_example_shot(d, width=W, height=H, frames=N)
    return d, meta


def _run_json(capsys, *argv) -> tuple[int, dict | None]:
    code = run(list(argv) + ["--json", "--progress", "none"])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else None)


def _outputs(doc: dict) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for o in doc["outputs"]:
        kinds.setdefault(o["kind"], []).append(o)
    return kinds


def test_replace_writes_the_comp_with_source_timing_camera_and_sidecar(shot, tmp_path, capsys):
    d, meta = shot
    out = tmp_path / "out"
    code, doc = _run_json(capsys, "replace", str(d / "plate.mov"), "--bg", str(d / "refs"), "-o", str(out))
    assert code == 0
    kinds = _outputs(doc)
    comp = kinds["comp"][0]
    assert comp["path"].endswith("plate_comp.mov") and comp["frame_count"] == N
    assert comp["timecode"]["start"] == "01:00:00:00" and comp["rate"] == "24000/1001"
    assert {o["path"].rsplit("_", 1)[1] for o in kinds["camera"]} == {"camera.json", "cornerpin.nk"}
    assert kinds["sidecar"][0]["path"].endswith("plate_replace.json")

    from paicli.media.probe import probe

    info = probe(comp["path"])
    assert (info.width, info.height, info.frame_count) == (W, H, N)
    assert str(info.start_timecode) == "01:00:00:00" and info.reel == "A001C001"

    side = json.loads((out / "plate_replace.json").read_text())
    assert side["engine"]["name"] == "classic"
    assert side["shot"]["digest"].startswith("sha256:")
    assert [r["anchor"] for r in side["references"]] == meta["refs_at"]
    assert all(r["digest"].startswith("sha256:") for r in side["references"])
    assert side["settings"]["shutter_angle"] == 180.0
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_the_exported_camera_follows_the_pan(shot, tmp_path, capsys):
    d, meta = shot
    code, doc = _run_json(capsys, "replace", str(d / "plate.mov"), "--bg", str(d / "refs"), "-o", str(tmp_path))
    assert code == 0
    assert doc["summary"]["camera"]["mode"] == "tracked"
    from paicli.shot.camera_files import read_camera_json

    track = read_camera_json(tmp_path / "plate_camera.json", frame_count=N, width=W, height=H)
    for i, h in enumerate(track):
        x0 = round(meta["pan_px"] * i / (N - 1))  # the example pans by whole pixels
        centre = h @ np.array([W / 2, H / 2, 1.0])
        assert abs(centre[0] / centre[2] - (W / 2 + x0)) < 0.5, (i, centre)
        assert abs(centre[1] / centre[2] - H / 2) < 0.5


def test_the_background_comes_from_the_references_and_the_subject_stays(shot, tmp_path, capsys):
    d, meta = shot
    code, doc = _run_json(capsys, "replace", str(d / "plate.mov"), "--bg", str(d / "refs"), "-o", str(tmp_path),
                          "--format", "exr", "--grain", "0")
    assert code == 0
    from engine.colour import srgb_decode
    from paicli.media.exr import read_exr

    comp, _ = read_exr(tmp_path / "plate_comp.1001.exr")
    ref = cv2.imread(str(d / "refs" / "ref.0000.png"), cv2.IMREAD_UNCHANGED)[..., ::-1].astype(np.float32) / 65535
    alpha = cv2.imread(str(d / "gt" / "alpha.0000.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 65535
    bg_only = cv2.erode((alpha < 0.001).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    err = np.abs(comp[..., :3] - srgb_decode(ref))[bg_only]
    assert np.median(err) < 0.01  # the new background where the screen was
    solid = alpha > 0.999
    assert np.abs(comp[..., :3][solid].mean(0) - np.array([0.55, 0.38, 0.28]) * 0.9).max() < 0.08  # the subject


def test_layers_exr_holds_comp_fg_bg_and_alpha(shot, tmp_path, capsys):
    d, _ = shot
    code, doc = _run_json(capsys, "replace", str(d / "plate.mov"), "--bg", str(d / "refs"), "-o", str(tmp_path),
                          "--layers", "--frames", "0-2")
    assert code == 0
    layers = _outputs(doc)["layers"][0]
    assert layers["sequence"].endswith("plate_layers.####.exr") and layers["frame_count"] == 3
    from paicli.media.exr import read_layers

    got, info = read_layers(tmp_path / "plate_layers.1001.exr")
    assert {"rgba", "fg", "bg"} <= set(got)
    comp, fg, bg = got["rgba"], got["fg"], got["bg"]
    a = comp[..., 3] if comp.shape[-1] == 4 else None
    assert a is not None and fg.shape[-1] == 4
    np.testing.assert_allclose(fg[..., 3], a, atol=1e-3)
    # the layers rebuild the composite: fg (premultiplied) over bg
    rebuilt = fg[..., :3] + bg * (1 - a[..., None])
    assert np.abs(rebuilt - comp[..., :3]).max() < 0.01


def test_keep_lighting_skips_relighting_and_a_flat_coloured_subject_is_not_greyed(shot, tmp_path, capsys):
    d, _ = shot
    code, doc = _run_json(capsys, "replace", str(d / "plate.mov"), "--bg", str(d / "refs"), "-o", str(tmp_path),
                          "--keep-lighting", "--frames", "0-1")
    assert code == 0
    assert doc["summary"]["relight"]["gains"] == [1.0, 1.0, 1.0]
    code, doc = _run_json(capsys, "replace", str(d / "plate.mov"), "--bg", str(d / "refs"), "-o", str(tmp_path),
                          "--frames", "0-1", "--force")
    # relighting is on, but a subject of one flat colour says nothing about the light on it
    assert doc["summary"]["relight"]["confidence"] == 0.0
    assert "too uniform" in doc["summary"]["relight"]["why"]


def test_camera_static_is_forced_and_a_supplied_track_is_used(shot, tmp_path, capsys):
    d, _ = shot
    code, doc = _run_json(capsys, "replace", str(d / "plate.mov"), "--bg", str(d / "refs"), "-o",
                          str(tmp_path / "a"), "--camera", "static", "--frames", "0-3")
    assert code == 0 and doc["summary"]["camera"]["mode"] == "static"
    from paicli.shot.camera_files import write_camera_json

    track = [np.array([[1, 0, 2.0 * i], [0, 1, 0], [0, 0, 1]]) for i in range(N)]
    write_camera_json(tmp_path / "cam.json", track, width=W, height=H)
    code, doc = _run_json(capsys, "replace", str(d / "plate.mov"), "--bg", str(d / "refs"), "-o",
                          str(tmp_path / "b"), "--camera", str(tmp_path / "cam.json"), "--frames", "2-4")
    assert code == 0 and doc["summary"]["camera"]["mode"] == "supplied"
    from paicli.shot.camera_files import read_camera_json

    out = read_camera_json(tmp_path / "b" / "plate_camera.json")
    assert len(out) == 3
    np.testing.assert_allclose(out[2][:, 2], [4.0, 0.0, 1.0], atol=1e-9)  # re-based on the range's first frame


def test_dry_run_lists_references_and_outputs_without_writing(shot, tmp_path, capsys):
    d, meta = shot
    code, doc = _run_json(capsys, "replace", str(d / "plate.mov"), "--bg", str(d / "refs"), "-o",
                          str(tmp_path / "none"), "--dry-run", "--bg-at", "0,3,7")
    assert code == 0 and doc["dry_run"] is True
    assert [r["anchor"] for r in doc["summary"]["references"]] == [0, 3, 7]
    assert {o["kind"] for o in doc["outputs"]} == {"comp", "camera", "sidecar"}
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("case, code", [("missing", 66), ("empty", 66), ("portrait", 65), ("corrupt", 65),
                                        ("bg_at_count", 2)])
def test_bad_references_fail_with_one_line_and_write_nothing(shot, tmp_path, capsys, case, code):
    d, _ = shot
    refs = tmp_path / "refs"
    refs.mkdir()
    extra: list[str] = []
    if case == "missing":
        refs = tmp_path / "nope"
    elif case == "portrait":
        cv2.imwrite(str(refs / "tall.png"), np.zeros((400, 100, 3), np.uint8))
    elif case == "corrupt":
        (refs / "ref.0000.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    elif case == "bg_at_count":
        shutil.copy(d / "refs" / "ref.0000.png", refs / "a.png")
        extra = ["--bg-at", "0,4"]
    out = tmp_path / "out"
    got = run(["replace", str(d / "plate.mov"), "--bg", str(refs), "-o", str(out), "--progress", "none", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert got == code
    assert len(err) == 1 and "Traceback" not in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_a_shot_without_screen_or_matte_is_refused(write_prores, shot, tmp_path, capsys):
    d, _ = shot
    clip = write_prores("grey.mov", n=3, h=H, w=W)
    out = tmp_path / "out"
    got = run(["replace", str(clip), "--bg", str(d / "refs" / "ref.0000.png"), "-o", str(out), "--progress", "none"])
    err = capsys.readouterr().err.strip().splitlines()
    assert got == 65 and len(err) == 1 and "screen" in err[0]
    assert not any(p.suffix in (".mov", ".json", ".nk") for p in out.iterdir()) if out.exists() else True


def test_a_matted_shot_needs_no_screen(write_prores, shot, tmp_path, capsys):
    d, _ = shot
    clip = write_prores("matted.mov", n=3, h=H, w=W, alpha=True, profile="4444")
    code, doc = _run_json(capsys, "replace", str(clip), "--bg", str(d / "refs" / "ref.0000.png"), "-o",
                          str(tmp_path / "o"))
    assert code == 0
    assert doc["summary"]["camera"]["mode"] == "static"


def test_replace_keys_with_a_picked_screen_colour(shot, tmp_path, capsys):
    """--screen-colour (the shot's own encoding, here 0-1 BT.709) is the screen the engine keys
    against, decoded to linear as the shot's frames are; a pick of the wrong kind is refused."""
    from engine.colour import bt709_oetf

    d, _ = shot
    picked = bt709_oetf(np.array([0.06, 0.40, 0.09], np.float32))
    code, doc = _run_json(capsys, "replace", str(d / "plate.mov"), "--bg", str(d / "refs"), "-o", str(tmp_path / "o"),
                          "--screen-colour", ",".join(f"{v:.5f}" for v in picked), "--camera", "static")
    assert code == 0
    side = json.loads((tmp_path / "o" / "plate_replace.json").read_text())
    np.testing.assert_allclose(side["report"]["screen"]["colour"], [0.06, 0.40, 0.09], atol=1e-3)
    code = run(["replace", str(d / "plate.mov"), "--bg", str(d / "refs"), "-o", str(tmp_path / "b"),
                "--screen", "blue", "--screen-colour", ",".join(f"{v:.5f}" for v in picked)])
    assert code == 2 and "--screen-colour: the picked colour is not a blue screen's" in capsys.readouterr().err


def test_replace_says_when_screen_coloured_areas_inside_the_subject_were_kept(tmp_path, capsys):
    from paicli.media.prores import ProResWriter
    from paicli.media.stills import write_png16

    h, w, n = 96, 128, 4
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    disc = np.hypot(x - w / 2, y - h / 2) < 36
    badge = (np.abs(x - w / 2) < 5) & (np.abs(y - h / 2) < 5)
    img = np.where(disc[..., None], np.array([0.6, 0.5, 0.2], np.float32), np.array([0.06, 0.45, 0.10], np.float32))
    img[badge] = (0.06, 0.45, 0.10)
    with ProResWriter(tmp_path / "badge.mov", w, h, Fraction(24)) as wr:
        for _ in range(n):
            wr.write(img.astype(np.float32))
    (tmp_path / "refs").mkdir()
    write_png16(tmp_path / "refs" / "ref.0000.png", np.full((h, w, 3), 0.5, np.float32))
    code, doc = _run_json(capsys, "replace", str(tmp_path / "badge.mov"), "--bg", str(tmp_path / "refs"),
                          "-o", str(tmp_path / "o"), "--camera", "static")
    assert code == 0
    inside = doc["summary"]["screen_inside_subject"]
    assert inside["frames"] == n and 50 < inside["max_px"] < 200
    side = json.loads((tmp_path / "o" / "badge_replace.json").read_text())
    assert side["report"]["screen_inside_subject"] == inside
