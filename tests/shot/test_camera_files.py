"""Camera track files: JSON round trips bit-exact, bad files are one-line 65/66 errors, the Nuke pin moves the plate."""
from __future__ import annotations

import json
import re
from fractions import Fraction

import numpy as np
import pytest

from paicli.shot.camera_files import (
    SCHEMA,
    cornerpin_to,
    read_camera_json,
    write_camera_json,
    write_nuke_cornerpin,
)
from paicli.errors import BadDataError, ExitCode, MissingInputError, OutputError

W, H = 64, 48


def random_homographies(n: int, seed: int = 0, scale_h22: bool = False) -> list[np.ndarray]:
    """Plausible camera moves (frame t -> frame 0): a few pixels of pan, small zoom, roll and keystone."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        m = np.eye(3)
        m[:2, :2] += rng.normal(0, 0.02, (2, 2))
        m[:2, 2] = rng.normal(0, 5.0, 2)
        m[2, :2] = rng.normal(0, 1e-4, 2)
        if scale_h22:
            m *= rng.uniform(0.5, 2.0)
        out.append(m)
    return out


def only_file(folder):
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- JSON round trip

def test_round_trip_is_bit_exact_and_keeps_metadata(tmp_path):
    mats = random_homographies(7)
    for m in mats:
        m /= m[2, 2]
    path = write_camera_json(tmp_path / "cam.json", mats, width=W, height=H, rate=Fraction(24000, 1001),
                             start_timecode="01:00:00:00", first_frame=1001,
                             quality={"inliers": np.array([10, 12]), "residual_px": [0.25, float("nan")]})
    assert path == tmp_path / "cam.json"
    back = read_camera_json(path, frame_count=7, width=W, height=H)
    assert len(back) == 7
    for a, b in zip(mats, back):
        assert b.dtype == np.float64 and b.shape == (3, 3)
        assert np.array_equal(a, b)  # repr precision: not one bit lost
    doc = json.loads(path.read_text())
    assert doc["schema"] == SCHEMA and doc["width"] == W and doc["height"] == H
    assert doc["rate"] == "24000/1001" and doc["start_timecode"] == "01:00:00:00" and doc["first_frame"] == 1001
    assert doc["quality"] == {"inliers": [10, 12], "residual_px": [0.25, None]}  # strict JSON: NaN -> null


def test_matrices_are_normalised_so_h22_is_one(tmp_path):
    mats = random_homographies(5, seed=1, scale_h22=True)
    back = read_camera_json(write_camera_json(tmp_path / "cam.json", mats, width=W, height=H))
    for a, b in zip(mats, back):
        assert b[2, 2] == 1.0
        np.testing.assert_allclose(b, a / a[2, 2], rtol=0, atol=1e-15)


def test_integer_rate_is_written_as_a_fraction(tmp_path):
    write_camera_json(tmp_path / "cam.json", [np.eye(3)], width=W, height=H, rate=Fraction(25))
    assert json.loads((tmp_path / "cam.json").read_text())["rate"] == "25/1"


def test_bench_form_with_only_frame_to_frame0_is_read(tmp_path):
    mats = random_homographies(3, seed=2, scale_h22=True)  # the bench does not normalise
    p = tmp_path / "camera.json"
    p.write_text(json.dumps({"frame_to_frame0": [m.tolist() for m in mats]}))
    back = read_camera_json(p, frame_count=3, width=1920, height=1080)  # no size in the file: accepted
    for a, b in zip(mats, back):
        assert np.array_equal(a, b)


# --------------------------------------------------------------------------- errors

def test_missing_file_is_66(tmp_path):
    with pytest.raises(MissingInputError) as e:
        read_camera_json(tmp_path / "nope.json")
    assert e.value.exit_code == ExitCode.NOINPUT == 66


@pytest.mark.parametrize("text", ["{not json", "\xff\xfe", "[1, 2, 3]", '{"other": 1}', '{"frame_to_frame0": []}',
                                  '{"frame_to_frame0": 5}'])
def test_not_a_camera_track_is_65(tmp_path, text):
    p = tmp_path / "cam.json"
    p.write_bytes(text.encode("latin-1"))
    with pytest.raises(BadDataError) as e:
        read_camera_json(p)
    assert e.value.exit_code == 65 and str(p) in e.value.message and "\n" not in e.value.message


def _track_with_frame1(tmp_path, bad) -> str:
    p = tmp_path / "cam.json"
    good = np.eye(3).tolist()
    p.write_text(json.dumps({"frame_to_frame0": [good, bad, good]}))
    with pytest.raises(BadDataError) as e:
        read_camera_json(p)
    assert e.value.exit_code == 65 and str(p) in e.value.message and "frame 1" in e.value.message
    assert "\n" not in e.value.message
    return e.value.message


@pytest.mark.parametrize("bad", [
    [[1, 0], [0, 1]],  # 2x2
    [[1, 0, 0], [0, 1, 0]],  # 2x3
    [[1, 0, 0], [0, 1, 0], [0, 0]],  # ragged
    [[1, 0, 0], [0, 1, 0], [0, 0, 1, 0]],
    [[1, 0, 0], [0, 1, 0], [0, 0, "1"]],  # a string
    [[1, 0, 0], [0, 1, 0], [0, 0, True]],  # a bool is not a number here
    [1, 0, 0, 0, 1, 0, 0, 0, 1],  # flat
])
def test_wrong_shape_is_65_naming_the_frame(tmp_path, bad):
    _track_with_frame1(tmp_path, bad)


def test_nan_is_65(tmp_path):
    p = tmp_path / "cam.json"
    p.write_text('{"frame_to_frame0": [[[1,0,0],[0,1,0],[0,0,1]], [[1,0,NaN],[0,1,0],[0,0,1]]]}')
    with pytest.raises(BadDataError, match="frame 1.*non-finite"):
        read_camera_json(p)


def test_infinity_is_65(tmp_path):
    assert "non-finite" in _track_with_frame1(tmp_path, [[1, 0, float("inf")], [0, 1, 0], [0, 0, 1]])


def test_singular_matrix_is_65(tmp_path):
    assert "singular" in _track_with_frame1(tmp_path, [[1, 2, 3], [2, 4, 6], [0, 0, 1]])
    assert "singular" in _track_with_frame1(tmp_path, [[0, 0, 0], [0, 0, 0], [0, 0, 0]])


def test_frame_count_mismatch_is_65(tmp_path):
    p = write_camera_json(tmp_path / "cam.json", random_homographies(4), width=W, height=H)
    with pytest.raises(BadDataError, match="track has 4 frames, the shot has 5") as e:
        read_camera_json(p, frame_count=5)
    assert e.value.exit_code == 65


def test_size_mismatch_is_65(tmp_path):
    p = write_camera_json(tmp_path / "cam.json", random_homographies(2), width=W, height=H)
    with pytest.raises(BadDataError, match=f"track is {W}x{H} pixels, the shot is {W}x{H + 2}"):
        read_camera_json(p, width=W, height=H + 2)
    with pytest.raises(BadDataError):
        read_camera_json(p, width=W + 1)
    read_camera_json(p, width=W)  # only what is asked is checked


def test_unknown_schema_is_65(tmp_path):
    p = tmp_path / "cam.json"
    p.write_text(json.dumps({"schema": "paicli.camera.9", "frame_to_frame0": [np.eye(3).tolist()]}))
    with pytest.raises(BadDataError, match="schema"):
        read_camera_json(p)


# --------------------------------------------------------------------------- atomicity

def test_writing_leaves_no_temporary_files(tmp_path):
    write_camera_json(tmp_path / "cam.json", random_homographies(3), width=W, height=H)
    write_camera_json(tmp_path / "cam.json", random_homographies(2), width=W, height=H)  # replaces
    write_nuke_cornerpin(tmp_path / "cam.nk", random_homographies(3), width=W, height=H)
    assert only_file(tmp_path) == ["cam.json", "cam.nk"]
    assert len(read_camera_json(tmp_path / "cam.json")) == 2


@pytest.mark.parametrize("bad", [np.eye(2), np.full((3, 3), np.nan), np.zeros((3, 3)),
                                 np.array([[1.0, 0, 5], [0, 1, 0], [1e-3, 0, 0]])])
def test_a_bad_matrix_raises_before_anything_is_written(tmp_path, bad):
    mats = random_homographies(3) + [bad]
    with pytest.raises(BadDataError, match="frame 3"):
        write_camera_json(tmp_path / "cam.json", mats, width=W, height=H)
    assert only_file(tmp_path) == []


def test_a_failed_rewrite_keeps_the_old_file(tmp_path):
    p = write_camera_json(tmp_path / "cam.json", random_homographies(3), width=W, height=H)
    before = p.read_bytes()
    with pytest.raises(BadDataError):
        write_camera_json(p, [np.eye(3), np.ones((3, 4))], width=W, height=H)
    with pytest.raises(BadDataError):
        write_nuke_cornerpin(tmp_path / "cam.nk", [np.eye(3), np.ones((3, 4))], width=W, height=H)
    assert p.read_bytes() == before and only_file(tmp_path) == ["cam.json"]


def test_missing_output_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError):
        write_camera_json(tmp_path / "nope" / "cam.json", [np.eye(3)], width=W, height=H)


# --------------------------------------------------------------------------- Nuke corner pin

_KNOB = re.compile(r"^ (to[1-4]) \{\{curve x(-?\d+) ([^}]*)\} \{curve x(-?\d+) ([^}]*)\}\}$", re.M)
_FROM = re.compile(r"^ (from[1-4]) \{(\S+) (\S+)\}$", re.M)


def parse_cornerpin(text: str) -> tuple[dict[str, tuple[int, np.ndarray, np.ndarray]], dict[str, tuple[float, float]]]:
    """{"to1": (first frame, xs, ys)}, {"from1": (x, y)} from our own .nk output."""
    to = {}
    for knob, fx, xs, fy, ys in _KNOB.findall(text):
        assert fx == fy
        to[knob] = (int(fx), np.array(xs.split(), float), np.array(ys.split(), float))
    frm = {knob: (float(x), float(y)) for knob, x, y in _FROM.findall(text)}
    return to, frm


def _apply(m: np.ndarray, xy: tuple[float, float]) -> np.ndarray:
    v = m @ np.array([xy[0], xy[1], 1.0])
    return v[:2] / v[2]


def test_nuke_cornerpin_keys_are_the_frame0_corners_seen_in_each_frame(tmp_path):
    mats = random_homographies(6, seed=3, scale_h22=True)
    p = write_nuke_cornerpin(tmp_path / "cam.nk", mats, width=W, height=H, first_frame=1001, name="shot010_track")
    text = p.read_text()
    assert text.startswith("# paicli camera track: ")
    assert "CornerPin2D {" in text and " name shot010_track" in text and " invert false" in text
    assert text.count("{") == text.count("}")
    to, frm = parse_cornerpin(text)
    assert sorted(to) == ["to1", "to2", "to3", "to4"]
    assert frm == {"from1": (0, 0), "from2": (W, 0), "from3": (W, H), "from4": (0, H)}
    # OpenCV pixel coordinates (centres on integers, y down) of the image corners, in pin order BL, BR, TR, TL
    cv_corners = [(-0.5, H - 0.5), (W - 0.5, H - 0.5), (W - 0.5, -0.5), (-0.5, -0.5)]
    for t in (0, 2, 5):
        inv = np.linalg.inv(mats[t])
        for k, knob in enumerate(["to1", "to2", "to3", "to4"]):
            first, xs, ys = to[knob]
            assert first == 1001 and len(xs) == len(ys) == 6
            x, y = _apply(inv, cv_corners[k])
            np.testing.assert_allclose([xs[t], ys[t]], [x + 0.5, H - 0.5 - y], rtol=0, atol=1e-9)  # y flipped up


def test_nuke_cornerpin_is_exact_for_a_pure_pan(tmp_path):
    # frame t shows the plate moved 3 px right and 2 px down per frame: frame_to_frame0 subtracts that
    mats = [np.array([[1, 0, -3.0 * t], [0, 1, -2.0 * t], [0, 0, 1]]) for t in range(3)]
    nk = write_nuke_cornerpin(tmp_path / "pan.nk", mats, width=W, height=H, first_frame=1)
    to, _ = parse_cornerpin(nk.read_text())
    first, xs, ys = to["to1"]  # bottom-left corner
    assert first == 1
    np.testing.assert_allclose(xs, [0, 3, 6])
    np.testing.assert_allclose(ys, [0, -2, -4])  # down in the image is down in Nuke too
    np.testing.assert_allclose(to["to3"][1:], [[W, W + 3, W + 6], [H, H - 2, H - 4]])


def test_cornerpin_to_identity_is_the_image_corners():
    np.testing.assert_allclose(cornerpin_to(np.eye(3), W, H), [[0, 0], [W, 0], [W, H], [0, H]], atol=1e-12)


def test_nuke_cornerpin_rejects_a_camera_whose_horizon_crosses_the_plate(tmp_path):
    horizon = np.array([[1.0, 0, 0], [0, 1, 0], [0, -1.0 / 20, 1]])  # w changes sign at y = 20 in frame 0
    with pytest.raises(BadDataError, match="frame 1"):
        write_nuke_cornerpin(tmp_path / "cam.nk", [np.eye(3), np.linalg.inv(horizon)], width=W, height=H)
    assert only_file(tmp_path) == []
