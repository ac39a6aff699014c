"""``paicli probe FILE...``: what an editor needs to know about media, before any work."""
from __future__ import annotations

import sys
from typing import Annotated, List, Optional

import typer

from paicli.commands.common import JsonOpt, report
from paicli.errors import PaicliError
from paicli.result import CommandResult

HELP = ("Show frame rate (exact), frame count, start/end timecode, reel, codec, bit depth, alpha, colour tags "
        "and variable-frame-rate detection for movies and image sequences.")


def probe(
    files: Annotated[List[str], typer.Argument(metavar="FILE...", help="Movies, image-sequence patterns (shot.####.exr), member files or folders.",
                                               show_default=False)],
    json_out: JsonOpt = False,
    rate: Annotated[Optional[str], typer.Option(
        "--rate", help="Frame rate for image sequences whose headers carry none (e.g. 24000/1001 or 23.976).",
        show_default=False)] = None,
) -> int:
    from paicli.media.probe import probe as probe_media

    result = CommandResult(command="probe")
    first_error: PaicliError | None = None
    for f in files:
        try:
            info = probe_media(f, rate=rate)
            result.inputs.append(info.to_dict())
            if info.vfr:
                result.warnings.append(f"{f}: variable frame rate")
        except PaicliError as e:
            first_error = first_error or e
            result.inputs.append({"path": f, "error": e.message, "exit_code": int(e.exit_code)})
    result.ok = first_error is None
    result.summary = {"files": len(files), "failed": sum(1 for i in result.inputs if "error" in i)}

    def human() -> None:
        _print_table(result.inputs)

    report(result, json_out, human)
    if first_error is not None:
        if json_out or len(files) > 1:
            for i in result.inputs:
                if "error" in i:
                    sys.stderr.write(f"paicli: error: {i['error']}\n")
            return int(first_error.exit_code)
        raise first_error
    return 0


def _print_table(rows: list[dict]) -> None:
    from paicli.commands.tables import print_table

    ok = [r for r in rows if "error" not in r]
    if not ok:
        return
    body = []
    for r in ok:
        colour = "/".join(str(r.get(k) or "?") for k in ("primaries", "transfer", "matrix"))
        colour += " full" if r.get("full_range") else " limited" if r["kind"] == "movie" else ""
        codec = r.get("codec") or "?"
        if r.get("profile"):
            codec += f" {r['profile']}"
        note = "VFR" if r.get("vfr") else ("rate: default 24, use --rate" if r.get("rate_from") == "default" else "")
        body.append((r["path"], f"{r['width']}x{r['height']}", f"{r['rate']} ({r['fps']})", r["frame_count"],
                     r.get("start_timecode") or "-", r.get("end_timecode") or "-", r.get("reel") or "-", codec,
                     r["bit_depth"], "yes" if r["has_alpha"] else "no", colour, note or "-"))
    print_table(None, ("file", "size", "rate", "frames", "start TC", "end TC", "reel", "codec", "bits", "alpha",
                       "colour", "note"), body)
