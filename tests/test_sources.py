"""paicli.sources: a source is recognised however an output path reaches it, and neither a
planned output nor an atomic rename may replace one."""
from __future__ import annotations

import os

import pytest

from paicli.errors import OutputError
from paicli.media import atomic
from paicli.sources import Sources, SOURCES


def _file(path, data=b"source"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_source_is_recognised_through_dotdot_a_symlinked_folder_and_a_hard_link(tmp_path):
    src = _file(tmp_path / "shot" / "plate.mov")
    (tmp_path / "shot" / "sub").mkdir()
    os.symlink(tmp_path / "shot", tmp_path / "link")
    os.link(src, tmp_path / "hard.mov")
    s = Sources()
    s.add(src)
    for out in (tmp_path / "shot" / "sub" / ".." / "plate.mov", tmp_path / "link" / "plate.mov", tmp_path / "hard.mov"):
        assert s.source_at(out) == str(src), out
        with pytest.raises(OutputError, match="would overwrite the source"):
            s.refuse([out])
    assert s.source_at(tmp_path / "shot" / "other.mov") is None  # does not exist: cannot replace anything
    _file(tmp_path / "shot" / "copy.mov")
    assert s.source_at(tmp_path / "shot" / "copy.mov") is None  # same bytes, another file


def test_a_sequence_output_is_refused_when_any_member_of_it_is_a_source(tmp_path):
    for n in (1, 2, 3):
        _file(tmp_path / "seq" / f"plate.{n:04d}.exr")
    s = Sources()
    s.add(tmp_path / "seq" / "plate.####.exr")
    assert len(s) == 3
    with pytest.raises(OutputError):
        s.refuse([tmp_path / "seq" / "plate.%04d.exr"])  # frames 1001.. would leave a mixed sequence
    s.refuse([tmp_path / "seq" / "plate_key.####.exr", tmp_path / "out" / "plate.####.exr"])


def test_a_folder_registers_the_files_in_it(tmp_path):
    for name in ("ref.0000.png", "ref.0040.png"):
        _file(tmp_path / "refs" / name)
    s = Sources()
    s.add(tmp_path / "refs", None, "", tmp_path / "missing.mov")
    assert s.source_at(tmp_path / "refs" / "ref.0040.png") is not None


def test_an_atomic_rename_onto_a_registered_source_is_refused_and_leaves_no_temporary(tmp_path):
    src = _file(tmp_path / "plate.mov")
    SOURCES.add(src)
    with pytest.raises(OutputError, match="would overwrite the source"):
        atomic.write_text(tmp_path / "plate.mov", "not a movie")
    assert src.read_bytes() == b"source"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plate.mov"]
    atomic.write_text(tmp_path / "other.txt", "fine")


def test_an_exr_sequence_whose_frame_would_replace_a_source_moves_no_frame(tmp_path):
    from fractions import Fraction

    import numpy as np

    from paicli.media.writers import OutputSpec, Writer

    out = tmp_path / "out"
    out.mkdir()
    src = _file(out / "s.1002.exr")
    SOURCES.add(src)
    w = Writer(out / "s.####.exr", OutputSpec(format="exr", first_frame=1001), "media", 8, 4, Fraction(24), None, None)
    for _ in range(3):
        w.write(np.full((4, 8, 3), 0.5, np.float32))
    with pytest.raises(OutputError, match="would overwrite the source"):
        w.close()
    assert sorted(p.name for p in out.iterdir()) == ["s.1002.exr"] and src.read_bytes() == b"source"
