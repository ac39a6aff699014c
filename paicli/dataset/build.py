"""``paicli dataset build``: training triplets for the DiT in-context background-replacement LoRA.

Each source becomes one triplet per ``frames`` frames (non-overlapping, from its first
frame; a remainder shorter than a triplet is left out), of one of three kinds:

* RGBA footage (EXR with alpha, ProRes 4444 with alpha): ``matted``; the target is the
  subject over a background still from ``--backgrounds`` under a seeded camera move, the
  plate the subject over a synthetic screen under the same move, the references the
  background at the anchors.
* Footage and a ``--matte``: ``matted``; the target is the footage; the plate its subject
  over a synthetic screen that follows the footage's tracked camera; the references the
  footage with the subject filled out (a smooth push-pull fill, see
  :func:`engine.dataset.hidden_background`).
* A green- or blue-screen shot (no alpha, no matte): ``keyed`` by the classic keyer; the
  plate is the shot; the target the keyed foreground over a background still that follows
  the shot's tracked camera; the references that background at the anchors.

The pictures are made by :mod:`engine.dataset`; this module plans, reads and writes. On disk
(what the training code reads)::

    DATASET/dataset.json          {"version": 1, "triplets": ["t0000", ...]}
    DATASET/tNNNN/manifest.json   id, kind, sources (role, path, sha256), first_frame, frames,
                                  width, height, fps, anchors, caption, screen, seed
    DATASET/tNNNN/plate/plate.%04d.exr    frames 0..N-1, RGB half, scene-linear Rec.709
    DATASET/tNNNN/target/target.%04d.exr  the same
    DATASET/tNNNN/refs/ref.%04d.exr       one per anchor, numbered by its frame in the triplet

A triplet is written in a hidden temporary folder and renamed into place whole, then
``dataset.json`` is rewritten (atomically) to list it; building into an existing dataset
appends new ids. A killed run leaves no half triplet under a listed id. Memory holds a few
frames and one background still, however long the sources.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine import dataset as pictures
from engine.key.keyer import Keyer, KeyParams
from engine.key.screen import Screen, find_screen
from paicli.errors import BadDataError, MissingInputError, OutputError, UsageError
from paicli.media import atomic
from paicli.media.colourspace import to_linear
from paicli.media.exr import ExrSequenceWriter, write_exr
from paicli.media.probe import MediaInfo, probe
from paicli.media.reader import open_source
from paicli.media.stills import read_still
from paicli.progress import Progress, mode_from
from paicli.result import CommandResult, OutputFile
from paicli.shot.key import MatteSource
from paicli.shot.references import EXTENSIONS
from paicli.shot.replace import source_digest, file_digest

FORMAT_VERSION = 1
SCREENS = ("green", "blue")
INDEX = "dataset.json"
SIZE_STEP = 16  # the DiT's VAE (8x) and patches (2x): frame sides are multiples of this
ENLARGED_WARNING = 2.0  # a background still enlarged more than this is named in a warning
_TRIPLET_ID = re.compile(r"^t(\d{4,})$")


@dataclass
class Options:
    """The build's settings, checked: ``size`` (W, H) or None (each source's own, rounded
    down to :data:`SIZE_STEP`); ``screen`` None means green for synthetic screens and the
    detected one for keyed shots."""

    frames: int = 17
    refs: int = 3
    size: tuple[int, int] | None = None
    screen: str | None = None
    caption: str | None = None
    seed: int = 0


@dataclass
class Planned:
    """One source, checked and ready: ``number`` is its place on the command line."""

    number: int
    info: MediaInfo
    kind: str  # matted | keyed
    width: int
    height: int
    triplets: int
    matte: MediaInfo | None = None
    screen: Screen | None = None  # keyed: the screen found on its first frame

    @property
    def stem(self) -> str:
        return Path(self.info.pattern or self.info.path).name.split(".")[0]

    @property
    def needs_background(self) -> bool:
        return self.matte is None


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``--size WxH`` -> (W, H), both positive multiples of :data:`SIZE_STEP`; None passes."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise UsageError(f"--size: {text!r} is not WIDTHxHEIGHT (e.g. 832x480)")
    w, h = int(m[1]), int(m[2])
    if w < SIZE_STEP or h < SIZE_STEP or w % SIZE_STEP or h % SIZE_STEP:
        raise UsageError(f"--size: {w}x{h}: both sides must be multiples of {SIZE_STEP} (e.g. 832x480)")
    return w, h


def check_options(frames: int, refs: int, screen: str | None, size: str | None, seed: int,
                  caption: str | None) -> Options:
    """The options, checked (a usage error names the one that is wrong)."""
    if frames < 5 or (frames - 1) % 4:
        raise UsageError(f"--frames: {frames} is not 4k+1 frames with k >= 1 (5, 9, 13, 17, ... 81), "
                         "as the DiT's video VAE needs")
    if refs not in (1, 2, 3):
        raise UsageError(f"--refs: {refs} is not 1, 2 or 3")
    if screen is not None and screen not in SCREENS:
        raise UsageError(f"--screen: {screen!r} is not one of {', '.join(SCREENS)}")
    if seed < 0:
        raise UsageError(f"--seed: {seed} is negative")
    return Options(frames=frames, refs=refs, size=parse_size(size), screen=screen, caption=caption, seed=seed)


# ---------------------------------------------------------------------------- inputs


def background_files(path: str | Path) -> list[Path]:
    """The stills ``--backgrounds`` names: the images in a folder (name order), or one image."""
    p = Path(path)
    if p.is_file():
        if p.suffix.lower() not in EXTENSIONS:
            raise UsageError(f"--backgrounds: {p} is not an image (use {', '.join(EXTENSIONS)})")
        return [p]
    if not p.is_dir():
        raise MissingInputError(f"--backgrounds: no such folder: {p}")
    files = sorted(q for q in p.iterdir()
                   if q.suffix.lower() in EXTENSIONS and not q.name.startswith(".") and q.is_file())
    if not files:
        raise MissingInputError(f"--backgrounds: no images in {p} (looked for {', '.join(EXTENSIONS)})")
    return files


def load_background(path: Path) -> np.ndarray:
    """A background still as float32 (H, W, 3) scene-linear Rec.709: EXR as stored, other
    formats decoded from sRGB; alpha dropped, grey repeated."""
    encoded, info = read_still(path)
    rgb = np.repeat(encoded[..., :1], 3, axis=-1) if encoded.shape[-1] < 3 else encoded[..., :3]
    return np.asarray(to_linear("linear" if info.format == "exr" else "srgb")(np.ascontiguousarray(rgb)), np.float32)


def _first_picture(info: MediaInfo) -> np.ndarray:
    with open_source(info.path, info=info) as src:
        return next(iter(src.frames(0, 1)))[..., :3]


def plan_source(number: int, path: str, opts: Options, *, matte: str | None, have_backgrounds: bool) -> Planned:
    """Check one source and decide what it becomes; raises before anything is written."""
    info = probe(path)
    if info.vfr:
        raise BadDataError(f"{info.path}: variable frame rate (frame durations differ); conform it first")
    if info.frame_count < opts.frames:
        raise BadDataError(f"{info.path} has {info.frame_count} frames, fewer than one triplet's {opts.frames} "
                           "(give a smaller --frames)")
    width, height = opts.size or (info.width // SIZE_STEP * SIZE_STEP, info.height // SIZE_STEP * SIZE_STEP)
    if width == 0 or height == 0:
        raise BadDataError(f"{info.path} is {info.width}x{info.height}, smaller than {SIZE_STEP}x{SIZE_STEP}")
    planned = Planned(number, info, "matted", width, height, info.frame_count // opts.frames)
    if matte is not None:
        planned.matte = probe(matte)
    elif not info.has_alpha:
        found = find_screen(_first_picture(info), opts.screen)
        if found.screen is None:
            raise BadDataError(f"{info.path}: no alpha, no --matte and no {opts.screen or 'green or blue'} screen "
                               f"({found.why}); give RGBA footage, a --matte, or a screen shot")
        planned.kind, planned.screen = "keyed", found.screen
    if planned.needs_background and not have_backgrounds:
        what = "has no background of its own (RGBA)" if planned.kind == "matted" else "is a screen shot"
        raise UsageError(f"{info.path} {what}: give --backgrounds DIR (stills to put the subject in)")
    return planned


class Digests:
    """SHA-256 of each source, once per build (hex): a movie's or still's bytes; a
    sequence's frames in order, as ``paicli replace`` records a shot."""

    def __init__(self):
        self._done: dict[str, str] = {}

    def of_media(self, info: MediaInfo) -> str:
        key = info.pattern or info.path
        if key not in self._done:
            self._done[key] = source_digest(info).removeprefix("sha256:")
        return self._done[key]

    def of_file(self, path: Path) -> str:
        key = str(path)
        if key not in self._done:
            self._done[key] = file_digest(path).removeprefix("sha256:")
        return self._done[key]


