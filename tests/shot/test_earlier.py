"""An earlier run's results in an output folder: found by name family (never a source),
refused without --force, moved aside with it, then deleted after a run that succeeded or put
back after one that failed."""
from __future__ import annotations

import os

import pytest

from paicli.errors import OutputError
from paicli.shot import earlier
from paicli.sources import SOURCES

FAMILY = ["plate_comp.mov", "plate_comp.####.exr", "plate_qc.html"]


def _touch(folder, *names, text="old"):
    for n in names:
        (folder / n).write_text(text)


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(autouse=True)
def no_sources():
    SOURCES.clear()
    yield
    SOURCES.clear()


def test_the_family_matches_its_names_and_frame_numbers_of_four_or_more_digits_only(tmp_path):
    _touch(tmp_path, "plate_comp.mov", "plate_comp.1001.exr", "plate_comp.1002.exr", "plate_comp.86400.exr",
           "plate_comp.101.exr", "plate_comp.1001.exr.bak", "other_comp.mov", "plate_qc.html.old", "notes.txt")
    (tmp_path / "plate_qc.html").mkdir()  # a folder is never a result
    found = earlier.find(tmp_path, FAMILY)
    assert found.names == ["plate_comp.####.exr 1001-1002,86400", "plate_comp.mov"]
    assert found.described(most=1) == "plate_comp.####.exr 1001-1002,86400 and 1 more"


def test_a_source_is_never_an_earlier_result_whatever_its_name(tmp_path):
    _touch(tmp_path, "plate_comp.mov", "plate_qc.html")
    SOURCES.add(tmp_path / "plate_comp.mov")
    assert earlier.find(tmp_path, FAMILY).names == ["plate_qc.html"]


def test_a_missing_folder_holds_nothing_and_claim_passes(tmp_path):
    assert earlier.claim(tmp_path / "new", FAMILY, force=False, stem="plate").found == []


def test_claim_refuses_without_force_and_moves_nothing(tmp_path):
    _touch(tmp_path, "plate_comp.mov", "plate_qc.html", "plate_comp.1001.exr")
    with pytest.raises(OutputError) as e:
        earlier.claim(tmp_path, FAMILY, force=False, stem="plate")
    assert "already holds plate's results from an earlier run (plate_comp.####.exr 1001, plate_comp.mov, " \
           "plate_qc.html): --force replaces them" in e.value.message
    assert _listing(tmp_path) == ["plate_comp.1001.exr", "plate_comp.mov", "plate_qc.html"]


def test_a_symlink_under_a_result_name_is_refused_even_with_force(tmp_path):
    (tmp_path / "decoy").write_text("not ours")
    os.symlink(tmp_path / "decoy", tmp_path / "plate_comp.mov")
    with pytest.raises(OutputError, match="symlink"):
        earlier.claim(tmp_path, FAMILY, force=True, stem="plate")
    assert (tmp_path / "decoy").read_text() == "not ours" and os.path.islink(tmp_path / "plate_comp.mov")


def test_force_moves_them_aside_and_a_run_that_succeeded_deletes_them(tmp_path):
    _touch(tmp_path, "plate_comp.1001.exr", "plate_comp.1002.exr", "plate_comp.1003.exr", "plate_qc.html",
           "notes.txt")
    claimed = earlier.claim(tmp_path, FAMILY, force=True, stem="plate")
    hidden = [n for n in _listing(tmp_path) if n.startswith(".")]
    assert _listing(tmp_path) == sorted(hidden + ["notes.txt"])  # the run starts in a folder of its own files
    _touch(tmp_path, "plate_comp.1001.exr", "plate_comp.1002.exr", text="new")
    claimed.retire()
    assert claimed.removed == ["plate_comp.####.exr 1003", "plate_qc.html"]
    assert _listing(tmp_path) == ["notes.txt", "plate_comp.1001.exr", "plate_comp.1002.exr"]
    assert (tmp_path / "plate_comp.1001.exr").read_text() == "new"


def test_a_run_that_failed_leaves_the_earlier_files_as_they_were(tmp_path):
    _touch(tmp_path, "plate_comp.1001.exr", "plate_comp.1002.exr", "plate_qc.html", "notes.txt")
    claimed = earlier.claim(tmp_path, FAMILY, force=True, stem="plate")
    _touch(tmp_path, "plate_comp.1001.exr", text="new, half done")
    claimed.restore()
    assert _listing(tmp_path) == ["notes.txt", "plate_comp.1001.exr", "plate_comp.1002.exr", "plate_qc.html"]
    assert all((tmp_path / n).read_text() == "old" for n in _listing(tmp_path))


def test_frame_numbers_collapse_into_runs():
    family = earlier.Family(["a.####.exr", "b.mov"])
    assert family.collapsed(["a.1001.exr", "a.1002.exr", "a.1003.exr", "a.1007.exr", "b.mov"]) == [
        "a.####.exr 1001-1003,1007", "b.mov"]


def test_when_they_cannot_be_moved_aside_nothing_is_lost(tmp_path, monkeypatch):
    _touch(tmp_path, "plate_comp.1001.exr", "plate_comp.1002.exr", "plate_qc.html")
    real, calls = os.replace, []

    def fails_on_the_second(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(earlier.os, "replace", fails_on_the_second)
    with pytest.raises(OutputError, match="cannot move the earlier results .* aside: No space left on device"):
        earlier.claim(tmp_path, FAMILY, force=True, stem="plate")
    assert _listing(tmp_path) == ["plate_comp.1001.exr", "plate_comp.1002.exr", "plate_qc.html"]
    assert all((tmp_path / n).read_text() == "old" for n in _listing(tmp_path))
