"""``paicli dataset build``: triplets from RGBA footage over background stills, from footage
with a matte, and from a keyed screen shot; the on-disk format the training reads; appending;
errors with their exit codes and nothing written.

Inputs are made here, small: an RGBA EXR sequence (a soft red disc), a textured footage EXR
sequence panning 2 px a frame with a PNG matte sequence, ``paicli example``'s green-screen
shot, and a background still. Builds run in-process through ``paicli.cli.run``.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.classic.track import ScreenTracker, corner_error
from paicli.cli import run
from paicli.media.exr import ExrSequenceWriter, read_exr, write_exr
from paicli.media.reader import open_source
from paicli.media.stills import write_png16

RED = np.array([0.7, 0.1, 0.05], np.float32)


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    """PAICLI_DEBUG in the developer's shell would turn the errors under test into tracebacks."""
    monkeypatch.delenv("PAICLI_DEBUG", raising=False)


def build(*args) -> tuple[int, dict | None, str]:
    """``paicli dataset build ARGS --json``: (exit code, the JSON object, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(["dataset", "build", *map(str, args), "--progress", "none", "--json"])
    return code, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()


def built(*args) -> dict:
    code, doc, err = build(*args)
    assert code == 0, err
    return doc


def texture(h: int, w: int, seed: int, sigma: float = 1.5) -> np.ndarray:
    """A smooth random texture, linear RGB around 0.3 (no red: the subject is red)."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), sigma)
    t = (t - t.mean()) / t.std()
    return (np.clip(0.3 + 0.08 * t, 0.05, None)[..., None] * np.array([0.5, 1.0, 1.2], np.float32)).astype(np.float32)


def disc(h: int, w: int, cx: float, cy: float, r: float) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.clip((r - np.hypot(x - cx, y - cy)) / 3 + 0.5, 0, 1).astype(np.float32)


def frames_of(folder: Path, name: str, n: int) -> list[np.ndarray]:
    return [read_exr(folder / f"{name}.{i:04d}.exr")[0] for i in range(n)]


def sequence_digest(paths: list[Path]) -> str:
    """A sequence's SHA-256 as paicli records a shot: each frame's name and file digest in order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + ("sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()).encode())
    return h.hexdigest()


def camera_motion(frames: list[np.ndarray], subject: np.ndarray) -> np.ndarray:
    """The homography from the last frame to the first, measured on what lies outside the
    ``subject`` mask (H, W) bool by the project's screen tracker (KLT, robust fit)."""
    tracker = ScreenTracker()
    for f in frames:
        h = tracker.add(f, subject.astype(np.float32))
    return h


def screen_coloured(pixels: np.ndarray, kind: str) -> np.ndarray:
    ch = 1 if kind == "green" else 2
    others = [c for c in range(3) if c != ch]
    return pixels[..., ch] > 1.5 * pixels[..., others].max(-1)


# ---------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    # RGBA: a still soft red disc, 100x70 (the triplets crop to 96x64), 11 frames
    (d / "rgba").mkdir()
    a = disc(70, 100, 30, 40, 9)
    with ExrSequenceWriter(d / "rgba" / "sub.####.exr", first_frame=1001, rate=Fraction(24)) as w:
        for _ in range(11):
            w.write(np.concatenate([RED * a[..., None], a[..., None]], -1))
    # backgrounds: one linear EXR still, textured in blue, larger than the triplets
    (d / "bg").mkdir()
    write_exr(d / "bg" / "field.exr", texture(200, 300, seed=1))
    # footage with its own background panning 2 px a frame, the red disc in front; a PNG matte
    (d / "foot").mkdir()
    world = texture(80, 160, seed=2)
    m = disc(64, 96, 70, 32, 10)
    with ExrSequenceWriter(d / "foot" / "foot.####.exr", first_frame=0, rate=Fraction(25)) as w:
        for i in range(10):
            bg = world[8:72, 20 + 2 * i:20 + 2 * i + 96]
            w.write(np.ascontiguousarray(RED * m[..., None] + (1 - m[..., None]) * bg))
            write_png16(d / "foot" / f"matte.{i:04d}.png", m)
    # a green-screen shot: paicli's example, panning 48 px over its 5 frames
    from paicli.shot.example import make_example_shot

    make_example_shot(d / "screen", width=320, height=180, frames=5)
    return d


