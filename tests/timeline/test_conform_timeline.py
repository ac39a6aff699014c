"""Writing an edit list back relinked to new media: names, source files and references change,
the record timing of every clip does not, and a file that reads back different is not kept."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest

from paicli.errors import OutputError
from paicli.timeline.conform import ConformClip, conform_edl, record_ranges, write_conformed
from paicli.timeline.read import read_edit_list
from paicli.timeline.shots import shots_of

EDL = """TITLE: t
FCM: NON-DROP FRAME
001  A001C001 V     C        01:00:00:04 01:00:00:12 00:00:00:00 00:00:00:08
* FROM CLIP NAME:  A001C001
* SOURCE FILE: /mnt/raw/A001C001.mov
002  A001C001 V     C        01:00:00:12 01:00:00:12 00:00:00:08 00:00:00:08
002  A001C002 V     D    004 02:00:00:02 02:00:00:10 00:00:00:08 00:00:00:16
* FROM CLIP NAME:  A001C001
* TO CLIP NAME:  A001C002
003  A001C001 V     C        01:00:00:14 01:00:00:20 00:00:00:20 00:00:01:02
* a note the editor wrote
004  AX       AA    C        00:00:00:00 00:00:01:00 00:00:00:00 00:00:01:00
"""


def _clips(el, out: Path, sequence: bool = False) -> list[ConformClip]:
    """One record per shot, as a render would hand them over: its comp under ``out``."""
    clips = []
    for s in shots_of(el)[0]:
        name = f"{s.id}_v001"
        where = {"sequence": str(out / s.id / f"{name}_comp.####.exr"), "frame_range": [1001, 1001 + 11]} if sequence \
            else {"path": str(out / s.id / f"{name}_comp.mov")}
        comp = {**where, "frame_count": 12, "timecode": {"start": "01:00:00:00", "drop_frame": False}}
        clips.append(ConformClip(item=s.item, event_line=s.event_line, comp=comp, name=name,
                                 metadata={"shot": s.id, "version": 1}))
    return clips


def _timeline():
    """Two 24 fps clips of a camera file starting at 01:00:00:00, a gap between them."""
    t = lambda frames: otio.opentime.RationalTime(frames, 24)  # noqa: E731
    tl = otio.schema.Timeline(name="cut", global_start_time=t(86400))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    for name, first, frames in (("A001C001", 4, 8), (None, 0, 5), ("A001C002", 2, 6)):
        if name is None:
            track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(t(0), t(frames))))
            continue
        clip = otio.schema.Clip(name=name, source_range=otio.opentime.TimeRange(t(86400 + first), t(frames)))
        clip.media_reference = otio.schema.ExternalReference(
            target_url=f"file:///mnt/raw/{name}.mov", available_range=otio.opentime.TimeRange(t(86400), t(24)))
        track.append(clip)
    return tl


def test_an_edl_gets_new_names_and_source_files_and_keeps_every_event_line(tmp_path):
    (tmp_path / "cut.edl").write_text(EDL)
    el = read_edit_list(tmp_path / "cut.edl", rate="24")
    out = tmp_path
    clips = _clips(el, out)
    text = conform_edl(el, clips, out)
    events = [line for line in EDL.splitlines() if line[:3].isdigit()]
    assert [line for line in text.splitlines() if line[:3].isdigit()] == events
    assert "/mnt/raw" not in text and "* a note the editor wrote" in text
    assert text.count("* SOURCE FILE: ") == 3 and "* SOURCE FILE: 001_A001C001/001_A001C001_v001_comp.mov" in text
    # the dissolve names the outgoing render and the incoming one
    assert "* FROM CLIP NAME:  001_A001C001_v001\n* TO CLIP NAME:  002_A001C002_v001\n" in text

    written = write_conformed(el, clips, out)
    assert [(Path(o["path"]).name, o["format"], o["clips"]) for o in written] == [
        ("cut_conform.otio", "otio_json", 3), ("cut_conform.edl", "cmx_3600", 3)]
    for o in written:
        assert record_ranges(read_edit_list(o["path"], rate="24").timeline) == record_ranges(el.timeline)
    back = read_edit_list(out / "cut_conform.otio")
    assert [c.name for c in back.video_clips()] == [c.name for c in clips]
    assert back.video_clips()[0].media_reference.target_url == "001_A001C001/001_A001C001_v001_comp.mov"
    assert dict(back.video_clips()[1].metadata["paicli"]) == {"shot": "002_A001C002", "version": 1}


def test_image_sequences_are_sequence_references_in_otio_and_first_frames_in_fcp_xml(tmp_path):
    otio.adapters.write_to_file(_timeline(), str(tmp_path / "cut.xml"), adapter_name="fcp_xml")
    el = read_edit_list(tmp_path / "cut.xml")
    out = tmp_path
    written = write_conformed(el, _clips(el, out, sequence=True), out)
    assert [Path(o["path"]).name for o in written] == ["cut_conform.otio", "cut_conform.xml"]
    ref = read_edit_list(out / "cut_conform.otio").video_clips()[0].media_reference
    assert isinstance(ref, otio.schema.ImageSequenceReference)
    assert (ref.target_url_base, ref.name_prefix, ref.start_frame, ref.frame_zero_padding) == (
        "001_A001C001/", "001_A001C001_v001_comp.", 1001, 4)
    assert ref.available_range.start_time.value == 86400 and ref.available_range.duration.value == 12
    xml = (out / "cut_conform.xml").read_text()
    assert "001_A001C001_v001_comp.1001.exr" in xml and "####" not in xml


def test_a_conformed_edl_that_reads_back_with_other_timing_is_not_kept(tmp_path):
    (tmp_path / "cut.edl").write_text(EDL)
    el = read_edit_list(tmp_path / "cut.edl", rate="24")
    # the list on disk changes after it was read: its rewrite no longer times like the timeline
    (tmp_path / "cut.edl").write_text(EDL.replace("00:00:00:20 00:00:01:02", "00:00:00:20 00:00:01:03"))
    out = tmp_path
    with pytest.raises(OutputError, match="record timing differs"):
        write_conformed(el, _clips(el, out), out)
    assert not (out / "cut_conform.edl").exists() and (out / "cut_conform.otio").exists()


def test_the_timeline_writer_knows_nothing_of_render_plans():
    code = ("import sys, paicli.timeline.conform; "
            "sys.exit(sorted(m for m in sys.modules if m.startswith('paicli.render')) != [])")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_a_conformed_fcp7_list_keeps_disabled_tracks_and_clips_disabled(tmp_path):
    import xml.etree.ElementTree as ET

    tl = _timeline()
    above = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    above.append(list(tl.tracks[0])[0].deepcopy())
    tl.tracks.append(above)
    otio.adapters.write_to_file(tl, str(tmp_path / "cut.xml"), adapter_name="fcp_xml")
    tree = ET.parse(tmp_path / "cut.xml")
    x_tracks = next(tree.iter("video")).findall("track")
    for element in (x_tracks[1], x_tracks[0].findall("clipitem")[1]):  # track V2, and V1's second clip
        ET.SubElement(element, "enabled").text = "FALSE"
    tree.write(tmp_path / "cut.xml")
    el = read_edit_list(tmp_path / "cut.xml")
    clips = _clips(el, tmp_path)
    assert [c.item for c in clips] == [(0, 0)]  # the disabled ones are not rendered
    write_conformed(el, clips, tmp_path)
    for name in ("cut_conform.xml", "cut_conform.otio"):
        back = read_edit_list(tmp_path / name)
        v1, v2 = back.timeline.video_tracks()
        assert v1.enabled and not v2.enabled, name
        assert [c.enabled for c in v1.find_clips()] == [True, False], name
