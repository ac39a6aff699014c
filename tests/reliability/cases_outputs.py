"""Corpus cases: an output that would replace a source is refused before any work (exit 73),
however the output path reaches the source (the same folder, ``..``, a symlinked folder, a
sequence written into its own folder)."""
from __future__ import annotations

import os

from corpus import Case, Workspace, _key, _sequence

C = "output equals input"
FRAGMENT = "would overwrite the source"


def _convert(source, out, *extra: str) -> list[str]:
    return ["convert", str(source), "-o", str(out), "--progress", "none", *extra]


def _comp_named_like_the_plate(ws: Workspace) -> list[str]:
    comp = ws.shot() / "s_comp.mov"
    comp.write_bytes(ws.plate.read_bytes())
    return ["replace", str(comp), "--bg", str(ws.refs), "-o", str(ws.shot()), "--name", "s", "--progress", "none"]


def _key_into_its_sequence(ws: Workspace) -> list[str]:
    seq = _sequence(ws, "exr", "-pix_fmt", "gbrpf32le", folder="seq")
    for p in sorted(seq.parent.glob("plate.*.exr")):
        p.rename(p.with_name(p.name.replace("plate.", "p_key.")))
    return ["key", str(seq.parent / "p_key.####.exr"), "-o", str(seq.parent), "--name", "p", "--progress", "none"]


def _through_a_symlinked_folder(ws: Workspace) -> list[str]:
    link = ws.root / "link"
    os.symlink(ws.shot(), link)
    return _convert(ws.plate, link)


def _through_dotdot(ws: Workspace) -> list[str]:
    (ws.shot() / "sub").mkdir()
    return _convert(ws.plate, ws.shot() / "sub" / "..")


CASES = [
    Case(C, "convert_movie_into_its_own_folder", lambda ws: _convert(ws.plate, ws.shot()), (73,), FRAGMENT),
    Case(C, "convert_two_frames_into_its_own_folder", lambda ws: _convert(ws.plate, ws.shot(), "--frames", "0-1"),
         (73,), FRAGMENT),
    Case(C, "convert_exr_sequence_into_its_own_folder", lambda ws: _convert(
        _sequence(ws, "exr", "-pix_fmt", "gbrpf32le"), ws.root / "seq", "--format", "exr", "--first-frame", "1"),
         (73,), FRAGMENT),
    Case(C, "convert_through_a_symlinked_folder", _through_a_symlinked_folder, (73,), FRAGMENT),
    Case(C, "convert_through_dotdot", _through_dotdot, (73,), FRAGMENT),
    Case(C, "replace_comp_named_like_its_source", _comp_named_like_the_plate, (73,), FRAGMENT),
    Case(C, "key_into_its_own_sequence", _key_into_its_sequence, (73,), FRAGMENT),
    Case(C, "key_clean_plate_as_an_output", lambda ws: _key(
        ws.plate, ws, "--clean-plate", str(_clean_plate(ws)), "--name", "cp", "--format", "prores",
        "--outputs", "matte"), (73,), FRAGMENT),
]


def _clean_plate(ws: Workspace):
    """A clean plate that sits in the output folder under the name the key's matte would take."""
    p = ws.out / "cp_matte.mov"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(ws.plate.read_bytes())
    return p
