"""Nothing is written outside the output folder, whatever a name says."""
import os

import pytest

from paicli.errors import OutputError
from paicli.paths import safe_output_path, sanitize_name


@pytest.mark.parametrize("name", ["../../etc/passwd", "/abs/olute", "a/../../b", "..", "nul\x00byte", "~/x"])
def test_hostile_names_stay_inside(tmp_path, name):
    out = tmp_path / "out"
    try:
        p = safe_output_path(out, name)
    except OutputError:
        return
    assert out.resolve() in p.resolve().parents


def test_symlinked_folder_leading_outside_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", out / "link")
    with pytest.raises(OutputError):
        safe_output_path(out, "link/shot.mov")


def test_sanitize_keeps_frame_tokens():
    assert sanitize_name("shot 010 v2.####.exr") == "shot_010_v2.####.exr"
    assert sanitize_name("") == "untitled"