@pytest.fixture(scope="module")
def rgba_build(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("rgba") / "ds"
    before = sorted(p for p in inputs.rglob("*"))
    doc = built(inputs / "rgba" / "sub.####.exr", "-o", out, "--backgrounds", inputs / "bg", "--frames", 5)
    assert sorted(p for p in inputs.rglob("*")) == before  # nothing written beside the inputs
    return out, doc


# ---------------------------------------------------------------- RGBA over background stills


def test_rgba_triplets_have_the_format_the_training_reads(rgba_build, inputs):
    out, doc = rgba_build
    assert json.loads((out / "dataset.json").read_text()) == {"version": 1, "triplets": ["t0000", "t0001"]}
    for k, tid in enumerate(["t0000", "t0001"]):
        man = json.loads((out / tid / "manifest.json").read_text())
        assert {k: man[k] for k in ("version", "id", "kind", "first_frame", "frames", "width", "height", "fps",
                                    "anchors", "screen")} == {
            "version": 1, "id": tid, "kind": "matted", "first_frame": 5 * k, "frames": 5, "width": 96, "height": 64,
            "fps": 24.0, "anchors": [0, 2, 4], "screen": "green"}
        assert man["caption"] == "sub: the subject in its background" and isinstance(man["seed"], int)
        assert sorted(p.name for p in (out / tid / "plate").iterdir()) == [f"plate.{i:04d}.exr" for i in range(5)]
        assert sorted(p.name for p in (out / tid / "target").iterdir()) == [f"target.{i:04d}.exr" for i in range(5)]
        assert sorted(p.name for p in (out / tid / "refs").iterdir()) == [f"ref.{a:04d}.exr" for a in (0, 2, 4)]
        for f in ("plate/plate.0003.exr", "target/target.0000.exr", "refs/ref.0004.exr"):
            img, info = read_exr(out / tid / f)
            assert sorted(info.channels) == ["B", "G", "R"] and info.pixel_type == "half" and img.shape == (64, 96, 3)
    assert doc["summary"]["sources"][0]["frames_left_out"] == 1  # 11 frames: two triplets of 5
    listed = {o.get("sequence") or o.get("path") for o in doc["outputs"]}
    assert str(out / "t0001" / "plate" / "plate.####.exr") in listed and str(out / "dataset.json") in listed
    assert str(out / "t0000" / "refs" / "ref.0002.exr") in listed and str(out / "t0000" / "manifest.json") in listed
    assert not [p for p in out.rglob(".*")]  # no temporary left behind


def test_rgba_plate_is_the_subject_over_a_screen_and_target_the_subject_over_the_background(rgba_build, inputs):
    out, _ = rgba_build
    src = read_exr(inputs / "rgba" / "sub.1001.exr")[0][3:67, 2:98]  # the default size is a centre crop
    alpha, subject = src[..., 3], src[..., :3]
    solid, empty = alpha > 0.999, alpha == 0
    plates, targets = frames_of(out / "t0000" / "plate", "plate", 5), frames_of(out / "t0000" / "target", "target", 5)
    for i, (plate, target) in enumerate(zip(plates, targets)):
        assert screen_coloured(plate[empty], "green").mean() > 0.99
        assert np.median(np.abs(plate[solid] - subject[solid])) < 0.01  # sensor noise only
        assert np.allclose(target[solid], subject[solid], atol=2e-3)
        if i in (0, 2, 4):
            ref = read_exr(out / "t0000" / "refs" / f"ref.{i:04d}.exr")[0]
            assert np.array_equal(target[empty], ref[empty])  # the target's background is the reference
            assert np.linalg.norm(ref - RED, axis=-1).min() > 0.3  # and holds no subject


def test_the_camera_moves_the_background_and_the_plates_screen_the_same_way(rgba_build):
    out, _ = rgba_build
    subject = disc(70, 100, 30, 40, 12)[3:67, 2:98] > 0
    plates, targets = frames_of(out / "t0000" / "plate", "plate", 5), frames_of(out / "t0000" / "target", "target", 5)
    background, screen = camera_motion(targets, subject), camera_motion(plates, subject)
    assert corner_error([background], [np.eye(3)], 96, 64) > 2  # px over the triplet: the background moves
    assert corner_error([screen], [background], 96, 64) < 1.0  # measured on a noisy plate
    assert np.abs(targets[1] - targets[0])[~subject].mean() > 0.003  # and moves frame by frame


@pytest.mark.parametrize("refs,anchors", [(1, [0]), (2, [0, 4])])
def test_refs_pick_the_anchors_and_size_scales_to_cover(inputs, tmp_path, refs, anchors):
    out = tmp_path / "ds"
    built(inputs / "rgba" / "sub.####.exr", "-o", out, "--backgrounds", inputs / "bg", "--frames", 5,
          "--refs", refs, "--size", "64x32", "--screen", "blue", "--caption", "a red ball")
    man = json.loads((out / "t0000" / "manifest.json").read_text())
    assert man["anchors"] == anchors and (man["width"], man["height"]) == (64, 32) and man["caption"] == "a red ball"
    assert sorted(p.name for p in (out / "t0000" / "refs").iterdir()) == [f"ref.{a:04d}.exr" for a in anchors]
    plate = read_exr(out / "t0000" / "plate" / "plate.0000.exr")[0]
    assert plate.shape == (32, 64, 3) and man["screen"] == "blue" and screen_coloured(plate[:, -8:], "blue").all()
    # 100x70 scaled by 0.64 to cover 64x32, 6 rows cropped off the top: the disc (30, 40) r 9 -> (19.2, 19.6) r 5.8
    red = (plate[..., 0] > 0.35) & (plate[..., 1] < 0.2) & (plate[..., 2] < 0.2)
    y, x = np.nonzero(red)
    assert abs(red.sum() - np.pi * 5.8 ** 2) < 30 and abs(x.mean() - 19.2) < 1 and abs(y.mean() - 19.6) < 1


def test_manifests_hash_their_sources(rgba_build, inputs):
    out, _ = rgba_build
    sources = {s["role"]: s for s in json.loads((out / "t0000" / "manifest.json").read_text())["sources"]}
    bg = inputs / "bg" / "field.exr"
    assert sources["background"] == {"role": "background", "path": str(bg.resolve()),
                                     "sha256": hashlib.sha256(bg.read_bytes()).hexdigest()}
    frames = sorted((inputs / "rgba").glob("sub.*.exr"))
    assert sources["footage"]["sha256"] == sequence_digest(frames)


def test_building_into_a_dataset_appends_new_ids_and_leaves_the_old_ones(inputs, tmp_path):
    out = tmp_path / "ds"
    args = [inputs / "rgba" / "sub.####.exr", "-o", out, "--backgrounds", inputs / "bg", "--frames", 5]
    built(*args)
    first = (out / "t0001" / "manifest.json").read_bytes()
    plate = (out / "t0001" / "plate" / "plate.0002.exr").read_bytes()
    (out / "t0006").mkdir()  # a folder the index does not list is never written over
    doc = built(*args, "--seed", 1)
    assert json.loads((out / "dataset.json").read_text())["triplets"] == ["t0000", "t0001", "t0007", "t0008"]
    assert doc["summary"]["added"] == ["t0007", "t0008"] and list((out / "t0006").iterdir()) == []
    assert (out / "t0001" / "manifest.json").read_bytes() == first
    assert (out / "t0001" / "plate" / "plate.0002.exr").read_bytes() == plate
    seeds = [json.loads((out / t / "manifest.json").read_text())["seed"] for t in ("t0000", "t0007")]
    assert seeds[0] != seeds[1]


# ---------------------------------------------------------------- footage with a matte


@pytest.fixture(scope="module")
def matte_build(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("matte") / "ds"
    built(inputs / "foot" / "foot.####.exr", "--matte", inputs / "foot" / "matte.####.png", "-o", out, "--frames", 5)
    return out


def test_footage_with_a_matte_keeps_its_background_as_target_and_its_subject_on_the_plate(matte_build, inputs):
    out = matte_build
    man = json.loads((out / "t0001" / "manifest.json").read_text())
    assert man["kind"] == "matted" and man["first_frame"] == 5 and man["fps"] == 25.0
    roles = {s["role"]: s["sha256"] for s in man["sources"]}
    assert roles == {"footage": sequence_digest(sorted((inputs / "foot").glob("foot.*.exr"))),
                     "matte": sequence_digest(sorted((inputs / "foot").glob("matte.*.png")))}
    alpha = disc(64, 96, 70, 32, 10)
    for i, (plate, target) in enumerate(zip(frames_of(out / "t0001" / "plate", "plate", 5),
                                            frames_of(out / "t0001" / "target", "target", 5))):
        footage = read_exr(inputs / "foot" / f"foot.{5 + i:04d}.exr")[0]
        assert np.allclose(target, footage, atol=1e-3)
        assert screen_coloured(plate[alpha == 0], "green").mean() > 0.99
        assert np.median(np.abs(plate[alpha == 1] - footage[alpha == 1])) < 0.01
        # the soft edge is the subject's colour over the screen: none of the footage's own background in it
        edge = (alpha > 0.3) & (alpha < 0.7)
        ring = (cv2.dilate((alpha > 0).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0) & (alpha == 0)
        straight = (plate[edge] - (1 - alpha[edge, None]) * plate[ring].mean(0)) / alpha[edge, None]
        assert abs(np.median(straight[:, 2]) - RED[2]) < 0.05


def test_footage_refs_have_the_subject_filled_out(matte_build, inputs):
    alpha = disc(64, 96, 70, 32, 10)
    for a in (0, 2, 4):
        ref = read_exr(matte_build / "t0000" / "refs" / f"ref.{a:04d}.exr")[0]
        footage = read_exr(inputs / "foot" / f"foot.{a:04d}.exr")[0]
        inside = alpha > 0.01
        assert np.linalg.norm(ref[inside] - RED, axis=-1).min() > 0.3  # no red left where the subject was
        assert np.abs(ref[inside].mean(0) - footage[alpha == 0].mean(0)).max() < 0.05  # the background's colours
        far = cv2.erode((alpha == 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        assert np.allclose(ref[far], footage[far], atol=1e-3)


def test_footage_plates_screen_follows_the_footages_own_camera(matte_build):
    subject = disc(64, 96, 70, 32, 13) > 0
    plates = frames_of(matte_build / "t0000" / "plate", "plate", 5)
    targets = frames_of(matte_build / "t0000" / "target", "target", 5)
    pan = np.array([[1, 0, 8], [0, 1, 0], [0, 0, 1]], np.float64)  # the footage pans 2 px a frame
    assert corner_error([camera_motion(targets, subject)], [pan], 96, 64) < 0.5
    assert corner_error([camera_motion(plates, subject)], [pan], 96, 64) < 0.5


# ---------------------------------------------------------------- a green-screen shot, keyed


def test_a_screen_shot_is_keyed_its_plate_is_the_shot_and_the_background_follows_its_camera(inputs, tmp_path):
    out = tmp_path / "ds"
    shot = inputs / "screen" / "plate.mov"
    built(shot, "-o", out, "--backgrounds", inputs / "bg", "--frames", 5, "--refs", 2)
    man = json.loads((out / "t0000" / "manifest.json").read_text())
    assert (man["kind"], man["screen"], man["anchors"]) == ("keyed", "green", [0, 4])
    assert (man["width"], man["height"]) == (320, 176)  # 180 rows cropped to a multiple of 16
    assert {s["role"]: s["sha256"] for s in man["sources"]}["plate"] == hashlib.sha256(shot.read_bytes()).hexdigest()
    with open_source(shot) as src:
        shot_frames = [f[2:178] for f in src.frames(0, 5)]  # 180 rows: the centre 176
    plates = frames_of(out / "t0000" / "plate", "plate", 5)
    targets = frames_of(out / "t0000" / "target", "target", 5)
    truth = [cv2.imread(str(inputs / "screen" / "gt" / f"alpha.{i:04d}.png"), cv2.IMREAD_UNCHANGED)[2:178] / 65535.0
             for i in range(5)]
    for i in range(5):
        assert np.allclose(plates[i], shot_frames[i], atol=2e-3, rtol=2e-3)
        solid = cv2.erode((truth[i] > 0.999).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        assert np.median(np.abs(targets[i][solid] - plates[i][solid])) < 0.02  # the keyed subject
        assert screen_coloured(targets[i][truth[i] == 0], "green").mean() < 0.01  # no screen left
    screen = cv2.erode((np.maximum(truth[0], truth[4]) == 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    for a in (0, 4):
        ref = read_exr(out / "t0000" / "refs" / f"ref.{a:04d}.exr")[0]
        assert np.abs(targets[a][screen] - ref[screen]).max() < 0.02
        # the soft edge: the subject's colour over the new background, the screen's green taken out
        edge = (truth[a] > 0.2) & (truth[a] < 0.8)
        colour = np.median(plates[a][truth[a] > 0.999], axis=0)
        expected = truth[a][edge, None] * colour + (1 - truth[a][edge, None]) * ref[edge]
        assert np.median(np.abs(targets[a][edge] - expected), axis=0).max() < 0.04
    subject = ~screen
    pan = np.array([[1, 0, 48], [0, 1, 0], [0, 0, 1]], np.float64)
    assert corner_error([camera_motion(plates, subject)], [pan], 320, 176) < 0.5
    assert corner_error([camera_motion(targets, subject)], [pan], 320, 176) < 0.5


# ---------------------------------------------------------------- errors


@pytest.fixture
def plain_movie(write_prores):
    return write_prores("plain.mov", n=6)


@pytest.mark.parametrize("case,code", [
    ("missing source", 66), ("matte with two sources", 2), ("rgba without backgrounds", 2),
    ("no alpha and no screen", 65), ("frames not 4k+1", 2), ("size not multiples of 16", 2),
    ("source shorter than a triplet", 65), ("matte of another size", 65), ("missing backgrounds", 66),
    ("output is a file", 73), ("output holds a broken index", 65),
])
def test_errors_are_one_line_with_their_exit_code_and_write_nothing(case, code, inputs, tmp_path, plain_movie):
    rgba, bg, out = inputs / "rgba" / "sub.####.exr", inputs / "bg", tmp_path / "ds"
    args = {
        "missing source": [tmp_path / "nope.mov", "-o", out],
        "matte with two sources": [rgba, rgba, "--matte", inputs / "foot" / "matte.####.png", "-o", out],
        "rgba without backgrounds": [rgba, "-o", out, "--frames", 5],
        "no alpha and no screen": [plain_movie, "-o", out, "--backgrounds", bg, "--frames", 5],
        "frames not 4k+1": [rgba, "-o", out, "--backgrounds", bg, "--frames", 6],
        "size not multiples of 16": [rgba, "-o", out, "--backgrounds", bg, "--frames", 5, "--size", "100x64"],
        "source shorter than a triplet": [rgba, "-o", out, "--backgrounds", bg, "--frames", 13],
        "matte of another size": [rgba, "--matte", inputs / "bg" / "field.exr", "-o", out, "--frames", 5],
        "missing backgrounds": [rgba, "-o", out, "--backgrounds", tmp_path / "nobg", "--frames", 5],
        "output is a file": [rgba, "-o", tmp_path / "file", "--backgrounds", bg, "--frames", 5],
        "output holds a broken index": [rgba, "-o", out, "--backgrounds", bg, "--frames", 5],
    }[case]
    if case == "output is a file":
        (tmp_path / "file").write_text("x")
    if case == "output holds a broken index":
        out.mkdir()
        (out / "dataset.json").write_text("{not json")
    before = sorted(tmp_path.rglob("*"))
    got, doc, err = build(*args)
    assert got == code and err.count("\n") == 1 and err.startswith("paicli: error:"), err
    assert doc["ok"] is False and doc["exit_code"] == code and doc["command"] == "dataset build"
    assert sorted(tmp_path.rglob("*")) == before
