"""Training triplets for the DiT in-context background-replacement LoRA: the pictures.

A triplet shows one subject three ways: the *plate* (the subject over a green or blue
screen), the *target* (the subject in a background) and *reference stills* of that
background without the subject at a few anchor frames. This module makes them from arrays:
a synthetic screen lit unevenly like a real one, the camera that carries background and
screen alike, the subject over either, and the background hidden behind a matted subject.
Nothing here reads or writes files.

Conventions: images are float32 (H, W, 3) scene-linear Rec.709; alphas float32 (H, W) in
[0, 1]; a subject's colour is premultiplied by its alpha unless said otherwise. A *camera*
is one float64 3x3 matrix per frame mapping output pixel coordinates (x, y, 1), pixel
centres at integers, to pixel coordinates in a *world* image (a background still, or a
screen made for the shot): :func:`view` looks through it, so one matrix moves the background
and the screen together, as one real camera would.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.classic.track import ScreenTracker
from engine.key.keyer import Keyer, unmix
from engine.key.screen import fill_holes

SCREEN_COLOURS = {"green": (0.05, 0.42, 0.08), "blue": (0.04, 0.10, 0.45)}  # linear, a well-lit screen
ZOOM = (1.15, 1.4)  # a view's box is the largest of the output's aspect in the world, shrunk by this
MAX_PAN = 0.4  # a triplet's pan travels at most this fraction of the picture (a wide still is no whip pan)
HOLE_ALPHA = 1.0 / 255.0  # a matte above this hides background (an 8-bit matte's first step)
SOLID = 0.95  # a matte from here up is the subject's solid core


def anchors(frames: int, refs: int) -> list[int]:
    """Reference anchors, 0-based frame indices in a triplet of ``frames`` frames: 1 = the
    first; 2 = first and last; 3 = first, middle and last."""
    if refs not in (1, 2, 3):
        raise ValueError(f"refs must be 1, 2 or 3, not {refs}")
    picks = {1: [0], 2: [0, frames - 1], 3: [0, frames // 2, frames - 1]}[refs]
    return sorted(set(picks))


# ---------------------------------------------------------------------------- geometry


def fit(img: np.ndarray, width: int, height: int, cover: bool = True) -> np.ndarray:
    """``img`` (H, W) or (H, W, C) centre-cropped to ``width`` x ``height``, after scaling it
    to cover that size when ``cover`` (shrunk with an area filter, enlarged bilinearly: no
    ringing at a matte's edges); without, a plain crop (no resampling) of an image at
    least that size."""
    h, w = img.shape[:2]
    scale = max(width / w, height / h) if cover else 1.0
    if scale != 1.0:
        size = (max(width, round(w * scale)), max(height, round(h * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        h, w = img.shape[:2]
    if w < width or h < height:
        raise ValueError(f"a {w}x{h} image cannot be cropped to {width}x{height}")
    y0, x0 = (h - height) // 2, (w - width) // 2
    return np.ascontiguousarray(img[y0:y0 + height, x0:x0 + width], dtype=np.float32)


def window(x0: float, y0: float, box_w: float, box_h: float, width: int, height: int) -> np.ndarray:
    """The camera matrix that shows the world's box from (x0, y0) (pixel edges) of
    ``box_w`` x ``box_h`` world pixels as a ``width`` x ``height`` picture."""
    sx, sy = box_w / width, box_h / height
    return np.array([[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def _full_box(world_w: int, world_h: int, width: int, height: int) -> tuple[float, float]:
    """The largest box of the output's aspect inside the world, (w, h) in world pixels."""
    box_w = min(float(world_w), world_h * width / height)
    return box_w, box_w * height / width


def _boxed(u: np.ndarray, zoom: float, world_w: int, world_h: int, width: int, height: int) -> np.ndarray:
    """The camera at ``zoom`` (the full box shrunk by it) whose box sits at ``u`` (x, y in
    [0, 1]: 0 at the world's left/top edge, 1 at its right/bottom) of the room it has."""
    full_w, full_h = _full_box(world_w, world_h, width, height)
    box_w, box_h = full_w / zoom, full_h / zoom
    return window(u[0] * (world_w - box_w), u[1] * (world_h - box_h), box_w, box_h, width, height)


def camera_move(rng: np.random.Generator, frames: int, world_w: int, world_h: int, width: int,
                height: int) -> list[np.ndarray]:
    """A seeded camera move over ``frames`` frames across a ``world_w`` x ``world_h`` world,
    one matrix per frame: a pan, mostly sideways, over 30-70% of the room the box has (never
    less than 30%, so the background always moves, and never more than :data:`MAX_PAN` of
    the picture), with a push in or pull out between the zooms of :data:`ZOOM`; half at
    constant speed, half eased in and out, as an operated head moves."""
    zooms = rng.uniform(*ZOOM, size=2)
    start = rng.uniform(0.0, 1.0, size=2)
    travel = np.array([rng.uniform(0.3, 0.7), rng.uniform(0.0, 0.25)]) * rng.choice([-1.0, 1.0], size=2)
    box = np.array(_full_box(world_w, world_h, width, height)) / zooms.mean()
    room = np.maximum(np.array([world_w, world_h]) - box, 1e-6)
    travel *= np.minimum(1.0, MAX_PAN * box / room)  # as a fraction of the room
    end = start + travel
    away = (end < 0) | (end > 1)  # the other way, where the room is: at least half of it lies there
    end[away] = start[away] - travel[away]
    end = np.clip(end, 0.0, 1.0)
    out = []
    for i in range(frames):
        t = i / (frames - 1) if frames > 1 else 0.0
        s = 0.5 * t + 0.5 * t * t * (3.0 - 2.0 * t)
        zoom = zooms[0] + (zooms[1] - zooms[0]) * s
        out.append(_boxed(start + (end - start) * s, zoom, world_w, world_h, width, height))
    return out


def start_camera(rng: np.random.Generator, world_w: int, world_h: int, width: int, height: int) -> np.ndarray:
    """A seeded first-frame camera for a tracked shot: a box zoomed within :data:`ZOOM`
    placed in the middle half of its room, so the shot's own motion has room to move it."""
    return _boxed(rng.uniform(0.25, 0.75, size=2), rng.uniform(*ZOOM), world_w, world_h, width, height)


def view(world: np.ndarray, camera: np.ndarray, width: int, height: int) -> np.ndarray:
    """The ``width`` x ``height`` picture of ``world`` (H, W, 3) through ``camera``
    (bilinear; beyond the world's edges it is mirrored)."""
    return cv2.warpPerspective(np.ascontiguousarray(world, np.float32), np.asarray(camera, np.float64),
                               (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT101)


def prescale(still: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float]:
    """A background still shrunk (area filter) so that no camera of :data:`ZOOM` shrinks it
    further, and the enlargement its most zoomed view will still need (1: none)."""
    h, w = still.shape[:2]
    full_w, _ = _full_box(w, h, width, height)
    factor = width / (full_w / ZOOM[0])
    if factor < 1.0:
        still = cv2.resize(still, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
        full_w, _ = _full_box(still.shape[1], still.shape[0], width, height)
    return np.ascontiguousarray(still, np.float32), width / (full_w / ZOOM[1])


class TrackedCamera:
    """The camera of real footage: each frame's homography to the triplet's first frame,
    tracked outside the subject (:class:`engine.classic.track.ScreenTracker`), after a fixed
    first-frame camera ``start`` into the world."""

    def __init__(self, start: np.ndarray):
        self.start = start
        self._tracker = ScreenTracker()

    def matrix(self, picture: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
        """The next frame's camera; ``picture`` (H, W, 3), ``alpha`` (H, W) masks the subject out."""
        return self.start @ self._tracker.add(picture, alpha)

    @property
    def unlocked(self) -> int:
        """Frames after the first that the tracker could not lock onto the first frame (too
        few points held): their camera is a frame-to-frame estimate, or the last one held."""
        return sum(1 for n in self._tracker.result.inliers[1:] if n == 0)


# ---------------------------------------------------------------------------- the screen


@dataclass(frozen=True)
class ScreenLook:
    """How one synthetic screen is lit and shot. ``colour``: linear RGB at the lights'
    hotspot; ``falloff``: light lost towards the world's corners (fraction); ``gradient``:
    relative brightness change across the world (x, y); ``texture``: relative amplitude of
    the cloth's blotches and folds; ``spill``: fraction of the screen's light the subject's
    soft edge picks up; sensor noise sigma = ``read_noise + shot_noise * sqrt(value)``."""

    kind: str
    colour: tuple[float, float, float]
    falloff: float
    gradient: tuple[float, float]
    texture: float
    spill: float
    read_noise: float
    shot_noise: float


def screen_look(kind: str, rng: np.random.Generator) -> ScreenLook:
    """A seeded screen of ``kind`` (green or blue): its exposure, the other channels' mix
    (screens and their lamps differ), its unevenness, spill and noise."""
    colour = np.array(SCREEN_COLOURS[kind]) * rng.uniform(0.6, 1.3)
    others = [c for c in range(3) if c != (1 if kind == "green" else 2)]
    colour[others] *= rng.uniform(0.6, 1.5, size=2)
    return ScreenLook(kind, tuple(float(c) for c in colour), float(rng.uniform(0.15, 0.4)),
                      (float(rng.uniform(-0.15, 0.15)), float(rng.uniform(-0.15, 0.15))),
                      float(rng.uniform(0.03, 0.07)), float(rng.uniform(0.05, 0.2)),
                      float(rng.uniform(0.001, 0.003)), float(rng.uniform(0.003, 0.008)))


def screen_world(look: ScreenLook, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """The screen as a world image, float32 (height, width, 3): ``look.colour`` lit by a
    hotspot that falls off towards the edges, a gentle gradient, and blotches of the cloth
    (smooth seeded noise a few percent deep, fixed to the screen, so a camera move shows)."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    u = (u + 0.5) / width * 2.0 - 1.0
    v = (v + 0.5) / height * 2.0 - 1.0
    hx, hy = rng.uniform(-0.4, 0.4, size=2)
    light = (1.0 - look.falloff * ((u - hx) ** 2 + (v - hy) ** 2) / 2.0) * (
        1.0 + look.gradient[0] * u + look.gradient[1] * v)
    cell = max(4, max(height, width) // 40)
    coarse = rng.standard_normal((height // cell + 2, width // cell + 2)).astype(np.float32)
    blotches = cv2.GaussianBlur(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC), (0, 0), cell / 3)
    blotches /= max(float(blotches.std()), 1e-6)
    shade = np.clip(light * (1.0 + look.texture * blotches), 0.05, None)
    return np.ascontiguousarray(shade[..., None] * np.asarray(look.colour, np.float32), np.float32)


# ---------------------------------------------------------------------------- compositing


def over(subject: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The premultiplied ``subject`` over ``background``: ``subject + (1 - a) * background``."""
    return (subject + (1.0 - alpha)[..., None] * background).astype(np.float32)


def plate_frame(subject: np.ndarray, alpha: np.ndarray, screen: np.ndarray, look: ScreenLook,
                rng: np.random.Generator) -> np.ndarray:
    """The subject (premultiplied) shot in front of the ``screen`` picture: the screen behind
    it, spill on its soft edge (the screen's light times ``look.spill`` times 4a(1 - a), so
    none where the subject is solid or absent), then sensor noise (Gaussian, sigma from
    ``look``, unclipped like a scene-linear camera file)."""
    a = alpha[..., None]
    lit = subject + (look.spill * 4.0 * a * a * (1.0 - a) + (1.0 - a)) * screen
    sigma = look.read_noise + look.shot_noise * np.sqrt(np.maximum(lit, 0.0))
    return (lit + sigma * rng.standard_normal(lit.shape, dtype=np.float32)).astype(np.float32)


def hidden_background(picture: np.ndarray, alpha: np.ndarray, grow_px: int) -> np.ndarray:
    """The background of ``picture`` (H, W, 3) with the matted subject taken out: where the
    matte exceeds :data:`HOLE_ALPHA`, grown by ``grow_px`` so the soft edge's subject colour
    goes too, the hole is filled from its surroundings by the keyer's push-pull fill
    (:func:`engine.key.screen.fill_holes`). The fill is smooth: a low-frequency estimate
    of the colours around the hole, not a reconstruction of the texture behind the subject."""
    hole = (alpha > HOLE_ALPHA).astype(np.uint8)
    if grow_px > 0:
        hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow_px + 1, 2 * grow_px + 1)))
    return fill_holes(np.ascontiguousarray(picture, np.float32), hole == 0)


def subject_of(picture: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The subject's premultiplied colour in ``picture``, 0 where ``alpha`` is. Where the
    matte is nearly solid, the picture with ``background`` (the filled estimate) unmixed
    from it (:func:`engine.key.keyer.unmix`); towards the faint edge, more and more the
    colour of the solid core (a >= :data:`SOLID`) extended outwards by the push-pull fill.
    A smooth background estimate is wrong near the subject, and unmixed through a faint
    alpha that error would leave the original background's colours around the subject in
    the plate, for a model to learn the target from; the extended core carries none."""
    solid = alpha >= min(SOLID, float(alpha.max()))
    extended = fill_holes(np.ascontiguousarray(picture, np.float32), solid)
    unmixed = unmix(picture, alpha, background)
    w = np.clip((alpha - 0.5) / (SOLID - 0.5), 0.0, 1.0)[..., None]
    return ((w * unmixed + (1.0 - w) * extended) * alpha[..., None]).astype(np.float32)


# ---------------------------------------------------------------------------- triplets


@dataclass
class TripletFrame:
    """One frame of a triplet: ``plate``, ``target`` and, at an anchor, ``ref`` (the
    background without the subject); float32 (H, W, 3) linear."""

    plate: np.ndarray
    target: np.ndarray
    ref: np.ndarray | None = None


class Triplet:
    """What every kind shares: the output size (source frames scaled to ``cover`` it, else
    centre-cropped to it), the anchors and the frame counter."""

    camera: TrackedCamera | None = None  # the kinds that follow a shot's own camera track it

    def __init__(self, width: int, height: int, anchor_frames: list[int], cover: bool):
        self.width, self.height, self.cover = width, height, cover
        self.anchors = set(anchor_frames)
        self.index = 0

    def _fit(self, img: np.ndarray) -> np.ndarray:
        return fit(img, self.width, self.height, self.cover)

    @property
    def unlocked(self) -> int:
        """Frames whose camera was not locked by tracking (:attr:`TrackedCamera.unlocked`); 0
        for a camera that is not tracked."""
        return self.camera.unlocked if self.camera is not None else 0

    def _done(self, plate: np.ndarray, target: np.ndarray, background: np.ndarray) -> TripletFrame:
        ref = background if self.index in self.anchors else None
        self.index += 1
        return TripletFrame(plate, target, ref)


class MattedOverStill(Triplet):
    """An RGBA subject with no background of its own: the target puts it over a background
    still seen through a seeded :func:`camera_move`; the plate puts it over a synthetic screen
    of ``look`` (a world the still's size) seen through the same camera."""

    def __init__(self, still: np.ndarray, look: ScreenLook, rng: np.random.Generator, frames: int, width: int,
                 height: int, anchor_frames: list[int], cover: bool = True):
        super().__init__(width, height, anchor_frames, cover)
        self.still, self.look, self.rng = still, look, rng
        self.screen = screen_world(look, still.shape[0], still.shape[1], rng)
        self.cameras = camera_move(rng, frames, still.shape[1], still.shape[0], width, height)

    def frame(self, rgba: np.ndarray) -> TripletFrame:
        """The next frame from a source frame, float32 (h, w, 4) premultiplied."""
        rgba = self._fit(rgba)
        subject, alpha = rgba[..., :3], np.clip(rgba[..., 3], 0.0, 1.0)
        camera = self.cameras[self.index]
        background = view(self.still, camera, self.width, self.height)
        screen = view(self.screen, camera, self.width, self.height)
        return self._done(plate_frame(subject, alpha, screen, self.look, self.rng),
                          over(subject, alpha, background), background)


class MattedFootage(Triplet):
    """Footage with its own background and a matte of its subject: the target is the footage;
    the plate is its subject (:func:`subject_of`) over a synthetic screen that follows the
    footage's own camera, tracked outside the matte; the references are the footage with the
    subject filled out (:func:`hidden_background`)."""

    def __init__(self, look: ScreenLook, rng: np.random.Generator, width: int, height: int,
                 anchor_frames: list[int], cover: bool = True, grow_px: int | None = None):
        super().__init__(width, height, anchor_frames, cover)
        self.look, self.rng = look, rng
        world_w, world_h = round(width * 1.6), round(height * 1.6)  # room for the tracked motion
        self.screen = screen_world(look, world_h, world_w, rng)
        self.camera = TrackedCamera(start_camera(rng, world_w, world_h, width, height))
        self.grow_px = max(2, round(0.01 * max(width, height))) if grow_px is None else grow_px

    def frame(self, picture: np.ndarray, matte: np.ndarray) -> TripletFrame:
        """The next frame from a footage frame (h, w, 3) and its matte (h, w)."""
        picture = self._fit(picture[..., :3])
        alpha = np.clip(self._fit(matte), 0.0, 1.0)
        background = hidden_background(picture, alpha, self.grow_px)
        subject = subject_of(picture, alpha, background)
        screen = view(self.screen, self.camera.matrix(picture, alpha), self.width, self.height)
        return self._done(plate_frame(subject, alpha, screen, self.look, self.rng), picture, background)


class KeyedOverStill(Triplet):
    """A real screen shot: the plate is the shot; the target is its keyed foreground (the
    ``keyer``'s despilled straight colour and matte) over a background still seen through
    the shot's own camera (tracked on the screen outside the matte) after a seeded first
    frame :func:`start_camera`. The keyer carries its temporal state from triplet to triplet."""

    def __init__(self, keyer: Keyer, still: np.ndarray, rng: np.random.Generator, width: int, height: int,
                 anchor_frames: list[int], cover: bool = True):
        super().__init__(width, height, anchor_frames, cover)
        self.keyer, self.still = keyer, still
        self.camera = TrackedCamera(start_camera(rng, still.shape[1], still.shape[0], width, height))

    def frame(self, picture: np.ndarray) -> TripletFrame:
        """The next frame from a shot frame, float32 (h, w, 3)."""
        keyed = self.keyer.key(np.ascontiguousarray(picture[..., :3], np.float32))
        subject = self._fit(keyed.fg * keyed.alpha[..., None])
        alpha = np.clip(self._fit(keyed.alpha), 0.0, 1.0)
        plate = self._fit(picture[..., :3])
        background = view(self.still, self.camera.matrix(plate, alpha), self.width, self.height)
        return self._done(plate, over(subject, alpha, background), background)
