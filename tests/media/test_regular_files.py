"""Only regular files are media: a FIFO, a device, a socket or a folder named as a plate, a
still, a reference, a matte or a sequence frame is refused (66) before it is opened.

A FIFO blocks ``open()`` until a writer comes; each read here runs in a thread, and a run
still blocked after a few seconds is released (the FIFO's write end opened and closed, so
the reader sees end-of-file) and reported as the failure it is, instead of hanging the suite.
"""
from __future__ import annotations

import os
import socket
import stat
import tempfile
import threading
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from paicli.errors import MissingInputError
from paicli.media import regular
from paicli.media.exr import read_exr, write_exr
from paicli.media.probe import probe
from paicli.media.reader import open_source
from paicli.media.sequence import find_sequence
from paicli.media.stills import read_still
from paicli.render.media import MediaIndex, MediaResolver
from paicli.shot.references import find_references

_BLOCKED_AFTER = 8.0  # seconds: every refusal here takes milliseconds


def _ends(fn, *fifos: Path):
    """``fn()``'s result or exception; fails the test if it is still blocked (on a FIFO) after
    a few seconds, releasing the FIFOs first so the thread ends."""
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(_BLOCKED_AFTER)
    if t.is_alive():
        for _ in range(50):
            for f in fifos:
                try:
                    os.close(os.open(f, os.O_WRONLY | os.O_NONBLOCK))  # the reader sees end-of-file
                except OSError:
                    pass
            t.join(0.1)
            if not t.is_alive():
                break
        pytest.fail(f"blocked opening a FIFO for {_BLOCKED_AFTER:.0f} s")
    if "error" in out:
        raise out["error"]
    return out["value"]


def _refused(fn, *fifos: Path, says: str = "named pipe") -> MissingInputError:
    with pytest.raises(MissingInputError) as e:
        _ends(fn, *fifos)
    assert says in e.value.message and "not a regular file" in e.value.message
    assert int(e.value.exit_code) == 66
    return e.value


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _png(path: Path, w: int = 16, h: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 90, np.uint8))
    return path


# ---------------------------------------------------------------------------- the check itself


def test_require_regular_returns_the_stat_of_a_regular_file_and_follows_symlinks(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(b"1234")
    (tmp_path / "link.png").symlink_to(f)
    assert regular.require_regular(tmp_path / "link.png").st_size == 4
    assert regular.is_regular(tmp_path / "link.png") and not regular.is_regular(tmp_path)


@pytest.mark.parametrize("mode, words", [(stat.S_IFIFO, "a named pipe (FIFO)"), (stat.S_IFCHR, "a character device"),
                                         (stat.S_IFBLK, "a block device"), (stat.S_IFSOCK, "a socket"),
                                         (stat.S_IFDIR, "a folder"), (stat.S_IFREG, "a regular file")])
def test_every_kind_of_file_is_named_in_words(mode, words):
    assert regular.kind_of(mode | 0o644) == words


def test_a_folder_where_a_file_is_expected_is_refused_as_a_folder(tmp_path):
    # (probe takes a folder as a sequence folder, and --bg a folder as a folder of references)
    (tmp_path / "ref.png").mkdir()
    _refused(lambda: read_still(tmp_path / "ref.png"), says="folder")
    (tmp_path / "frame.exr").mkdir()
    _refused(lambda: read_exr(tmp_path / "frame.exr"), says="folder")


def test_a_missing_file_is_still_no_such_file(tmp_path):
    with pytest.raises(MissingInputError, match="no such file"):
        regular.require_regular(tmp_path / "gone.mov")


# ---------------------------------------------------------------------------- movies, stills, EXRs


def test_a_fifo_named_as_a_movie_is_refused_by_probe_without_being_opened(tmp_path):
    f = _fifo(tmp_path / "plate.mov")
    _refused(lambda: probe(f), f)


def test_a_fifo_given_to_open_source_is_refused(tmp_path):
    f = _fifo(tmp_path / "plate.mov")
    _refused(lambda: open_source(f), f)


@pytest.mark.parametrize("name", ["ref.png", "ref.jpg", "ref.tif", "ref.dpx", "ref.exr"])
def test_a_fifo_named_as_a_still_is_refused(tmp_path, name):
    f = _fifo(tmp_path / name)
    _refused(lambda: read_still(f), f)
    _refused(lambda: probe(f), f)  # a clean plate or a matte is probed first


def test_a_fifo_named_as_an_exr_is_refused_by_read_exr(tmp_path):
    f = _fifo(tmp_path / "frame.exr")
    _refused(lambda: read_exr(f), f)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_character_device_is_refused_as_a_plate_or_a_still(tmp_path, device):
    if not os.path.exists(device):
        pytest.skip(f"needs {device} (not on this system)")
    _refused(lambda: probe(device), says="character device")
    (tmp_path / "zero.png").symlink_to(device)  # a link is followed, as open() would
    _refused(lambda: read_still(tmp_path / "zero.png"), says="character device")
    (tmp_path / "zero.mov").symlink_to(device)
    _refused(lambda: probe(tmp_path / "zero.mov"), says="character device")


def test_a_socket_is_refused():
    folder = tempfile.mkdtemp(prefix="paicli-sock-")  # a short path: socket names are limited
    path = Path(folder) / "plate.mov"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(path))
        _refused(lambda: probe(path), says="socket")
    finally:
        s.close()
        path.unlink(missing_ok=True)
        os.rmdir(folder)


