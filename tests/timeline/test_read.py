"""Every edit list in ../shared/edit_lists is read with the right clips and timing, or refused
in one line that says why; plus the EDL cases those files do not cover (drop frame, rates)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from paicli.errors import BadDataError, MissingInputError, UsageError
from paicli.timeline.read import read_edit_list

from conftest import shared_dir

SHARED = shared_dir() / "edit_lists"
NTSC = Fraction(30000, 1001)

# file: (format, rate, drop frame, video clips, duration in frames) or the refusal's reason
EXPECTED = {
    "aaf/2997fps-DFTC.aaf": ("AAF", NTSC, True, 1, 2989),
    "aaf/one_clip.aaf": ("AAF", 24, False, 1, 10),
    "aaf/simple.aaf": ("AAF", 24, False, 5, 3282),
    "cmx3600/25fps.edl": ("cmx_3600", 25, False, 4, 496),
    "cmx3600/avid_example.edl": ("cmx_3600", 24, False, 2, 81),
    "cmx3600/cdl.edl": ("cmx_3600", 24, False, 2, 62),
    "cmx3600/dissolve_test.edl": ("cmx_3600", 24, False, 3, 20),
    "cmx3600/gap_test.edl": ("cmx_3600", 24, False, 3, 126),
    "cmx3600/multi_audio.edl": ("cmx_3600", 24, False, 0, 81982),
    "cmx3600/no_spaces_test.edl": ("cmx_3600", 24, False, 9, 1049),
    "cmx3600/nucoda_example.edl": ("cmx_3600", 24, False, 2, 81),
    "cmx3600/premiere_example.edl": ("cmx_3600", 24, False, 2, 81),
    "cmx3600/screening_example.edl": ("cmx_3600", 24, False, 9, 1049),
    "cmx3600/speed_effects_small.edl": ("cmx_3600", 24, False, 5, 16636),
    "cmx3600/timecode_mismatch.edl": ("cmx_3600", 25, False, 20, 1789),
    "cmx3600/transition_duration.edl": ("cmx_3600", 24, False, 4, 408),
    "cmx3600/wipe_test.edl": ("cmx_3600", 24, False, 3, 20),
    "fcp/fcpx_clips.fcpxml": "holds no sequence to render",
    "fcp/fcpx_example.fcpxml": ("fcpx_xml", 30, False, 20, 4500),
    "fcp/hiero_xml_export.xml": ("fcp_xml", 24, False, 2, 1324),
    "fcp/premiere_example.xml": ("fcp_xml", 15, False, 7, 1271),
    "fcp/sample_just_track.xml": ("fcp_xml", 30, False, 0, 0),
    "otio/clip_example.otio": ("otio_json", 24, False, 1, 19),
    "otio/effects.otio": ("otio_json", 24, False, 20, 1125),
    "otio/gaps.otio": ("otio_json", 24, False, 0, 1380),
    "otio/image_sequence_example.otio": ("otio_json", 24, False, 1, 30),
    "otio/multiple_track.otio": ("otio_json", 24, False, 5, 19),
    "otio/nested_example.otio": ("otio_json", 24, False, 7, 636),
    "otio/premiere_example.otio": "newer OpenTimelineIO than 0.18.1 (Marker.3",
    "otio/screening_example.otio": "newer OpenTimelineIO than 0.18.1 (Marker.3",
    "otio/simple_cut.otio": ("otio_json", 24, False, 4, 19),
    "otio/transition.otio": ("otio_json", 24, False, 4, 19),
    "pycmx/TEST.edl": ("cmx_3600", 24, False, 0, 24377),
    "pycmx/cdl_frmc_example01.edl": ("cmx_3600", 24, False, 1, 102),
    "pycmx/test_24psf.edl": ("cmx_3600", 25, False, 7, 4022),
    "pycmx/test_25.edl": ("cmx_3600", 25, False, 7, 4022),
    "python_edl/test.edl": ("cmx_3600", 25, False, 7, 4022),
    "repro/repro_audio_overlap.edl": ("cmx_3600", 24, False, 1, 48),
    "repro/repro_dropped.edl": ("cmx_3600", 24, False, 3, 144),
    "repro/repro_rate.edl": ("cmx_3600", 24, False, 2, 60),
}
# what the reader still gets wrong (issue 17: editorial fidelity); strict, so a fix shows up
KNOWN_WRONG: dict[str, str] = {}


def _lists() -> list[str]:
    if not SHARED.is_dir():
        return []
    return sorted(str(p.relative_to(SHARED)) for p in SHARED.rglob("*")
                  if p.is_file() and p.suffix.lower() in (".edl", ".otio", ".otioz", ".xml", ".fcpxml", ".aaf"))


@pytest.mark.needs_shared("edit_lists")
def test_the_table_names_every_edit_list_in_the_shared_folder():
    assert _lists() == sorted(EXPECTED)


@pytest.mark.needs_shared("edit_lists")
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[n])) if n in KNOWN_WRONG else n
    for n in sorted(EXPECTED)])
def test_each_shared_edit_list_is_read_right_or_refused_with_its_reason(name):
    path = SHARED / name
    expected = EXPECTED[name]
    if isinstance(expected, str):
        with pytest.raises(BadDataError) as e:
            read_edit_list(path)
        assert expected in str(e.value) and "\n" not in str(e.value)
        return
    fmt, rate, drop, clips, duration = expected
    got = read_edit_list(path)
    assert (got.format, got.rate, got.drop_frame) == (fmt, Fraction(rate), drop)
    assert len(got.video_clips()) == clips
    assert round(got.timeline.duration().value) == duration


def _edl(tmp_path, body: str, name="x.edl") -> Path:
    p = tmp_path / name
    p.write_text(body)
    return p


DF_EDL = """TITLE: df test
FCM: DROP FRAME
001  A001C003 V     C        01:00:59;28 01:01:00;04 00:00:59;28 00:01:00;04
* FROM CLIP NAME:  shot_a
002  A001C004 V     C        10:09:59;29 10:10:00;00 00:01:00;04 00:01:00;05
* FROM CLIP NAME:  shot_b
"""


def test_drop_frame_lists_count_frames_as_drop_frame_timecode_does():
    got = read_edit_list(_edl(_tmp(), DF_EDL))
    assert got.rate == NTSC and got.drop_frame
    a, b = got.video_clips()
    # 01:00:59;28 -> 01:01:00;04 skips ;00 and ;01: four frames, not six
    assert a.source_range.duration.value == 4 and b.source_range.duration.value == 1
    assert a.range_in_parent().start_time.value == 0 and b.range_in_parent().start_time.value == 4
    assert got.timeline.global_start_time.value == 1798  # 00:00:59;28
    assert a.source_range.start_time.value == 109690  # 01:00:59;28: 2 frames dropped in each of 54 minutes
    assert b.metadata["cmx_3600"]["drop_frame"] is True


def _tmp():
    import tempfile

    return Path(tempfile.mkdtemp())


def test_a_given_rate_the_timecodes_contradict_is_refused_and_inference_says_why(tmp_path):
    edl = _edl(tmp_path, "001  R1 V C 01:00:00:00 01:00:01:00 00:00:00:00 00:00:00:24\n")
    with pytest.raises(BadDataError, match="up to 24, beyond 24 fps.*--rate 25"):
        read_edit_list(edl, rate="24")
    got = read_edit_list(edl)
    assert got.rate == 25 and "inferred" in got.rate_note
    assert read_edit_list(edl, rate="50").rate == 50
    with pytest.raises(BadDataError, match="drop-frame"):
        read_edit_list(_edl(tmp_path, DF_EDL, "d.edl"), rate="25")


def test_transitions_gaps_and_retimes_are_kept():
    import opentimelineio as otio

    edl = """TITLE: t
