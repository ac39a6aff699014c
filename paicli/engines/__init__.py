"""Replace engines by name: the one place paicli chooses an engine.

``ENGINES`` maps an ``--engine`` name to the module of its loader. A loader module defines
``prepare(settings, key_params=..., references=..., loras=...)``, which checks the settings
before any media is read and returns a loader: ``name``, ``tracks_camera`` (whether the
engine's camera is written as camera files) and ``build(camera_path=None, callback=None)``,
which loads what it needs (telling ``callback``, an engine progress callback, of each long
part) and returns an engine that implements :class:`engine.interface.ReplaceEngine`;
and ``USES_GPU``, whether Ray gives the engine one worker per GPU (else one per CPU). A new
engine is one new package and one line here.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from paicli.errors import UsageError

if TYPE_CHECKING:  # the factory stays light to import: the command line validates --engine with it
    from engine.interface import ReplaceEngine

ENGINES: dict[str, str] = {
    "classic": "paicli.engines.classic",
    "dit": "paicli.engines.dit",
}


class EngineLoader(Protocol):
    name: str
    tracks_camera: bool

    def build(self, camera_path=None, callback=None) -> "ReplaceEngine": ...


def parse_engine(value: Any) -> str:
    """An ``--engine`` value: the name of a registered engine."""
    name = str(value).strip().lower()
    if name not in ENGINES:
        raise UsageError(f"{value!r} is not one of {', '.join(ENGINES)}")
    return name


def loader_module(name: str) -> ModuleType:
    return importlib.import_module(ENGINES[parse_engine(name)])


def uses_gpu(name: str) -> bool:
    """Whether engine ``name`` wants a GPU of its own (Ray: one worker per GPU)."""
    return bool(getattr(loader_module(name), "USES_GPU", False))


def prepare(resolved, *, key_params=None, references: tuple = (), loras: tuple = ()) -> EngineLoader:
    """The loader of ``resolved.engine``, its settings checked (see the module notes)."""
    return loader_module(resolved.engine).prepare(resolved, key_params=key_params, references=tuple(references),
                                                  loras=tuple(loras))
