"""The structured prompt of the DiT engine: a small JSON document, its schema and its default.

PAI-Studio conditions on a structured description rather than free text. paicli keeps it as
JSON with four fields and writes the one it used into the sidecar::

    {"scene": "...", "lighting": "...", "camera_motion": "...", "subject": "..."}

The DiT's text encoder reads the JSON itself (:func:`prompt_text`, compact, keys in schema
order). Precomputed embeddings (``--prompt-embeds FILE`` or a checkpoint's
``prompt_embeds.safetensors``) replace the encoder; the JSON then documents what they stand for.
"""
from __future__ import annotations

import json
from pathlib import Path

from paicli.errors import BadDataError, MissingInputError

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "paicli.prompt.1",
    "type": "object",
    "properties": {
        "scene": {"type": "string", "description": "the new background: place, time of day, weather"},
        "lighting": {"type": "string", "description": "key light direction, colour and softness in the new place"},
        "camera_motion": {"type": "string", "description": "static, pan, tilt, handheld, dolly ..."},
        "subject": {"type": "string", "description": "who or what is in front of the screen"},
    },
    "required": ["scene", "lighting", "camera_motion", "subject"],
    "additionalProperties": False,
}


def default_prompt(references: list[str], frames: int | None = None) -> dict:
    """A prompt built from the inputs alone, for when the user gives none."""
    names = ", ".join(Path(r).stem for r in references) or "the reference stills"
    length = f" ({frames} frames)" if frames else ""
    return {"scene": f"the place shown in {names}",
            "lighting": "the light of that place, matched on the subject",
            "camera_motion": "as in the plate",
            "subject": f"the keyed foreground of the plate{length}, kept as it is"}


def prompt_text(prompt: dict) -> str:
    """The text the encoder reads: the prompt as one line of JSON, keys in schema order."""
    ordered = {k: prompt[k] for k in SCHEMA["properties"] if k in prompt}
    return json.dumps(ordered, ensure_ascii=False)


def load_prompt(path: str | Path) -> dict:
    """Read and check a prompt JSON file against :data:`SCHEMA` (one line per error)."""
    p = Path(path)
    if not p.is_file():
        raise MissingInputError(f"no such prompt file: {p}")
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise BadDataError(f"{p}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise BadDataError(f"{p}: a prompt is a JSON object with {', '.join(SCHEMA['required'])}")
    missing = [k for k in SCHEMA["required"] if k not in data]
    extra = [k for k in data if k not in SCHEMA["properties"]]
    wrong = [k for k in SCHEMA["required"] if k in data and not isinstance(data[k], str)]
    if missing or extra or wrong:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
                ([f"unknown {', '.join(extra)}"] if extra else []) + ([f"not text: {', '.join(wrong)}"] if wrong else [])
        raise BadDataError(f"{p}: " + "; ".join(parts))
    return data
