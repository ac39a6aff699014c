"""``paicli replace SHOT --bg REFS -o OUT``: the finished shot with a new, camera-aware background."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from paicli.commands import key as key_cmd
from paicli.commands.common import (DryRunOpt, FramesOpt, InputColorspaceOpt, JsonOpt, NameOpt, OutputDirOpt, PresetOpt,
                                    ProgressOpt, print_settings, progress_mode, report, setting_option)
from paicli.result import CommandResult
from paicli.settings import Schema, Setting, parse_bool, parse_float, parse_int, parse_str, resolve

HELP = ("Replace the background of a green/blue-screen (or matted) shot with 1-N reference stills: key, track "
        "the camera on the screen, render the stills as a background that moves with it (stitched, blended by "
        "anchor, shutter-blurred), relight the foreground to match and write the composite with the source's "
        "timing and timecode, plus the camera track (JSON and Nuke corner pin) and a sidecar of everything used.")

_KEY_SETTINGS = ("screen", "screen_gain", "pre_blur", "clip_black", "clip_white", "edge_protect", "despot",
                 "core_erode", "shrink_grow", "softness", "despill", "temporal")


def _path_or_none(v):
    return None if v in (None, "") else str(v)


def _camera(v):
    from paicli.shot.replace import parse_camera

    return parse_camera(v)


SCHEMA = Schema("replace", [key_cmd.SCHEMA.settings[n] for n in _KEY_SETTINGS] + [
    Setting("camera", "auto", "auto (track; static when locked off or untrackable), track, static, "
            "or a camera JSON file (frame_to_frame0).", _camera),
    Setting("pin_to_refs", True, "Pin the tracked camera to the references at their anchors where they agree "
            "(the stills are sharp where the plate is motion-blurred).", parse_bool),
    Setting("shutter_angle", 180.0, "Shutter angle in degrees for the background's motion blur (0 = none).",
            parse_float(0.0, 360.0)),
    Setting("parallax", 1.0, "1: background glued to the screen plane; 0: at infinity (rotation only).",
            parse_float(0.0, 1.0)),
    Setting("defocus", 0.0, "Blur of the background, px (sigma), to match the shot's depth of field.",
            parse_float(0.0, 200.0)),
    Setting("keep_lighting", False, "Do not relight the foreground (no white balance or tone match).", parse_bool),
    Setting("strength", 1.0, "Relighting strength: 0 keeps the plate's light, 1 the full match.",
            parse_float(0.0, 1.0)),
    Setting("adapt", 0.0, "0: foreground white balanced to neutral; 1: to the new background's white.",
            parse_float(0.0, 1.0)),
    Setting("tone", 0.0, "How far the foreground's exposure moves to the background's (0-1).", parse_float(0.0, 1.0)),
    Setting("spill_replace", 1.0, "Removed screen spill put back as background-coloured light (0-1).",
            parse_float(0.0, 1.0)),
    Setting("light_wrap", 0.0, "Background light wrapped over the foreground's edges (0-1).", parse_float(0.0, 1.0)),
    Setting("grain", 1.0, "Plate grain added to the background, as a multiple of what the screen shows (0 = none).",
            parse_float(0.0, 4.0)),
    Setting("format", "prores", "prores (ProRes, BT.709) or exr (half, scene-linear).", parse_str,
            ("prores", "exr")),
    Setting("prores_profile", "hq", "ProRes profile of the composite.", parse_str,
            ("proxy", "lt", "standard", "hq", "4444", "4444xq")),
    Setting("layers", False, "Also write a multi-layer EXR: comp, relit fg (premultiplied), bg, alpha.", parse_bool),
] + [key_cmd.SCHEMA.settings[n] for n in ("exr_compression", "first_frame", "handles")] + [
    Setting("seed", 0, "Seed of the grain and of the DiT's noise, so reruns are identical.", parse_int(0, 2**31 - 1)),
    Setting("engine", "classic", "classic (CPU, no weights) or dit (the in-context Wan DiT; needs --model).",
            parse_str, ("classic", "dit")),
    Setting("model", None, "DiT checkpoint folder (diffusers layout, safetensors; see `paicli model`), or one "
            "transformer .safetensors file (diffusers or original Wan names) with --model-config.", _path_or_none),
    Setting("model_config", None, "DiT: checkpoint folder giving the configs, VAE, scheduler and text encoder "
            "when --model is a single weights file.", _path_or_none),
    Setting("steps", 30, "DiT sampling steps.", parse_int(1, 1000)),
    Setting("guidance", 5.0, "DiT classifier-free guidance scale (1 = off).", parse_float(1.0, 30.0)),
    Setting("window", 21, "DiT temporal window, latent frames (4 pixel frames each).", parse_int(1, 1000)),
    Setting("overlap", 4, "DiT window overlap, latent frames.", parse_int(0, 999)),
    Setting("prompt", None, "DiT: structured prompt JSON (scene, lighting, camera_motion, subject); default "
            "built from the inputs.", _path_or_none),
    Setting("prompt_embeds", None, "DiT: precomputed text embeddings (safetensors with 'prompt_embeds'); default: "
            "the checkpoint's.", _path_or_none),
    Setting("perturb_light", 0.0, "DiT: relight the plate condition by a seeded smooth gain before encoding "
            "(0..1, as in training), so the model relights the subject rather than copying the plate's light.",
            parse_float(0.0, 1.0)),
    Setting("keep_foreground", False, "DiT: keep the keyed plate's own subject (pixel-exact) over the generated "
            "frame, relit by the generated frame's light; default regenerates the whole frame.", parse_bool),
    Setting("lora_scale", 1.0, "Strength of the LoRA weights merged into the DiT (--lora, or the checkpoint's "
            "lora/ folder).", parse_float(0.0, 4.0)),
    Setting("vae_tile", 64, "DiT VAE tile for encoding and decoding, latent px (8 picture px each; 0 = whole frames).",
            parse_int(0, 100000)),
    Setting("device", "auto", "DiT device: auto, cpu or cuda.", parse_str, ("auto", "cpu", "cuda")),
    Setting("dtype", "auto", "DiT precision: auto (bf16 on a GPU, fp32 on a CPU), bf16, fp16, fp32.", parse_str,
            ("auto", "bf16", "fp16", "fp32")),
])


def _opt(name: str, flag: str, type_=str):
    return setting_option(SCHEMA, name, flag, type_)


def _flag(name: str, flag: str):
    return setting_option(SCHEMA, name, flag, bool)


def replace(
    shot: Annotated[str, typer.Argument(metavar="SHOT", help="A screen shot (movie or image sequence), or a "
                                        "matted RGBA one.", show_default=False)],
    bg: Annotated[List[str], typer.Option("--bg", help="Reference stills: a folder or files (repeatable). Anchored "
                                          "by frame numbers in their names (ref.0047.png), by --bg-at, or at "
                                          "start/middle/end in name order.", show_default=False)],
    output: OutputDirOpt = Path("out"),
    name: NameOpt = None,
    bg_at: Annotated[Optional[str], typer.Option("--bg-at", help="Anchor frames of the references in name order, "
                                                 "e.g. 0,47,95.", show_default=False)] = None,
    bg_colorspace: Annotated[Optional[str], typer.Option(
        "--bg-colorspace", help="Colour space of the stills (default: sRGB; EXR linear).", show_default=False)] = None,
    frames: FramesOpt = None,
    input_colorspace: InputColorspaceOpt = None,
    screen: _opt("screen", "--screen") = None,
    screen_gain: _opt("screen_gain", "--screen-gain", float) = None,
    pre_blur: _opt("pre_blur", "--pre-blur", float) = None,
    clip_black: _opt("clip_black", "--clip-black", float) = None,
    clip_white: _opt("clip_white", "--clip-white", float) = None,
    edge_protect: _opt("edge_protect", "--edge-protect", int) = None,
    despot: _opt("despot", "--despot", int) = None,
    core_erode: _opt("core_erode", "--core-erode", int) = None,
    shrink_grow: _opt("shrink_grow", "--shrink-grow", float) = None,
    softness: _opt("softness", "--softness", float) = None,
    despill: _opt("despill", "--despill") = None,
    temporal: _opt("temporal", "--temporal", float) = None,
    camera: _opt("camera", "--camera") = None,
    pin_to_refs: _flag("pin_to_refs", "--pin-to-refs/--no-pin-to-refs") = None,
    shutter_angle: _opt("shutter_angle", "--shutter-angle", float) = None,
    parallax: _opt("parallax", "--parallax", float) = None,
    defocus: _opt("defocus", "--defocus", float) = None,
    keep_lighting: _flag("keep_lighting", "--keep-lighting/--relight") = None,
    strength: _opt("strength", "--strength", float) = None,
    adapt: _opt("adapt", "--adapt", float) = None,
    tone: _opt("tone", "--tone", float) = None,
    spill_replace: _opt("spill_replace", "--spill-replace", float) = None,
    light_wrap: _opt("light_wrap", "--light-wrap", float) = None,
    grain: _opt("grain", "--grain", float) = None,
    format: _opt("format", "--format") = None,
    prores_profile: _opt("prores_profile", "--prores-profile") = None,
    layers: _flag("layers", "--layers/--no-layers") = None,
    exr_compression: _opt("exr_compression", "--exr-compression") = None,
    first_frame: _opt("first_frame", "--first-frame") = None,
    handles: _opt("handles", "--handles", int) = None,
    seed: _opt("seed", "--seed", int) = None,
    engine: _opt("engine", "--engine") = None,
    model: _opt("model", "--model") = None,
    model_config: _opt("model_config", "--model-config") = None,
    steps: _opt("steps", "--steps", int) = None,
    guidance: _opt("guidance", "--guidance", float) = None,
    window: _opt("window", "--window", int) = None,
    overlap: _opt("overlap", "--overlap", int) = None,
    vae_tile: _opt("vae_tile", "--vae-tile", int) = None,
    lora: Annotated[Optional[List[str]], typer.Option(
        "--lora", help="LoRA safetensors merged into the DiT (repeatable; default: the checkpoint's lora/ folder).",
        show_default=False)] = None,
    lora_scale: _opt("lora_scale", "--lora-scale", float) = None,
    perturb_light: _opt("perturb_light", "--perturb-light", float) = None,
    keep_foreground: _flag("keep_foreground", "--keep-foreground/--regenerate-foreground") = None,
    prompt: _opt("prompt", "--prompt") = None,
    prompt_embeds: _opt("prompt_embeds", "--prompt-embeds") = None,
    device: _opt("device", "--device") = None,
    dtype: _opt("dtype", "--dtype") = None,
    preset: PresetOpt = None,
    progress: ProgressOpt = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> int:
    from paicli.media.colourspace import canonical
    from paicli.media.probe import probe
    from paicli.paths import sanitize_name
    from paicli.progress import Progress
    from paicli.shot.replace import output_names, replace_shot
    from paicli.result import OutputFile
    from paicli.media.frame_range import source_range

    cli = {k: v for k, v in locals().items() if k in SCHEMA}
    s = resolve(SCHEMA, cli, preset=preset)
    params, outs, dit, camera_file = engine_inputs(s, bg, tuple(lora or ()))
    info = probe(shot)
    result = CommandResult(command="replace", inputs=[info.to_dict()], settings=s.plain())
    stem = sanitize_name(name or Path(info.pattern or info.path).name.split(".")[0])
    start, count = source_range(info, frames, s.handles)
    result.summary = {"source_range": [start, start + count - 1], "frames": count}
    if dry_run:
        from paicli.shot.references import find_references

        specs = find_references(bg, info.frame_count, bg_at=bg_at, first_frame=info.first_frame)
        result.summary["references"] = [{"path": str(r.path), "anchor": r.anchor, "anchored_by": r.anchored_by}
                                        for r in specs]
        for kind, fname in output_names(stem, outs, camera=s.engine == "classic").values():
            result.add_output(OutputFile(kind=kind, path=str(output / fname)))
        print_settings(result, s, json_out)
        return 0
    with Progress(progress_mode(progress, json_out)) as prog:
        summary = replace_shot(info, output, params, outs, stem=stem, frames=frames, handles=s.handles,
                               input_colourspace=canonical(input_colorspace) if input_colorspace else None,
                               bg=bg, bg_at=bg_at, bg_colourspace=bg_colorspace, camera_file=camera_file,
                               settings=s.plain(), progress=prog, result=result, dit=dit)
        result.summary.update(summary)
        if s.engine == "classic":
            prog.log(_tracking_line(summary))

    def human() -> None:
        if s.engine == "classic":
            print(_tracking_line(summary))
        g = (summary.get("relight") or {}).get("gains")
        if g:
            print(f"relight gains r,g,b: {g[0]:.3f}, {g[1]:.3f}, {g[2]:.3f}")
        for note in summary.get("notes", []):
            print(f"note: {note}")
        for o in result.outputs:
            d = o.to_dict()
            print(f"wrote {d['kind']}: {d.get('path') or d.get('sequence')}"
                  + (f" ({d['frame_count']} frames)" if d.get("frame_count") else ""))

    report(result, json_out, human)
    return 0


def engine_inputs(s, bg, loras: tuple = ()):
    """What the engine needs, from resolved settings ``s`` (of replace or render): the classic
    engine's parameters, the outputs, a :class:`DitSetup` for ``--engine dit`` (else None) and
    a supplied camera file (else None)."""
    from engine.classic.harmonise import HarmoniseParams
    from engine.key.keyer import KeyParams
    from engine.classic.plate import PlateParams
    from engine.classic.replace import ReplaceParams
    from paicli.shot.replace import ReplaceOutputs

    key = KeyParams(screen=s.screen, screen_gain=s.screen_gain, pre_blur=s.pre_blur, clip_black=s.clip_black,
                    clip_white=s.clip_white, edge_protect_px=s.edge_protect, despot_px=s.despot,
                    core_erode_px=s.core_erode, shrink_grow_px=s.shrink_grow, softness_px=s.softness,
                    despill=s.despill, temporal=s.temporal)
    camera_file = None if s.camera in ("auto", "track", "static") else s.camera
    params = ReplaceParams(
        key=key,
        plate=PlateParams(shutter=s.shutter_angle / 360.0, parallax=s.parallax, defocus_px=s.defocus),
        harmonise=HarmoniseParams(strength=0.0 if s.keep_lighting else s.strength, adapt=s.adapt, tone=s.tone,
                                  spill_replace=s.spill_replace, light_wrap=s.light_wrap, grain=s.grain),
        camera=s.camera if camera_file is None else "auto", anchor_to_references=s.pin_to_refs, seed=s.seed)
    outs = ReplaceOutputs(format=s.format, prores_profile=s.prores_profile, exr_compression=s.exr_compression,
                          first_frame=s.first_frame, layers=s.layers)
    dit = None
    if s.engine == "dit":
        from paicli.engines.checkpoints import DitSetup
        from paicli.errors import UsageError

        if not s.model:
            raise UsageError("--engine dit needs --model PATH (a checkpoint; `paicli model init-tiny DIR` makes a "
                             "tiny random one)")
        if s.overlap >= s.window:
            raise UsageError(f"--overlap {s.overlap} must be below --window {s.window}")
        dit = DitSetup(Path(s.model), steps=s.steps, guidance=s.guidance, window=s.window, overlap=s.overlap,
                       seed=s.seed, device=s.device, dtype=s.dtype, tile=s.vae_tile or None,
                       loras=loras, lora_scale=s.lora_scale, keep_foreground=s.keep_foreground,
                       key_params=key, prompt=s.prompt, prompt_embeds=s.prompt_embeds, references=bg,
                       model_config=Path(s.model_config) if s.model_config else None,
                       perturb_light=s.perturb_light)
    return params, outs, dit, camera_file


def _tracking_line(summary: dict) -> str:
    c = summary.get("camera") or {}
    mode = c.get("mode", "?")
    if mode == "tracked":
        line = (f"camera: tracked, {c.get('mean_inliers')} screen points per frame, residual "
                f"{c.get('mean_residual_px')} px, {c.get('failed_frames', 0)} frames lost")
        if c.get("pinned_to_references"):
            line += f"; pinned to the references (they disagreed by up to {max(c['reference_disagreement_px']):.2f} px)"
        elif c.get("not_pinned_because"):
            line += f"; {c['not_pinned_because']}"
        return line
    return f"camera: {mode}" + (f" ({c['why']})" if c.get("why") else "")
