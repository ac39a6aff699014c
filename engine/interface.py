"""The one interface every replace engine implements (classic, DiT, and any engine after them).

An engine works in two passes over a shot, so that memory stays flat however long it is:

1. ``analyse(frames, count, references, callback)``: read the plate once (screen, camera,
   white point; or encode and sample, for a generative engine);
2. ``render(frames, count, callback)``: read it again and yield every frame's layers in order.

``frames`` is a callable that opens a fresh iterator over the shot, so an engine may read the
shot more than once. ``replace()`` runs both passes. After ``render`` ends, ``camera()`` is the
camera the background moved with (a 3x3 frame-t pixel -> frame-0 pixel homography per frame),
or None for an engine that does not track one; ``report`` says what the engine found (camera,
screen, gains, timing ...); ``describe()`` is what the sidecar records about the engine itself
(weights, sampling settings ...). ``replace`` and ``render`` in ``paicli`` never branch on which
engine it is: engines are built by the factory in :mod:`paicli.engines`.

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


# {"stage": str, "total": int | None, "done": int (units so far; 0 opens the stage) or "frame": int (one more
# unit), "unit": str (plural, default "frames"; None: timed only), "subject": str (default: the shot)}
Progress = Callable[[dict], None]
Frames = Callable[[], Iterator[np.ndarray]]  # opens a fresh iterator over the shot's frames


class ReplaceEngine(Protocol):
    name: str  # as the sidecar and ``--engine`` name it
    report: dict  # what the engine found (camera, screen, gains ...), complete once ``render`` ends

    def analyse(self, frames: Frames, count: int, references: list[Reference],
                callback: Progress | None = None) -> None: ...

    def render(self, frames: Frames, count: int, callback: Progress | None = None) -> Iterator[FrameLayers]: ...

    def replace(self, frames: Frames, count: int, references: list[Reference],
                callback: Progress | None = None) -> Iterator[FrameLayers]: ...

    def camera(self) -> list[np.ndarray] | None: ...

    def describe(self) -> dict: ...


class TwoPassEngine:
    """What every engine shares: ``replace`` is ``analyse`` then ``render`` (lazily: the
    analysis runs when the first frame is asked for), and an engine with no camera and
    nothing to describe says so."""

    name = "engine"

    def replace(self, frames: Frames, count: int, references: list[Reference],
                callback: Progress | None = None) -> Iterator[FrameLayers]:
        """Yield the layers of frames 0..count-1."""
        self.analyse(frames, count, references, callback)
        yield from self.render(frames, count, callback)

    def camera(self) -> list[np.ndarray] | None:
        return None

    def describe(self) -> dict:
        return {}