class Backgrounds:
    """The background stills, read when a triplet picks one; only the last one is kept."""

    def __init__(self, files: list[Path]):
        self.files = files
        self._last: tuple[tuple, np.ndarray, float] | None = None

    def pick(self, rng: np.random.Generator) -> Path:
        return self.files[int(rng.integers(len(self.files)))]

    def prepared(self, path: Path, width: int, height: int) -> tuple[np.ndarray, float]:
        """The still ready for ``width`` x ``height`` views (:func:`engine.dataset.prescale`)
        and how much its most zoomed view enlarges it."""
        key = (str(path), width, height)
        if self._last is None or self._last[0] != key:
            still, enlarged = pictures.prescale(load_background(path), width, height)
            self._last = (key, still, enlarged)
        return self._last[1], self._last[2]


# ---------------------------------------------------------------------------- the dataset on disk


def dataset_root(output: Path) -> Path:
    """The dataset folder, created if missing (73 when it cannot be)."""
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create dataset folder {output}: {e.strerror or e}") from None
    if not output.is_dir():
        raise OutputError(f"cannot create dataset folder {output}: not a folder")
    return output


def read_index(root: Path) -> list[str]:
    """The triplet ids ``dataset.json`` lists ([] when there is none yet)."""
    path = root / INDEX
    if not path.exists():
        return []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BadDataError(f"{path}: not a readable dataset index ({e})") from None
    ids = doc.get("triplets") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION or not isinstance(ids, list) \
            or not all(isinstance(i, str) for i in ids):
        raise BadDataError(f"{path}: not a version {FORMAT_VERSION} paicli dataset index")
    for i in ids:  # each id names a folder beside the index, never a path out of it
        if "/" in i or "\\" in i or i in ("", ".", ".."):
            raise BadDataError(f"{path}: {i!r} is not a triplet folder name")
    return list(ids)


