"""``paicli key SHOT -o OUT``: a clean foreground and matte from a green- or blue-screen shot."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from paicli.commands.common import (DryRunOpt, FramesOpt, InputColorspaceOpt, JsonOpt, NameOpt, OutputDirOpt, PresetOpt,
                                    ProgressOpt, print_settings, progress_mode, report, setting_option)
from paicli.result import CommandResult
from paicli.settings import Schema, Setting, parse_float, parse_int, parse_str, resolve

HELP = ("Key a green- or blue-screen shot: automatic screen detection, per-pixel clean plate, colour-difference "
        "matte with edge-aware clipping, despot, unmixed and despilled foreground; writes premultiplied RGBA, "
        "matte and foreground with the source's timing and timecode, and reports the screen's quality.")


def _box(v) -> tuple[int, int, int, int]:
    from paicli.errors import UsageError

    try:
        x0, y0, x1, y1 = (int(float(t)) for t in str(v).split(","))
    except ValueError:
        raise UsageError(f"a box is x0,y0,x1,y1 in pixels, not {v!r}") from None
    if x1 <= x0 or y1 <= y0:
        raise UsageError(f"box {v!r} is empty")
    return x0, y0, x1, y1


def _boxes(v) -> list:
    if isinstance(v, (list, tuple)) and v and not isinstance(v[0], (int, float)):
        return [_box(x if isinstance(x, str) else ",".join(map(str, x))) for x in v]
    if v in (None, "", []):
        return []
    return [_box(x) for x in str(v).split(";") if x.strip()]


def _colour(v):
    from paicli.errors import UsageError

    if v in (None, "", "none"):
        return None
    try:
        parts = [float(t) for t in (v if isinstance(v, (list, tuple)) else str(v).split(","))]
    except ValueError:
        parts = []
    if len(parts) != 3:
        raise UsageError(f"a colour is r,g,b in linear light, not {v!r}")
    return tuple(parts)


def _outputs(v):
    from paicli.shot.key import parse_outputs

    return parse_outputs(v)


def _first_frame(v):
    from paicli.media.writers import parse_first_frame

    return parse_first_frame(v)


SCHEMA = Schema("key", [
    Setting("screen", "auto", "Screen colour: auto, green or blue.", parse_str, ("auto", "green", "blue")),
    Setting("screen_gain", 1.0, "Screen gain: above 1 keys harder, below 1 keeps more edge.", parse_float(0.1, 4.0)),
    Setting("screen_balance", 0.0, "0 = compare with the mean of the other channels, 1 = with their maximum.",
            parse_float(0.0, 1.0)),
    Setting("pre_blur", 0.7, "Chroma pre-blur (px) of the screen difference, against noise.", parse_float(0.0, 10.0)),
    Setting("clip_black", 0.04, "Matte values below this are screen (away from edges).", parse_float(0.0, 0.5)),
    Setting("clip_white", 1.0, "Matte values above this are solid (away from edges).", parse_float(0.5, 1.0)),
    Setting("edge_protect", 10, "Clip black/white do not apply within this many px of an edge (hair).",
            parse_int(0, 200)),
    Setting("despot", 40, "Remove isolated specks (markers) and fill holes smaller than about this size (px).",
            parse_int(0, 2000)),
    Setting("core_erode", 5, "Automatic core matte: the filled subject eroded by this many px (0 = off).",
            parse_int(0, 500)),
    Setting("solid_snap", 1.0, "Where the matte's local mean exceeds this it becomes exactly 1 "
            "(1 = off; 0.99 for solid subjects, at a small cost on translucent fur).", parse_float(0.5, 1.0)),
    Setting("shrink_grow", 0.0, "Shrink (negative) or grow (positive) the matte, px.", parse_float(-50, 50)),
    Setting("softness", 0.0, "Blur of the final matte, px.", parse_float(0.0, 50.0)),
    Setting("despill", "limit", "Despill mode: limit, subtract or none.", parse_str, ("limit", "subtract", "none")),
    Setting("despill_strength", 1.0, "How much of the spill to remove (0-1).", parse_float(0.0, 1.0)),
    Setting("spill_replace", None, "Linear r,g,b colour to put back for removed spill (e.g. the new background's).",
            _colour),
    Setting("temporal", 0.7, "Hold the matte where the picture did not change (0 = off, 1 = strongest).",
            parse_float(0.0, 0.95)),
    Setting("garbage_box", [], "Always-screen boxes 'x0,y0,x1,y1;...' in pixels.", _boxes),
    Setting("core_box", [], "Always-foreground boxes 'x0,y0,x1,y1;...' in pixels.", _boxes),
    Setting("outputs", ("rgba", "matte"), "Files to write: rgba, matte, fg (comma-separated).", _outputs),
    Setting("format", "exr", "exr (half, premultiplied) or prores (4444 with alpha for rgba).", parse_str,
            ("exr", "prores")),
    Setting("exr_compression", "zip", "EXR compression: zip, zips, piz, dwaa, dwab, rle, none.", parse_str,
            ("none", "zip", "zips", "piz", "dwaa", "dwab", "rle")),
    Setting("first_frame", 1001, "First EXR frame number, or 'timecode' or 'source'.", _first_frame),
    Setting("handles", 0, "Extra frames before and after the range.", parse_int(0, 100000)),
])


def _opt(name: str, flag: str, type_=str):
    return setting_option(SCHEMA, name, flag, type_)


def key(
    shot: Annotated[str, typer.Argument(metavar="SHOT", help="A screen shot: movie or image sequence.",
                                        show_default=False)],
    output: OutputDirOpt = Path("out"),
    name: NameOpt = None,
    frames: FramesOpt = None,
    clean_plate: Annotated[Optional[str], typer.Option(
        "--clean-plate", help="A still of the empty screen, same size as the shot.", show_default=False)] = None,
    garbage_matte: Annotated[Optional[str], typer.Option(
        "--garbage-matte", help="Matte file (still or sequence): white = always screen.", show_default=False)] = None,
    core_matte: Annotated[Optional[str], typer.Option(
        "--core-matte", help="Matte file (still or sequence): white = always foreground.", show_default=False)] = None,
    input_colorspace: InputColorspaceOpt = None,
    screen: _opt("screen", "--screen") = None,
    screen_gain: _opt("screen_gain", "--screen-gain", float) = None,
    screen_balance: _opt("screen_balance", "--screen-balance", float) = None,
    pre_blur: _opt("pre_blur", "--pre-blur", float) = None,
    clip_black: _opt("clip_black", "--clip-black", float) = None,
    clip_white: _opt("clip_white", "--clip-white", float) = None,
    edge_protect: _opt("edge_protect", "--edge-protect", int) = None,
    despot: _opt("despot", "--despot", int) = None,
    core_erode: _opt("core_erode", "--core-erode", int) = None,
    solid_snap: _opt("solid_snap", "--solid-snap", float) = None,
    shrink_grow: _opt("shrink_grow", "--shrink-grow", float) = None,
    softness: _opt("softness", "--softness", float) = None,
    despill: _opt("despill", "--despill") = None,
    despill_strength: _opt("despill_strength", "--despill-strength", float) = None,
    spill_replace: _opt("spill_replace", "--spill-replace") = None,
    temporal: _opt("temporal", "--temporal", float) = None,
    garbage_box: Annotated[Optional[List[str]], typer.Option(
        "--garbage-box", help="Always-screen box x0,y0,x1,y1 (repeatable).", show_default=False)] = None,
    core_box: Annotated[Optional[List[str]], typer.Option(
        "--core-box", help="Always-foreground box x0,y0,x1,y1 (repeatable).", show_default=False)] = None,
    outputs: _opt("outputs", "--outputs") = None,
    format: _opt("format", "--format") = None,
    exr_compression: _opt("exr_compression", "--exr-compression") = None,
    first_frame: _opt("first_frame", "--first-frame") = None,
    handles: _opt("handles", "--handles", int) = None,
    preset: PresetOpt = None,
    progress: ProgressOpt = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> int:
    from engine.key.keyer import KeyParams
    from paicli.shot.key import KeyOutputs, key_shot, output_name, result_kind
    from paicli.media.colourspace import canonical
    from paicli.media.probe import probe
    from paicli.paths import sanitize_name
    from paicli.progress import Progress
    from paicli.result import OutputFile
    from paicli.media.frame_range import source_range

    cli = dict(screen=screen, screen_gain=screen_gain, screen_balance=screen_balance, pre_blur=pre_blur,
               clip_black=clip_black, clip_white=clip_white, edge_protect=edge_protect, despot=despot,
               core_erode=core_erode, solid_snap=solid_snap, shrink_grow=shrink_grow, softness=softness,
               despill=despill,
               despill_strength=despill_strength, spill_replace=spill_replace, temporal=temporal,
               garbage_box=garbage_box, core_box=core_box, outputs=outputs, format=format,
               exr_compression=exr_compression, first_frame=first_frame, handles=handles)
    s = resolve(SCHEMA, cli, preset=preset)
    params = KeyParams(
        screen=s.screen, screen_gain=s.screen_gain, screen_balance=s.screen_balance, pre_blur=s.pre_blur,
        clip_black=s.clip_black, clip_white=s.clip_white, edge_protect_px=s.edge_protect, despot_px=s.despot,
        core_erode_px=s.core_erode, solid_snap=s.solid_snap, shrink_grow_px=s.shrink_grow,
        softness_px=s.softness, despill=s.despill,
        despill_strength=s.despill_strength, spill_replace=s.spill_replace, temporal=s.temporal,
        garbage_boxes=list(s.garbage_box), core_boxes=list(s.core_box))
    outs = KeyOutputs(kinds=tuple(s.outputs), format=s.format, exr_compression=s.exr_compression,
                      first_frame=s.first_frame)
    info = probe(shot)
    result = CommandResult(command="key", inputs=[info.to_dict()], settings=s.plain())
    stem = sanitize_name(name or Path(info.pattern or info.path).name.split(".")[0])
    start, count = source_range(info, frames, s.handles)
    result.summary = {"source_range": [start, start + count - 1], "frames": count}
    if dry_run:
        for kind in outs.kinds:
            result.add_output(OutputFile(kind=result_kind(kind), path=str(output / output_name(stem, kind, outs.format))))
        print_settings(result, s, json_out)
        return 0
    with Progress(progress_mode(progress, json_out)) as prog:
        quality = key_shot(info, output, params, outs, stem=stem, frames=frames, handles=s.handles,
                           input_colourspace=canonical(input_colorspace) if input_colorspace else None,
                           screen_kind=s.screen, clean_plate=clean_plate, garbage_matte=garbage_matte,
                           core_matte=core_matte, progress=prog, result=result)
        result.summary["screen_report"] = quality

    def human() -> None:
        print("screen: " + ", ".join(f"{k} {v}" for k, v in quality.items()))
        for o in result.outputs:
            d = o.to_dict()
            print(f"wrote {d['kind']}: {d.get('path') or d.get('sequence')} ({d.get('frame_count', 0)} frames)")

    report(result, json_out, human)
    return 0
