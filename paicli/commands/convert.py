"""``paicli convert SOURCE -o OUT``: ProRes or EXR with the source's exact rate, timecode and reel."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from paicli.commands.common import DryRunOpt, JsonOpt, PresetOpt, ProgressOpt, print_settings, progress_mode, report
from paicli.result import CommandResult
from paicli.settings import Schema, Setting, parse_bool, parse_first_frame, parse_int, parse_str, resolve

HELP = ("Transcode a movie or image sequence (or a range of it, with handles) to ProRes or an OpenEXR sequence, "
        "keeping the exact frame rate, frame count, start timecode and reel, colour-managed.")


def _profile(v):
    from paicli.media.prores import profile_name

    return profile_name(str(v))


def _compression(v):
    from paicli.media.exr import COMPRESSIONS

    text = str(v).strip().lower()
    if text not in COMPRESSIONS:
        from paicli.errors import UsageError

        raise UsageError(f"unknown EXR compression {v!r} (choose from {', '.join(COMPRESSIONS)})")
    return text


def _optional_str(v):
    text = str(v).strip()
    return None if text.lower() in ("", "auto") else text


SCHEMA = Schema("convert", [
    Setting("format", "prores", "Output format: prores (a .mov) or exr (a frame sequence).", parse_str, ("prores", "exr")),
    Setting("prores_profile", "hq", "ProRes profile: proxy, lt, 422, hq, 4444 (with alpha), 4444xq.", _profile),
    Setting("exr_compression", "zip", "EXR compression: zip, zips, piz, dwaa, dwab, rle, none.", _compression),
    Setting("first_frame", 1001, "First EXR frame number, or 'timecode' (from the start TC) or 'source'.", parse_first_frame),
    Setting("input_colorspace", None, "Colour space of the source: auto (from tags), bt709, srgb, linear, or an OCIO name "
            "(ACEScg, 'ARRI LogC4', ...).", _optional_str),
    Setting("output_colorspace", None, "Colour space to write: auto (BT.709 for ProRes, linear for EXR), or as above.",
            _optional_str),
    Setting("handles", 0, "Extra frames before and after the range.", parse_int(0, 100000)),
    Setting("conform_vfr", False, "Accept a variable-frame-rate movie, taking its frames in order at the average rate.",
            parse_bool),
    Setting("rate", None, "Frame rate for image sequences whose headers carry none.", _optional_str),
])


def convert(
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="A movie, or an image sequence (shot.####.exr, a member file or a folder).",
                                          show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder (created if missing).")] = Path("out"),
    name: Annotated[Optional[str], typer.Option(
        "--name", help="Output name stem (default: the source's name).", show_default=False)] = None,
    frames: Annotated[Optional[str], typer.Option(
        "--frames", help="Range A-B, inclusive: frame numbers (sequences), 0-based indices (movies) or timecodes.",
        show_default=False)] = None,
    format: Annotated[Optional[str], typer.Option("--format", help=SCHEMA.settings["format"].help,
                                                  show_default=False)] = None,
    prores_profile: Annotated[Optional[str], typer.Option("--prores-profile", help=SCHEMA.settings["prores_profile"].help,
                                                          show_default=False)] = None,
    exr_compression: Annotated[Optional[str], typer.Option("--exr-compression", help=SCHEMA.settings["exr_compression"].help,
                                                           show_default=False)] = None,
    first_frame: Annotated[Optional[str], typer.Option("--first-frame", help=SCHEMA.settings["first_frame"].help,
                                                       show_default=False)] = None,
    input_colorspace: Annotated[Optional[str], typer.Option(
        "--input-colorspace", help=SCHEMA.settings["input_colorspace"].help, show_default=False)] = None,
    output_colorspace: Annotated[Optional[str], typer.Option(
        "--output-colorspace", help=SCHEMA.settings["output_colorspace"].help, show_default=False)] = None,
    handles: Annotated[Optional[int], typer.Option("--handles", help=SCHEMA.settings["handles"].help,
                                                   show_default=False)] = None,
    conform_vfr: Annotated[Optional[bool], typer.Option("--conform-vfr", help=SCHEMA.settings["conform_vfr"].help,
                                                        show_default=False)] = None,
    rate: Annotated[Optional[str], typer.Option("--rate", help=SCHEMA.settings["rate"].help, show_default=False)] = None,
    preset: PresetOpt = None,
    progress: ProgressOpt = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> int:
    from paicli.media.colourspace import canonical
    from paicli.media.probe import probe
    from paicli.media.writers import OutputSpec, output_name
    from paicli.paths import sanitize_name
    from paicli.progress import Progress
    from paicli.media.frame_range import source_range
    from paicli.shot.convert import transcode

    s = resolve(SCHEMA, dict(format=format, prores_profile=prores_profile, exr_compression=exr_compression,
                             first_frame=first_frame, input_colorspace=input_colorspace,
                             output_colorspace=output_colorspace, handles=handles, conform_vfr=conform_vfr, rate=rate),
                preset=preset)
    in_space = canonical(s.input_colorspace) if s.input_colorspace else None
    out_space = canonical(s.output_colorspace) if s.output_colorspace else None
    spec = OutputSpec(format=s.format, prores_profile=s.prores_profile, exr_compression=s.exr_compression,
                      first_frame=s.first_frame, colourspace=out_space)
    info = probe(source, rate=s.rate)
    result = CommandResult(command="convert", inputs=[info.to_dict()], settings=s.plain())
    stem = sanitize_name(name or Path(info.pattern or info.path).name.split(".")[0])
    start, count = source_range(info, frames, s.handles)
    result.summary = {"source_range": [start, start + count - 1], "frames": count}
    if dry_run:
        from paicli.result import OutputFile

        result.add_output(OutputFile(kind="media", path=str(output / output_name(stem, spec))))
        print_settings(result, s, json_out)
        return 0
    with Progress(progress_mode(progress, json_out)) as prog:
        out = transcode(info, output, spec, stem=stem, start=start, count=count, input_colourspace=in_space,
                        allow_vfr=s.conform_vfr, progress=prog, result=result)

    def human() -> None:
        d = out.to_dict()
        tc = f", {d['timecode']['start']}-{d['timecode']['end']}" if "timecode" in d else ""
        print(f"wrote {d.get('path') or d.get('sequence')}: {d.get('frame_count', 0)} frames at {d['rate']} fps{tc}")

    report(result, json_out, human)
    return 0
