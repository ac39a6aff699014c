"""Apple ProRes writer (FFmpeg's ``prores_ks`` through PyAV), atomic and timecode-exact.

Frames come in as float32 (H, W, 3|4) scene-linear Rec.709, RGBA premultiplied. They
are encoded with the output colour space's transfer (BT.709 by default), converted to
10-bit limited-range Y'CbCr with the BT.709 matrix *here* (no implicit swscale matrix),
and tagged BT.709 on the container and on every frame. ProRes 4444 carries straight
(unpremultiplied) alpha, as Apple's applications expect. A NaN or +-Inf sample never fails a
frame: NaN colour or alpha encodes as 0 and +-Inf clips (the compiled conversion's rule);
:class:`paicli.media.writers.Writer` makes frames finite before they get here.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from paicli.errors import OutputError, UsageError
from paicli.media import atomic, colourspace
from paicli.media.timing import Timecode, drop_frame_allowed, format_rate
from paicli.media.formats import PRORES_PROFILES as PROFILES
from paicli.media.formats import profile_name
from paicli.media.ycbcr import frame_to_planes

_BT709 = 1  # H.273 code point for primaries, transfer and matrix alike
_LINEAR_TRC = 8  # H.273 transfer "linear": code values are the data itself (mattes)
_LIMITED = 1  # AVCOL_RANGE_MPEG


def _put_plane(plane, values: np.ndarray) -> None:
    """Copy a uint16 (h, w) array into a PyAV plane, honouring its line stride."""
    h, w = values.shape
    dst = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)[:h, : 2 * w]
    dst[...] = values.astype("<u2", copy=False).view(np.uint8).reshape(h, 2 * w)


class ProResWriter:
    """Write frames to a ProRes ``.mov`` that appears under its final name only when closed.

    ``start_timecode`` and ``reel`` go into a QuickTime timecode track; ``rate`` is exact.
    Use as a context manager: an exception inside it discards the partial file.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, rate: Fraction, *,
                 profile: str = "hq", alpha: bool | None = None, start_timecode: Timecode | None = None,
                 reel: str | None = None, colourspace_name: str = "bt709", threads: int = 0):
        import av

        self.path = Path(path)
        self.profile = profile_name(profile)
        number, self.fourcc, is444 = PROFILES[self.profile]
        self.alpha = is444 if alpha is None else bool(alpha)
        if self.alpha and not is444:
            raise UsageError(f"ProRes {self.profile} has no alpha channel; use 4444 or 4444xq")
        if width % 2 or height % 2:
            raise UsageError(f"ProRes needs even dimensions, got {width}x{height}")
        if start_timecode is not None and start_timecode.drop and not drop_frame_allowed(rate):
            raise UsageError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {format_rate(rate)}")
        self.width, self.height, self.rate = width, height, Fraction(rate)
        self.start_timecode, self.reel = start_timecode, reel
        self.subsampling = "444" if is444 else "422"
        self.pix_fmt = ("yuva444p10le" if self.alpha else "yuv444p10le") if is444 else "yuv422p10le"
        self._from_linear = colourspace.from_linear(colourspace_name)
        space = colourspace.canonical(colourspace_name)
        self._transfer = space if space in colourspace.BUILTIN else None  # encoded in the compiled pass
        self._trc = _LINEAR_TRC if space == "linear" else _BT709
        self.frames_written = 0
        if not self.path.parent.is_dir():
            raise OutputError(f"output folder does not exist: {self.path.parent}")
        self._tmp = atomic.temp_path_for(self.path)
        try:
            self._container = av.open(str(self._tmp), "w", format="mov")
        except (OSError, av.error.FFmpegError) as e:
            raise OutputError(f"cannot create {self.path}: {e}") from None
        if start_timecode is not None:
            self._container.metadata["timecode"] = str(start_timecode)
        s = self._container.add_stream("prores_ks", rate=self.rate)
        s.width, s.height = width, height
        s.pix_fmt = self.pix_fmt
        s.time_base = 1 / self.rate
        s.codec_context.time_base = 1 / self.rate
        s.codec_context.options = {"profile": str(number), "vendor": "apl0"}
        if threads:
            s.codec_context.thread_count = threads
        cc = s.codec_context
        cc.color_primaries = cc.colorspace = _BT709
        cc.color_trc = self._trc
        cc.color_range = _LIMITED
        if start_timecode is not None:
            s.metadata["timecode"] = str(start_timecode)
        if reel:
            s.metadata["reel_name"] = reel
        self._stream = s

    def write(self, frame: np.ndarray) -> None:
        """Append one float32 (H, W, 3|4) scene-linear frame (RGBA premultiplied)."""
        self._check_size(frame)
        if frame.shape[-1] == 4:
            self._encode(frame[..., :3], frame[..., 3], premultiplied=True)
        else:
            self._encode(frame, None, premultiplied=False)

    def write_straight(self, colour: np.ndarray, alpha: np.ndarray) -> None:
        """Append one frame given as straight scene-linear colour, float32 (H, W, 3), and its
        alpha (H, W): what ProRes 4444 stores, with no premultiply/unpremultiply round trip."""
        self._check_size(colour)
        self._encode(colour, alpha, premultiplied=False)

    def _check_size(self, frame: np.ndarray) -> None:
        if frame.shape[0] != self.height or frame.shape[1] != self.width:
            raise UsageError(f"frame is {frame.shape[1]}x{frame.shape[0]}, writer is {self.width}x{self.height}")

    def _encode(self, colour: np.ndarray, alpha: np.ndarray | None, premultiplied: bool) -> None:
        import av

        if alpha is None and self.alpha:
            alpha = np.ones(colour.shape[:2], np.float32)
        if self._transfer is None:  # an OpenColorIO space: encoded through OCIO first
            if alpha is not None and premultiplied:
                colour = colourspace.unpremultiply(np.concatenate([colour, alpha[..., None]], axis=-1))[..., :3]
                premultiplied = False
            colour = self._from_linear(colour)
        y, cb, cr, a = frame_to_planes(colour, 10, alpha=alpha, premultiplied=premultiplied, transfer=self._transfer,
                                       matrix="bt709", full_range=False, subsampling=self.subsampling)
        vf = av.VideoFrame(self.width, self.height, self.pix_fmt)
        planes = [y, cb, cr] + ([a] if self.alpha else [])
        for plane, values in zip(vf.planes, planes):
            _put_plane(plane, values)
        vf.pts = self.frames_written
        vf.time_base = self._stream.codec_context.time_base
        vf.color_primaries = vf.colorspace = _BT709
        vf.color_trc = self._trc
        vf.color_range = _LIMITED
        try:
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
        except (OSError, av.error.FFmpegError) as e:
            raise OutputError(f"cannot write {self.path}: {e}") from None
        self.frames_written += 1

    def close(self) -> None:
        """Flush, close and move the finished movie onto its final name."""
        import av

        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        except (OSError, av.error.FFmpegError) as e:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {e}") from None
        self._container = None
        atomic.commit(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial output; nothing appears under the final name."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # closing a half-written container may fail; it is deleted anyway
                pass
            self._container = None
        atomic.discard(self._tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
