"""Retimed clips plan the source frames the cut shows (issue 17): speed, reverse and freeze
frames read from CMX M2 lines, FCP7 XML Time Remap filters and OTIO time effects."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from paicli.timeline.read import read_edit_list
from paicli.timeline.shots import shots_of, source_span

FPS = 24
ENTRY = 120  # source frame of each clip's entry point, from the media's first frame
MEDIA_START = 86400  # the media's own first timecode (01:00:00:00)
RECORD = 8  # record frames of each clip
SPEEDS = {"fast2": 2.0, "fast3": 3.0, "slow": 0.5, "rev": -1.0, "still": 0.0}


def shown(entry: int, frames: int, speed: float) -> tuple[int, int]:
    """[first, last + 1) of the source frames a cut shows: record frame k shows entry + floor(k * speed)."""
    seen = {entry + math.floor(k * speed) for k in range(frames)}
    return min(seen), max(seen) + 1


def _tc(frame: int) -> str:
    f = frame
    return f"{f // (3600 * FPS):02d}:{f // (60 * FPS) % 60:02d}:{f // FPS % 60:02d}:{f % FPS:02d}"


def _cmx(tmp_path):
    lines = ["TITLE: retimes", "FCM: NON-DROP FRAME"]
    rec = MEDIA_START
    for n, (name, speed) in enumerate(SPEEDS.items(), 1):
        e = MEDIA_START + ENTRY
        # the list writes the source span forward from the entry point, as editors' systems do
        lines.append(f"{n:03d}  {name.upper():8s} V     C        {_tc(e)} {_tc(e + RECORD)} {_tc(rec)} {_tc(rec + RECORD)}")
        lines.append(f"M2   {name.upper():8s}      {speed * FPS:06.1f}                {_tc(e)}")
        lines.append(f"* FROM CLIP NAME: {name}{' FF' if speed == 0 else ''}")
        rec += RECORD
    path = tmp_path / "retimes.edl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _timeline():
    import opentimelineio as otio

    def rt(f):
        return otio.opentime.RationalTime(f, FPS)

    tl = otio.schema.Timeline(name="retimes")
    track = otio.schema.Track(name="V1")
    tl.tracks.append(track)
    for name, speed in SPEEDS.items():
        ref = otio.schema.ExternalReference(target_url=f"file:///media/{name}.mov",
                                            available_range=otio.opentime.TimeRange(rt(MEDIA_START), rt(1000)))
        clip = otio.schema.Clip(name=name, media_reference=ref,
                                source_range=otio.opentime.TimeRange(rt(MEDIA_START + ENTRY), rt(RECORD)))
        clip.effects.append(otio.schema.FreezeFrame() if speed == 0 else otio.schema.LinearTimeWarp(time_scalar=speed))
        track.append(clip)
    return tl


def _otio(tmp_path):
    import opentimelineio as otio

    path = tmp_path / "retimes.otio"
    otio.adapters.write_to_file(_timeline(), str(path))
    return path


def _fcp7(tmp_path):
    """FCP7 XML as the OTIO adapter writes it, each clip item given the Time Remap filter an
    NLE writes (speed in percent, reverse as a flag; the in point in retimed frames)."""
    import opentimelineio as otio

    plain = _timeline()
    for clip in plain.find_clips():  # the adapter writes no effects: the filters go in below
        clip.effects[:] = []
    path = tmp_path / "retimes.xml"
    otio.adapters.write_to_file(plain, str(path), adapter_name="fcp_xml")
    tree = ET.parse(path)
    items = [ci for ci in tree.iter("clipitem") if ci.find("name") is not None and ci.find("name").text in SPEEDS]
    assert len(items) == len(SPEEDS)
    for ci in items:
        speed = SPEEDS[ci.find("name").text]
        ci.find("in").text = str(round(ENTRY / abs(speed))) if speed else str(ENTRY)  # retimed frames
        ci.find("out").text = str(int(ci.find("in").text) + RECORD)
        effect = ET.SubElement(ET.SubElement(ci, "filter"), "effect")
        ET.SubElement(effect, "name").text = "Time Remap"
        ET.SubElement(effect, "effectid").text = "timeremap"
        for pid, value in (("variablespeed", "0"), ("speed", f"{abs(speed) * 100:g}"),
                           ("reverse", "TRUE" if speed < 0 else "FALSE")):
            param = ET.SubElement(effect, "parameter")
            ET.SubElement(param, "parameterid").text = pid
            ET.SubElement(param, "value").text = value
    tree.write(path, encoding="UTF-8", xml_declaration=True)
    return path


@pytest.mark.parametrize("write", [_cmx, _fcp7, _otio], ids=["cmx", "fcp7", "otio"])
def test_retimed_clips_plan_the_source_frames_the_cut_shows(write, tmp_path):
    shots, _ = shots_of(read_edit_list(write(tmp_path)))
    by_name = {s.clip: s for s in shots}
    assert sorted(by_name) == sorted(SPEEDS)  # the freeze frame's "FF" is not part of its name
    for name, speed in SPEEDS.items():
        s = by_name[name]
        assert s.record_frames == RECORD
        assert (s.source_in - MEDIA_START, s.source_out - MEDIA_START) == shown(ENTRY, RECORD, speed), name
        assert s.speed == pytest.approx(speed)
        want = "freeze frame" if speed == 0 else f"{'reverse' if speed < 0 else 'speed'} {abs(speed):.3f}x"
        assert s.retime == want


def test_a_reverse_m2_runs_back_from_its_entry_point(tmp_path):
    # the event: -24 fps over 114 record frames from 19:20:54:01 shows 19:20:49:08-19:20:54:01
    (tmp_path / "r.edl").write_text(
        "TITLE: r\n001  A123 V     C        19:20:54:01 19:20:58:19 01:00:00:00 01:00:04:18\n"
        "M2   A123       -024.0                19:20:54:01\n")
    (shot,), _ = shots_of(read_edit_list(tmp_path / "r.edl"))
    assert shot.record_frames == 114 and shot.source_tc == "19:20:49:08-19:20:54:01"


def test_a_speed_change_without_m2_is_flagged_with_the_factor_and_renders_the_written_span(tmp_path):
    (tmp_path / "s.edl").write_text(
        "TITLE: s\n001  HFR V     C        01:00:00:00 01:00:02:00 01:00:00:00 01:00:01:00\n"
        "* FROM CLIP NAME: shot48\n")
    got = read_edit_list(tmp_path / "s.edl")
    (shot,), _ = shots_of(got)
    assert shot.record_frames == 24 and shot.source_out - shot.source_in == 48
    assert shot.speed == 2.0 and shot.retime == "speed 2.000x (source span, no M2)"
    assert any("2.000x" in n and "line 2" in n for n in got.notes)


def test_transitions_around_a_retimed_clip_widen_its_span_at_its_speed():
    assert source_span(100, 8, 2.0, lead=0, tail=4) == (100, 123)  # 11 record frames at 2x
    assert source_span(100, 8, -1.0, lead=2, tail=0) == (93, 103)  # reverse: the lead is after the entry
    assert source_span(100, 8, 0.0, lead=5, tail=5) == (100, 101)  # a freeze shows one frame throughout
