"""The bad-input corpus: every way a user's files can be wrong, built on the fly, and how to run them.

Each :class:`Case` builds its inputs in an empty folder (from a tiny example shot and a tiny
random DiT checkpoint made once, see :class:`Assets`) and returns the ``paicli`` arguments to
run. :func:`run_case` runs them in a fresh process, with a timeout, and records what a user
would see and what was left on disk:

- the exit code (sysexits: 2 usage, 65 bad data, 66 missing input, 69 unavailable, 73
  cannot create, 75 temporary, 78 bad configuration; 0 for inputs that must just work);
- stderr: exactly one line ``paicli: error: ...`` holding the case's message fragment, and
  never a traceback, an "internal error" or a leaked out-of-memory message;
- a hang (the timeout killed the run);
- partial outputs: after a failure, any file in the output folder under a final name (hidden
  ``.name`` temp and staging entries are allowed; a few complete reports may be too);
- inputs lost or changed (every file of the case folder is hashed before and after);
- writes outside the output folder (the whole case folder, including an empty ``decoy/``
  folder that hostile names point at, is listed before and after).

Used by ``test_bad_input.py`` (one test per case) and ``benchmarks/reliability.py`` (tables).
Nothing here depends on the shared data folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Callable, Iterable, Sequence

CATEGORIES = ("media", "references", "edit lists", "weights", "untrusted names", "output equals input",
              "non-regular files", "huge headers", "name collisions", "non-finite values", "concurrency",
              "farm variables", "signals", "clean errors")
PAICLI = [sys.executable, "-m", "paicli.cli"]
DEFAULT_TIMEOUT = 60.0
# Each run may map at most this much memory, so a reader that allocates what a hostile header
# claims fails inside paicli (and is caught by the message check) instead of taking the machine.
MEMORY_LIMIT = 8 << 30
W, H, N = 128, 72, 6  # the example shot: tiny, so every case runs in a second or two
PLATE_TC = "01:00:00:00"
DIT = ["--engine", "dit", "--steps", "1", "--window", "1", "--overlap", "0"]
_FORBIDDEN = ("Traceback (most recent call last)", "internal error", "MemoryError", "Insufficient memory",
              "Failed to allocate", "Unable to allocate")


@dataclass(frozen=True)
class Case:
    """One bad (or tricky but valid) input.

    ``build(ws)`` writes the inputs into the workspace and returns the arguments after
    ``paicli``. ``codes``: acceptable exit codes (``(0,)``: it must just work). ``fragment``:
    text (or alternatives) the one error line must contain, case-insensitively. ``allowed``:
    glob patterns, relative to the output folder, of complete files a failing run may leave
    (a run report). ``writes``: a successful run must leave at least one output file.
    ``check_stdout``: for a successful run, returns what is wrong with its stdout, if anything.
    """

    category: str
    name: str
    build: Callable[["Workspace"], list[str]]
    codes: tuple[int, ...]
    fragment: str | tuple[str, ...] | None = None
    timeout: float = DEFAULT_TIMEOUT
    allowed: tuple[str, ...] = ()
    writes: bool = True
    needs: tuple[str, ...] = ("example",)
    slow: bool = False  # started first when cases run in parallel
    check_stdout: Callable[[bytes], str | None] | None = None  # a problem with what a successful run printed
    env: tuple[tuple[str, str], ...] | dict | None = None  # variables added to the run's clean environment

    @property
    def runs_ffmpeg(self) -> bool:
        """Whether building its inputs runs ffmpeg (``"ffmpeg"`` in ``needs``, or its build, or a
        helper of this module it calls, uses :meth:`Workspace.ffmpeg`): without ffmpeg the
        case is skipped, saying so, instead of failing to build."""
        return "ffmpeg" in self.needs or _calls_ffmpeg(self.build)

    @property
    def id(self) -> str:
        return f"{self.category}/{self.name}"

    @property
    def must_succeed(self) -> bool:
        return self.codes == (0,)


# ------------------------------------------------------------------------------ shared inputs


class Assets:
    """Inputs shared by every case, made once in ``folder``: the example shot and a tiny DiT
    checkpoint. Cases copy what they use, so each one hashes only its own files."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def prepare(self, cases: Iterable[Case]) -> None:
        needs = {n for c in cases for n in c.needs}
        tiny = None
        if "tiny" in needs and not (self.folder / "tiny" / "model_index.json").exists():
            tiny = subprocess.Popen(PAICLI + ["model", "init-tiny", str(self.folder / "tiny")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env())
        if "example" in needs or "tiny" in needs:
            self.example  # noqa: B018 - made while the checkpoint is written
        if tiny is not None:
            _, err = tiny.communicate(timeout=300)
            if tiny.returncode != 0:
                raise RuntimeError(f"paicli model init-tiny failed: {err.decode(errors='replace')}")

    @property
    def example(self) -> Path:
        with self._lock:
            d = self.folder / "example"
            if not (d / "meta.json").exists():
                from paicli.shot.example import make_example_shot

                make_example_shot(d, width=W, height=H, frames=N, start_tc=PLATE_TC)
            return d

    @property
    def tiny(self) -> Path:
        with self._lock:
            d = self.folder / "tiny"
            if not (d / "model_index.json").exists():
                subprocess.run(PAICLI + ["model", "init-tiny", str(d)], check=True, stdout=subprocess.DEVNULL,
                               env=child_env())
            return d


class Workspace:
    """The folder one case runs in: its inputs, ``out/`` (the output folder), ``decoy/`` (an
    empty folder outside the output folder that hostile names point at) and ``cwd/``."""

    def __init__(self, root: Path, assets: Assets):
        self.root, self.assets = Path(root), assets
        self.out, self.decoy, self.cwd = self.root / "out", self.root / "decoy", self.root / "cwd"
        for d in (self.decoy, self.cwd):
            d.mkdir(parents=True, exist_ok=True)

    def path(self, rel: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write(self, rel: str, data: bytes | str) -> Path:
        p = self.path(rel)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return p

    def shot(self) -> Path:
        d = self.root / "shot"
        if not d.exists():
            shutil.copytree(self.assets.example, d)
        return d

    @property
    def plate(self) -> Path:
        return self.shot() / "plate.mov"

    @property
    def refs(self) -> Path:
        return self.shot() / "refs"

    def checkpoint(self, rel: str = "model") -> Path:
        d = self.root / rel
        shutil.copytree(self.assets.tiny, d)
        return d

    def ffmpeg(self, *args: str) -> None:
        r = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args], cwd=self.root,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"ffmpeg {' '.join(args)}: {r.stderr.strip()}")


