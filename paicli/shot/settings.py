"""The settings of the per-shot jobs (``key``, ``replace``, ``convert``, and ``render``, which
renders each shot with replace's), each declared once: its default, help and parser, its command-line
option, its ``PAICLI_*`` environment variable and preset key (:mod:`paicli.settings`), and
the engine parameter it sets. Command signatures and engine parameters are made from these.

Light to import (no numpy or media libraries): the command line builds its options from it.
"""
from __future__ import annotations

from typing import List

from paicli.engines import parse_engine
from paicli.errors import UsageError
from paicli.media.formats import exr_compression, profile_name
from paicli.settings import (Schema, Setting, finite_float, parse_bool, parse_first_frame, parse_float, parse_int,
                             parse_path, parse_str, shown)

KEY_OUTPUTS = ("rgba", "matte", "fg")
CAMERA_MODES = ("auto", "track", "static")  # as engine.classic.replace's (not imported: that loads OpenCV)


def parse_outputs(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip().lower() for k in str(text).split(",") if k.strip())
    bad = [k for k in kinds if k not in KEY_OUTPUTS]
    if bad or not kinds:
        raise UsageError(f"unknown output {', '.join(bad) or repr(text)} (choose from {', '.join(KEY_OUTPUTS)})")
    return kinds


def parse_optional(value) -> str | None:
    """Text, where empty or ``auto`` means none (the default is decided later)."""
    text = str(value).strip()
    return None if text.lower() in ("", "auto") else text


def parse_camera(value) -> str:
    """``auto``, ``track``, ``static`` or the path of a camera JSON file."""
    v = str(value).strip()
    if not v:
        raise UsageError("--camera needs auto, track, static or a camera JSON file")
    return v


def parse_picked_colour(v) -> tuple[float, float, float] | None:
    """An eyedropper pick ``R,G,B`` in the shot's own encoding: 0-1 values, or 0-255 code values."""
    if v in (None, "", "none", "auto"):
        return None
    try:
        parts = [finite_float(t) for t in (v if isinstance(v, (list, tuple)) else str(v).split(","))]
    except ValueError:
        parts = []
    if len(parts) != 3 or min(parts) < 0 or max(parts) > 255:
        raise UsageError(f"a picked colour is R,G,B as 0-1 values or 0-255 code values, not {shown(v)}")
    scale = 255.0 if max(parts) > 1.0 else 1.0
    return tuple(p / scale for p in parts)


def _box(v) -> tuple[int, int, int, int]:
    try:
        x0, y0, x1, y1 = (int(finite_float(t)) for t in str(v).split(","))
    except ValueError:
        raise UsageError(f"a box is x0,y0,x1,y1 in pixels, not {shown(v)}") from None
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
    if v in (None, "", "none"):
        return None
    try:
        parts = [finite_float(t) for t in (v if isinstance(v, (list, tuple)) else str(v).split(","))]
    except ValueError:
        parts = []
    if len(parts) != 3:
        raise UsageError(f"a colour is r,g,b in linear light, not {shown(v)}")
    return tuple(parts)


