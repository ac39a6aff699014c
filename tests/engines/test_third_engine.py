"""A third engine is one new package and one line in the factory: a trivial engine that
returns the plate runs through ``replace`` and ``render`` like the real ones, with no
branch on its name anywhere in paicli."""
from __future__ import annotations

import json
import shutil
import textwrap
from fractions import Fraction

import numpy as np
import pytest

from paicli import engines
from paicli.cli import run
from paicli.media.reader import open_source
from paicli.shot.example import make_example_shot

PACKAGE = '''
"""An engine whose composite is the plate itself: shows what any engine must provide."""
import numpy as np

from engine.interface import FrameLayers, TwoPassEngine


class PlateEngine(TwoPassEngine):
    name = "plate"

    def __init__(self):
        self.report = {}

    def analyse(self, frames, count, references, callback=None):
        self.report = {"frames_seen": sum(1 for _ in frames()), "references": len(references)}

    def render(self, frames, count, callback=None):
        for t, img in zip(range(count), frames()):
            rgb = np.ascontiguousarray(img[..., :3], np.float32)
            if callback:
                callback({"stage": "render", "frame": t, "total": count})
            yield FrameLayers(rgb, rgb, rgb, np.ones(rgb.shape[:2], np.float32))

    def describe(self):
        return {"what": "the plate, unchanged"}


class Loader:
    name = "plate"
    tracks_camera = False

    def build(self, camera_path=None, callback=None):
        return PlateEngine()


def prepare(settings, *, key_params=None, references=(), loras=()):
    return Loader()
'''


@pytest.fixture
def plate_engine(tmp_path, monkeypatch):
    """The package ``plate_engine`` on the path, and its one line in the factory."""
    pkg = tmp_path / "pkgs" / "plate_engine"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(PACKAGE))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    monkeypatch.setitem(engines.ENGINES, "plate", "plate_engine")


@pytest.fixture
def shot(tmp_path):
    make_example_shot(tmp_path / "gen", width=64, height=48, frames=12, start_tc="01:00:00:00", reel="A001C001",
                      rate=Fraction(24))
    return tmp_path / "gen"


def _frames(path, **kw) -> list[np.ndarray]:
    with open_source(str(path), **kw) as src:
        return [f[..., :3].copy() for f in src.frames(0, src.info.frame_count)]


def test_a_third_engine_runs_through_replace(plate_engine, shot, tmp_path, capsys):
    out = tmp_path / "out"
    code = run(["replace", str(shot / "plate.mov"), "--bg", str(shot / "refs"), "-o", str(out), "--engine", "plate",
                "--format", "exr", "--progress", "none", "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    kinds = sorted(o["kind"] for o in doc["outputs"])
    assert kinds == ["comp", "sidecar"]  # it tracks no camera: no camera files
    sidecar = json.loads((out / "plate_replace.json").read_text())
    assert sidecar["engine"]["name"] == "plate" and sidecar["engine"]["what"] == "the plate, unchanged"
    assert sidecar["report"] == {"frames_seen": 12, "references": 3}
    comp = _frames(out / "plate_comp.####.exr", colourspace_name="linear")
    plate = _frames(shot / "plate.mov")
    assert len(comp) == len(plate) == 12
    for c, p in zip(comp, plate):
        assert np.abs(c - p).max() < 2e-3  # half-float EXR of the decoded plate


def test_a_third_engine_runs_through_render(plate_engine, shot, tmp_path, capsys):
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(shot / "plate.mov", media / "A001C001_take1.mov")
    shutil.copytree(shot / "refs", tmp_path / "refs" / "A001C001")
    (tmp_path / "cut.edl").write_text("TITLE: t\nFCM: NON-DROP FRAME\n"
                                      "001  A001C001 V     C        01:00:00:02 01:00:00:08 00:00:00:00 00:00:00:06\n"
                                      "* FROM CLIP NAME:  A001C001\n")
    code = run(["render", str(tmp_path / "cut.edl"), "--media-root", str(media), "-o", str(tmp_path / "o"),
                "--engine", "plate", "--format", "exr", "--no-qc", "--progress", "none", "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in doc["summary"]["results"]] == ["rendered"]
    comp = next(o for o in doc["outputs"] if o["kind"] == "comp")
    assert comp["frame_count"] == 6 and any(o["kind"] == "timeline" for o in doc["outputs"])
    side = json.loads(next((tmp_path / "o").rglob("*_replace.json")).read_text())
    assert side["engine"]["name"] == "plate"


def test_an_unregistered_engine_is_a_usage_error(shot, tmp_path, capsys):
    code = run(["replace", str(shot / "plate.mov"), "--bg", str(shot / "refs"), "-o", str(tmp_path / "o"),
                "--engine", "plate"])
    assert code == 2 and "'plate' is not one of classic, dit" in capsys.readouterr().err
