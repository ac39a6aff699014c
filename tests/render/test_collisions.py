"""Two shots of one list never share an output name: a name template without ``{shot}`` or
``{index}`` gives the later shot the next free version, the same in a resumed run and in
every farm shard, and the run says so."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from paicli.cli import run

ARGS = ["--format", "exr", "--no-qc", "--handles", "0", "--progress", "none"]


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> Path:
    from paicli.shot.example import make_example_shot

    root = tmp_path_factory.mktemp("collide")
    make_example_shot(root / "shot", width=48, height=32, frames=12, start_tc="01:00:00:00", reel="A001C001",
                      rate=Fraction(24))
    return root / "shot"


def _list(root: Path, shot: Path, events: list[tuple[str, str]]) -> Path:
    """An EDL of (reel, clip name) events, 4 frames each of the example plate, and a bg map for them."""
    lines = ["TITLE: collide", "FCM: NON-DROP FRAME"]
    for i, (reel, clip) in enumerate(events):
        src, rec = f"01:00:00:{4 * (i % 2):02d}", (f"00:00:00:{4 * i:02d}", f"00:00:00:{4 * i + 4:02d}")
        lines += [f"{i + 1:03d}  {reel} V     C        {src} 01:00:00:{4 * (i % 2) + 4:02d} {rec[0]} {rec[1]}",
                  f"* FROM CLIP NAME:  {clip}", f"* SOURCE FILE: {shot / 'plate.mov'}"]
    (root / "cut.edl").write_text("\n".join(lines) + "\n")
    keys = {c for _, c in events} | {r for r, _ in events} | {f"{i + 1:03d}_untitled" for i in range(len(events))}
    (root / "map.json").write_text(json.dumps({k: str(shot / "refs") for k in keys}))
    return root / "cut.edl"


def _render(edl: Path, out: Path, template: str, *extra: str, capsys) -> tuple[int, dict]:
    code = run(["render", str(edl), "-o", str(out), "--bg-map", str(edl.parent / "map.json"), "--name-template",
                template, *ARGS, "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def _finished(out: Path) -> dict[str, dict]:
    """Render sidecars under ``out`` (staging left out), by path relative to ``out``."""
    return {str(p.relative_to(out)): json.loads(p.read_text()) for p in out.rglob("*_render.json")
            if ".paicli-partial" not in p.parts}


@pytest.mark.parametrize("template, events, names", [
    ("{clip}_v{version}", [("A001C001", "A001C001"), ("A001C001", "A001C001")],
     ["A001C001_v001_render.json", "A001C001_v002_render.json"]),
    ("{reel}/{reel}_v{version}", [("A001C001", "first"), ("A001C001", "second")],
     ["A001C001/A001C001_v001_render.json", "A001C001/A001C001_v002_render.json"]),
    ("{clip}_v{version}", [("A001C001", "."), ("A001C001", "..")],
     ["untitled_v001_render.json", "untitled_v002_render.json"]),
    ("{clip}_v{version}", [("A001C001", "A001C001"), ("A001C001", "a001c001")],  # a case-insensitive share
     ["A001C001_v001_render.json", "a001c001_v002_render.json"]),
], ids=["same clip", "same reel", "clips . and ..", "clips differing in case"])
def test_shots_a_template_names_alike_get_versions_of_their_own(shot, tmp_path, capsys, template, events, names):
    edl = _list(tmp_path, shot, events)
    code, doc = _render(edl, tmp_path / "out", template, capsys=capsys)
    assert code == 0
    results = doc["summary"]["results"]
    assert [r["status"] for r in results] == ["rendered", "rendered"] and [r["version"] for r in results] == [1, 2]
    side = _finished(tmp_path / "out")
    assert sorted(side) == names
    assert sorted(s["shot"]["id"] for s in side.values()) == [r["shot"] for r in results]  # each shot kept
    assert any(f"--name-template {template!r}" in w and "v002" in w for w in doc["warnings"])
    assert doc["summary"]["shots"][1]["name_of"] == results[0]["shot"]
    conformed = (tmp_path / "out" / "cut_conform.edl").read_text()
    assert conformed.count("* SOURCE FILE:") == 2 and "_v002_comp.####.exr" in conformed


def test_a_resumed_run_and_every_shard_give_each_shot_the_same_name(shot, tmp_path, capsys):
    edl = _list(tmp_path, shot, [("A001C001", "A001C001")] * 3)
    template, out = "{clip}_v{version}", tmp_path / "out"

    def plan(*extra):
        code, doc = _render(edl, out, template, "--plan-only", *extra, capsys=capsys)
        assert code == 0
        return [(s["id"], s["version"], s["status"]) for s in doc["summary"]["shots"]]

    first = plan()
    assert [v for _, v, _ in first] == [1, 2, 3]
    assert plan("--shard", "2/2") == first  # every shard plans the whole list alike
    code, doc = _render(edl, out, template, "--shard", "2/2", capsys=capsys)  # the second shot first
    assert code == 0 and [(r["shot"], r["version"], r["status"]) for r in doc["summary"]["results"]] == [
        (first[1][0], 2, "rendered")]
    assert [v for _, v, _ in plan("--shard", "1/2")] == [1, 2, 3]  # shard 1 planned after shard 2 finished
    code, doc = _render(edl, out, template, "--shard", "1/2", capsys=capsys)
    assert code == 0 and [r["version"] for r in doc["summary"]["results"]] == [1, 3]
    code, doc = _render(edl, out, template, capsys=capsys)  # a rerun finds every shot finished by its key
    assert code == 0 and [(r["version"], r["status"]) for r in doc["summary"]["results"]] == [
        (1, "skipped"), (2, "skipped"), (3, "skipped")]
    assert len(_finished(out)) == 3 and (out / "cut_conform.edl").read_text().count("* SOURCE FILE:") == 3


def test_a_changed_setting_moves_every_shot_to_a_new_version_without_reusing_anothers(shot, tmp_path, capsys):
    edl = _list(tmp_path, shot, [("A001C001", "A001C001")] * 2)
    out = tmp_path / "out"
    assert _render(edl, out, "{clip}_v{version}", capsys=capsys)[0] == 0
    code, doc = _render(edl, out, "{clip}_v{version}", "--seed", "7", capsys=capsys)
    assert code == 0 and [(r["version"], r["status"]) for r in doc["summary"]["results"]] == [
        (3, "rendered"), (4, "rendered")]
    assert len(_finished(out)) == 4


def test_a_template_with_the_shot_id_changes_nothing(shot, tmp_path, capsys):
    edl = _list(tmp_path, shot, [("A001C001", "A001C001")] * 2)
    code, doc = _render(edl, tmp_path / "out", "{shot}_v{version}", "--plan-only", capsys=capsys)
    assert code == 0 and [s["version"] for s in doc["summary"]["shots"]] == [1, 1]
    assert not any("name-template" in w for w in doc["warnings"])