# Every keyer setting, declared once: its option, its environment variable and preset key,
# and the KeyParams field it sets (``param``). ``replace`` and ``render`` share the key's.
KEY = Schema("key", [
    Setting("screen", "auto", "Screen colour: auto, green or blue.", parse_str, ("auto", "green", "blue"),
            param="key.screen"),
    Setting("screen_colour", None, "The screen's colour picked with an eyedropper, R,G,B in the shot's own "
            "encoding (0-1, or 0-255 code values): used instead of finding the screen.", parse_picked_colour),
    Setting("screen_gain", 1.0, "Screen gain: above 1 keys harder, below 1 keeps more edge.", parse_float(0.1, 4.0),
            cli_type=float, param="key.screen_gain"),
    Setting("screen_balance", 1.0, "1 = screen channel against each other channel (yellow and cyan keep "
            "their alpha), 0 = against their mean.",
            parse_float(0.0, 1.0), cli_type=float, param="key.screen_balance"),
    Setting("pre_blur", 0.0, "Chroma pre-blur (px) of the screen difference, against noise.", parse_float(0.0, 10.0),
            cli_type=float, param="key.pre_blur"),
    Setting("clip_black", 0.04, "Matte values below this are screen (away from edges).", parse_float(0.0, 0.5),
            cli_type=float, param="key.clip_black"),
    Setting("clip_white", 1.0, "Matte values above this are solid (away from edges).", parse_float(0.5, 1.0),
            cli_type=float, param="key.clip_white"),
    Setting("edge_protect", 10, "Clip black/white do not apply within this many px of an edge (hair).",
            parse_int(0, 200), cli_type=int, param="key.edge_protect_px"),
    Setting("despot", 40, "Remove isolated specks (markers) and fill holes smaller than about this size (px).",
            parse_int(0, 2000), cli_type=int, param="key.despot_px"),
    Setting("core_erode", 5, "Automatic core matte: the filled subject eroded by this many px (0 = off).",
            parse_int(0, 500), cli_type=int, param="key.core_erode_px"),
    Setting("solid_snap", 1.0, "Where the matte's local mean exceeds this it becomes exactly 1 "
            "(1 = off; 0.99 for solid subjects, at a small cost on translucent fur).", parse_float(0.5, 1.0),
            cli_type=float, param="key.solid_snap"),
    Setting("shrink_grow", 0.0, "Shrink (negative) or grow (positive) the matte, px.", parse_float(-50, 50),
            cli_type=float, param="key.shrink_grow_px"),
    Setting("softness", 0.0, "Blur of the final matte, px.", parse_float(0.0, 50.0), cli_type=float,
            param="key.softness_px"),
    Setting("matte_denoise", 3.0, "Smooth the soft edge's noise: matte differences up to about this many "
            "times the noise measured on the screen are averaged, larger ones (strands) kept (0 = off).",
            parse_float(0.0, 20.0), cli_type=float, param="key.matte_denoise"),
    Setting("despill", "limit", "Despill mode: limit, subtract or none.", parse_str, ("limit", "subtract", "none"),
            param="key.despill"),
    Setting("despill_strength", 1.0, "How much of the spill to remove (0-1).", parse_float(0.0, 1.0),
            cli_type=float, param="key.despill_strength"),
    Setting("spill_colour", None, "Linear R,G,B colour put back where spill was removed (e.g. the new "
            "background's); default: none. Not replace's --spill-replace, a 0-1 strength.", _colour,
            param="key.spill_replace", was="spill_replace"),
    Setting("temporal", 0.7, "Hold the matte where the picture did not change (0 = off, 0.95 = strongest).",
            parse_float(0.0, 0.95), cli_type=float, param="key.temporal"),
    Setting("garbage_box", [], "Always-screen box x0,y0,x1,y1 in pixels (repeatable; 'x0,y0,x1,y1;...' in "
            "presets and the environment).", _boxes, cli_type=List[str], param="key.garbage_boxes", to_param=list),
    Setting("core_box", [], "Always-foreground box x0,y0,x1,y1 in pixels (repeatable; 'x0,y0,x1,y1;...' in "
            "presets and the environment).", _boxes, cli_type=List[str], param="key.core_boxes", to_param=list),
    Setting("outputs", ("rgba", "matte"), "Files to write: rgba, matte, fg (comma-separated).", parse_outputs),
    Setting("format", "exr", "exr (half, premultiplied) or prores (4444 with alpha for rgba).", parse_str,
            ("exr", "prores")),
    Setting("exr_compression", "zip", "EXR compression: zip, zips, piz, dwaa, dwab, rle, none.", parse_str,
            ("none", "zip", "zips", "piz", "dwaa", "dwab", "rle")),
    Setting("first_frame", 1001, "First EXR frame number, or 'timecode' or 'source'.", parse_first_frame),
    Setting("handles", 0, "Extra frames before and after the range.", parse_int(0, 100000), cli_type=int),
])


