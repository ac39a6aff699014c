"""The one small interface every replace engine implements (classic now, DiT later).

An engine takes the shot's frames (a callable that opens a fresh iterator, so an engine may
read the shot more than once), the reference stills with their anchor frames and a progress
callback, and yields the layers of every frame in order. ``replace`` and ``render`` never
branch on the engine.

Images are float32 scene-linear Rec.709: colour (H, W, 3), premultiplied RGBA (H, W, 4),
alpha (H, W) in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import numpy as np


class EngineInputError(ValueError):
    """The shot or the references cannot be processed (no screen and no matte, ...)."""


@dataclass
class Reference:
    """A background still, as the camera sees the new background at frame ``anchor`` (0-based)."""

    image: np.ndarray
    anchor: int


@dataclass
class FrameLayers:
    """One finished frame: the composite and what it was made of."""

    comp: np.ndarray  # (H, W, 3)
    fg_straight: np.ndarray  # (H, W, 3) relit foreground colour, not premultiplied
    bg: np.ndarray  # (H, W, 3) background plate as composited
    alpha: np.ndarray  # (H, W)

    @property
    def fg(self) -> np.ndarray:
        """(H, W, 4) the relit foreground, premultiplied (computed when asked: only layers need it)."""
        a = self.alpha[..., None]
        return np.concatenate([self.fg_straight * a, a], axis=-1)


Progress = Callable[[dict], None]  # {"stage": str, "frame": int, "total": int}


class ReplaceEngine(Protocol):
    report: dict  # what the engine found (camera, screen, gains ...), complete once iteration ends

    def replace(self, frames: Callable[[], Iterator[np.ndarray]], count: int, references: list[Reference],
                callback: Progress | None = None) -> Iterator[FrameLayers]: ...
