"""References per shot (map files, folders, metadata) and media resolution (paths, URLs,
sequences, media-root search by name, reel prefix and timecode)."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from paicli.render.bgmap import ShotReferences, load_bg_map
from paicli.render.media import MediaResolver, url_to_path
from paicli.errors import ConfigError, MissingInputError
from paicli.media.timing import Timecode
from paicli.timeline.shots import Shot


def _shot(clip="A001C004", reel="A001C004", src="01:00:00:04", frames=8, url=None, meta=None, **kw) -> Shot:
    rate = Fraction(24)
    start = Timecode.parse(src, rate).frames
    return Shot(index=3, id=f"003_{clip}", clip=clip, reel=reel, track="V1", record_start=0, record_frames=frames,
                record_tc="00:00:00:00", source_in=start, source_out=start + frames, rate=rate, drop_frame=False,
                media_url=url, media_kind=kw.get("kind", "external"), sequence=kw.get("sequence"),
                metadata=meta or {})


@pytest.mark.parametrize("name, text", [
    ("map.toml", '[shots]\n"003_A001C004" = "refs/a"\nA001C005 = ["refs/b.0000.png", "refs/b.0010.png"]\n'),
    ("map.csv", "shot,bg\n003_A001C004,refs/a\nA001C005,refs/b.0000.png\nA001C005,refs/b.0010.png\n"),
    ("map.json", json.dumps({"003_A001C004": "refs/a", "A001C005": ["refs/b.0000.png", "refs/b.0010.png"]})),
])
def test_a_map_file_names_references_by_shot_id_or_clip_relative_to_itself(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    got = load_bg_map(tmp_path / name)
    assert got["003_a001c004"] == [str(tmp_path / "refs/a")]
    assert got["a001c005"] == [str(tmp_path / "refs/b.0000.png"), str(tmp_path / "refs/b.0010.png")]
    refs = ShotReferences(tmp_path / name, None, tmp_path)
    assert refs.for_shot(_shot()) == ([str(tmp_path / "refs/a")], "map: 003_A001C004")
    assert refs.for_shot(_shot(clip="A001C005", reel="X"))[1] == "map: A001C005"


def test_folders_then_metadata_give_references_and_bad_maps_fail_in_one_line(tmp_path):
    (tmp_path / "refs" / "REEL7").mkdir(parents=True)
    refs = ShotReferences(None, None, tmp_path)
    assert refs.for_shot(_shot(reel="REEL7")) == ([str(tmp_path / "refs" / "REEL7")], "folder: REEL7")
    assert refs.for_shot(_shot(reel="R9", meta={"bg": "stills/x.png"})) == ([str(tmp_path / "stills/x.png")],
                                                                             "metadata")
    assert refs.for_shot(_shot(reel="R9")) == ([], None)
    assert refs.for_shot(_shot(clip="..", reel="..")) == ([], None)  # never the folder above refs/
    (tmp_path / "bad.csv").write_text("clip,path\nx,y\n")
    with pytest.raises(ConfigError, match="'shot' and 'bg'"):
        load_bg_map(tmp_path / "bad.csv")
    (tmp_path / "bad.toml").write_text("[shots\n")
    with pytest.raises(ConfigError, match="not a valid TOML"):
        load_bg_map(tmp_path / "bad.toml")
    with pytest.raises(MissingInputError):
        load_bg_map(tmp_path / "none.json")


def test_urls_and_relative_paths_become_local_paths(tmp_path):
    assert url_to_path("file:///media/A%20B/x.mov", tmp_path) == Path("/media/A B/x.mov")
    assert url_to_path("file://localhost/media/x.mov", tmp_path) == Path("/media/x.mov")
    assert url_to_path("media/x.mov", tmp_path) == tmp_path / "media/x.mov"
    assert url_to_path("https://example.com/x.mov", tmp_path) is None and url_to_path(None, tmp_path) is None


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    from paicli.shot.example import make_example_shot

    root = tmp_path_factory.mktemp("media")
    for name, tc in (("A001C004_take2", "01:00:00:00"), ("A001C004_take3", "05:00:00:00"), ("B002C001", "01:00:00:00")):
        make_example_shot(root / "gen" / name, width=32, height=32, frames=24, start_tc=tc, rate=Fraction(24))
        (root / "media").mkdir(exist_ok=True)
        (root / "gen" / name / "plate.mov").rename(root / "media" / f"{name}.mov")
    return root


def test_the_media_root_search_uses_reel_prefix_and_source_timecode(media):
    resolver = MediaResolver(media, [media / "media"])
    got = resolver.resolve(_shot())  # two files begin with the reel; only take2 covers 01:00:00:04
    assert got.problem is None and Path(got.path).name == "A001C004_take2.mov" and (got.start, got.count) == (4, 8)
    assert got.how == "media-root: reel prefix"
    late = resolver.resolve(_shot(src="05:00:00:10"))
    assert Path(late.path).name == "A001C004_take3.mov" and late.start == 10
    outside = resolver.resolve(_shot(src="03:00:00:00"))
    assert outside.path is None and "covers 01:00:00:00-01:00:00:23, the shot needs 03:00:00:00" in outside.problem
    both = resolver.resolve(_shot(clip="X", reel="B002C001", src="01:00:00:00"))
    assert Path(both.path).name == "B002C001.mov" and both.how == "media-root: reel"


def test_a_named_file_is_used_when_it_covers_the_shot(media):
    resolver = MediaResolver(media, [])
    ok = resolver.resolve(_shot(url=(media / "media" / "B002C001.mov").as_uri(), src="01:00:00:02"))
    assert ok.how == "list" and ok.start == 2
    missing = resolver.resolve(_shot(url="nowhere/x.mov"))
    assert missing.path is None and "not found" in missing.problem and "--media-root" in missing.problem


def test_an_image_sequence_reference_is_found_by_its_pattern(tmp_path):
    import numpy as np

    from paicli.media.exr import write_exr

    (tmp_path / "seq").mkdir()
    for f in range(1001, 1011):
        write_exr(tmp_path / "seq" / f"plate.{f}.exr", np.zeros((8, 8, 3), np.float32))
    shot = _shot(kind="image_sequence", url="seq/", src="01:00:00:02", frames=4,
                 sequence={"base": "seq/", "prefix": "plate.", "suffix": ".exr", "start_frame": 1001, "padding": 4,
                           "available_start": 86400})  # 01:00:00:00 is frame 1001, as OTIO says
    got = MediaResolver(tmp_path, []).resolve(shot)
    assert got.problem is None and got.path.endswith("plate.####.exr") and (got.start, got.count) == (2, 4)
