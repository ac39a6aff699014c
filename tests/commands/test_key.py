"""``paicli key``: outputs with the source's exact timing, a matte close to the truth, clean
failures (one line, a sysexits code, no files left behind), presets and sequences.

The shot is ``paicli.shot.example`` at 320x180, 6 frames: a green screen with markers, a
soft subject with strands and its ground-truth alpha. Most runs are in-process through
``paicli.cli.run`` (one cheap shot, shared by the module); the CLI boundary itself is
checked in subprocesses where it matters.
"""
import contextlib
import io
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.colour import bt709_oetf
from paicli.cli import run
from paicli.media.exr import read_exr

FRAMES = 6
WIDTH, HEIGHT = 320, 180


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module", autouse=True)
def isolated(tmp_path_factory):
    """No PAICLI_* variables or project file from the developer's shell."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("PAICLI_")]:
            mp.delenv(name)
        mp.chdir(tmp_path_factory.mktemp("cwd"))
        yield


def key(*args):
    """``paicli key ARGS`` in-process; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(["key", *map(str, args), "--progress", "none"])
    return code, out.getvalue(), err.getvalue()


def key_json(*args):
    code, out, err = key(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def paicli(*args):
    """``paicli ARGS`` in a fresh process; returns (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAICLI_")}
    p = subprocess.run([sys.executable, "-m", "paicli.cli", *map(str, args)], capture_output=True, text=True, env=env)
    return p.returncode, p.stdout, p.stderr


def gt_alpha(shot: Path, i: int) -> np.ndarray:
    import cv2

    return cv2.imread(str(shot / "gt" / f"alpha.{i:04d}.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 65535.0


def read_movie(path, colourspace=None) -> list[np.ndarray]:
    from paicli.media.reader import open_source

    with open_source(path, colourspace_name=colourspace) as src:
        return list(src.frames())


def ffprobe_streams(path) -> list[dict]:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_streams", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["streams"]


def files_under(folder: Path) -> list[Path]:
    """Everything under ``folder``, hidden temporaries included."""
    return sorted(folder.rglob("*")) if folder.exists() else []


def write_movie(path: Path, frames, rate=Fraction(24), tc="01:00:00:00"):
    from paicli.media.prores import ProResWriter
    from paicli.media.timing import Timecode

    h, w = frames[0].shape[:2]
    with ProResWriter(path, w, h, rate, profile="hq", start_timecode=Timecode.parse(tc, rate)) as wr:
        for f in frames:
            wr.write(f)
    return path


def brown_gradient_frames(n=4, h=48, w=64):
    """A natural-looking, screen-free picture: a warm grey/brown gradient with a little noise."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([0.25 + 0.3 * x / w, 0.2 + 0.2 * x / w, 0.12 + 0.1 * y / h], -1)
    return [(base + rng.normal(0, 0.005, base.shape)).astype(np.float32) for _ in range(n)]


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> Path:
    from paicli.shot.example import make_example_shot

    folder = tmp_path_factory.mktemp("example")
    make_example_shot(folder, width=WIDTH, height=HEIGHT, frames=FRAMES)
    return folder


@pytest.fixture(scope="module")
def exr_run(shot, tmp_path_factory):
    out = tmp_path_factory.mktemp("exr")
    return key_json(shot / "plate.mov", "-o", out), out


@pytest.fixture(scope="module")
def prores_run(shot, tmp_path_factory):
    out = tmp_path_factory.mktemp("prores")
    return key_json(shot / "plate.mov", "-o", out, "--outputs", "rgba,matte,fg", "--format", "prores"), out


# ---------------------------------------------------------------- default outputs: EXR sequences


def test_key_json_lists_rgba_and_matte_exr_sequences_with_the_plates_timing(exr_run):
    d, out = exr_run
    assert d["command"] == "key" and d["ok"] and not d["dry_run"]
    assert [o["kind"] for o in d["outputs"]] == ["rgba", "matte"]
    assert [o["content"] for o in d["outputs"]] == ["premultiplied RGBA", "alpha"]
    assert [o["sequence"] for o in d["outputs"]] == [str(out / "plate_key.####.exr"), str(out / "plate_matte.####.exr")]
    for o in d["outputs"]:
        assert o["format"] == "exr_zip"
        assert o["frame_range"] == [1001, 1000 + FRAMES] and o["frame_count"] == FRAMES
        assert o["rate"] == "24000/1001"
        assert o["timecode"] == {"start": "01:00:00:00", "end": "01:00:00:05", "drop_frame": False}
        assert o["source_range"] == [0, FRAMES - 1]
    assert d["summary"]["frames"] == FRAMES and d["summary"]["source_range"] == [0, FRAMES - 1]


def test_key_reports_the_screen_it_found(exr_run):
    report = exr_run[0]["summary"]["screen_report"]
    assert report["screen"] == "green"
    r, g, b = report["screen_colour"]
    assert g > 2 * max(r, b)
    assert 0.5 < report["coverage"] <= 1.0 and 0.0 < report["evenness"] <= 1.0


def test_key_exr_frames_are_published_whole_with_timecode_rate_and_reel(exr_run):
    from paicli.media.exr import read_exr

    _, out = exr_run
    names = [p.name for p in files_under(out)]
    assert names == sorted([f"plate_key.{1001 + i}.exr" for i in range(FRAMES)] +
                           [f"plate_matte.{1001 + i}.exr" for i in range(FRAMES)])  # no temporaries left
    rgba, first = read_exr(out / "plate_key.1001.exr")
    assert rgba.shape == (HEIGHT, WIDTH, 4) and sorted(first.channels) == ["A", "B", "G", "R"]
    assert str(first.timecode) == "01:00:00:00" and first.rate == Fraction(24000, 1001)
    assert first.attributes.get("reelName") == "A001C001"
    matte, last = read_exr(out / f"plate_matte.{1000 + FRAMES}.exr")
    assert matte.shape == (HEIGHT, WIDTH, 3) and str(last.timecode) == "01:00:00:05"


def test_key_exr_matte_is_close_to_the_ground_truth_alpha(exr_run, shot):
    from paicli.media.exr import read_exr

    _, out = exr_run
    for i in range(FRAMES):
        matte = read_exr(out / f"plate_matte.{1001 + i}.exr")[0][..., 0]
        gt = gt_alpha(shot, i)
        assert np.abs(matte - gt).mean() < 0.02
        assert np.abs(matte - gt).mean() < 0.2 * gt.mean()  # far better than an empty matte
        rgba = read_exr(out / f"plate_key.{1001 + i}.exr")[0]
        np.testing.assert_array_equal(rgba[..., 3], matte)  # the same alpha in both files
        assert (rgba[..., :3][rgba[..., 3] == 0] == 0).all()  # premultiplied: no colour where alpha is 0


# ---------------------------------------------------------------- ProRes


def test_key_prores_json_lists_three_movies_with_the_plates_timing(prores_run):
    d, out = prores_run
    assert [(o["kind"], o["content"], Path(o["path"]).name, o["format"]) for o in d["outputs"]] == [
        ("rgba", "premultiplied RGBA", "plate_key.mov", "prores_4444"),
        ("matte", "alpha", "plate_matte.mov", "prores_hq"),
        ("fg", "despilled straight RGB", "plate_fg.mov", "prores_hq"),
    ]
    for o in d["outputs"]:
        assert o["frame_range"] == [0, FRAMES - 1] and o["rate"] == "24000/1001"
        assert o["timecode"]["start"] == "01:00:00:00" and o["timecode"]["end"] == "01:00:00:05"
    assert [p.name for p in files_under(out)] == ["plate_fg.mov", "plate_key.mov", "plate_matte.mov"]


@pytest.mark.needs_ffmpeg
def test_key_prores_movies_probe_with_the_sources_rate_count_and_timecode(prores_run):
    _, out = prores_run
    for name in ("plate_key.mov", "plate_matte.mov", "plate_fg.mov"):
        streams = ffprobe_streams(out / name)
        video = [s for s in streams if s["codec_type"] == "video"]
        assert len(video) == 1
        v = video[0]
        assert v["codec_name"] == "prores" and v["r_frame_rate"] == "24000/1001" and int(v["nb_frames"]) == FRAMES
        assert (v["width"], v["height"]) == (WIDTH, HEIGHT)
        tmcd = [s for s in streams if s.get("codec_tag_string") == "tmcd"]
        assert tmcd and tmcd[0]["tags"]["timecode"] == "01:00:00:00"
        assert tmcd[0]["tags"].get("reel_name") == "A001C001"
    rgba = [s for s in ffprobe_streams(out / "plate_key.mov") if s["codec_type"] == "video"][0]
    assert rgba["codec_tag_string"] == "ap4h" and rgba["profile"] == "4444" and rgba["pix_fmt"].startswith("yuva444p")


def test_key_prores_rgba_alpha_and_matte_values_are_close_to_the_ground_truth(prores_run, shot):
    from paicli.media.probe import probe

    _, out = prores_run
    info = probe(out / "plate_key.mov")
    assert info.has_alpha and info.profile == "4444" and info.frame_count == FRAMES
    rgba = read_movie(out / "plate_key.mov")
    matte = read_movie(out / "plate_matte.mov", colourspace="linear")  # code values = alpha
    for i in range(FRAMES):
        gt = gt_alpha(shot, i)
        half = (gt > 0.4) & (gt < 0.6)  # the soft edge: where a wrong transfer curve shows most
        assert rgba[i].shape == (HEIGHT, WIDTH, 4)
        for alpha in (rgba[i][..., 3], matte[i][..., 0]):
            assert np.abs(alpha - gt).mean() < 0.02
            assert abs(alpha[half].mean() - gt[half].mean()) < 0.05


def test_key_prores_matte_reads_back_as_the_alpha_by_its_own_tags(prores_run, shot):
    _, out = prores_run
    matte = read_movie(out / "plate_matte.mov")[0][..., 0]
    gt = gt_alpha(shot, 0)
    half = (gt > 0.4) & (gt < 0.6)
    assert abs(matte[half].mean() - gt[half].mean()) < 0.05


# ---------------------------------------------------------------- ranges and sequences


@pytest.mark.parametrize("frames", ["2-3", "01:00:00:02-01:00:00:03"], ids=["indices", "timecodes"])
def test_key_frames_with_handles_writes_the_range_and_its_timecode(shot, tmp_path, frames):
    from paicli.media.exr import read_exr

    d = key_json(shot / "plate.mov", "-o", tmp_path, "--frames", frames, "--handles", "1")
    assert d["summary"]["source_range"] == [1, 4] and d["summary"]["frames"] == 4
    for o in d["outputs"]:
        assert o["frame_range"] == [1001, 1004] and o["frame_count"] == 4
        assert o["timecode"]["start"] == "01:00:00:01" and o["timecode"]["end"] == "01:00:00:04"
        assert o["source_range"] == [1, 4]
    assert len(list(tmp_path.glob("plate_matte.*.exr"))) == 4
    # the frames keyed are the plate's frames 1-4: each matte is nearest its own ground truth
    for n, i in enumerate(range(1, 5)):
        matte = read_exr(tmp_path / f"plate_matte.{1001 + n}.exr")[0][..., 0]
        errors = [np.abs(matte - gt_alpha(shot, j)).mean() for j in range(FRAMES)]
        assert int(np.argmin(errors)) == i


def test_key_first_frame_and_name_options_number_and_name_the_outputs(shot, tmp_path):
    d = key_json(shot / "plate.mov", "-o", tmp_path, "--frames", "0-1", "--first-frame", "timecode",
                 "--name", "sh010", "--outputs", "matte")
    (o,) = d["outputs"]
    first = 86400  # 01:00:00:00 counted at 24 frames a second
    assert o["sequence"] == str(tmp_path / "sh010_matte.####.exr") and o["frame_range"] == [first, first + 1]
    assert sorted(p.name for p in files_under(tmp_path)) == [f"sh010_matte.{first}.exr", f"sh010_matte.{first + 1}.exr"]


@pytest.fixture(scope="module")
def plate_frames(shot):
    """The example plate decoded to scene-linear frames."""
    return read_movie(shot / "plate.mov")


def test_key_an_exr_sequence_shot_keeps_its_timing(plate_frames, shot, tmp_path):
    from paicli.media.exr import ExrSequenceWriter

    src = tmp_path / "plate_exr"
    src.mkdir()
    with ExrSequenceWriter(src / "plate.####.exr", first_frame=86400, rate=Fraction(24000, 1001),
                           start_timecode="01:00:00:00", pixel_type="float") as w:
        for f in plate_frames:
            w.write(f)
    out = tmp_path / "out"
    d = key_json(src / "plate.####.exr", "-o", out, "--frames", "86401-86402")
    for o in d["outputs"]:
        assert o["sequence"].startswith(str(out / "plate_"))
        assert o["frame_range"] == [1001, 1002] and o["rate"] == "24000/1001"
        assert o["timecode"]["start"] == "01:00:00:01" and o["source_range"] == [1, 2]
    from paicli.media.exr import read_exr

    matte = read_exr(out / "plate_matte.1001.exr")[0][..., 0]
    assert np.abs(matte - gt_alpha(shot, 1)).mean() < 0.02


def test_key_a_png_sequence_shot(plate_frames, shot, tmp_path):
    from engine.colour import srgb_encode
    from paicli.media.stills import write_png16

    src = tmp_path / "plate_png"
    src.mkdir()
    for i, f in enumerate(plate_frames):
        write_png16(src / f"plate.{i + 1:04d}.png", np.clip(srgb_encode(f), 0.0, 1.0))
    out = tmp_path / "out"
    d = key_json(src / "plate.0001.png", "-o", out, "--outputs", "matte")  # a member file names the sequence
    (o,) = d["outputs"]
    assert o["frame_count"] == FRAMES and o["rate"] == "24"  # a PNG carries no rate: the default
    assert "timecode" not in o  # nor a timecode
    from paicli.media.exr import read_exr

    for i in (0, FRAMES - 1):
        matte = read_exr(out / f"plate_matte.{1001 + i}.exr")[0][..., 0]
        assert np.abs(matte - gt_alpha(shot, i)).mean() < 0.02


# ---------------------------------------------------------------- user mattes and boxes


def test_key_garbage_matte_and_core_box_force_screen_and_foreground(shot, tmp_path):
    from paicli.media.exr import read_exr
    from paicli.media.stills import write_png16

    garbage = np.zeros((HEIGHT, WIDTH), np.float32)
    garbage[:, WIDTH // 2:] = 1.0  # the right half is always screen
    write_png16(tmp_path / "garbage.png", garbage)
    out = tmp_path / "out"
    code, stdout, err = key(shot / "plate.mov", "-o", out, "--outputs", "matte", "--frames", "0-0",
                            "--garbage-matte", tmp_path / "garbage.png", "--core-box", "0,0,20,10")
    assert code == 0, err
    lines = stdout.strip().splitlines()
    assert lines[0].startswith("screen: green screen, colour ")  # the screen report, then the files
    assert lines[-1] == f"wrote matte: {out / 'plate_matte.####.exr'} (1 frames)"
    matte = read_exr(out / "plate_matte.1001.exr")[0][..., 0]
    assert (matte[:, WIDTH // 2:] == 0).all()
    assert (matte[:10, :20] == 1).all()
    gt = gt_alpha(shot, 0)
    assert np.abs(matte - gt)[:, 20:WIDTH // 2 - 10].mean() < 0.03  # the rest keyed as usual


def test_key_garbage_matte_of_the_wrong_size_exits_65(shot, tmp_path):
    from paicli.media.stills import write_png16

    write_png16(tmp_path / "small.png", np.ones((50, 100), np.float32))
    out = tmp_path / "out"
    code, stdout, err = key(shot / "plate.mov", "-o", out, "--garbage-matte", tmp_path / "small.png")
    assert code == 65 and stdout == ""
    assert err.count("\n") == 1 and "garbage matte" in err and "100x50" in err and f"{WIDTH}x{HEIGHT}" in err
    assert files_under(out) == []


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize("fmt", ["exr", "prores"])
def test_key_a_non_screen_movie_exits_65_and_leaves_no_files(tmp_path, fmt):
    movie = write_movie(tmp_path / "wall.mov", brown_gradient_frames())
    out = tmp_path / "out"
    code, stdout, err = key(movie, "-o", out, "--format", fmt, "--outputs", "rgba,matte,fg")
    assert code == 65 and stdout == ""
    assert err.count("\n") == 1 and "no dominant green or blue screen" in err and "Traceback" not in err
    assert files_under(out) == []  # temporaries included


@pytest.mark.parametrize("screen", ["auto", "green"])
def test_key_a_dim_desaturated_real_screen_is_keyed(tmp_path, screen):
    """A backdrop lit as stages light them (linear 0.14, 0.30, 0.20, falling off to the corners:
    about sRGB 105,150,125 at its brightest) was refused with 65, even with --screen green."""
    rng = np.random.default_rng(1)
    h, w = 48, 64
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 - 0.4 * (((x - w / 2) / w) ** 2 + ((y - h / 2) / h) ** 2) / 0.5
    subject = (np.hypot(x - w / 2, y - h / 2) < 12)[..., None]
    frames = [(np.where(subject, 0.25, np.array([0.14, 0.30, 0.20]) * light[..., None])
               + rng.normal(0, 0.003, (h, w, 3))).astype(np.float32) for _ in range(3)]
    movie = write_movie(tmp_path / "real.mov", frames)
    code, stdout, err = key(movie, "-o", tmp_path / "out", "--screen", screen, "--outputs", "matte", "--json")
    assert code == 0, err
    assert json.loads(stdout)["summary"]["screen_report"]["screen"] == "green"


def _close_up(h=48, w=64, screen=(0.14, 0.30, 0.20)):
    """A close-up: the subject fills most of the frame, the screen shows in a strip at the top."""
    rng = np.random.default_rng(2)
    img = np.zeros((h, w, 3), np.float32) + np.array([0.3, 0.22, 0.18], np.float32)
    img[: h // 6] = screen
    return [(img + rng.normal(0, 0.002, img.shape)).astype(np.float32) for _ in range(2)]


def test_key_screen_colour_keys_a_shot_whose_screen_is_too_small_to_find(tmp_path):
    movie = write_movie(tmp_path / "close.mov", _close_up())
    code, _, err = key(movie, "-o", tmp_path / "auto", "--outputs", "matte")
    assert code == 65 and "covers 1" in err  # the strip is a sixth of the frame: not found on its own
    # picked as an editor's eyedropper reads the movie: BT.709-encoded 8-bit code values
    picked = [round(255 * v) for v in bt709_oetf(np.array([0.14, 0.30, 0.20], np.float32))]
    code, stdout, err = key(movie, "-o", tmp_path / "out", "--outputs", "matte", "--json",
                            "--screen-colour", ",".join(map(str, picked)))
    assert code == 0, err
    report = json.loads(stdout)["summary"]["screen_report"]
    assert report["screen"] == "green"
    np.testing.assert_allclose(report["screen_colour"], [0.14, 0.30, 0.20], atol=0.01)
    matte = read_exr(tmp_path / "out" / "close_matte.1001.exr")[0][..., 0]
    assert matte[:6].mean() < 0.1 and matte[16:].mean() > 0.9


@pytest.mark.parametrize("value, says", [("200,100,100", "is not a green or blue screen's"),
                                         ("1,2", "R,G,B as 0-1 values or 0-255 code values")])
def test_key_screen_colour_that_is_no_screen_colour_is_a_usage_error(tmp_path, value, says):
    movie = write_movie(tmp_path / "close.mov", _close_up())
    code, stdout, err = key(movie, "-o", tmp_path / "out", "--screen-colour", value)
    assert code == 2 and stdout == "" and says in err and err.count("\n") == 1
    assert files_under(tmp_path / "out") == []


def test_key_the_fixture_gradient_movie_is_not_a_screen(write_prores, tmp_path):
    code, _, err = key(write_prores(), "-o", tmp_path / "out")
    assert code == 65 and "no dominant" in err


def test_key_a_missing_shot_exits_66_in_one_line(tmp_path):
    code, out, err = paicli("key", tmp_path / "nope.mov", "-o", tmp_path / "out")
    assert code == 66 and out == ""
    assert err.count("\n") == 1 and "no such file" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_key_a_missing_sequence_exits_66(tmp_path):
    code, _, err = paicli("key", tmp_path / "plate.####.exr", "-o", tmp_path / "out")
    assert code == 66 and err.count("\n") == 1


@pytest.mark.parametrize("args", [["--outputs", "rgba,alpha"], ["--screen", "red"], ["--core-box", "10,10,5,5"],
                                  ["--frames", "4-2"], ["--frames", "0-99"]],
                         ids=["unknown-output", "unknown-screen", "empty-box", "backwards-range", "outside-range"])
def test_key_bad_options_exit_2(shot, tmp_path, args):
    code, _, err = key(shot / "plate.mov", "-o", tmp_path / "out", *args)
    assert code == 2 and err.count("\n") == 1
    assert files_under(tmp_path / "out") == []


def test_key_runs_end_to_end_in_a_fresh_process(shot, tmp_path):
    code, out, err = paicli("key", shot / "plate.mov", "-o", tmp_path / "out", "--frames", "0-0", "--json",
                            "--progress", "none")
    assert code == 0, err
    assert json.loads(out)["outputs"][0]["frame_count"] == 1


# ---------------------------------------------------------------- settings


def test_key_dry_run_prints_settings_with_their_sources(shot, tmp_path, monkeypatch):
    import tomllib

    from paicli.shot.settings import KEY as SCHEMA
    from paicli.settings import find_preset

    preset = tomllib.loads(find_preset("fine-hair")[0].read_text())["key"]
    monkeypatch.setenv("PAICLI_TEMPORAL", "0.2")
    out = tmp_path / "out"
    d = key_json(shot / "plate.mov", "-o", out, "--dry-run", "--preset", "fine-hair", "--despot", "10")
    s = d["settings"]
    assert d["dry_run"] and d["command"] == "key"
    assert s["edge_protect"] == {"value": preset["edge_protect"], "source": "preset:fine-hair"}
    assert s["despill"] == {"value": preset["despill"], "source": "preset:fine-hair"}
    assert "temporal" in preset and s["temporal"] == {"value": 0.2, "source": "env:PAICLI_TEMPORAL"}  # env > preset
    assert s["despot"] == {"value": 10, "source": "cli"}  # the command line beats the preset's despot
    assert s["screen_gain"] == {"value": SCHEMA.settings["screen_gain"].default, "source": "default"}
    assert s["preset"] == {"value": "fine-hair", "source": "cli"}
    assert [o["sequence"] for o in d["outputs"]] == [str(out / "plate_key.####.exr"), str(out / "plate_matte.####.exr")]
    assert d["summary"]["frames"] == FRAMES
    assert not out.exists()


def test_key_dry_run_without_json_prints_a_table_and_would_write_lines(shot, tmp_path):
    code, out, err = key(shot / "plate.mov", "-o", tmp_path / "o", "--dry-run", "--format", "prores")
    assert code == 0, err
    assert "edge_protect" in out and f"would write rgba: {tmp_path / 'o' / 'plate_key.mov'}" in out
    assert not (tmp_path / "o").exists()


def _presets():
    from paicli.settings import list_presets

    return list_presets()


@pytest.mark.parametrize("name", _presets())
def test_every_preset_resolves_for_the_key_command(shot, tmp_path, name):
    d = key_json(shot / "plate.mov", "-o", tmp_path / "out", "--dry-run", "--preset", name)
    s = d["settings"]
    assert s["preset"]["value"] == name
    from paicli.shot.settings import KEY as SCHEMA

    assert set(s) == set(SCHEMA.settings) | {"preset"}
    assert not (tmp_path / "out").exists()


def test_key_bad_preset_value_in_a_project_file_exits_78(shot, tmp_path, monkeypatch):
    (tmp_path / "paicli.toml").write_text('[key]\nclip_black = 0.9\n')
    monkeypatch.chdir(tmp_path)
    code, _, err = key(shot / "plate.mov", "-o", tmp_path / "out", "--dry-run")
    assert code == 78 and "clip_black" in err and err.count("\n") == 1


def test_key_mattes_equal_the_keyer_run_frame_by_frame(shot, exr_run):
    """Frames are keyed a frame or two ahead on a worker thread and finished in order: the
    written mattes are the keyer's, frame by frame, temporal hold included."""
    from engine.key.keyer import Keyer, KeyParams
    from engine.key.screen import detect_screen
    from paicli.media.reader import open_source

    _, out = exr_run
    with open_source(str(shot / "plate.mov")) as src:
        frames = [f[..., :3] for f in src.frames()]
        factors = src.info.chroma_subsampling
    assert factors == (1, 2)  # ProRes 422: paicli key rebuilds its chroma before keying
    keyer = Keyer(KeyParams(chroma_subsampling=factors), detect_screen(frames[0]))
    for i, img in enumerate(frames):
        written = read_exr(out / f"plate_matte.{1001 + i}.exr")[0][..., 0]
        expected = keyer.key(img).alpha.astype(np.float16).astype(np.float32)  # EXR half
        np.testing.assert_array_equal(written, expected)


def test_key_says_when_screen_coloured_areas_inside_the_subject_were_kept(tmp_path):
    h, w = 96, 128
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    disc = np.hypot(x - w / 2, y - h / 2) < 36
    badge = (np.abs(x - w / 2) < 5) & (np.abs(y - h / 2) < 5)
    img = np.where(disc[..., None], np.array([0.6, 0.5, 0.2], np.float32), np.array([0.06, 0.45, 0.10], np.float32))
    img[badge] = (0.06, 0.45, 0.10)
    movie = write_movie(tmp_path / "badge.mov", [img.astype(np.float32)] * 3)
    code, stdout, err = key(movie, "-o", tmp_path / "out", "--outputs", "matte", "--json")
    assert code == 0, err
    inside = json.loads(stdout)["summary"]["screen_report"]["screen_inside_subject"]
    assert inside["frames"] == 3 and 50 < inside["max_px"] < 200
    code, stdout, _ = key(movie, "-o", tmp_path / "out2", "--outputs", "matte")
    assert "note: screen-coloured areas inside the subject were kept as foreground on 3 frame(s)" in stdout