_KEY_SETTINGS = ("screen", "screen_colour", "screen_gain", "pre_blur", "clip_black", "clip_white", "edge_protect", "despot",
                 "core_erode", "shrink_grow", "softness", "despill", "temporal")

REPLACE = Schema("replace", [KEY.settings[n] for n in _KEY_SETTINGS] + [
    Setting("camera", "auto", "auto (track; static when locked off or untrackable), track, static, "
            "or a camera JSON file (frame_to_frame0).", parse_camera),
    Setting("pin_to_refs", True, "Pin the tracked camera to the references at their anchors where they agree "
            "(the stills are sharp where the plate is motion-blurred).", parse_bool,
            flag="--pin-to-refs/--no-pin-to-refs", cli_type=bool),
    Setting("shutter_angle", 180.0, "Shutter angle in degrees for the background's motion blur (0 = none).",
            parse_float(0.0, 360.0), cli_type=float, param="plate.shutter", to_param=lambda deg: deg / 360.0),
    Setting("parallax", 1.0, "1: background glued to the screen plane; 0: at infinity (rotation only).",
            parse_float(0.0, 1.0), cli_type=float, param="plate.parallax"),
    Setting("defocus", 0.0, "Blur of the background, px (sigma), to match the shot's depth of field.",
            parse_float(0.0, 200.0), cli_type=float, param="plate.defocus_px"),
    Setting("keep_lighting", False, "Do not relight the foreground (no white balance or tone match).", parse_bool,
            flag="--keep-lighting/--relight", cli_type=bool),
    Setting("strength", 1.0, "Relighting strength: 0 keeps the plate's light, 1 the full match.",
            parse_float(0.0, 1.0), cli_type=float, param="harmonise.strength"),
    Setting("adapt", 0.0, "0: foreground white balanced to neutral; 1: to the new background's white.",
            parse_float(0.0, 1.0), cli_type=float, param="harmonise.adapt"),
    Setting("tone", 0.0, "How far the foreground's exposure moves to the background's (0-1).", parse_float(0.0, 1.0),
            cli_type=float, param="harmonise.tone"),
    Setting("spill_replace", 1.0, "Removed screen spill put back as background-coloured light (0-1).",
            parse_float(0.0, 1.0), cli_type=float, param="harmonise.spill_replace"),
    Setting("light_wrap", 0.0, "Background light wrapped over the foreground's edges (0-1).", parse_float(0.0, 1.0),
            cli_type=float, param="harmonise.light_wrap"),
    Setting("grain", 1.0, "Plate grain added to the background, as a multiple of what the screen shows (0 = none).",
            parse_float(0.0, 4.0), cli_type=float, param="harmonise.grain"),
    Setting("format", "prores", "prores (ProRes, BT.709) or exr (half, scene-linear).", parse_str,
            ("prores", "exr")),
    Setting("prores_profile", "hq", "ProRes profile of the composite.", parse_str,
            ("proxy", "lt", "standard", "hq", "4444", "4444xq")),
    Setting("layers", False, "Also write a multi-layer EXR: comp, relit fg (premultiplied), bg, alpha.", parse_bool,
            flag="--layers/--no-layers", cli_type=bool),
] + [KEY.settings[n] for n in ("exr_compression", "first_frame", "handles")] + [
    Setting("seed", 0, "Seed of the grain and of the DiT's noise, so reruns are identical.", parse_int(0, 2**31 - 1),
            cli_type=int),
    Setting("engine", "classic", "classic (CPU, no weights) or dit (the in-context Wan DiT; needs --model).",
            parse_engine),
    # the DiT engine's own (paicli.engines.dit)
    Setting("model", None, "DiT checkpoint folder (diffusers layout, safetensors; see `paicli model`), or one "
            "transformer .safetensors file (diffusers or original Wan names) with --model-config.", parse_path),
    Setting("model_config", None, "DiT: checkpoint folder giving the configs, VAE, scheduler and text encoder "
            "when --model is a single weights file.", parse_path),
    Setting("steps", 30, "DiT sampling steps.", parse_int(1, 1000), cli_type=int),
    Setting("guidance", 5.0, "DiT classifier-free guidance scale (1 = off).", parse_float(1.0, 30.0), cli_type=float),
    Setting("window", 21, "DiT temporal window, latent frames (4 pixel frames each).", parse_int(1, 1000),
            cli_type=int),
    Setting("overlap", 4, "DiT window overlap, latent frames.", parse_int(0, 999), cli_type=int),
    Setting("shift", None, "DiT: the flow-matching sampler's time shift (higher spends more steps at high "
            "noise; Wan uses 5 at 720p, 3 at 480p); default: the checkpoint's scheduler config.",
            parse_float(0.1, 50.0)),
    Setting("prompt", None, "DiT: structured prompt JSON (scene, lighting, camera_motion, subject); default "
            "built from the inputs.", parse_path),
    Setting("prompt_embeds", None, "DiT: precomputed text embeddings (safetensors with 'prompt_embeds'); default: "
            "the checkpoint's.", parse_path),
    Setting("perturb_light", 0.0, "DiT: relight the plate condition by a seeded smooth gain before encoding "
            "(0..1, as in training), so the model relights the subject rather than copying the plate's light.",
            parse_float(0.0, 1.0), cli_type=float),
    Setting("keep_foreground", False, "DiT: keep the keyed plate's own subject (pixel-exact) over the generated "
            "frame, relit by the generated frame's light; default regenerates the whole frame.", parse_bool,
            flag="--keep-foreground/--regenerate-foreground", cli_type=bool),
    Setting("lora_scale", 1.0, "Strength of the LoRA weights merged into the DiT (--lora, or the checkpoint's "
            "lora/ folder).", parse_float(0.0, 4.0), cli_type=float),
    Setting("vae_tile", 64, "DiT VAE tile for encoding and decoding, latent px (8 picture px each; 0 = whole frames).",
            parse_int(0, 100000), cli_type=int),
    Setting("device", "auto", "DiT device: auto, cpu or cuda.", parse_str, ("auto", "cpu", "cuda")),
    Setting("dtype", "auto", "DiT precision: auto (bf16 on a GPU, fp32 on a CPU), bf16, fp16, fp32.", parse_str,
            ("auto", "bf16", "fp16", "fp32")),
])

