"""Sources are never outputs, for ``render``: a plan whose outputs would replace a shot's media
or reference stills is refused (73) before any work, naming both, whatever the executor; and
nothing staged moves into place over a source."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import lock_trials
from paicli.cli import run
from paicli.errors import OutputError
from paicli.render.run import _move_into_place
from paicli.sources import SOURCES


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def media(tmp_path) -> tuple[Path, Path]:
    """(a list whose one shot's media is ``media/A001C001_v001_comp.mov``, that media file)."""
    edl = lock_trials.project(tmp_path / "p", shots=1)
    folder = tmp_path / "media"
    folder.mkdir()
    plate = folder / "A001C001_v001_comp.mov"
    shutil.copy(edl.parent / "shot" / "plate.mov", plate)
    edl.write_text(edl.read_text().replace(str(edl.parent / "shot" / "plate.mov"), str(plate))
                   .replace("clip1", "A001C001"))
    return edl, plate


def _render(edl: Path, out: Path, *extra: str) -> int:
    return run(["render", str(edl), "-o", str(out), "--bg-map", str(edl.parent / "map.json"), "--no-qc",
                "--handles", "0", "--progress", "none", "--name-template", "{clip}_v{version}", *extra])


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_rendering_into_the_media_folder_over_a_source_is_refused_before_any_work(media, capsys, executor):
    edl, plate = media
    before = _digest(plate)
    assert _render(edl, plate.parent, "--format", "prores", "--executor", executor) == 73
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip() and not ln.startswith("Token auth")]
    assert len(err) == 1 and err[0].startswith("paicli: error: 001_A001C001's output ")
    assert f"{plate} would overwrite the source {plate}" in err[0]
    assert _digest(plate) == before
    assert sorted(p.name for p in plate.parent.iterdir()) == [plate.name]  # no staging, lock or report


def test_a_source_named_like_an_output_in_another_letter_case_is_refused_too(media, capsys):
    edl, plate = media
    lower = plate.rename(plate.with_name(plate.name.lower()))  # the same file on a case-insensitive share
    edl.write_text(edl.read_text().replace(str(plate), str(lower)))
    assert _render(edl, plate.parent, "--format", "prores") == 73
    assert f"would overwrite the source {lower}" in capsys.readouterr().err


def test_a_reference_still_in_the_output_folder_named_like_an_output_is_refused(tmp_path, capsys):
    edl = lock_trials.project(tmp_path / "p", shots=1)
    out = tmp_path / "out"
    out.mkdir()
    still = out / "clip1_v001_thumbs.jpg"
    shutil.copy(sorted((edl.parent / "shot" / "refs").iterdir())[0], still)
    (edl.parent / "map.json").write_text(json.dumps({"A001C001": [str(still)]}))
    before = _digest(still)
    assert _render(edl, out, "--format", "exr") == 73
    assert f"would overwrite the source {still}" in capsys.readouterr().err
    assert _digest(still) == before


def test_a_render_into_a_folder_holding_other_files_goes_on(media, capsys):
    edl, plate = media
    assert _render(edl, plate.parent, "--format", "exr", "--name-template", "{shot}_v{version}") == 0
    assert (plate.parent / "001_A001C001_v001_render.json").is_file()


def test_nothing_staged_moves_into_place_over_a_source(tmp_path):
    staging, final = tmp_path / "staging", tmp_path / "final"
    staging.mkdir()
    final.mkdir()
    (staging / "s_comp.mov").write_bytes(b"new")
    (staging / "s_render.json").write_text("{}")
    source = final / "s_comp.mov"
    source.write_bytes(b"source")
    SOURCES.add(source)
    with pytest.raises(OutputError, match=f"{source} would overwrite the source {source}"):
        _move_into_place(staging, final, "s_render.json", whole=False)
    assert source.read_bytes() == b"source" and sorted(p.name for p in staging.iterdir()) == [
        "s_comp.mov", "s_render.json"]
    assert not (final / "s_render.json").exists()
