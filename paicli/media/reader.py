"""Streaming, frame-accurate readers for movies and image sequences.

Every reader yields frames as float32 (H, W, 3|4) arrays in scene-linear Rec.709;
RGBA frames are premultiplied. Frames are indexed from 0 = the first frame of the media
(for sequences: its first frame number), so a source range is ``(start, count)`` whatever
the file numbering. Memory holds one decoded frame at a time (plus the codec's own
reorder buffer), however long the range. Frames are finite: NaN and +-Inf in float files
(EXR, float TIFF) are replaced as they are read and counted (:attr:`FrameSource.nonfinite`,
and in :func:`paicli.media.nonfinite.tally` under the source's label).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterator

import numpy as np

from engine import colour
from paicli.errors import BadDataError, UsageError
from paicli.media import colourspace
from paicli.media.exr import read_exr
from paicli.media.probe import MediaInfo, probe
from paicli.media.regular import require_regular
from paicli.media.sequence import SequencePattern
from paicli.media.stills import read_still
from paicli.media.ycbcr import ycbcr_to_rgb


class FrameSource:
    """A media file opened for reading; use :meth:`frames` for a range, close when done.

    ``what`` labels the source in :func:`paicli.media.nonfinite.tally` (default: its path as
    given; the tally counts each file once); ``nonfinite`` counts the pixels whose NaN or
    +-Inf values were replaced in the frames this source has read so far.
    """

    def __init__(self, info: MediaInfo, colourspace_name: str | None = None, what: str | None = None):
        self.info = info
        self.colourspace = source_colourspace(info, colourspace_name)
        self._to_linear = colourspace.to_linear(self.colourspace)
        self.what = what or info.path
        self.nonfinite = 0

    def frames(self, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
        """Yield ``count`` frames (default: to the end) from frame index ``start``."""
        n = self.info.frame_count
        if count is None:
            count = n - start
        if start < 0 or count < 0 or start + count > n:
            raise UsageError(f"frames {start}-{start + count - 1} are outside the media's 0-{n - 1}")
        return self._frames(start, count)

    def _frames(self, start: int, count: int) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def _finish(self, straight: np.ndarray) -> np.ndarray:
        return colourspace.premultiply(self._to_linear(straight))

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def default_colourspace(info: MediaInfo) -> str:
    """What the file's own tags imply: BT.709 video, sRGB stills, linear EXR."""
    if info.kind == "movie":
        return "srgb" if info.transfer == "srgb" else ("linear" if info.transfer == "linear" else "bt709")
    return "linear" if info.codec == "exr" else "srgb"


def source_colourspace(info: MediaInfo, name: str | None = None) -> str:
    """The colour space frames of ``info`` are decoded from: ``name`` (``--input-colorspace``),
    else what the file's tags imply; canonical."""
    return colourspace.canonical(name or default_colourspace(info))


def open_source(path, *, colourspace_name: str | None = None, rate: Fraction | str | None = None,
                info: MediaInfo | None = None, allow_vfr: bool = False, what: str | None = None) -> FrameSource:
    """Open a movie or image sequence for frame-accurate streaming reads.

    Variable-frame-rate movies are refused (exit 65) unless ``allow_vfr``, in which case
    frames are taken in order as if constant-rate at the measured average rate. ``what``:
    the label replaced non-finite pixels are tallied under (``"plate"``, ``"clean plate"``;
    default the path).
    """
    info = info or probe(path, rate=rate)
    if info.vfr and not allow_vfr:
        raise BadDataError(
            f"{info.path}: variable frame rate (frame durations differ); conform it first or pass --conform-vfr"
        )
    if info.kind == "movie":
        return MovieSource(info, colourspace_name, what=what)
    return SequenceSource(info, colourspace_name, what=what)


