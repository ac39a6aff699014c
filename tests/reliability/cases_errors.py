"""Corpus cases: inputs that used to end in an internal error (exit 70) end in one clear line
with the right code: names the system refuses (too long, a symlink loop) and bg-maps that are
nested without end, hold a NUL or a field larger than CSV allows."""
from __future__ import annotations

import os

from corpus import Case, Workspace, _edl, _key, _render, _replace

C = "clean errors"
LONG = "a" * 300


def _render_with_map(ws: Workspace, name: str, text: str | bytes) -> list[str]:
    edl = ws.write("list/cut.edl", _edl([(b"A001C001", b"A001C001", str(ws.plate).encode())]))
    bg_map = ws.write(f"list/{name}", text)
    return _render(edl, ws, "--bg-map", str(bg_map), "--no-qc")


def _self_symlink_in_map(ws: Workspace) -> list[str]:
    loop = ws.root / "list" / "loop.png"
    loop.parent.mkdir(parents=True, exist_ok=True)
    os.symlink("loop.png", loop)
    return _render_with_map(ws, "map.json", '{"A001C001": ["loop.png"]}')


CASES = [
    Case(C, "key_name_300_chars", lambda ws: _key(ws.plate, ws, "--name", LONG), (0,)),
    Case(C, "replace_reference_name_300_chars", lambda ws: _replace(ws.plate, ws.refs / f"{LONG}.png", ws), (66,),
         "too long"),
    Case(C, "reference_is_a_self_symlink", lambda ws: _replace(ws.plate, _loop(ws), ws), (66,),
         ("symbolic links", "no such reference")),
    Case(C, "bg_map_json_nested_200000_deep", lambda ws: _render_with_map(
        ws, "map.json", '{"A001C001": ' + "[" * 200_000 + "]" * 200_000 + "}"), (78,), "nested"),
    Case(C, "bg_map_csv_with_a_nul", lambda ws: _render_with_map(ws, "map.csv", "shot,bg\nA001C001,re\0fs\n"), (78,),
         "nul"),
    Case(C, "bg_map_csv_with_a_200kb_field", lambda ws: _render_with_map(
        ws, "map.csv", "shot,bg\nA001C001," + "x" * 200_000 + "\n"), (78,), "field"),
    Case(C, "bg_map_names_a_self_symlink", _self_symlink_in_map, (1, 66), ("symbolic links", "no such", "shot"),
         allowed=("report.html", "render.json", "*.otio", "*.edl", "*.xml")),
]


def _loop(ws: Workspace):
    loop = ws.refs / "loop.png"
    os.symlink("loop.png", loop)
    return loop
