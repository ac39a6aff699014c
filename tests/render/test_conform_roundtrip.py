"""The round-trip bar: for EDL, FCP7 XML and OTIO lists at 23.976, 25 and 29.97 drop-frame,
the conformed timeline's record in/out of every clip equals the input's, frame for frame,
and a retimed clip and a freeze frame (EDL M2, OTIO time effects) are relinked to renders
that hold every source frame the cut shows."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from paicli.cli import run
from paicli.media.timing import Timecode

RATES = {"23.976": (Fraction(24000, 1001), False), "25": (Fraction(25), False), "29.97DF": (Fraction(30000, 1001), True)}
# media: reel -> start frame offset of its timecode; clips: (name, reel, first source frame, frames, speed)
CLIPS = [("shotA", "R1", 5, 8, 1.0), ("shotB", "R2", 3, 6, 1.0), None, ("shotC", "R1", 20, 7, 1.0),
         ("shotD", "R2", 6, 5, 2.0), ("shotE", "R1", 12, 4, 0.0)]
NAMES = [c[0] for c in CLIPS if c]
GAP = 4


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    from paicli.shot.example import make_example_shot

    root = tmp_path_factory.mktemp("roundtrip")
    for key, (rate, drop) in RATES.items():
        for reel, start in (("R1", "00:00:59:20"), ("R2", "10:00:00:00")):
            tc = start.replace(":20", ";20") if drop else start
            make_example_shot(root / key / reel, width=32, height=32, frames=32, rate=rate, start_tc=tc, reel=reel)
    return root


def _tc(frames: int, rate: Fraction, drop: bool) -> str:
    return str(Timecode(frames, round(rate), drop))


def _timeline(folder: Path, rate: Fraction, drop: bool):
    import opentimelineio as otio

    fps = float(rate)
    starts = {r: Timecode.parse(json.loads((folder / r / "meta.json").read_text())["tc"], rate).frames
              for r in ("R1", "R2")}
    tl = otio.schema.Timeline(name="rt", global_start_time=otio.opentime.RationalTime(
        Timecode.parse("01:00:00;00" if drop else "01:00:00:00", rate).frames, fps))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    for c in CLIPS:
        if c is None:
            track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(GAP, fps))))
            continue
        name, reel, first, n, speed = c
        clip = otio.schema.Clip(name=name, source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(starts[reel] + first, fps), otio.opentime.RationalTime(n, fps)))
        if speed != 1.0:
            clip.effects.append(otio.schema.FreezeFrame() if speed == 0 else otio.schema.LinearTimeWarp(time_scalar=speed))
        clip.media_reference = otio.schema.ExternalReference(
            target_url=(folder / reel / "plate.mov").as_uri(), available_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(starts[reel], fps), otio.opentime.RationalTime(32, fps)))
        track.append(clip)
    return tl, starts


def _edl(folder: Path, rate: Fraction, drop: bool, starts: dict) -> str:
    lines = ["TITLE: rt", f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}"]
    rec = Timecode.parse("01:00:00;00" if drop else "01:00:00:00", rate).frames
    n = 0
    for c in CLIPS:
        if c is None:
            rec += GAP
            continue
        name, reel, first, count, speed = c
        n += 1
        src = starts[reel] + first
        lines.append(f"{n:03d}  {reel:<8} V     C        {_tc(src, rate, drop)} {_tc(src + count, rate, drop)} "
                     f"{_tc(rec, rate, drop)} {_tc(rec + count, rate, drop)}")
        if speed != 1.0:
            lines.append(f"M2   {reel:<8}      {speed * round(rate):06.1f}                {_tc(src, rate, drop)}")
        lines += [f"* FROM CLIP NAME:  {name}", f"* SOURCE FILE: {folder / reel / 'plate.mov'}"]
        rec += count
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("fmt", ["edl", "xml", "otio"])
@pytest.mark.parametrize("key", sorted(RATES))
def test_the_conformed_timeline_keeps_every_record_in_and_out(media, tmp_path, capsys, fmt, key):
    import opentimelineio as otio

    from paicli.timeline.read import read_edit_list

    rate, drop = RATES[key]
    folder = media / key
    tl, starts = _timeline(folder, rate, drop)
    path = tmp_path / f"cut.{fmt}"
    if fmt == "edl":
        path.write_text(_edl(folder, rate, drop, starts))
    else:
        otio.adapters.write_to_file(tl, str(path), adapter_name="otio_json" if fmt == "otio" else "fcp_xml")
        if fmt == "xml":
            _time_remap_filters(path)
    (tmp_path / "map.json").write_text(json.dumps({n: str(folder / "R1" / "refs") for n in NAMES}))
    argv = ["render", str(path), "-o", str(tmp_path / "out"), "--bg-map", str(tmp_path / "map.json"), "--format",
            "exr", "--handles", "1", "--progress", "none", "--json"]
    if fmt == "edl":
        argv += ["--rate", key.replace("DF", "")]
    assert run(argv) == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in doc["summary"]["results"]] == ["rendered"] * len(NAMES)
    original = read_edit_list(path, rate=key.replace("DF", "") if fmt == "edl" else None)
    assert original.rate == rate
    conformed = [o["path"] for o in doc["outputs"] if o["kind"] == "timeline"]
    assert sorted(Path(p).suffix for p in conformed) == sorted({".otio", f".{fmt}"})
    for p in conformed:
        back = read_edit_list(p, rate=key.replace("DF", "") if p.endswith(".edl") else None)
        a, b = original.video_clips(), back.video_clips()
        assert len(a) == len(b) == len(NAMES)
        for x, y in zip(a, b):
            assert x.range_in_parent().start_time.value == y.range_in_parent().start_time.value
            assert x.range_in_parent().duration.value == y.range_in_parent().duration.value
            if not (fmt == "xml" and x.effects):  # FCP7 counts a remapped clip's in point from its media's start
                assert round(x.source_range.start_time.value) == round(y.source_range.start_time.value)
        _renders_hold_the_frames_the_cut_shows(original, back, fcp7=fmt == "xml")
        if p.endswith(".edl") and drop:
            assert "FCM: DROP FRAME" in Path(p).read_text() and back.drop_frame


def _time_remap_filters(path: Path) -> None:
    """Give the FCP7 XML's retimed clip items the Time Remap filter an NLE writes (speed in
    percent; the in point in retimed frames, as FCP7 counts a remapped clip)."""
    import xml.etree.ElementTree as ET

    tree = ET.parse(path)
    speeds = {c[0]: c[4] for c in CLIPS if c}
    for ci in tree.iter("clipitem"):
        speed = speeds.get(ci.findtext("name"), 1.0)
        if speed == 1.0:
            continue
        if speed:
            n = int(ci.findtext("out")) - int(ci.findtext("in"))
            ci.find("in").text = str(int(ci.findtext("in")) // int(speed))
            ci.find("out").text = str(int(ci.findtext("in")) + n)
        effect = ET.SubElement(ET.SubElement(ci, "filter"), "effect")
        ET.SubElement(effect, "name").text = "Time Remap"
        for tag, text in (("effectid", "timeremap"), ("effectcategory", "motion"), ("effecttype", "motion"),
                          ("mediatype", "video")):
            ET.SubElement(effect, tag).text = text
        for pid, value in (("variablespeed", "0"), ("speed", f"{speed * 100:g}"), ("reverse", "FALSE")):
            param = ET.SubElement(effect, "parameter")
            ET.SubElement(param, "parameterid").text = pid
            ET.SubElement(param, "value").text = value
    tree.write(path, encoding="UTF-8", xml_declaration=True)


def _renders_hold_the_frames_the_cut_shows(original, conformed, fcp7: bool):
    """Each conformed clip is planned at the same speed over the same source frames as the
    original (so the retime survived), and its render holds all of them (where the list
    says what its media hold)."""
    import math

    from paicli.timeline.shots import shots_of

    was, now = shots_of(original)[0], shots_of(conformed)[0]
    assert [(s.speed, s.retime) for s in was] == [(s.speed, s.retime) for s in now]
    assert [1.0, 1.0, 1.0, 2.0, 0.0] == [s.speed for s in was]
    for x, y in zip(was, now):
        # exact, but for an FCP7 remapped clip whose in point (in retimed frames) lands within one
        # step of its speed: FCP7 cannot say more precisely where the new media's frames start
        step = math.ceil(abs(x.speed)) - 1 if fcp7 and x.speed not in (0.0, 1.0) else 0
        assert abs(x.source_in - y.source_in) <= step and abs(x.source_out - y.source_out) <= step, x.clip
        have = list(conformed.timeline.video_tracks()[y.item[0]])[y.item[1]].media_reference.available_range
        if have is None:  # an EDL names its media, not their range
            continue
        first = round(have.start_time.value)
        assert first <= y.source_in and y.source_out <= first + round(have.duration.value), x.clip