class MovieSource(FrameSource):
    """Seek to the keyframe before the range, then decode forward; indices come from pts."""

    def __init__(self, info: MediaInfo, colourspace_name: str | None = None, threads: int = 0,
                 what: str | None = None):
        super().__init__(info, colourspace_name, what)
        import av

        self._av = av
        require_regular(info.path)  # again: the path may have changed since it was probed
        self._container = av.open(info.path)
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        if threads:
            self._stream.codec_context.thread_count = threads
        self._matrix = info.matrix if info.matrix in ("bt709", "bt601", "bt2020") else (
            "bt709" if info.height >= 720 else "bt601")
        self._pending: list[tuple[int, object]] = []  # frames decoded past the last request
        self._next_index: int | None = None  # index the decoder will produce next, when reading on

    def close(self) -> None:
        self._container.close()

    def _index_of(self, frame) -> int:
        info = self.info
        return round((frame.pts - info.first_pts) / info.frame_ticks) if info.frame_ticks else 0

    def _decoded(self, seek_to: int | None) -> Iterator[tuple[int, object]]:
        """Decoded frames with their indices: after seeking to the keyframe at or before
        frame ``seek_to``, or, when ``seek_to`` is None, reading on from where the last range
        stopped."""
        av = self._av
        info = self.info
        if seek_to is not None:
            target = info.first_pts + seek_to * info.frame_ticks if info.frame_ticks else info.first_pts
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
            self._stream.codec_context.flush_buffers()
        self._next_index = None
        try:
            for packet in self._container.demux(self._stream):
                for frame in packet.decode():
                    if frame.pts is None:
                        continue
                    if frame.is_corrupt:  # decoded "successfully" with garbage in it: the decoder flags it
                        raise BadDataError(f"{info.path}: frame {self._index_of(frame)} is damaged "
                                           "(the decoder flagged it corrupt)")
                    yield self._index_of(frame), frame
        except av.error.FFmpegError as e:
            raise BadDataError(f"{info.path}: damaged stream, decode failed ({str(e).splitlines()[0][:120]})") from None

    def _frames(self, start: int, count: int) -> Iterator[np.ndarray]:
        want, end = start, start + count
        # a range that starts where the last one ended reads on without a seek
        first_try: int | None = None if self._next_index == start else start
        for seek_to in (first_try, start, max(0, start - 16), max(0, start - 256), 0):
            landed_late = False
            for index, frame in self._decoded(seek_to):
                if index < want:
                    continue
                if index > want:
                    if want == start:
                        landed_late = True  # the seek (or read-on) passed the target
                        break
                    raise BadDataError(f"{self.info.path}: frame {want} is missing from the stream")
                yield self._convert(frame)
                want += 1
                if want == end:
                    self._next_index = end
                    return
            if not landed_late:
                break
        if want < end:
            raise BadDataError(f"{self.info.path}: stream ends at frame {want}, expected {end} frames")

    def _convert(self, frame) -> np.ndarray:
        if self.colourspace in colourspace.BUILTIN:  # decoded to linear in the conversion's own pass
            return colourspace.premultiply(decode_to_rgb(frame, self._matrix, self.info.full_range,
                                                         transfer=self.colourspace))
        return self._finish(decode_to_rgb(frame, self._matrix, self.info.full_range))


def _plane(plane, width: int, height: int, dtype) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    buf = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)[:height, : width * itemsize]
    return buf.view(dtype) if itemsize > 1 else buf


def decode_to_rgb(frame, matrix: str, full_range: bool, transfer: str | None = None) -> np.ndarray:
    """A decoded PyAV frame -> encoded straight R'G'B'(A) float32 (H, W, 3|4) in [0, 1], or
    with a built-in ``transfer`` (``bt709``, ``srgb``, ``linear``) scene-linear; alpha as is.

    Planar Y'CbCr is converted here with the given matrix and range; anything else goes
    through swscale to 16-bit RGB.
    """
    fmt = frame.format
    name = fmt.name
    if name.startswith("yuv") and fmt.is_planar and not name.endswith("be") and len(frame.planes) >= 3:
        comps = fmt.components
        bits = comps[0].bits
        dtype = np.uint16 if bits > 8 else np.uint8
        planes = frame.planes
        w, h = frame.width, frame.height
        y = _plane(planes[0], w, h, dtype)
        cb = _plane(planes[1], planes[1].width, planes[1].height, dtype)
        cr = _plane(planes[2], planes[2].width, planes[2].height, dtype)
        rgb = ycbcr_to_rgb(y, cb, cr, bits, matrix=matrix, full_range=full_range or name.startswith("yuvj"),
                           transfer=transfer)
        if len(planes) == 4:
            a = _plane(planes[3], w, h, dtype).astype(np.float32) / float((1 << bits) - 1)
            return np.concatenate([rgb, a[..., None]], axis=-1)
        return rgb
    has_alpha = any(c.is_alpha for c in fmt.components)
    arr = frame.to_ndarray(format="rgba64le" if has_alpha else "rgb48le").astype(np.float32) / 65535.0
    if transfer not in (None, "linear"):
        arr[..., :3] = colour.decode(arr[..., :3], transfer)
    return arr


class SequenceSource(FrameSource):
    """One file a frame: EXR (linear) or PNG/TIFF/DPX/JPEG (encoded) stills."""

    def _frames(self, start: int, count: int) -> Iterator[np.ndarray]:
        info = self.info
        if info.pattern is None:
            paths = [info.path]
        else:
            pat = SequencePattern.parse(info.pattern)
            paths = [pat.path(n) for n in info.frame_numbers[start:start + count]]
        for p in paths:
            yield self._read(str(p))

    def _read(self, path: str) -> np.ndarray:
        if path.lower().endswith(".exr"):
            img, exr = read_exr(path, what=self.what)
            self.nonfinite += exr.nonfinite
            if img.shape[-1] == 1:
                img = np.repeat(img, 3, axis=-1)
            # EXR stores premultiplied colour; encodings apply to straight colour
            return self._finish(colourspace.unpremultiply(img)) if img.shape[-1] == 4 else self._finish(img)
        img, still = read_still(path, what=self.what)
        self.nonfinite += still.nonfinite
        if img.shape[-1] == 1:
            img = np.repeat(img, 3, axis=-1)
        elif img.shape[-1] == 2:
            img = np.concatenate([np.repeat(img[..., :1], 3, axis=-1), img[..., 1:]], axis=-1)
        return self._finish(img)