def write_index(root: Path, ids: list[str]) -> Path:
    return atomic.write_text(root / INDEX, json.dumps({"version": FORMAT_VERSION, "triplets": ids}, indent=1) + "\n")


def next_number(root: Path, ids: list[str]) -> int:
    """The next free triplet number: past every id listed and every ``tNNNN`` folder present."""
    names = list(ids) + [p.name for p in root.iterdir() if p.is_dir()]
    numbers = [int(m[1]) for m in map(_TRIPLET_ID.match, names) if m]
    return max(numbers, default=-1) + 1


def triplet_seed(seed: int, source_number: int, first_frame: int) -> int:
    """The seed of one triplet (recorded in its manifest): from ``--seed``, the source's
    place on the command line and the triplet's first frame."""
    return int(np.random.SeedSequence([seed, source_number, first_frame]).generate_state(1)[0])


class TripletFolder:
    """One triplet written into a hidden temporary folder beside its final one, renamed into
    place whole by :meth:`commit` (removed by :meth:`abort`)."""

    def __init__(self, root: Path, tid: str, rate: Fraction):
        self.final = root / tid
        if self.final.exists():
            raise OutputError(f"{self.final} already exists")
        try:
            self.tmp = atomic.temp_dir_for(self.final)
            for sub in ("plate", "target", "refs"):
                (self.tmp / sub).mkdir()
        except OSError as e:
            raise OutputError(f"cannot create {self.final}: {e.strerror or e}") from None
        self.rate = rate
        self.plate = ExrSequenceWriter(self.tmp / "plate" / "plate.####.exr", first_frame=0, rate=rate)
        self.target = ExrSequenceWriter(self.tmp / "target" / "target.####.exr", first_frame=0, rate=rate)
        self.refs: list[int] = []

    def write(self, index: int, frame: pictures.TripletFrame) -> None:
        self.plate.write(frame.plate)
        self.target.write(frame.target)
        if frame.ref is not None:
            write_exr(self.tmp / "refs" / f"ref.{index:04d}.exr", frame.ref, rate=self.rate)
            self.refs.append(index)

    def commit(self, manifest: dict) -> Path:
        atomic.write_text(self.tmp / "manifest.json", json.dumps(manifest, indent=1) + "\n")
        atomic.commit(self.tmp, self.final)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def outputs(self, frames: int) -> list[OutputFile]:
        """What the committed triplet holds, as a command reports files."""
        tid = self.final.name
        seq = dict(frames=(0, frames - 1), rate=self.rate, format="exr")
        return ([OutputFile(kind="sidecar", path=str(self.final / "manifest.json"), format="json",
                            extra={"triplet": tid, "role": "manifest"}),
                 OutputFile(kind="media", path=str(self.final / "plate" / "plate.####.exr"), **seq,
                            extra={"triplet": tid, "role": "plate"}),
                 OutputFile(kind="comp", path=str(self.final / "target" / "target.####.exr"), **seq,
                            extra={"triplet": tid, "role": "target"})]
                + [OutputFile(kind="media", path=str(self.final / "refs" / f"ref.{a:04d}.exr"), frames=(a, a),
                              rate=self.rate, format="exr", extra={"triplet": tid, "role": "ref", "anchor": a})
                   for a in self.refs])