CONVERT = Schema("convert", [
    Setting("format", "prores", "Output format: prores (a .mov) or exr (a frame sequence).", parse_str,
            ("prores", "exr")),
    Setting("prores_profile", "hq", "ProRes profile: proxy, lt, 422, hq, 4444 (with alpha), 4444xq.",
            lambda v: profile_name(str(v))),
    Setting("exr_compression", "zip", "EXR compression: zip, zips, piz, dwaa, dwab, rle, none.", exr_compression),
    Setting("first_frame", 1001, "First EXR frame number, or 'timecode' (from the start TC) or 'source'.",
            parse_first_frame),
    Setting("input_colorspace", None, "Colour space of the source: auto (from tags), bt709, srgb, linear, or an "
            "OCIO name (ACEScg, 'ARRI LogC4', ...).", parse_optional),
    Setting("output_colorspace", None, "Colour space to write: auto (BT.709 for ProRes, linear for EXR), or as "
            "above.", parse_optional),
    Setting("handles", 0, "Extra frames before and after the range.", parse_int(0, 100000), cli_type=int),
    Setting("conform_vfr", False, "Accept a variable-frame-rate movie, taking its frames in order at the average "
            "rate.", parse_bool, cli_type=bool),
    Setting("rate", None, "Frame rate for image sequences whose headers carry none.", parse_optional),
])
