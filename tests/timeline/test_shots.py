"""Shots of an edit list: ids, record and source ranges, transitions and retimes."""
from __future__ import annotations

from pathlib import Path

from paicli.timeline.read import read_edit_list
from paicli.timeline.shots import shots_of

EDL = """TITLE: t
001  TST V     C        01:00:04:05 01:00:04:14 01:00:00:00 01:00:00:09
* FROM CLIP NAME:  clip_A
002  TST V     C        01:00:04:14 01:00:04:14 01:00:00:09 01:00:00:09
002  TST V     D    010 01:00:08:08 01:00:08:18 01:00:00:09 01:00:00:19
* FROM CLIP NAME:  clip_A
* TO CLIP NAME:  clip_B
003  R3 V     C        02:00:00:00 02:00:00:12 01:00:01:00 01:00:01:06
M2   R3       048.0                02:00:00:00
* FROM CLIP NAME:  ../../etc/fast one
"""


def test_shots_carry_record_and_source_ranges_widened_under_transitions(tmp_path):
    (tmp_path / "t.edl").write_text(EDL)
    shots, notes = shots_of(read_edit_list(tmp_path / "t.edl"))
    a, b, c = shots
    assert [s.index for s in shots] == [1, 2, 3] and a.id == "001_clip_A" and b.id == "002_clip_B"
    assert (a.record_start, a.record_frames, a.record_tc) == (0, 9, "01:00:00:00")
    # the outgoing clip plays on for the dissolve's 10 frames; the incoming one starts at its cut
    assert a.source_tc == "01:00:04:05-01:00:04:23" and b.source_tc == "01:00:08:08-01:00:08:17"
    assert a.transitions == ["out: SMPTE_Dissolve 10f"] and b.transitions == ["in: SMPTE_Dissolve 10f"]
    assert (b.record_start, b.record_frames) == (9, 10)
    # a retimed clip is flagged and rendered over the source frames it shows: 6 frames at 2x
    assert c.retime == "speed 2.000x" and c.source_out - c.source_in == 11 and c.record_start == 24
    assert "/" not in c.id and ".." not in c.id and c.clip == "../../etc/fast one"
    assert c.event_line == 8 and a.item == (0, 0) and c.item == (0, 4)
    assert notes == []
    assert Path(tmp_path / "t.edl").read_text() == EDL  # the list is only read


def test_disabled_fcp7_tracks_and_clip_items_are_not_planned_and_the_plan_says_so(tmp_path):
    import xml.etree.ElementTree as ET

    import opentimelineio as otio

    def rt(f):
        return otio.opentime.RationalTime(f, 24)

    tl = otio.schema.Timeline(name="cut")
    for t, names in (("V1", ["live", "off"]), ("V2", ["above"])):
        track = otio.schema.Track(name=t)
        for n in names:
            track.append(otio.schema.Clip(name=n, source_range=otio.opentime.TimeRange(rt(0), rt(10)),
                                          media_reference=otio.schema.ExternalReference(
                                              target_url=f"file:///m/{n}.mov",
                                              available_range=otio.opentime.TimeRange(rt(0), rt(100)))))
        tl.tracks.append(track)
    path = tmp_path / "cut.xml"
    otio.adapters.write_to_file(tl, str(path), adapter_name="fcp_xml")
    tree = ET.parse(path)
    video = next(tree.iter("video"))
    tracks = video.findall("track")

    def disable(element):
        flag = element.find("enabled")
        if flag is None:
            flag = ET.SubElement(element, "enabled")
        flag.text = "FALSE"

    disable(tracks[1])
    disable(next(ci for ci in tracks[0].iter("clipitem") if ci.findtext("name") == "off"))
    tree.write(path)
    shots, notes = shots_of(read_edit_list(path))
    assert [s.clip for s in shots] == ["live"]
    assert "V1: 'off' is disabled in the edit; not rendered" in notes
    assert "V2: track disabled in the edit; its 1 clip(s) are not rendered" in notes
