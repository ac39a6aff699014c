"""Corpus cases for media that is not what it seems: special files, headers that lie about
their size, and float pixels that are not numbers (collected by ``corpus.all_cases``).

* non-regular files: a FIFO (named pipe) blocks ``open()`` for ever and ``/dev/zero`` never
  ends; named as a plate, a reference, a clean plate, a sequence frame, an edit list's
  ``SOURCE FILE`` or found under ``--media-root``, each must end at once with one line (66).
* huge headers: a 10 GiB (sparse) file behind a valid 128 x 72 header, or a header claiming
  60000 x 60000 px, as a reference, clean plate, matte or ``--bg-map`` still: bad data (65),
  refused before it is read, never "out of memory" (75).
* non-finite values: a NaN or Inf pixel in an EXR plate or reference must not spread: key,
  replace and convert succeed and every EXR they write holds only finite values.

FIFOs and the sparse files live beside the case folder (``<case>.special/``), not in it: the
harness hashes every input file in the case folder, which would block on a FIFO and read
10 GiB twice.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from corpus import W, H, Case, Workspace, _edl, _key, _png, _render, _replace, _sequence

HUGE = 10 << 30  # bytes, sparse
NAMED_PIPE = ("named pipe", "not a regular file")
DEVICE = ("character device", "not a regular file")
TOO_BIG = ("too large", "60000")
TOO_LONG = ("10.0 gib", "damaged")


# ------------------------------------------------------------------------------ builders


def _special(ws: Workspace, rel: str) -> Path:
    """A path beside the case folder (created folders included), for files the harness must not read."""
    p = ws.root.parent / f"{ws.root.name}.special" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _fifo(ws: Workspace, rel: str) -> Path:
    p = _special(ws, rel)
    os.mkfifo(p)
    return p


def _small_png() -> bytes:
    """A valid W x H 8-bit RGB PNG."""
    import cv2
    import numpy as np

    return cv2.imencode(".png", np.full((H, W, 3), (200, 120, 40), np.uint8))[1].tobytes()


def _small_jpeg(claim: tuple[int, int] | None = None) -> bytes:
    """A valid W x H JPEG; with ``claim`` its frame header says (width, height) instead."""
    import struct

    import cv2
    import numpy as np

    data = bytearray(cv2.imencode(".jpg", np.full((H, W, 3), 90, np.uint8))[1].tobytes())
    if claim:
        at = data.find(b"\xff\xc0")
        struct.pack_into(">HH", data, at + 5, claim[1], claim[0])
    return bytes(data)


def _tiff(width: int, height: int) -> bytes:
    """An uncompressed gray TIFF whose header says ``width`` x ``height``, with 4 KiB of pixels."""
    import struct

    strip = bytes(4096)
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 0), (277, 3, 1),
            (278, 4, height), (279, 4, len(strip))]
    data_at = 8 + 2 + 12 * len(tags) + 4
    ifd = struct.pack("<H", len(tags))
    for tag, kind, value in tags:
        value = data_at if tag == 273 else value
        ifd += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else
                                                    struct.pack("<I", value))
    return b"II*\0" + struct.pack("<I", 8) + ifd + bytes(4) + strip


def _sparse(ws: Workspace, rel: str, head: bytes) -> Path:
    p = _special(ws, rel)
    with open(p, "wb") as f:
        f.write(head)
        f.truncate(HUGE)
    return p


def _one_event(ws: Workspace, source: bytes | None) -> Path:
    return ws.write("list/cut.edl", _edl([(b"A001C001", b"A001C001", source)]))


def _bg_map_to(ws: Workspace, folder: Path) -> Path:
    return ws.write("map.json", json.dumps({"A001C001": str(folder)}))


def _write_raw_exr(path: Path, img) -> None:
    """float32 (H, W, 3) as an EXR with the OpenEXR binding itself: paicli's writers would
    make the values finite, and these files must hold NaN and Inf."""
    import numpy as np
    import OpenEXR

    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {c: np.ascontiguousarray(img[..., i], np.float32) for i, c in enumerate("RGB")}) as f:
        f.write(str(path))


def _poisoned_plate(ws: Workspace, value: float) -> Path:
    """The example plate as a float EXR sequence with ``value`` (NaN or Inf) in one pixel of every
    frame (in the screen, where it spreads furthest) and, for Inf, -Inf in another."""
    from paicli.media.reader import open_source

    folder = ws.root / "exr"
    folder.mkdir()
    with open_source(ws.plate) as src:
        for i, frame in enumerate(src.frames()):
            frame = frame[..., :3].copy()
            frame[H // 3, W // 5] = value
            if value == float("inf"):
                frame[H // 2, W // 6, 1] = float("-inf")
            _write_raw_exr(folder / f"plate.{1001 + i:04d}.exr", frame)
    return folder / "plate.####.exr"


def _poisoned_refs(ws: Workspace) -> Path:
    """The example references as scene-linear EXRs, each with a NaN pixel."""
    import numpy as np

    from paicli.media.colourspace import to_linear
    from paicli.media.stills import read_still

    folder = ws.root / "exr_refs"
    folder.mkdir()
    for png in sorted(ws.refs.glob("*.png")):
        img = np.asarray(to_linear("srgb")(read_still(png)[0][..., :3]), np.float32).copy()
        img[5, 7] = np.nan
        _write_raw_exr(folder / f"{png.stem}.exr", img)
    return folder


def _finite_outputs(stdout: bytes) -> str | None:
    """What is wrong with the files a ``--json`` run wrote: any EXR frame holding a NaN or Inf
    (read raw, as stored), or a movie that does not decode."""
    import numpy as np
    import OpenEXR

    doc = json.loads(stdout)
    outputs = doc.get("outputs") or []
    if not outputs:
        return "no outputs listed"
    checked = 0
    for out in outputs:
        where = out.get("sequence") or out.get("path") or ""
        if where.endswith(".exr"):
            folder, name = Path(where).parent, Path(where).name
            prefix, suffix = name.split("#")[0], ".exr"
            for f in sorted(folder.glob(f"{prefix}*{suffix}")):
                with OpenEXR.File(str(f), separate_channels=True) as exr:
                    for cname, ch in exr.channels().items():
                        if not np.isfinite(np.asarray(ch.pixels, np.float32)).all():
                            return f"{f.name} channel {cname} holds NaN or Inf"
                checked += 1
        elif where.endswith(".mov"):
            import av

            with av.open(where) as c:
                if not sum(1 for _ in c.decode(video=0)):
                    return f"{where} holds no frames"
            checked += 1
    if not checked:
        return "no EXR or movie output found to check"
    if not (doc.get("summary") or {}).get("nonfinite_pixels"):
        return "the summary does not count the non-finite pixels replaced"
    return None


# ------------------------------------------------------------------------------ cases


def _non_regular() -> list[Case]:
    c = "non-regular files"
    rendered = dict(allowed=("report.html",))

    def edl_source_fifo(ws):
        fifo = _fifo(ws, "media/A001C001.mov")
        return _render(_one_event(ws, str(fifo).encode()), ws, "--bg-map", str(_bg_map_to(ws, ws.refs)),
                       "--no-qc", "--format", "exr")

    def media_root_fifo(ws, with_real: bool):
        ws.shot()
        _fifo(ws, "media/A001C001_take2.mov")
        if with_real:
            shutil.copy(ws.plate, _special(ws, "media/A001C001_take1.mov"))
        return _render(_one_event(ws, None), ws, "--bg-map", str(_bg_map_to(ws, ws.refs)), "--no-qc",
                       "--format", "exr", "--media-root", str(_special(ws, "media")))

    def bg_folder_with_fifo(ws):
        ws.shot()
        shutil.copy(ws.refs / "ref.0000.png", _special(ws, "bg/ref.0000.png"))
        _fifo(ws, "bg/ref.0003.png")
        return _replace(ws.plate, _special(ws, "bg"), ws)

    def sequence_with_fifo_frame(ws):
        pattern = _sequence(ws, "png", "-pix_fmt", "rgb24")
        folder = _special(ws, "seq")
        shutil.move(str(pattern.parent), str(folder))
        os.mkfifo(folder / "plate.0007.png")  # one frame past the end: left out, the shot would shrink silently
        return _key(folder / "plate.####.png", ws)

    def convert(ws, path):
        return ["convert", str(path), "-o", str(ws.out), "--progress", "none"]

    return [
        Case(c, "fifo_as_edl_source_file_render", edl_source_fifo, (66,), NAMED_PIPE, **rendered),
        Case(c, "fifo_under_media_root_render", lambda ws: media_root_fifo(ws, False), (66,), NAMED_PIPE,
             **rendered),
        Case(c, "fifo_under_media_root_beside_the_real_clip", lambda ws: media_root_fifo(ws, True), (0,)),
        Case(c, "fifo_to_probe", lambda ws: ["probe", str(_fifo(ws, "plate.mov"))], (66,), NAMED_PIPE),
        Case(c, "fifo_png_to_probe", lambda ws: ["probe", str(_fifo(ws, "still.png"))], (66,), NAMED_PIPE),
        Case(c, "fifo_to_key", lambda ws: _key(_fifo(ws, "plate.mov"), ws), (66,), NAMED_PIPE),
        Case(c, "fifo_to_replace", lambda ws: _replace(_fifo(ws, "plate.mov"), ws.refs, ws), (66,), NAMED_PIPE),
        Case(c, "fifo_to_convert", lambda ws: convert(ws, _fifo(ws, "plate.mov")), (66,), NAMED_PIPE),
        Case(c, "fifo_exr_member_to_convert", lambda ws: convert(ws, _fifo(ws, "seq/plate.1001.exr")), (66,),
             NAMED_PIPE),
        Case(c, "fifo_as_reference_still", lambda ws: _replace(ws.plate, _fifo(ws, "bg/ref.0000.png"), ws), (66,),
             NAMED_PIPE),
        Case(c, "fifo_in_a_bg_folder", bg_folder_with_fifo, (66,), NAMED_PIPE),
        Case(c, "fifo_as_clean_plate", lambda ws: _key(ws.plate, ws, "--clean-plate", str(_fifo(ws, "clean.png"))),
             (66,), NAMED_PIPE),
        Case(c, "fifo_as_a_sequence_frame", sequence_with_fifo_frame, (66,), NAMED_PIPE),
        Case(c, "dev_zero_as_plate", lambda ws: _key("/dev/zero", ws), (66,), DEVICE),
        Case(c, "dev_stdin_as_plate", lambda ws: _key("/dev/stdin", ws), (66,), DEVICE),
        Case(c, "dev_zero_as_reference", lambda ws: _replace(ws.plate, os.symlink("/dev/zero", ws.path(
            "bg/ref.0000.png")) or ws.root / "bg", ws), (66,), DEVICE),
    ]


def _huge_headers() -> list[Case]:
    c = "huge headers"

    def sparse_ref(ws, name, head):
        ws.shot()
        return _replace(ws.plate, _sparse(ws, f"bg/{name}", head).parent, ws)

    def bg_map_still(ws):
        ws.shot()
        folder = _sparse(ws, "bg/ref.0000.png", _small_png()).parent
        return _render(_one_event(ws, str(ws.plate).encode()), ws, "--bg-map", str(_bg_map_to(ws, folder)),
                       "--no-qc", "--format", "exr")

    return [
        Case(c, "sparse_10gib_png_reference", lambda ws: sparse_ref(ws, "ref.0000.png", _small_png()), (65,),
             TOO_LONG),
        Case(c, "sparse_10gib_jpeg_reference", lambda ws: sparse_ref(ws, "ref.0000.jpg", _small_jpeg()), (65,),
             TOO_LONG),
        Case(c, "sparse_10gib_tiff_reference", lambda ws: sparse_ref(ws, "ref.0000.tif", _tiff(W, H)), (65,),
             TOO_LONG),
        Case(c, "sparse_10gib_png_clean_plate", lambda ws: _key(ws.plate, ws, "--clean-plate", str(_sparse(
            ws, "clean.png", _small_png()))), (65,), TOO_LONG),
        Case(c, "sparse_10gib_png_garbage_matte", lambda ws: _key(ws.plate, ws, "--garbage-matte", str(_sparse(
            ws, "matte.png", _small_png()))), (65,), TOO_LONG),
        Case(c, "sparse_10gib_png_bg_map_still_render", bg_map_still, (65, 66), TOO_LONG, allowed=("report.html",)),
        Case(c, "png_header_claims_60000x60000_clean_plate", lambda ws: _key(
            ws.plate, ws, "--clean-plate", str(ws.write("media/clean.png", _png(60000, 60000)))), (65,), TOO_BIG),
        Case(c, "png_header_claims_60000x60000_core_matte", lambda ws: _key(
            ws.plate, ws, "--core-matte", str(ws.write("media/core.png", _png(60000, 60000)))), (65,), TOO_BIG),
        Case(c, "jpeg_header_claims_60000x60000_reference", lambda ws: _replace(
            ws.plate, ws.write("bg/ref.0000.jpg", _small_jpeg(claim=(60000, 60000))).parent, ws), (65,), TOO_BIG),
        Case(c, "tiff_header_claims_60000x60000_reference", lambda ws: _replace(
            ws.plate, ws.write("bg/ref.0000.tif", _tiff(60000, 60000)).parent, ws), (65,), TOO_BIG),
    ]


def _non_finite() -> list[Case]:
    c = "non-finite values"
    nan, inf = float("nan"), float("inf")
    checked = dict(check_stdout=_finite_outputs)

    return [
        Case(c, "nan_pixel_in_exr_plate_key", lambda ws: _key(_poisoned_plate(ws, nan), ws, "--json"), (0,),
             **checked),
        Case(c, "inf_pixel_in_exr_plate_key", lambda ws: _key(_poisoned_plate(ws, inf), ws, "--json"), (0,),
             **checked),
        Case(c, "nan_pixel_in_exr_plate_replace", lambda ws: _replace(
            _poisoned_plate(ws, nan), ws.refs, ws, "--format", "exr", "--json"), (0,), **checked),
        Case(c, "nan_pixel_in_exr_reference_replace", lambda ws: _replace(
            ws.plate, _poisoned_refs(ws), ws, "--format", "exr", "--json"), (0,), **checked),
        Case(c, "convert_nan_exr_sequence_to_prores", lambda ws: [
            "convert", str(_poisoned_plate(ws, nan)), "-o", str(ws.out), "--progress", "none", "--json"], (0,),
            **checked),
        Case(c, "convert_nan_exr_sequence_read_as_srgb_to_prores", lambda ws: [
            "convert", str(_poisoned_plate(ws, nan)), "-o", str(ws.out), "--progress", "none", "--json",
            "--input-colorspace", "srgb"], (0,), **checked),
        Case(c, "convert_nan_exr_sequence_to_srgb_exr", lambda ws: [
            "convert", str(_poisoned_plate(ws, nan)), "-o", str(ws.out), "--progress", "none", "--json",
            "--format", "exr", "--output-colorspace", "srgb"], (0,), **checked),
    ]


def _more_non_regular() -> list[Case]:
    c = "non-regular files"
    return [
        Case(c, "fifo_as_camera_track", lambda ws: _replace(ws.plate, ws.refs, ws, "--camera",
                                                            str(_fifo(ws, "camera.json"))), (66,), NAMED_PIPE),
        Case(c, "fifo_as_the_edit_list", lambda ws: _render(_fifo(ws, "list/cut.edl"), ws), (66,), NAMED_PIPE),
    ]


CASES = _non_regular() + _more_non_regular() + _huge_headers() + _non_finite()