# ---------------------------------------------------------------------------- sequences


def test_a_fifo_as_a_sequence_member_given_by_name_is_refused(tmp_path):
    f = _fifo(tmp_path / "seq" / "plate.0001.exr")
    _refused(lambda: probe(f), f)


def test_a_fifo_inside_a_sequence_is_refused_not_left_out(tmp_path):
    (tmp_path / "seq").mkdir()
    for i in (1, 2, 3):
        write_exr(tmp_path / "seq" / f"plate.{i:04d}.exr", np.full((4, 4, 3), 0.2, np.float32))
    f = _fifo(tmp_path / "seq" / "plate.0004.exr")  # the last frame: left out, the shot would be silently short
    e = _refused(lambda: find_sequence(tmp_path / "seq" / "plate.####.exr"), f)
    assert "frame" in e.message and "plate.0004.exr" in e.message
    _refused(lambda: probe(tmp_path / "seq" / "plate.0001.exr"), f)


# ---------------------------------------------------------------------------- references


def test_a_fifo_named_as_a_reference_is_refused(tmp_path):
    f = _fifo(tmp_path / "bg" / "ref.0000.png")
    e = _refused(lambda: find_references([f], 6), f)
    assert "reference" in e.message


def test_a_fifo_in_a_bg_folder_is_refused_not_skipped(tmp_path):
    _png(tmp_path / "bg" / "ref.0000.png")
    f = _fifo(tmp_path / "bg" / "ref.0005.png")
    _refused(lambda: find_references([tmp_path / "bg"], 6), f)


def test_a_folder_named_like_an_image_in_a_bg_folder_is_ignored(tmp_path):
    _png(tmp_path / "bg" / "ref.0000.png")
    (tmp_path / "bg" / "old.png").mkdir()
    assert [s.path.name for s in find_references([tmp_path / "bg"], 6)] == ["ref.0000.png"]


# ---------------------------------------------------------------------------- render's media lookup


class _Shot:
    """What MediaResolver reads of a shot."""

    media_kind, sequence, reel, drop_frame = "external", None, None, False
    rate = Fraction(24)
    source_in, source_out = 0, 2
    source_tc = "00:00:00:00"

    def __init__(self, clip: str, url: str | None = None):
        self.clip, self.media_url = clip, url


def test_a_fifo_named_by_the_list_is_a_problem_of_the_shot_not_a_hang(tmp_path):
    f = _fifo(tmp_path / "media" / "A001C001.mov")
    got = _ends(lambda: MediaResolver(tmp_path, []).resolve(_Shot("A001C001", str(f))), f)
    assert got.path is None and "named pipe" in got.problem


def test_a_fifo_under_the_media_root_is_refused_and_a_real_candidate_still_found(tmp_path, write_prores):
    root = tmp_path / "media"
    f = _fifo(root / "A001C001_take2.mov")
    os.replace(write_prores("take1.mov", n=4, tc=None), root / "A001C001_take1.mov")
    assert {Path(p).name for p in MediaIndex([root]).by_prefix("a001c001")} == {"A001C001_take1.mov",
                                                                               "A001C001_take2.mov"}
    shot = _Shot("nothing")
    shot.reel = "A001C001"  # both files begin with the reel name: both are candidates
    got = _ends(lambda: MediaResolver(tmp_path, [root]).resolve(shot), f)
    assert got.problem is None and Path(got.path).name == "A001C001_take1.mov"
    only_fifo = _ends(lambda: MediaResolver(tmp_path, [root]).resolve(_Shot("A001C001_take2")), f)
    assert only_fifo.path is None and "named pipe" in only_fifo.problem
