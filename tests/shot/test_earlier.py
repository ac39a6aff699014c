"""An earlier run's results in an output folder: found by name family, refused without
--force, and only the files a new run did not replace retired after it."""
from __future__ import annotations

import os

import pytest

from paicli.errors import OutputError
from paicli.shot import earlier

FAMILY = ["plate_comp.mov", "plate_comp.####.exr", "plate_qc.html"]


def _touch(folder, *names):
    for n in names:
        (folder / n).write_text(n)


def test_the_family_matches_its_names_and_frame_numbers_of_four_or_more_digits_only(tmp_path):
    _touch(tmp_path, "plate_comp.mov", "plate_comp.1001.exr", "plate_comp.86400.exr", "plate_comp.101.exr",
           "plate_comp.1001.exr.bak", "other_comp.mov", "plate_qc.html.old", "notes.txt")
    (tmp_path / "plate_qc.html").mkdir()  # a folder is never a result
    found = earlier.find(tmp_path, FAMILY)
    assert found.names == ["plate_comp.1001.exr", "plate_comp.86400.exr", "plate_comp.mov"]
    assert found.described() == "plate_comp.####.exr, plate_comp.mov"


def test_a_missing_folder_holds_nothing_and_claim_passes(tmp_path):
    assert earlier.claim(tmp_path / "new", FAMILY, force=False, stem="plate").found == {}


def test_claim_refuses_without_force_and_names_at_most_three(tmp_path):
    _touch(tmp_path, "plate_comp.mov", "plate_qc.html", "plate_comp.1001.exr")
    with pytest.raises(OutputError) as e:
        earlier.claim(tmp_path, FAMILY + ["plate_x.json"], force=False, stem="plate")
    assert "already holds plate's results from an earlier run (plate_comp.####.exr, plate_comp.mov, " \
           "plate_qc.html)" in e.value.message and "--force" in e.value.message


def test_a_symlink_under_a_result_name_is_refused_even_with_force(tmp_path):
    (tmp_path / "decoy").write_text("not ours")
    os.symlink(tmp_path / "decoy", tmp_path / "plate_comp.mov")
    with pytest.raises(OutputError, match="symlink"):
        earlier.claim(tmp_path, FAMILY, force=True, stem="plate")
    assert (tmp_path / "decoy").read_text() == "not ours"


def test_retire_removes_only_what_the_run_did_not_replace(tmp_path):
    _touch(tmp_path, "plate_comp.1001.exr", "plate_comp.1002.exr", "plate_comp.1003.exr", "plate_qc.html",
           "notes.txt")
    found = earlier.claim(tmp_path, FAMILY, force=True, stem="plate")
    for n in ("plate_comp.1001.exr", "plate_comp.1002.exr"):  # the new run renames its frames into place
        (tmp_path / (n + ".tmp")).write_text("new")
        os.replace(tmp_path / (n + ".tmp"), tmp_path / n)
    assert found.retire() == ["plate_comp.####.exr", "plate_qc.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "plate_comp.1001.exr", "plate_comp.1002.exr"]
    assert (tmp_path / "plate_comp.1001.exr").read_text() == "new"