def _calls_ffmpeg(fn, seen: set | None = None) -> bool:
    """Whether ``fn``'s code (its nested functions, and the functions of its module or of this
    one it names, followed through) uses an attribute or name ``ffmpeg``."""
    seen = set() if seen is None else seen
    todo = [getattr(fn, "__code__", None)]
    names = getattr(fn, "__globals__", {})
    modules = {__name__, getattr(fn, "__module__", None)}
    while todo:
        code = todo.pop()
        if code is None or code in seen:
            continue
        seen.add(code)
        if "ffmpeg" in code.co_names:
            return True
        todo += [c for c in code.co_consts if hasattr(c, "co_names")]
        todo += [names[n].__code__ for n in code.co_names
                 if getattr(names.get(n), "__module__", None) in modules and hasattr(names[n], "__code__")]
    return False


def child_env() -> dict:
    """The environment of a run: no PAICLI_* settings or farm variables from the caller."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PAICLI_", "SLURM_", "CUE_")) and k != "JOB_COMPLETION_INDEX"}
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(k, "1")  # cases run side by side
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ------------------------------------------------------------------------------ builders


def _key(shot: Path | str, ws: Workspace, *extra: str) -> list[str]:
    return ["key", str(shot), "-o", str(ws.out), "--progress", "none", *extra]


def _replace(shot: Path | str, bg: Path | str, ws: Workspace, *extra: str) -> list[str]:
    return ["replace", str(shot), "--bg", str(bg), "-o", str(ws.out), "--progress", "none", *extra]


def _render(edit_list: Path, ws: Workspace, *extra: str) -> list[str]:
    return ["render", str(edit_list), "-o", str(ws.out), "--progress", "none", *extra]


def _png(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    """A PNG whose header says ``width`` x ``height`` but whose pixel data is a few bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def _packets(movie: Path) -> list[tuple[int, int]]:
    """(file offset, size) of every video packet."""
    import av

    with av.open(str(movie)) as c:
        return [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]