# ---------------------------------------------------------------------------- building


@dataclass
class Build:
    """What one ``dataset build`` carries from source to source."""

    root: Path
    opts: Options
    ids: list[str]
    backgrounds: Backgrounds | None
    digests: Digests
    result: CommandResult
    added: list[str]


def _maker(p: Planned, build: Build, rng: np.random.Generator, keyer: Keyer | None,
           sources: list[dict]) -> tuple[pictures.Triplet, str]:
    """The triplet's picture maker (:mod:`engine.dataset`) and its screen; a background still
    it uses is added to ``sources``."""
    opts = build.opts
    anchors = pictures.anchors(opts.frames, opts.refs)
    cover = opts.size is not None  # --size scales; the default size is a crop
    if not p.needs_background:
        look = pictures.screen_look(opts.screen or "green", rng)
        return pictures.MattedFootage(look, rng, p.width, p.height, anchors, cover), look.kind
    path = build.backgrounds.pick(rng)
    still, enlarged = build.backgrounds.prepared(path, p.width, p.height)
    if enlarged > ENLARGED_WARNING:
        note = f"background {path} is enlarged up to {enlarged:.1f}x for {p.width}x{p.height}: it will look soft"
        if note not in build.result.warnings:
            build.result.warnings.append(note)
    sources.append({"role": "background", "path": str(path.resolve()), "sha256": build.digests.of_file(path)})
    if p.kind == "keyed":
        return pictures.KeyedOverStill(keyer, still, rng, p.width, p.height, anchors, cover), p.screen.kind
    look = pictures.screen_look(opts.screen or "green", rng)
    return pictures.MattedOverStill(still, look, rng, opts.frames, p.width, p.height, anchors, cover), look.kind


def _media_entry(role: str, info: MediaInfo, digests: Digests) -> dict:
    return {"role": role, "path": str(Path(info.pattern or info.path).resolve()), "sha256": digests.of_media(info)}


