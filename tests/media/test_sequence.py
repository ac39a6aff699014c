"""Image-sequence naming: pattern spellings, finding sequences on disk, gaps."""
from __future__ import annotations

from pathlib import Path

import pytest

from paicli.errors import BadDataError, MissingInputError, UsageError
from paicli.media.sequence import SequencePattern, find_sequence, is_pattern


def touch(folder: Path, *names: str) -> None:
    for n in names:
        (folder / n).write_bytes(b"")


@pytest.mark.parametrize("text", ["shot.####.exr", "shot.%04d.exr", "shot.@@@@.exr"])
def test_all_three_spellings_parse_to_the_same_pattern(text):
    p = SequencePattern.parse(f"/plates/{text}")
    assert p == SequencePattern(Path("/plates"), "shot.", 4, ".exr")
    assert str(p) == "/plates/shot.####.exr"
    assert p.printf() == "/plates/shot.%04d.exr"
    assert p.path(1001) == Path("/plates/shot.1001.exr")
    assert p.path(7) == Path("/plates/shot.0007.exr")


def test_unpadded_spellings_mean_padding_one():
    assert SequencePattern.parse("a_#.png").padding == 1
    assert SequencePattern.parse("a_%d.png").padding == 1
    assert SequencePattern.parse("a_%d.png").printf() == "a_%d.png"


@pytest.mark.parametrize("text", ["shot.exr", "shot.####.beauty.exr", "shot.####", "plain.mov"])
def test_numbering_must_sit_right_before_the_extension(text):
    assert not is_pattern(text)
    with pytest.raises(UsageError):
        SequencePattern.parse(text)


def test_names_without_frame_numbers_are_not_members():
    with pytest.raises(UsageError):
        SequencePattern.parse_member("reference.png")
    pat, n = SequencePattern.parse_member("/x/shot_v2.0042.exr")
    assert (pat.prefix, pat.padding, pat.suffix, n) == ("shot_v2.", 4, ".exr", 42)


def test_numbers_wider_than_the_padding_still_belong():
    p = SequencePattern.parse("s.####.exr")
    assert p.match("s.10000.exr") == 10000
    assert p.match("s.0999.exr") == 999
    assert p.match("s.999.exr") is None  # under-padded
    assert p.match("s.00999.exr") is None  # another padding
    assert p.match("s.abcd.exr") is None


def test_glob_frames_is_sorted_and_ignores_hidden_temps(tmp_path):
    touch(tmp_path, "s.1003.exr", "s.1001.exr", "s.1002.exr", ".s.paicli-tmp-1-ab.exr", "other.1001.exr")
    assert SequencePattern.parse(tmp_path / "s.####.exr").glob_frames() == [1001, 1002, 1003]


def test_find_sequence_from_a_member_file_finds_its_siblings(tmp_path):
    touch(tmp_path, *(f"plate.{n:04d}.exr" for n in range(998, 1003)), "plate.1001.png", "plate_b.1001.exr")
    pat, frames = find_sequence(tmp_path / "plate.1001.exr")
    assert str(pat) == str(tmp_path / "plate.####.exr")
    assert frames == [998, 999, 1000, 1001, 1002]


def test_find_sequence_from_an_unpadded_member(tmp_path):
    touch(tmp_path, "f_8.png", "f_9.png", "f_10.png", "f_11.png")
    pat, frames = find_sequence(tmp_path / "f_10.png")
    assert pat.padding == 1 and frames == [8, 9, 10, 11]


def test_find_sequence_from_a_pattern(tmp_path):
    touch(tmp_path, "s.0001.tif", "s.0002.tif")
    pat, frames = find_sequence(str(tmp_path / "s.%04d.tif"))
    assert frames == [1, 2] and pat.suffix == ".tif"


def test_find_sequence_from_a_folder_with_one_sequence(tmp_path):
    touch(tmp_path, "a.0001.dpx", "a.0002.dpx", "notes.txt", ".hidden.0001.dpx")
    pat, frames = find_sequence(tmp_path)
    assert str(pat) == str(tmp_path / "a.####.dpx") and frames == [1, 2]


def test_a_folder_with_several_sequences_is_a_usage_error_listing_them(tmp_path):
    touch(tmp_path, "a.0001.exr", "a.0002.exr", "b.0001.png")
    with pytest.raises(UsageError) as e:
        find_sequence(tmp_path)
    assert "a.####.exr (2 frames)" in str(e.value) and "b.####.png (1 frames)" in str(e.value)


def test_a_folder_with_no_sequence_is_a_usage_error(tmp_path):
    touch(tmp_path, "readme.txt")
    with pytest.raises(UsageError):
        find_sequence(tmp_path)


def test_gaps_are_reported_with_the_first_missing_numbers(tmp_path):
    touch(tmp_path, *(f"s.{n:04d}.exr" for n in [1, 2, 5, 6, 20]))
    with pytest.raises(BadDataError) as e:
        find_sequence(tmp_path / "s.####.exr")
    msg = str(e.value)
    assert "3, 4, 7, 8, 9, 10, 11, 12 and 7 more" in msg and "\n" not in msg
    _, frames = find_sequence(tmp_path / "s.####.exr", allow_gaps=True)
    assert frames == [1, 2, 5, 6, 20]


def test_missing_inputs(tmp_path):
    with pytest.raises(MissingInputError):
        find_sequence(tmp_path / "nothing.0001.exr")
    with pytest.raises(MissingInputError):
        find_sequence(tmp_path / "s.####.exr")  # folder exists, no frames
    with pytest.raises(MissingInputError):
        find_sequence(tmp_path / "nope" / "s.####.exr")


def test_a_member_file_without_a_number_is_not_a_sequence(tmp_path):
    touch(tmp_path, "still.png")
    with pytest.raises(UsageError):
        find_sequence(tmp_path / "still.png")
