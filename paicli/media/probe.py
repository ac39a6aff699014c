"""What an editor needs to know about a piece of media, read without decoding the picture.

Movies are probed with PyAV (demuxing packet timestamps, never trusting a header's frame
rate alone); image sequences from their first frame's header and the frame numbers on disk.
Only regular files are probed (:mod:`paicli.media.regular`): a FIFO or a device named as
media is refused (66) before it is opened, where it would block or never end.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

from paicli.errors import BadDataError, MissingInputError, UsageError
from paicli.media.exr import read_exr
from paicli.media.regular import require_regular
from paicli.media.sequence import SequencePattern, find_sequence
from paicli.media.stills import read_still
from paicli.media.timing import Timecode, format_rate, parse_rate

MOVIE_EXTS = {".mov", ".mp4", ".m4v", ".mxf", ".mkv", ".avi", ".webm", ".mts", ".m2ts", ".ts", ".y4m"}
IMAGE_EXTS = {".exr", ".png", ".tif", ".tiff", ".dpx", ".jpg", ".jpeg"}

# H.273 code points PyAV reports, named as editors know them.
_PRIMARIES = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020", 11: "smpte431", 12: "p3-d65"}
_TRANSFERS = {1: "bt709", 6: "bt709", 8: "linear", 13: "srgb", 14: "bt709", 15: "bt709", 16: "pq", 18: "hlg", 4: "gamma22"}
_MATRICES = {0: "rgb", 1: "bt709", 5: "bt601", 6: "bt601", 9: "bt2020", 10: "bt2020"}


@dataclass
class MediaInfo:
    """Timing, geometry and colour of one movie or image sequence.

    ``rate`` is exact; ``start_timecode`` is the timecode of the first frame; ``frame_count``
    counts frames actually present. ``first_frame`` is the first frame number of a sequence
    (0 for movies). Colour tags are H.273 names or None when the file does not say.
    """

    path: str
    kind: str  # "movie" | "sequence" | "still"
    width: int
    height: int
    rate: Fraction
    frame_count: int
    start_timecode: Timecode | None = None
    reel: str | None = None
    codec: str | None = None
    profile: str | None = None
    pix_fmt: str | None = None
    bit_depth: int = 8
    has_alpha: bool = False
    primaries: str | None = None
    transfer: str | None = None
    matrix: str | None = None
    full_range: bool = False
    vfr: bool = False
    rate_from: str = "stream"  # where the rate came from: stream, header, default
    first_frame: int = 0
    pattern: str | None = None
    frame_numbers: list[int] = field(default_factory=list, repr=False)
    # movie demux facts the reader needs for frame-accurate seeking
    time_base: Fraction | None = None
    first_pts: int | None = None
    frame_ticks: int | None = None

    @property
    def chroma_subsampling(self) -> tuple[int, int]:
        """The pixel format's chroma factors (vertical, horizontal): (2, 2) for 4:2:0, (1, 2)
        for 4:2:2, (1, 1) for 4:4:4, RGB and stills."""
        return _chroma_factors(self.pix_fmt)

    @property
    def duration_s(self) -> float:
        return float(self.frame_count / self.rate) if self.rate else 0.0

    @property
    def end_timecode(self) -> Timecode | None:
        """Timecode of the last frame (inclusive)."""
        return self.start_timecode + (self.frame_count - 1) if self.start_timecode else None

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("frame_numbers", "time_base", "first_pts", "frame_ticks"):
            d.pop(k)
        d["rate"] = format_rate(self.rate)
        d["fps"] = round(float(self.rate), 3)
        d["start_timecode"] = str(self.start_timecode) if self.start_timecode else None
        d["end_timecode"] = str(self.end_timecode) if self.end_timecode else None
        d["drop_frame"] = bool(self.start_timecode and self.start_timecode.drop)
        d["duration_s"] = round(self.duration_s, 6)
        return d


def classify(path: str | os.PathLike) -> str:
    """``movie``, ``sequence`` or ``still`` from the name alone (patterns count as sequences)."""
    s = str(path)
    if "#" in s or "%" in s or "@" in s or os.path.isdir(s):
        return "sequence"
    ext = Path(s).suffix.lower()
    if ext in IMAGE_EXTS:
        try:
            SequencePattern.parse_member(s)
        except UsageError:
            return "still"
        return "sequence"
    return "movie"


def probe(path: str | os.PathLike, *, rate: Fraction | str | None = None) -> MediaInfo:
    """Probe a movie, an image sequence (pattern, member file or folder) or a still.

    ``rate`` overrides the rate of sequences that carry none (and is checked against movies).
    """
    kind = classify(path)
    if kind == "movie":
        return probe_movie(path)
    return probe_images(path, rate=parse_rate(rate) if rate is not None else None)


def probe_movie(path: str | os.PathLike) -> MediaInfo:
    import av

    path = str(path)
    require_regular(path)  # FFmpeg would block on a FIFO and read /dev/zero for ever
    try:
        container = av.open(path)
    except FileNotFoundError:
        raise MissingInputError(f"no such file: {path}") from None
    except PermissionError:
        raise MissingInputError(f"cannot read {path}: permission denied") from None
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise BadDataError(f"{path}: not a readable movie ({_why(e)})") from None
    with container:
        if not container.streams.video:
            raise BadDataError(f"{path}: has no video stream")
        v = container.streams.video[0]
        cc = v.codec_context
        tb = v.time_base
        pts: list[int] = []
        try:
            for pkt in container.demux(v):
                if pkt.pts is not None and pkt.size:
                    pts.append(pkt.pts)
        except av.error.FFmpegError as e:
            raise BadDataError(f"{path}: truncated or corrupt ({_why(e)})") from None
        if not pts:
            raise BadDataError(f"{path}: contains no video frames")
        pts.sort()
        header_rate = v.average_rate or v.guessed_rate or v.base_rate
        rate, vfr, ticks = _rate_from_pts(pts, tb, header_rate)
        fmt = cc.format
        pix_fmt = cc.pix_fmt or (fmt.name if fmt else None)
        tc_text, reel = _timecode_tags(container, v)
        start_tc = None
        if tc_text:
            try:
                start_tc = Timecode.parse(tc_text, rate)
            except UsageError:
                start_tc = None
        return MediaInfo(
            path=path, kind="movie", width=cc.width, height=cc.height, rate=rate, frame_count=len(pts),
            start_timecode=start_tc, reel=reel, codec=cc.name, profile=cc.profile, pix_fmt=pix_fmt,
            bit_depth=_bit_depth(pix_fmt), has_alpha=_has_alpha(pix_fmt),
            primaries=_PRIMARIES.get(cc.color_primaries), transfer=_TRANSFERS.get(cc.color_trc),
            matrix=_MATRICES.get(cc.colorspace), full_range=(cc.color_range == 2) or bool(pix_fmt and pix_fmt.startswith("yuvj")),
            vfr=vfr, rate_from="stream", time_base=tb, first_pts=pts[0], frame_ticks=ticks,
        )


def _rate_from_pts(pts: list[int], tb: Fraction, header_rate) -> tuple[Fraction, bool, int | None]:
    """Exact rate from packet timestamps; VFR when frame durations are not all equal."""
    if len(pts) == 1:
        rate = Fraction(header_rate) if header_rate else Fraction(24)
        return rate, False, round(1 / (rate * tb)) if tb else None
    deltas = [b - a for a, b in zip(pts, pts[1:])]
    lo, hi = min(deltas), max(deltas)
    if lo <= 0:
        return Fraction(header_rate or 24), True, None
    # a tick of jitter is rounding by the muxer, not a variable rate
    vfr = hi - lo > 1
    ticks = Fraction(pts[-1] - pts[0], len(pts) - 1)
    measured = 1 / (ticks * tb)
    rate = measured.limit_denominator(1001)
    if header_rate and abs(float(header_rate) - float(measured)) < 1e-3 * float(measured):
        rate = Fraction(header_rate)
    return rate, vfr, round(ticks)


def _timecode_tags(container, v) -> tuple[str | None, str | None]:
    tc = v.metadata.get("timecode")
    reel = v.metadata.get("reel_name")
    for s in container.streams:
        if s.type == "data" or s.metadata.get("handler_name", "").lower().startswith("timecode"):
            tc = tc or s.metadata.get("timecode")
            reel = reel or s.metadata.get("reel_name")
    tc = tc or container.metadata.get("timecode")
    reel = reel or container.metadata.get("reel_name")
    return tc, reel


def _bit_depth(pix_fmt: str | None) -> int:
    if not pix_fmt:
        return 8
    import av

    try:
        comps = av.VideoFormat(pix_fmt).components
        return max(c.bits for c in comps)
    except (ValueError, av.error.FFmpegError):
        return 8


def _chroma_factors(pix_fmt: str | None) -> tuple[int, int]:
    if not pix_fmt:
        return (1, 1)
    import av

    try:
        f = av.VideoFormat(pix_fmt, 64, 64)
        return (max(1, 64 // max(f.chroma_height(), 1)), max(1, 64 // max(f.chroma_width(), 1)))
    except (ValueError, av.error.FFmpegError):
        return (1, 1)


def _has_alpha(pix_fmt: str | None) -> bool:
    if not pix_fmt:
        return False
    import av

    try:
        return any(c.is_alpha for c in av.VideoFormat(pix_fmt).components)
    except (ValueError, av.error.FFmpegError):
        return False


def _why(e: BaseException) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return msg.split("\n")[0][:160]


def probe_images(path: str | os.PathLike, *, rate: Fraction | None = None) -> MediaInfo:
    """Probe an image sequence (or a single still, as a one-frame sequence)."""
    s = str(path)
    if classify(s) == "still":
        require_regular(s)
        pattern, numbers, first = None, [0], s
    else:
        pat, numbers = find_sequence(s)
        pattern, first = str(pat), str(pat.path(numbers[0]))
    return _image_info(first, s, pattern, numbers, rate)


def _image_info(first: str, shown: str, pattern, numbers: list[int], rate: Fraction | None) -> MediaInfo:
    start_tc, reel = None, None
    rate_from = "default"
    file_rate = None
    transfer = "srgb"
    if first.lower().endswith(".exr"):
        img, hdr = read_exr(first)
        file_rate, start_tc = hdr.rate, hdr.timecode
        reel = hdr.attributes.get("reelName")
        h, w, c = img.shape
        depth = 16 if hdr.pixel_type == "half" else 32
        codec, transfer = "exr", "linear"
    else:
        img, st = read_still(first)
        h, w, c = img.shape
        depth, codec = st.bit_depth, st.format
    if rate is not None:
        final_rate, rate_from = rate, "option"
    elif file_rate:
        final_rate, rate_from = file_rate, "header"
    else:
        final_rate = Fraction(24)
    if start_tc is not None and start_tc.fps != round(final_rate):
        start_tc = None
    return MediaInfo(
        path=shown, kind="sequence" if pattern else "still", width=w, height=h, rate=final_rate,
        frame_count=len(numbers), start_timecode=start_tc, reel=reel, codec=codec, bit_depth=depth,
        has_alpha=(c == 4), primaries="bt709", transfer=transfer, matrix="rgb", full_range=True,
        rate_from=rate_from, first_frame=numbers[0], pattern=pattern, frame_numbers=numbers,
    )