def _truncated_half(ws: Workspace) -> Path:
    data = ws.plate.read_bytes()
    return ws.write("media/truncated.mov", data[: len(data) // 2])


def _bitflipped(ws: Workspace) -> Path:
    """The plate with bits flipped all through frame 2's slice data (its headers intact)."""
    data = bytearray(ws.plate.read_bytes())
    pos, size = _packets(ws.plate)[2]
    rng = random.Random(2)
    for k in range(pos + 200, pos + size - 16, 37):
        data[k] ^= 1 << rng.randrange(8)
    return ws.write("media/bitflip.mov", bytes(data))


def _faststart_cut(ws: Workspace) -> Path:
    """A faststart movie (index first) cut a little after its first frame begins."""
    full = ws.path("media/faststart_full.mov")
    ws.ffmpeg("-i", str(ws.plate), "-c", "copy", "-movflags", "+faststart", str(full))
    pos, size = _packets(full)[0]
    data = full.read_bytes()
    full.unlink()
    return ws.write("media/faststart_cut.mov", data[: pos + size // 3])


def _zero_frames(ws: Workspace) -> Path:
    """A movie with a ProRes video track whose sample table lists no frames."""
    data = bytearray(ws.plate.read_bytes())
    i = data.find(b"stsz")
    struct.pack_into(">II", data, i + 8, 0, 0)  # sample size 0, sample count 0
    return ws.write("media/no_frames.mov", bytes(data))


def _audio_only(ws: Workspace) -> Path:
    p = ws.path("media/audio_only.mov")
    ws.ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=0.3", "-c:a", "pcm_s16le", str(p))
    return p


def _transcode(ws: Workspace, rel: str, *codec: str, vf: str | None = None) -> Path:
    p = ws.path(rel)
    ws.ffmpeg("-i", str(ws.plate), *(["-vf", vf] if vf else []), *codec, str(p))
    return p


def _sequence(ws: Workspace, ext: str, *codec: str, folder: str = "seq") -> Path:
    """The plate's frames as ``folder/plate.0001.<ext>``...; returns the ``####`` pattern."""
    (ws.root / folder).mkdir(parents=True, exist_ok=True)
    ws.ffmpeg("-i", str(ws.plate), *codec, str(ws.root / folder / f"plate.%04d.{ext}"))
    return ws.root / folder / f"plate.####.{ext}"


def _huge_sequence(ws: Workspace, png: bytes) -> Path:
    for i in range(1, 4):
        ws.write(f"huge/plate.{i:04d}.png", png)
    return ws.root / "huge" / "plate.####.png"


def _huge_exr_sequence(ws: Workspace) -> Path:
    """A valid 8x8 EXR whose data and display windows were edited to claim 60000x60000."""
    import numpy as np

    from paicli.media.exr import write_exr

    small = ws.path("huge/small.exr")
    write_exr(small, np.full((8, 8, 3), 0.2, np.float32))
    data = bytearray(small.read_bytes())
    small.unlink()
    for attr in (b"dataWindow\0box2i\0", b"displayWindow\0box2i\0"):
        at = data.find(attr) + len(attr) + 4
        struct.pack_into("<iiii", data, at, 0, 0, 59999, 59999)
    for i in range(1, 4):
        ws.write(f"huge/plate.{i:04d}.exr", bytes(data))
    return ws.root / "huge" / "plate.####.exr"


# --- edit lists


def _tc(frames: int, fps: int = 24) -> str:
    return f"{frames // (fps * 3600):02d}:{frames // (fps * 60) % 60:02d}:{frames // fps % 60:02d}:{frames % fps:02d}"


def _edl(events: Sequence[tuple[bytes, bytes | None, bytes | None]], title: bytes = b"reliability") -> bytes:
    """A CMX 3600 list: (reel, clip name, source file) per event, 4 frames each from 01:00:00:00."""
    lines = [b"TITLE: " + title, b"FCM: NON-DROP FRAME"]
    src = 24 * 3600
    for i, (reel, clip, source) in enumerate(events):
        tcs = f"{_tc(src)} {_tc(src + 4)} {_tc(3600 * 24 + 4 * i)} {_tc(3600 * 24 + 4 * i + 4)}".encode()
        lines.append(b"%03d  " % (i + 1) + reel + b" V     C        " + tcs)
        if clip is not None:
            lines.append(b"* FROM CLIP NAME:  " + clip)
        if source is not None:
            lines.append(b"* SOURCE FILE: " + source)
    return b"\n".join(lines) + b"\n"


def _decoded(b: bytes) -> str:
    """Text as the EDL reader decodes it: UTF-8, else Latin-1."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def _bg_map(ws: Workspace, keys: Iterable[str], refs: Path | None = None) -> Path:
    refs = refs or ws.refs
    return ws.write("map.json", json.dumps({k: str(refs) for k in keys if k}))


def _hostile_render(ws: Workspace, *, clip: bytes = b"A001C001", reel: bytes = b"A001C001",
                    source: bytes | None = None, media_root: bool = False,
                    template: str = "{clip}/{reel}/{shot}_v{version}", extra: Sequence[str] = ()) -> list[str]:
    """A one-event list with the given (hostile) names, rendered for real (media found through
    the list or --media-root, references through --bg-map keyed by clip and reel names)."""
    plate = ws.plate
    if source is None:
        source = str(plate).encode()
    edl = ws.write("list/cut.edl", _edl([(reel, clip, source)]))
    bgmap = _bg_map(ws, [_decoded(clip).strip(), _decoded(reel)])
    argv = _render(edl, ws, "--bg-map", str(bgmap), "--name-template", template, "--no-qc", "--format", "exr",
                   *extra)
    if media_root:
        shutil.copy(plate, ws.path("media/A001C001_take1.mov"))
        argv += ["--media-root", str(ws.root / "media")]
    return argv


def _otio(ws: Workspace, clip_name: str, url: str | None, rel: str = "list/cut.otio", marker: bool = False,
          bg: str | None = None) -> Path:
    import opentimelineio as otio

    rate = 24
    tl = otio.schema.Timeline(name="reliability")
    track = otio.schema.Track(name="V1")
    tl.tracks.append(track)
    clip = otio.schema.Clip(name=clip_name, source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(3600 * rate, rate), otio.opentime.RationalTime(4, rate)))
    clip.media_reference = (otio.schema.ExternalReference(target_url=url) if url else
                            otio.schema.MissingReference())
    if marker:
        clip.markers.append(otio.schema.Marker(name="note"))
    if bg:
        clip.metadata["paicli"] = {"bg": bg}
    track.append(clip)
    return ws.write(rel, otio.adapters.write_to_string(tl, "otio_json"))


_XMEML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4">
  <sequence id="sequence-1">
    <name>reliability</name>
    <duration>4</duration>
    <rate><timebase>24</timebase><ntsc>FALSE</ntsc></rate>
    <media>
      <video>
        <track>
          <clipitem id="clipitem-1">
            <name>A001C001</name>
            <duration>4</duration>
            <rate><timebase>24</timebase><ntsc>FALSE</ntsc></rate>
            <start>0</start><end>4</end><in>0</in><out>4</out>
            <file id="file-1">
              <name>plate.mov</name>
              <pathurl>file://localhost/nowhere/plate.mov</pathurl>
              <rate><timebase>24</timebase><ntsc>FALSE</ntsc></rate>
              <duration>6</duration>
            </file>
          </clipitem>
        </track>
      </video>
    </media>
  </sequence>
</xmeml>
"""


def _plan_says(stdout: bytes, *, shots: int, unresolved: int | None = None) -> str | None:
    """What is wrong with a ``render --plan-only --json`` document, if anything."""
    doc = json.loads(stdout)
    summary = doc["summary"]
    if len(summary["shots"]) != shots:
        return f"the plan has {len(summary['shots'])} shots, the list {shots}"
    if unresolved is not None and summary["counts"]["unresolved"] != unresolved:
        return f"the plan reports {summary['counts']['unresolved']} unresolved shots, expected {unresolved}"
    return None


# --- weights


def _safetensors(header: dict, data: bytes = b"", header_len: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text) if header_len is None else header_len) + text + data


def _transformer_file(ws: Workspace) -> Path:
    return ws.checkpoint() / "transformer" / "diffusion_pytorch_model.safetensors"


def _dit(ws: Workspace, model: Path | str, *extra: str) -> list[str]:
    return _replace(ws.plate, ws.refs, ws, *DIT, "--model", str(model), *extra)


def _pickle_file(ws: Workspace, name: str) -> Path:
    import pickle

    class _Boom:  # what a hostile pickle does: run code on load
        def __reduce__(self):
            return (os.system, (f"touch {ws.decoy / 'pwned'}",))

    return ws.write(f"weights/{name}", pickle.dumps({"state_dict": _Boom()}))


def _wrong_shape(ws: Workspace) -> list[str]:
    from safetensors.numpy import load_file, save_file

    f = _transformer_file(ws)
    state = load_file(str(f))
    name = sorted(k for k in state if state[k].ndim == 2)[0]
    state[name] = state[name][:, :-1].copy()  # one column short
    save_file(state, str(f))
    return _dit(ws, f.parent.parent)


def _absurd_shape(ws: Workspace, consistent: bool) -> list[str]:
    """The transformer's file replaced by one whose header declares a 4 TiB tensor under a
    real name (with offsets that match the shape, or not)."""
    from safetensors import safe_open

    f = _transformer_file(ws)
    with safe_open(str(f), framework="numpy") as st:
        name = sorted(st.keys())[0]
    shape = [1 << 20, 1 << 20]
    end = 4 * shape[0] * shape[1] if consistent else 16
    f.write_bytes(_safetensors({name: {"dtype": "F32", "shape": shape, "data_offsets": [0, end]}}, b"\0" * 16))
    return _dit(ws, f.parent.parent)


def _cut_file(path: Path, keep: int | float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(keep if isinstance(keep, int) else len(data) * keep)])


# ------------------------------------------------------------------------------ the corpus


def _media() -> list[Case]:
    c = "media"
    bad = ("truncated", "corrupt", "not a readable", "damaged", "stream ends", "decode failed", "missing")

    def shot_dir_empty(ws):
        (ws.root / "shots" / "empty").mkdir(parents=True)
        return _key(ws.root / "shots" / "empty", ws)

    def missing_middle(ws):
        pattern = _sequence(ws, "png", "-pix_fmt", "rgb24")
        (pattern.parent / "plate.0003.png").unlink()
        return _key(pattern, ws)

    def corrupt_frame(ws):
        pattern = _sequence(ws, "png", "-pix_fmt", "rgb24")
        _cut_file(pattern.parent / "plate.0004.png", 0.4)
        return _key(pattern, ws)

    def exr_corrupt_frame(ws):
        pattern = _sequence(ws, "exr", "-pix_fmt", "gbrpf32le", "-c:v", "exr", "-format", "half")
        _cut_file(pattern.parent / "plate.0004.exr", 0.5)
        return _key(pattern, ws)

    def alpha_4444(ws):
        p = ws.path("media/matted_4444.mov")
        ws.ffmpeg("-i", str(ws.plate), "-framerate", "24000/1001", "-start_number", "0", "-i",
                  str(ws.shot() / "gt" / "alpha.%04d.png"), "-filter_complex",
                  "[1:v]format=gray[a];[0:v][a]alphamerge,format=yuva444p10le", "-c:v", "prores_ks", "-profile:v",
                  "4444", str(p))
        return _replace(p, ws.refs, ws)

    return [
        Case(c, "truncated_movie_cut_in_half", lambda ws: _key(_truncated_half(ws), ws), (65,), bad),
        Case(c, "truncated_movie_convert", lambda ws: ["convert", str(_truncated_half(ws)), "-o", str(ws.out),
                                                        "--progress", "none"], (65,), bad),
        Case(c, "faststart_movie_cut_after_header", lambda ws: _key(_faststart_cut(ws), ws), (65,), bad),
        Case(c, "faststart_cut_convert", lambda ws: ["convert", str(_faststart_cut(ws)), "-o", str(ws.out),
                                                      "--progress", "none"], (65,), bad),
        Case(c, "zero_byte_movie", lambda ws: _key(ws.write("media/empty.mov", b""), ws), (65,),
             ("empty", "not a readable", "corrupt")),
        Case(c, "random_bytes_named_mov", lambda ws: _key(
            ws.write("media/noise.mov", random.Random(1).randbytes(64 << 10)), ws), (65,),
            ("not a readable", "corrupt")),
        Case(c, "bitflipped_prores_payload_key", lambda ws: _key(_bitflipped(ws), ws), (65,), "damaged"),
        Case(c, "bitflipped_prores_payload_convert", lambda ws: ["convert", str(_bitflipped(ws)), "-o",
                                                                 str(ws.out), "--progress", "none"], (65,),
             "damaged"),
        Case(c, "movie_with_zero_video_frames", lambda ws: _key(_zero_frames(ws), ws), (65,), "no video frames"),
        Case(c, "movie_with_only_audio", lambda ws: _key(_audio_only(ws), ws), (65,), "no video"),
        # Odd sizes are legal pictures: keying to EXR (no chroma subsampling) must work; a
        # 4:2:2 ProRes comp cannot hold them and is refused before anything is written.
        Case(c, "odd_dimensions_63x47_key", lambda ws: _key(_transcode(
            ws, "media/odd.mov", "-c:v", "prores_ks", "-profile:v", "3", vf="scale=63:47"), ws), (0,)),
        Case(c, "odd_dimensions_63x47_replace_prores", lambda ws: _replace(_transcode(
            ws, "media/odd.mov", "-c:v", "prores_ks", "-profile:v", "3", vf="scale=63:47"), ws.refs, ws),
            (2, 65), "even dimensions"),
        Case(c, "png_header_claims_60000x60000", lambda ws: _key(_huge_sequence(ws, _png(60000, 60000)), ws),
             (65,), ("too large", "too big", "60000", "cannot decode")),
        Case(c, "png16_rgba_header_claims_32768x32768", lambda ws: _key(
            _huge_sequence(ws, _png(32768, 32768, 16, 6)), ws), (65,),
            ("too large", "too big", "32768", "cannot decode")),
        Case(c, "exr_header_claims_60000x60000", lambda ws: _key(_huge_exr_sequence(ws), ws), (65,),
             ("too large", "too big", "60000", "cannot read exr")),
        Case(c, "png_8bit_sequence", lambda ws: _key(_sequence(ws, "png", "-pix_fmt", "rgb24"), ws), (0,)),
        Case(c, "png_8bit_rgba_sequence_folder", lambda ws: _key(
            _sequence(ws, "png", "-pix_fmt", "rgba").parent, ws), (0,)),
        Case(c, "png_16bit_sequence", lambda ws: _key(_sequence(ws, "png", "-pix_fmt", "rgb48be"), ws), (0,)),
        Case(c, "tiff_16bit_sequence_member", lambda ws: _key(
            _sequence(ws, "tif", "-pix_fmt", "rgb48le").parent / "plate.0001.tif", ws), (0,)),
        Case(c, "exr_half_sequence", lambda ws: _key(
            _sequence(ws, "exr", "-pix_fmt", "gbrpf32le", "-c:v", "exr", "-format", "half"), ws), (0,)),
        Case(c, "dpx_12bit_sequence", lambda ws: _key(_sequence(ws, "dpx", "-pix_fmt", "gbrp12le"), ws), (0,)),
        Case(c, "prores_422_10bit", lambda ws: _key(_transcode(
            ws, "media/p422.mov", "-c:v", "prores_ks", "-profile:v", "2", "-pix_fmt", "yuv422p10le"), ws), (0,)),
        Case(c, "prores_4444xq_12bit", lambda ws: _key(_transcode(
            ws, "media/p4444xq.mov", "-c:v", "prores_ks", "-profile:v", "5", "-pix_fmt", "yuv444p10le"), ws),
            (0,)),
        Case(c, "prores_4444_with_alpha_replace", alpha_4444, (0,)),
        Case(c, "variable_frame_rate_movie", lambda ws: _key(_transcode(
            ws, "media/vfr.mov", "-c:v", "prores_ks", "-fps_mode", "vfr", vf="setpts='if(lt(N,3),N,N*2)/TB/24'"),
            ws), (65,), "variable frame rate"),
        Case(c, "missing_file", lambda ws: _key(ws.root / "media" / "nowhere.mov", ws), (66,), "no such"),
        Case(c, "sequence_missing_a_middle_frame", missing_middle, (65,), "missing frame"),
        Case(c, "sequence_frame_truncated", corrupt_frame, (65,), "cannot decode"),
        Case(c, "exr_sequence_frame_truncated", exr_corrupt_frame, (65,), "cannot read exr"),
        Case(c, "empty_directory_as_shot", shot_dir_empty, (2, 66), ("no numbered", "no frames", "empty")),
    ]


def _references() -> list[Case]:
    c = "references"

    def ref_image(ws, name: str, w: int, h: int) -> Path:
        import cv2
        import numpy as np

        img = np.zeros((h, w, 3), np.uint8)
        img[...] = (40, 120, 200)
        p = ws.path(f"bg/{name}")
        cv2.imwrite(str(p), img)
        return p.parent

    def corrupt(ws):
        ws.shot()
        folder = ws.root / "bg"
        folder.mkdir()
        shutil.copy(ws.refs / "ref.0000.png", folder / "ref.0000.png")
        ws.write("bg/ref.0005.png", b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(2000))
        return _replace(ws.plate, folder, ws)

    def only_text(ws):
        ws.write("bg/README.txt", "the stills are on the other drive\n")
        return _replace(ws.plate, ws.root / "bg", ws)

    def empty(ws):
        (ws.root / "bg").mkdir()
        return _replace(ws.plate, ws.root / "bg", ws)

    return [
        Case(c, "far_off_aspect_128x24", lambda ws: _replace(ws.plate, ref_image(ws, "ref.0000.png", 128, 24), ws),
             (65,), "too different"),
        Case(c, "larger_same_aspect_256x144", lambda ws: _replace(
            ws.plate, ref_image(ws, "ref.0000.png", 256, 144), ws), (0,)),
        Case(c, "empty_folder", empty, (66,), "no reference images"),
        Case(c, "corrupt_png", corrupt, (65,), ("cannot decode", "corrupt")),
        Case(c, "folder_with_a_text_file_only", only_text, (66,), "no reference images"),
        Case(c, "missing_path", lambda ws: _replace(ws.plate, ws.root / "bg" / "nowhere", ws), (66,),
             "no such reference"),
        Case(c, "anchor_beyond_the_shot", lambda ws: _replace(
            ws.plate, ref_image(ws, "ref.0099.png", W, H), ws), (65,), "anchors frame"),
        Case(c, "png_header_claims_60000x33750", lambda ws: _replace(
            ws.plate, ws.write("bg/ref.0000.png", _png(60000, 33750)).parent, ws), (65,),
            ("too large", "too big", "60000", "cannot decode")),
    ]


def _edit_lists() -> list[Case]:
    c = "edit lists"
    bad = ("cannot be read", "no events", "not a cmx", "corrupt", "malformed")

    def latin1(ws):
        clip = b"Caf\xe9 cr\xe8me br\xfbl\xe9e"
        edl = ws.write("list/cut.edl", _edl([(b"A001C001", clip, str(ws.plate).encode())]))
        bgmap = _bg_map(ws, [_decoded(clip)])
        return _render(edl, ws, "--bg-map", str(bgmap), "--no-qc", "--format", "exr")

    def big(ws):
        lines = [b"TITLE: ten thousand", b"FCM: NON-DROP FRAME"]
        for i in range(10_000):
            s = 24 * 3600 + 4 * i
            lines.append(f"{i + 1:05d}  A{i % 997:03d}C001 V     C        {_tc(s)} {_tc(s + 4)} {_tc(4 * i)} "
                         f"{_tc(4 * i + 4)}".encode())
            lines.append(f"* FROM CLIP NAME:  clip_{i:05d}".encode())
        edl = ws.write("list/big.edl", b"\n".join(lines) + b"\n")
        return _render(edl, ws, "--plan-only", "--json")

    def all_missing(ws, plan: bool):
        events = [(b"A001C00%d" % i, b"clip%d" % i, str(ws.root / "gone" / f"clip{i}.mov").encode())
                  for i in range(1, 4)]
        edl = ws.write("list/cut.edl", _edl(events))
        return _render(edl, ws, *(["--plan-only", "--json"] if plan else ["--no-qc"]))

    def newer(ws):
        p = _otio(ws, "A001C001", ws.plate.as_uri(), marker=True)
        p.write_text(p.read_text().replace('"Marker.2"', '"Marker.3"'))
        return _render(p, ws, "--plan-only")

    def not_timeline(ws):
        import opentimelineio as otio

        clip = otio.schema.Clip(name="loose", source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(4, 24)))
        return _render(ws.write("list/clip.otio", otio.adapters.write_to_string(clip, "otio_json")), ws)

    def bad_map(ws):
        edl = ws.write("list/cut.edl", _edl([(b"A001C001", b"A001C001", str(ws.plate).encode())]))
        return _render(edl, ws, "--bg-map", str(ws.write("map.json", '{"A001C001": ["refs/",')))

    return [
        Case(c, "malformed_edl", lambda ws: _render(ws.write(
            "list/cut.edl", "TITLE: cut\n001 this is not an event\nEDIT 2 GOES HERE\n"), ws), (65,), "no events"),
        Case(c, "binary_garbage_named_edl", lambda ws: _render(ws.write(
            "list/cut.edl", random.Random(4).randbytes(8192)), ws), (65,), bad),
        Case(c, "latin1_clip_names_render", latin1, (0,)),
        Case(c, "malformed_otio_json", lambda ws: _render(ws.write(
            "list/cut.otio", '{"OTIO_SCHEMA": "Timeline.1", "name": "cut", "tracks": {'), ws), (65,),
            "cannot be read"),
        Case(c, "truncated_fcp7_xml", lambda ws: _render(ws.write(
            "list/cut.xml", _XMEML[: len(_XMEML) // 2]), ws), (65,), "cannot be read"),
        Case(c, "xml_that_is_not_xmeml", lambda ws: _render(ws.write(
            "list/cut.xml", "<?xml version='1.0'?><html><body>cut</body></html>"), ws), (65,), "not fcp7 xml"),
        Case(c, "unknown_extension", lambda ws: _render(ws.write("list/cut.txt", "001 A V C\n"), ws), (2,),
             "not an edit list"),
        Case(c, "newer_otio_schema_marker_3", newer, (65,), "newer"),
        Case(c, "edl_with_10000_events_plan", big, (0,), writes=False, slow=True, timeout=90,
             check_stdout=lambda out: _plan_says(out, shots=10_000)),
        Case(c, "all_media_missing_plan", lambda ws: all_missing(ws, True), (0,), writes=False,
             check_stdout=lambda out: _plan_says(out, shots=3, unresolved=3)),
        Case(c, "all_media_missing_render", lambda ws: all_missing(ws, False), (66,),
             ("cannot be rendered", "no shot", "not found", "missing"), allowed=("report.html",)),
        Case(c, "otio_holding_a_clip_not_a_timeline", not_timeline, (65,), ("not a sequence", "no sequence")),
        Case(c, "malformed_bg_map", bad_map, (78,), "not a valid"),
    ]


def _weights() -> list[Case]:
    c = "weights"
    w = dict(needs=("example", "tiny"), slow=True)
    not_safetensors = ("safetensors", "pickle")

    def truncated(ws, keep):
        f = _transformer_file(ws)
        _cut_file(f, keep)
        return _dit(ws, f.parent.parent)

    def header_len(ws):
        f = _transformer_file(ws)
        f.write_bytes(struct.pack("<Q", 1 << 62) + f.read_bytes()[8:])
        return _dit(ws, f.parent.parent)

    return [
        Case(c, "pickle_ckpt_file", lambda ws: _dit(ws, _pickle_file(ws, "model.ckpt")), (78,), not_safetensors,
             needs=("example",)),
        Case(c, "pickle_pt_file", lambda ws: _dit(ws, _pickle_file(ws, "model.pt")), (78,), not_safetensors,
             needs=("example",)),
        Case(c, "pickle_bin_file", lambda ws: _dit(ws, _pickle_file(ws, "pytorch_model.bin")), (78,),
             not_safetensors, needs=("example",)),
        Case(c, "safetensors_header_truncated", lambda ws: truncated(ws, 40), (78, 65), "safetensors", **w),
        Case(c, "safetensors_data_truncated", lambda ws: truncated(ws, 0.5), (78, 65), "safetensors", **w),
        Case(c, "safetensors_header_length_2_pow_62", header_len, (78, 65), "safetensors", **w),
        Case(c, "safetensors_4tib_tensor_offsets_mismatch", lambda ws: _absurd_shape(ws, False), (78, 65),
             "safetensors", **w),
        Case(c, "safetensors_4tib_tensor_offsets_match", lambda ws: _absurd_shape(ws, True), (78, 65),
             "safetensors", **w),
        Case(c, "tiny_checkpoint_with_a_wrong_shape", _wrong_shape, (78,), "the config needs", **w),
        Case(c, "missing_model_path", lambda ws: _dit(ws, ws.root / "weights" / "nowhere"), (66,),
             "no such checkpoint", needs=("example",)),
    ]


def _untrusted() -> list[Case]:
    c = "untrusted names"

    def decoy_name(ws, tail: str = "x") -> bytes:
        return str(ws.decoy / tail).encode()

    def symlinked_shot_folder(ws):
        ws.out.mkdir()
        os.symlink(ws.decoy, ws.out / "001_A001C001")
        argv = _hostile_render(ws, template="{shot}/v{version}/{shot}_v{version}")
        return argv

    def symlinked_staging(ws):
        ws.out.mkdir()
        os.symlink(ws.decoy, ws.out / ".paicli-partial")
        return _hostile_render(ws, template="{shot}/v{version}/{shot}_v{version}")

    def symlinked_comp(ws):
        ws.out.mkdir()
        os.symlink(ws.decoy / "plate_comp.mov", ws.out / "plate_comp.mov")
        return _replace(ws.plate, ws.refs, ws)

    def otio_hostile(ws):
        p = _otio(ws, "../../../escape/" + "x" * 40, ws.plate.as_uri(), bg=str(ws.refs))
        return _render(p, ws, "--name-template", "{clip}/{reel}/{clip}_v{version}", "--no-qc", "--format", "exr")

    return [
        Case(c, "clip_name_dotdot", lambda ws: _hostile_render(ws, clip=b"../../escape/shot"), (0,)),
        Case(c, "clip_name_absolute_path", lambda ws: _hostile_render(ws, clip=decoy_name(ws)), (0,)),
        Case(c, "reel_dotdot", lambda ws: _hostile_render(ws, reel=b"../../escape"), (0,)),
        Case(c, "reel_absolute_path", lambda ws: _hostile_render(ws, reel=decoy_name(ws, "reel")), (0,)),
        Case(c, "clip_name_with_nul", lambda ws: _hostile_render(ws, clip=b"A001\x00/../../escape"), (0,)),
        Case(c, "reel_with_nul", lambda ws: _hostile_render(ws, reel=b"A001\x00C001"), (0,)),
        Case(c, "clip_name_300_chars", lambda ws: _hostile_render(ws, clip=b"long" * 75), (0,)),
        Case(c, "clip_name_not_utf8", lambda ws: _hostile_render(ws, clip=b"caf\xe9\xff\xfe/../../escape"), (0,)),
        Case(c, "source_file_dotdot", lambda ws: _hostile_render(
            ws, source=b"../../../escape/plate.mov", media_root=True), (0,)),
        Case(c, "source_file_in_the_decoy", lambda ws: _hostile_render(
            ws, source=decoy_name(ws, "sub/plate.mov"), media_root=True), (0,)),
        Case(c, "source_file_with_nul", lambda ws: _hostile_render(
            ws, source=str(ws.decoy).encode() + b"\x00/plate.mov", media_root=True), (0,)),
        Case(c, "name_template_escaping_the_output", lambda ws: _hostile_render(
            ws, template="../../escape/{shot}_v{version}"), (2,), "inside the output folder"),
        Case(c, "shot_folder_is_a_symlink_to_a_decoy", symlinked_shot_folder, (73,), ("symlink", "outside"),
             allowed=("report.html",)),
        Case(c, "comp_name_is_a_symlink_to_a_decoy", symlinked_comp, (73,), "symlink"),
        Case(c, "staging_folder_is_a_symlink_to_a_decoy", symlinked_staging, (73,), ("symlink", "staging"),
             allowed=("report.html",)),
        Case(c, "otio_clip_name_dotdot", otio_hostile, (0,)),
        Case(c, "key_name_dotdot", lambda ws: _key(ws.plate, ws, "--name", "../../escape"), (0,)),
    ]


def run_trials(trials: Callable[[str], list[dict]], prefix: str, *, show: bool = False) -> list[dict]:
    """``trials(folder)`` (checks that are not one command per case: signals, concurrent runs)
    in a fresh temporary folder, removed afterwards; with ``show``, each trial printed as one
    JSON line (``python tests/reliability/cases_*.py``)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        done = trials(tmp)
    for t in done if show else ():
        print(json.dumps(t, default=str), flush=True)
    return done


def more_cases() -> list[Case]:
    """The cases of every ``cases_*.py`` module beside this one (each holds a list ``CASES``)."""
    import importlib

    here = Path(__file__).resolve().parent
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    return [c for p in sorted(here.glob("cases_*.py")) for c in importlib.import_module(p.stem).CASES]


def all_cases() -> list[Case]:
    cases = _media() + _references() + _edit_lists() + _weights() + _untrusted() + more_cases()
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert all(c.category in CATEGORIES for c in cases)
    return cases


CASES = all_cases()


# ------------------------------------------------------------------------------ running


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (relative POSIX path -> sha256 of a file, ``link:TARGET`` for
    a symlink, ``dir`` for a folder); symlinks are not followed."""
    out: dict[str, str] = {}
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            rel = Path(e.path).relative_to(root).as_posix()
            if e.is_symlink():
                out[rel] = "link:" + os.readlink(e.path)
            elif e.is_dir():
                out[rel] = "dir"
                stack.append(Path(e.path))
            elif not e.is_file(follow_symlinks=False):  # a FIFO, socket or device: never opened
                out[rel] = "special"
            else:
                h = hashlib.sha256()
                try:
                    with open(e.path, "rb") as f:
                        for block in iter(lambda: f.read(1 << 20), b""):
                            h.update(block)
                    out[rel] = h.hexdigest()
                except OSError as err:
                    out[rel] = f"unreadable:{err.errno}"
    return out


def _under(rel: str, folder: str) -> bool:
    return rel == folder or rel.startswith(folder + "/")


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/"))


def _matches(text: str, fragment: str | tuple[str, ...] | None) -> bool:
    if fragment is None:
        return True
    alternatives = (fragment,) if isinstance(fragment, str) else fragment
    return any(a.lower() in text.lower() for a in alternatives)


def _command(argv: list[str]) -> list[str]:
    limit = shutil.which("prlimit") if MEMORY_LIMIT else None
    return ([limit, f"--as={MEMORY_LIMIT}", "--"] if limit else []) + PAICLI + argv


def _execute(cmd: list[str], cwd: Path, timeout: float, env: dict | None = None
             ) -> tuple[int | None, bytes, bytes, bool, float, float]:
    """Run ``cmd`` in its own process group: (exit code, stdout, stderr, hung, seconds, peak RSS MiB).
    A run past ``timeout`` is killed, with everything it started. ``env``: variables added to
    :func:`child_env`."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**child_env(), **dict(env or {})}, start_new_session=True)
    chunks: dict[str, bytes] = {}

    def drain(name, pipe):
        chunks[name] = pipe.read()
        pipe.close()

    readers = [threading.Thread(target=drain, args=(n, p), daemon=True)
               for n, p in (("out", proc.stdout), ("err", proc.stderr))]
    for r in readers:
        r.start()
    hung = threading.Event()

    def kill():
        hung.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - t0
    for r in readers:
        r.join(5)
    if any(r.is_alive() for r in readers):  # something the run started still holds the pipes
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for r in readers:
            r.join(5)
    return code, chunks.get("out", b""), chunks.get("err", b""), hung.is_set(), seconds, usage.ru_maxrss / 1024


def run_case(case: Case, tmp: str | os.PathLike, assets: Assets | None = None, timeout: float | None = None) -> dict:
    """Build ``case`` in the empty folder ``tmp``, run it and report what happened (see the
    module notes). ``problems`` lists every requirement the run broke; ``ok`` is its absence."""
    root = Path(tmp)
    root.mkdir(parents=True, exist_ok=True)
    ws = Workspace(root, assets or default_assets())
    argv = case.build(ws)
    before = snapshot(root)
    code, stdout, stderr, hung, seconds, rss = _execute(_command(argv), ws.cwd, timeout or case.timeout, case.env)
    after = snapshot(root)

    err = stderr.decode("utf-8", errors="replace")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    error_line = next((ln for ln in lines if ln.startswith("paicli: error:")), None)
    one_line = len(lines) == 1 and lines[0].startswith("paicli: error:")
    forbidden = [f for f in _FORBIDDEN if f.lower() in err.lower()]
    code_ok = not hung and code in case.codes
    if case.must_succeed or (code == 0 and 0 in case.codes):
        message_ok = not forbidden and error_line is None
    else:
        message_ok = one_line and not forbidden and _matches(lines[0], case.fragment)

    inputs = {k: v for k, v in before.items() if v != "dir"}
    lost = sorted(k for k in inputs if k not in after)
    changed = sorted(k for k in inputs if k in after and after[k] != inputs[k])
    new = sorted(k for k in after if k not in before)
    outside = [k for k in new if not _under(k, "out")]
    in_out = [k[len("out/"):] for k in new if _under(k, "out") and k != "out" and after[k] != "dir"]
    finals = [k for k in in_out if not _hidden(k)]
    failed = hung or code != 0
    partial = [k for k in finals if not any(fnmatch(k, pat) for pat in case.allowed)] if failed else []

    problems = []
    if hung:
        problems.append(f"hang: killed after {timeout or case.timeout:.0f} s")
    elif not code_ok:
        problems.append(f"exit code {code}, expected {' or '.join(map(str, case.codes))}")
    if not message_ok:
        problems.append("stderr: " + (" | ".join(lines[:4])[:400] if lines else "(nothing)"))
    if case.must_succeed and case.writes and code == 0 and not finals:
        problems.append("exit 0 but no output written")
    if code == 0 and code_ok and case.check_stdout is not None:
        try:
            wrong = case.check_stdout(stdout)
        except (ValueError, KeyError, TypeError) as e:
            wrong = f"unreadable stdout ({type(e).__name__}: {e})"
        if wrong:
            problems.append(f"stdout: {wrong}")
    if partial:
        problems.append(f"partial outputs under final names: {partial[:5]}")
    if lost or changed:
        problems.append(f"inputs lost {lost[:5]} / changed {changed[:5]}")
    if outside:
        problems.append(f"written outside the output folder: {outside[:5]}")
    return {
        "id": case.id, "category": case.category, "name": case.name, "argv": argv, "cwd": str(ws.cwd),
        "expected_codes": list(case.codes), "fragment": case.fragment, "code": code, "hang": hung,
        "seconds": round(seconds, 2), "peak_rss_mib": round(rss, 1), "stderr_lines": lines,
        "error_line": error_line, "one_line": one_line, "traceback": "Traceback" in err, "forbidden": forbidden,
        "code_ok": code_ok, "message_ok": message_ok, "outputs": sorted(in_out), "partial_outputs": partial,
        "inputs_lost": lost, "inputs_changed": changed, "outside": outside, "stdout_bytes": len(stdout),
        "problems": problems, "ok": not problems,
    }


_default: Assets | None = None


def default_assets() -> Assets:
    global _default
    if _default is None:
        _default = Assets(tempfile.mkdtemp(prefix="paicli-corpus-assets-"))
    return _default


def run_cases(cases: Sequence[Case], folder: str | os.PathLike, jobs: int = 2, assets: Assets | None = None,
              on_result: Callable[[dict], None] | None = None) -> dict[str, dict]:
    """Run ``cases`` ``jobs`` at a time, each in ``folder/<n>``; results by case id. A case whose
    inputs cannot even be built is reported as a failed result, not raised."""
    from concurrent.futures import ThreadPoolExecutor

    folder = Path(folder)
    assets = assets or Assets(folder / "_assets")
    assets.prepare(cases)
    order = sorted(range(len(cases)), key=lambda i: not cases[i].slow)  # slow ones first

    def one(i: int) -> dict:
        case = cases[i]
        try:
            result = run_case(case, folder / f"{i:03d}", assets)
        except Exception as e:  # noqa: BLE001 - a builder failed: report it with the case
            result = {"id": case.id, "category": case.category, "name": case.name, "argv": [], "code": None,
                      "expected_codes": list(case.codes), "hang": False, "code_ok": False, "message_ok": False,
                      "partial_outputs": [], "inputs_lost": [], "inputs_changed": [], "outside": [],
                      "stderr_lines": [], "error_line": None, "seconds": 0.0,
                      "problems": [f"could not build the inputs: {type(e).__name__}: {e}"], "ok": False}
        if on_result is not None:
            on_result(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, order))
    return {r["id"]: r for r in results}