001  TST V     C        01:00:04:05 01:00:04:14 01:00:00:00 01:00:00:09
* FROM CLIP NAME:  clip_A
002  TST V     C        01:00:04:14 01:00:04:14 01:00:00:09 01:00:00:09
002  TST V     D    010 01:00:08:08 01:00:08:18 01:00:00:09 01:00:00:19
* FROM CLIP NAME:  clip_A
* TO CLIP NAME:  clip_B
003  R3 V     C        02:00:00:00 02:00:00:12 01:00:01:00 01:00:01:06
M2   R3       048.0                02:00:00:00
* FROM CLIP NAME:  fast
"""
    got = read_edit_list(_edl(_tmp(), edl))
    items = list(got.timeline.video_tracks()[0])
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["Clip", "Transition", "Clip", "Gap", "Clip"]
    assert items[1].out_offset.value == 10 and items[1].in_offset.value == 0 and items[2].name == "clip_B"
    assert items[3].duration().value == 5
    fast = items[4]
    assert fast.metadata["cmx_3600"]["speed"] == 48.0
    assert isinstance(fast.effects[0], otio.schema.LinearTimeWarp) and fast.effects[0].time_scalar == 2.0


def test_missing_unknown_and_garbage_lists_fail_in_one_line(tmp_path):
    with pytest.raises(MissingInputError):
        read_edit_list(tmp_path / "none.edl")
    with pytest.raises(UsageError, match="not an edit list"):
        read_edit_list(_edl(tmp_path, "x", "a.txt"))
    with pytest.raises(BadDataError, match="no events"):
        read_edit_list(_edl(tmp_path, "TITLE: nothing\n"))
    with pytest.raises(BadDataError, match="not FCP7 XML"):
        read_edit_list(_edl(tmp_path, "<html></html>", "a.xml"))
    with pytest.raises(BadDataError, match="cannot be read as otio_json"):
        read_edit_list(_edl(tmp_path, "{not json", "a.otio"))


# issue 17: real-world list quirks (points 4, 5, 6, 8)

def test_an_audio_source_timecode_at_another_rate_neither_sets_the_rate_nor_refuses_it(tmp_path):
    body = ("TITLE: r\n001  A001C001 V     C        10:00:00:00 10:00:01:00 01:00:00:00 01:00:01:00\n"
            "002  SR39     A     C        17:52:28:26 17:52:29:22 01:00:00:00 01:00:00:20\n")
    got = read_edit_list(_edl(tmp_path, body))
    assert got.rate == 24 and len(got.video_clips()) == 1
    assert any("line 3" in n and "audio event 002" in n for n in got.notes)  # its 26th frame cannot be read at 24
    given = read_edit_list(_edl(tmp_path, body), rate="24")
    assert given.rate == 24 and given.rate_note == "given"
    with pytest.raises(BadDataError, match="video timecodes count frames up to"):  # the video side still counts
        read_edit_list(_edl(tmp_path, body.replace("10:00:01:00", "10:00:01:26")), rate="24")


def test_audio_that_overlaps_or_runs_backwards_is_noted_and_the_video_planned(tmp_path):
    body = ("TITLE: a\n001  A001C001 V     C        10:00:00:00 10:00:02:00 01:00:00:00 01:00:02:00\n"
            "002  SND01    A     C        05:00:00:00 05:00:02:00 01:00:00:00 01:00:02:00\n"
            "003  SND02    A     C        06:00:00:00 06:00:01:00 01:00:01:00 01:00:02:00\n"
            "004  SND03    A2    C        06:00:01:00 06:00:00:00 01:00:00:00 01:00:01:00\n")
    got = read_edit_list(_edl(tmp_path, body))
    assert len(got.video_clips()) == 1
    assert any("line 4" in n and "overlaps" in n for n in got.notes)
    assert any("line 5" in n and "ends before it starts" in n for n in got.notes)
    with pytest.raises(BadDataError, match="line 2: event 001 ends before it starts"):  # video still stops the list
        read_edit_list(_edl(tmp_path, body.replace("10:00:02:00 01:00:00:00", "09:00:02:00 01:00:00:00")))


def test_every_event_line_is_read_or_reported_and_comments_stay_with_their_event(tmp_path):
    body = ("TITLE: d\n001  A001C001 V     C        10:00:00:00 10:00:02:00 01:00:00:00 01:00:02:00\n"
            "* FROM CLIP NAME:  SHOT_A\n"
            "002  TAPE 12  V     C        11:00:00:00 11:00:02:00 01:00:02:00 01:00:04:00\n"
            "* FROM CLIP NAME:  SHOT_B\n"
            "003  A001C003 V     X        12:00:00:00 12:00:02:00 01:00:04:00 01:00:06:00\n"
            "* FROM CLIP NAME:  SHOT_C\n")
    got = read_edit_list(_edl(tmp_path, body))
    clips = got.video_clips()
    assert [c.name for c in clips] == ["SHOT_A", "SHOT_B"]  # SHOT_C's line is unreadable; it renames no one
    assert clips[1].metadata["cmx_3600"]["reel"] == "TAPE 12"
    assert any(n.startswith("line 6: looks like an event") for n in got.notes)


@pytest.mark.parametrize("name", ["cut.txt", "cut.cdl", "CUT"])
def test_a_cmx_list_is_recognised_by_its_content_whatever_its_name(tmp_path, name):
    got = read_edit_list(_edl(tmp_path, DF_EDL, name))
    assert got.format == "cmx_3600" and len(got.video_clips()) == 2


def test_other_lists_are_recognised_by_their_signatures_under_other_names(tmp_path):
    import opentimelineio as otio

    tl = otio.schema.Timeline(name="t", tracks=[otio.schema.Track(name="V1", children=[otio.schema.Clip(
        name="c", source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24),
                                                       otio.opentime.RationalTime(5, 24)))])])
    otio.adapters.write_to_file(tl, str(tmp_path / "t.json"), adapter_name="otio_json")
    otio.adapters.write_to_file(tl, str(tmp_path / "t.fcp"), adapter_name="fcp_xml")
    assert read_edit_list(tmp_path / "t.json").format == "otio_json"
    assert read_edit_list(tmp_path / "t.fcp").format == "fcp_xml"
    with pytest.raises(UsageError, match="not an edit list"):  # a CDL of colour, not of edits
        read_edit_list(_edl(tmp_path, '<?xml version="1.0"?><ColorDecisionList/>', "grade.cdl"))
