"""The classic engine's loader: resolved settings into
:class:`engine.classic.replace.ClassicReplaceEngine` (CPU, no weights)."""
from __future__ import annotations

import dataclasses

from engine.classic.harmonise import HarmoniseParams
from engine.classic.plate import PlateParams
from engine.classic.replace import CAMERA_MODES, ClassicReplaceEngine, ReplaceParams
from paicli.settings import params_from

USES_GPU = False  # Ray: one warm worker per CPU


class ClassicLoader:
    name = "classic"
    tracks_camera = True

    def __init__(self, params: ReplaceParams):
        self.params = params

    def build(self, camera_path=None, callback=None) -> ClassicReplaceEngine:
        """The engine; ``camera_path`` (frame t -> frame 0 per frame) replaces tracking.
        Nothing loads here, so ``callback`` is never told anything."""
        params = self.params if camera_path is None else dataclasses.replace(self.params, camera_path=camera_path)
        return ClassicReplaceEngine(params)


def prepare(s, *, key_params, references: tuple = (), loras: tuple = ()) -> ClassicLoader:
    """The loader for resolved settings ``s``: the parameters their declarations name
    (``key.*``, ``plate.*``, ``harmonise.*``); a camera file leaves the mode at auto."""
    harmonise = params_from(s, "harmonise", HarmoniseParams)
    if s.keep_lighting:
        harmonise.strength = 0.0
    return ClassicLoader(ReplaceParams(
        key=key_params, plate=params_from(s, "plate", PlateParams), harmonise=harmonise,
        camera=s.camera if s.camera in CAMERA_MODES else "auto", anchor_to_references=s.pin_to_refs, seed=s.seed))