def build_source(p: Planned, build: Build, matte: MatteSource | None, progress: Progress) -> None:
    """Every triplet of one source, streamed: read, make, write, list, frame by frame."""
    opts = build.opts
    n = opts.frames
    used = p.triplets * n
    keyer = Keyer(KeyParams(screen=p.screen.kind, chroma_subsampling=p.info.chroma_subsampling), p.screen) \
        if p.kind == "keyed" else None
    base = [_media_entry("plate" if p.kind == "keyed" else "footage", p.info, build.digests)]
    if p.matte is not None:
        base.append(_media_entry("matte", p.matte, build.digests))
    caption = opts.caption or f"{p.stem}: the subject in its background"
    with open_source(p.info.path, info=p.info) as src, \
            progress.task(f"dataset {Path(p.info.pattern or p.info.path).name}", total=used) as task:
        frames = iter(src.frames(0, used))
        mattes = iter(matte.frames(0, used)) if matte is not None else None
        for k in range(p.triplets):
            first = k * n
            seed = triplet_seed(opts.seed, p.number, first)
            rng = np.random.default_rng(seed)
            sources = list(base)
            maker, screen = _maker(p, build, rng, keyer, sources)
            tid = f"t{next_number(build.root, build.ids):04d}"
            folder = TripletFolder(build.root, tid, p.info.rate)
            try:
                for i in range(n):
                    picture = next(frames)
                    made = maker.frame(picture, next(mattes)) if mattes is not None else maker.frame(picture)
                    folder.write(i, made)
                    task.advance()
                folder.commit({"version": FORMAT_VERSION, "id": tid, "kind": p.kind, "sources": sources,
                               "first_frame": first, "frames": n, "width": p.width, "height": p.height,
                               "fps": float(p.info.rate), "anchors": folder.refs, "caption": caption,
                               "screen": screen, "seed": seed})
            except BaseException:
                folder.abort()
                raise
            if maker.unlocked:
                build.result.warnings.append(
                    f"{tid}: the camera of {p.stem} was not locked by tracking on {maker.unlocked} of {n} frames; "
                    "its background may not follow the camera there")
            build.ids.append(tid)
            write_index(build.root, build.ids)
            build.added.append(tid)
            for out in folder.outputs(n):
                build.result.add_output(out)


def build(sources: list[str], output: Path, *, matte: str | None = None, backgrounds: str | None = None,
          screen: str | None = None, frames: int = 17, size: str | None = None, refs: int = 3,
          caption: str | None = None, seed: int = 0, progress: str | None = None) -> CommandResult:
    """``paicli dataset build``: triplets from ``sources`` appended to the dataset ``output``.

    Every input is checked before anything is written: usage errors (2) for bad options,
    ``--matte`` with several sources, or a source that needs ``--backgrounds`` without them;
    66 for a missing input; 65 for a source that cannot make a triplet (too short, no alpha,
    matte or screen, a matte of another size); 73 when the dataset cannot be written.
    """
    opts = check_options(frames, refs, screen, size, seed, caption)
    if not sources:
        raise UsageError("no sources given")
    if matte is not None and len(sources) != 1:
        raise UsageError(f"--matte goes with one source, not {len(sources)}: build each matted source on its own")
    files = background_files(backgrounds) if backgrounds is not None else None
    planned = [plan_source(i, s, opts, matte=matte, have_backgrounds=files is not None) for i, s in enumerate(sources)]
    matte_source = MatteSource(matte, "matte", planned[0].info, planned[0].info.frame_count) if matte else None
    try:
        mode = mode_from(progress)
        root = dataset_root(Path(output))
        atomic.sweep_stale_temps(root)
        result = CommandResult(command="dataset build", inputs=[p.info.to_dict() for p in planned],
                               settings={"frames": opts.frames, "refs": opts.refs, "size": size, "screen": opts.screen,
                                         "caption": caption, "seed": opts.seed, "matte": matte,
                                         "backgrounds": backgrounds})
        if matte is not None and backgrounds is not None:
            result.warnings.append("--backgrounds is not used: footage with a --matte keeps its own background")
        run = Build(root, opts, read_index(root), Backgrounds(files) if files else None, Digests(), result, [])
        with Progress(mode) as prog:
            for p in planned:
                build_source(p, run, matte_source, prog)
    finally:
        if matte_source is not None:
            matte_source.close()
    result.add_output(OutputFile(kind="sidecar", path=str(root / INDEX), format="json", extra={"role": "index"}))
    result.summary = {
        "dataset": str(root), "added": run.added, "triplets": len(run.ids), "frames": opts.frames,
        "sources": [{"path": p.info.pattern or p.info.path, "kind": p.kind, "triplets": p.triplets,
                     "width": p.width, "height": p.height, "frames_left_out": p.info.frame_count % opts.frames}
                    for p in planned],
    }
    return result
