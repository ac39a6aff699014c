"""Shared fixtures: small synthetic frames and movies made on the fly (no shared/ data), and
the one place that decides what the tests need from outside the checkout.

Test requirements: a test that needs something the Python install does not give it says so
with a marker, never with its own ``skipif``:

    @pytest.mark.needs_ffmpeg            ffmpeg and ffprobe on PATH (Debian/Ubuntu: apt-get install ffmpeg)
    @pytest.mark.needs_chromium          a headless Chromium on PATH (apt-get install chromium)
    @pytest.mark.needs_shared("edit_lists")  the benchmark data folder ../shared beside the
                                         checkout, or the folder PAICLI_SHARED names (optionally
                                         a part of it)
    @pytest.mark.needs_ray, needs_skimage    the optional Python modules of ``.[test]``

Without it the test is skipped with a reason that names what is missing and how to get it;
the run says what is missing in its header (and, even with ``-q``, right after collection:
how many tests that skips) and counts the skips per requirement in its summary.
``PAICLI_REQUIRE=ffmpeg,chromium`` (names, or ``all``) makes those tests fail instead, for CI
that installs them. Detection happens once per run, here (:data:`REQUIREMENTS`).
"""
from __future__ import annotations

import functools
import importlib.util
import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

# ------------------------------------------------------------------------------ test requirements

REPO = Path(__file__).resolve().parents[1]
SHARED_ENV = "PAICLI_SHARED"
REQUIRE_ENV = "PAICLI_REQUIRE"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@functools.cache
def shared_dir() -> Path:
    """The benchmark data folder: ``$PAICLI_SHARED``, else ``../shared`` beside the checkout
    (it may not exist; see :func:`shared_missing`)."""
    named = os.environ.get(SHARED_ENV, "").strip()
    return Path(named).expanduser().absolute() if named else REPO.parent / "shared"


@functools.cache
def shared_missing(part: str = "") -> str | None:
    """Why ``shared_dir() / part`` cannot be used, or None when it is there."""
    root, named = shared_dir(), os.environ.get(SHARED_ENV, "").strip()
    what = "bench shots and edit lists"
    if named:
        label, fix = f"{SHARED_ENV}={named}", f"point {SHARED_ENV} at the shared data folder, or unset it to use ../shared"
    else:
        label, fix = "../shared", f"set {SHARED_ENV} to its path or place it beside the checkout, at {root}"
    if not root.is_dir():
        return f"{label} not found ({what}; {fix})"
    if part and not (root / part).exists():
        where = f"{SHARED_ENV}={named}" if named else str(root)
        return f"{part} not found in the shared data folder {where} ({what}; get the complete folder)"
    return None


@functools.cache
def chromium_path() -> str | None:
    """The first headless-capable Chromium on PATH, or None."""
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def _ffmpeg_missing() -> str | None:
    gone = [n for n in ("ffmpeg", "ffprobe") if shutil.which(n) is None]
    if not gone:
        return None
    return (f"{' and '.join(gone)} not found on PATH (reading back the movies paicli writes; "
            "Debian/Ubuntu: apt-get install ffmpeg)")


def _module_missing(module: str, what: str) -> Callable[[], str | None]:
    def check() -> str | None:
        if importlib.util.find_spec(module) is not None:
            return None
        return f"Python module {module} not installed ({what}; pip install -e '.[test]')"
    return check


@dataclass(frozen=True)
class Requirement:
    name: str  # the marker is needs_<name>; PAICLI_REQUIRE names it
    label: str  # in the header
    check: Callable[..., str | None]  # why it is missing (args: the marker's), or None
    found: Callable[[], str] = lambda: "installed"

    @functools.cache
    def missing(self, *args: str) -> str | None:
        return self.check(*args)


REQUIREMENTS = {r.name: r for r in (
    Requirement("ffmpeg", "ffmpeg", _ffmpeg_missing, lambda: f"{shutil.which('ffmpeg')}, {shutil.which('ffprobe')}"),
    Requirement("chromium", "chromium", lambda: None if chromium_path() else
                f"chromium not found on PATH (looked for {', '.join(CHROMIUM_NAMES)}; the HTML QC report page test; "
                "Debian/Ubuntu: apt-get install chromium)", lambda: str(chromium_path())),
    Requirement("shared", "../shared", shared_missing, lambda: str(shared_dir())),
    Requirement("ray", "ray", _module_missing("ray", "the Ray executor tests")),
    Requirement("skimage", "skimage", _module_missing("skimage", "the SSIM cross-check against scikit-image")),
)}


@functools.cache
def required() -> frozenset[str]:
    """The requirements ``PAICLI_REQUIRE`` says this run must have (their tests fail, not skip)."""
    names = {n.strip() for n in os.environ.get(REQUIRE_ENV, "").split(",") if n.strip()}
    if "all" in names:
        return frozenset(REQUIREMENTS)
    unknown = sorted(names - set(REQUIREMENTS))
    if unknown:
        raise pytest.UsageError(f"{REQUIRE_ENV}: unknown requirement {', '.join(unknown)} "
                                f"(known: {', '.join(REQUIREMENTS)}, or all)")
    return frozenset(names)


def _missing_for(item: pytest.Item) -> tuple[str, str] | None:
    """(requirement name, why it is missing) for the first thing ``item`` needs and lacks."""
    for name, req in REQUIREMENTS.items():
        for mark in item.iter_markers(f"needs_{name}"):
            why = req.missing(*mark.args)
            if why:
                return name, why
    return None


def _will(name: str) -> str:
    return f"fail ({REQUIRE_ENV} requires {name})" if name in required() else "be skipped"


def pytest_configure(config):
    for name in REQUIREMENTS:
        config.addinivalue_line("markers", f"needs_{name}: the test needs {name}; skipped (with the reason) "
                                           f"without it, or failed when {REQUIRE_ENV} names it")
    required()  # a misspelt PAICLI_REQUIRE stops the run before it starts


def pytest_report_header(config):
    states, lines = [], []
    for name, req in REQUIREMENTS.items():
        why = req.missing()
        states.append(f"{req.label} MISSING" if why else f"{req.label} ({req.found()})")
        if why:
            lines.append(f"  missing: {why}; tests that need it will {_will(name)}")
    head = "test requirements: " + ", ".join(states)
    if required():
        head += f" [{REQUIRE_ENV}={','.join(sorted(required()))}]"
    return [head, *lines]


@pytest.hookimpl(trylast=True)  # on the items left after -k/-m deselection
def pytest_collection_modifyitems(config, items):
    for item in items:
        lack = _missing_for(item)
        if lack and lack[0] not in required():
            item.add_marker(pytest.mark.skip(reason=lack[1]))


def pytest_report_collectionfinish(config, start_path, items):
    """Shown even with -q: how many of the selected tests a missing requirement skips."""
    counts: dict[tuple[str, str], int] = {}
    for item in items:
        lack = _missing_for(item)
        if lack:
            counts[lack] = counts.get(lack, 0) + 1
    return [f"{_tests(n)} will {_will(name)}: {why}" for (name, why), n in counts.items()]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    lack = _missing_for(item)
    if lack and lack[0] in required():
        pytest.fail(f"{lack[1]}; {REQUIRE_ENV}={os.environ.get(REQUIRE_ENV)}{_MUST_HAVE}", pytrace=False)


_MUST_HAVE = " says this run must have it"


def _tests(n: int) -> str:
    return f"{n} test{'' if n == 1 else 's'}"


def _skip_reason(rep) -> str:
    longrepr = rep.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Every skip counted under what it needed: a missing requirement, or the test's own reason."""
    skipped: dict[str, int] = {}
    for rep in terminalreporter.stats.get("skipped", []):
        if rep.when != "teardown" and not hasattr(rep, "wasxfail"):
            reason = _skip_reason(rep)
            skipped[reason] = skipped.get(reason, 0) + 1
    failed: dict[str, int] = {}
    for rep in terminalreporter.stats.get("failed", []) + terminalreporter.stats.get("error", []):
        for line in str(rep.longrepr).splitlines():
            if line.endswith(_MUST_HAVE):
                why = line.removesuffix(_MUST_HAVE).rpartition(f"; {REQUIRE_ENV}=")[0]
                failed[why] = failed.get(why, 0) + 1
    if not skipped and not failed:
        return
    terminalreporter.write_sep("=", "skipped tests and missing requirements")
    for why, n in failed.items():
        terminalreporter.write_line(f"{_tests(n)} failed at setup: {why} ({REQUIRE_ENV} requires it)", red=True)
    for why, n in sorted(skipped.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{_tests(n)} skipped: {why}", yellow=True)


def gradient_frames(n: int, h: int = 48, w: int = 64, alpha: bool = False, seed: int = 0, noise: float = 0.01) -> list[np.ndarray]:
    """``n`` distinct scene-linear frames (H, W, 3|4); RGBA ones are premultiplied."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for i in range(n):
        base = np.stack([xx / w, (yy / h + 0.05 * i) % 1.0, 0.5 + 0.4 * np.sin(xx / 7 + i)], -1).astype(np.float32)
        base = 0.05 + 0.85 * base + noise * rng.random(base.shape, dtype=np.float32)
        if alpha:
            a = np.clip((xx - 0.2 * w) / (0.6 * w), 0, 1)[..., None].astype(np.float32)
            base = np.concatenate([base * a, a], -1)
        out.append(base)
    return out


@pytest.fixture(autouse=True)
def _no_sources_from_other_tests():
    """Each test starts with no registered sources (paicli.sources: a process-wide registry,
    one command per process in use; tests run many commands in one process)."""
    from paicli.sources import SOURCES

    SOURCES.clear()
    yield
    SOURCES.clear()


@pytest.fixture
def frames():
    return gradient_frames


@pytest.fixture
def write_prores(tmp_path):
    """Write a small ProRes movie and return its path."""
    from paicli.media.prores import ProResWriter
    from paicli.media.timing import Timecode

    def make(name="clip.mov", n=6, rate=Fraction(24), tc="01:00:00:00", reel="A001C001", profile="hq", alpha=False,
             h=48, w=64):
        path = tmp_path / name
        start = Timecode.parse(tc, rate) if tc else None
        with ProResWriter(path, w, h, rate, profile=profile, start_timecode=start, reel=reel) as wr:
            for f in gradient_frames(n, h, w, alpha=alpha):
                wr.write(f)
        return path

    return make


requires_ffprobe = pytest.mark.needs_ffmpeg  # the older name


def make_check_shot(folder, w: int = 240, h: int = 136, n: int = 8, pan_px: int = 3) -> dict:
    """A panning green-screen shot with known answers for ``relight-check``: ``plate.mov`` (screen
    with markers), ``good.mov`` (the subject over a background that pans with the camera),
    ``static.mov`` (over a background that does not move), ``matte.####.png``, reference
    stills ``refs/ref.0000.png`` and ``ref.NNNN.png`` (last frame) and ``camera.json``."""
    import cv2

    from engine.colour import srgb_encode
    from paicli.shot.camera_files import write_camera_json
    from paicli.media.prores import ProResWriter
    from paicli.media.timing import Timecode

    rng = np.random.default_rng(3)
    ww = w + pan_px * n + 8
    noise = cv2.GaussianBlur(rng.standard_normal((h, ww)).astype(np.float32), (0, 0), 2.0)
    world = np.stack([0.22 + 0.12 * noise, 0.2 + 0.1 * noise, 0.25 + 0.08 * noise], -1).clip(0.01, None).astype(np.float32)
    screen = np.tile(np.array([0.05, 0.42, 0.08], np.float32), (h, ww, 1))
    for mx in range(20, ww, 40):
        for my in range(20, h, 40):
            screen[my - 1:my + 2, mx - 6:mx + 7] = (0.02, 0.05, 0.02)
            screen[my - 6:my + 7, mx - 1:mx + 2] = (0.02, 0.05, 0.02)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    alpha = np.clip((h * 0.32 - np.sqrt((xx - w / 2) ** 2 + (yy - h * 0.55) ** 2)) / 2 + 0.5, 0, 1).astype(np.float32)
    patches = cv2.resize(rng.uniform(0.1, 0.6, (5, 7, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    fg = (patches / patches[alpha > 0.98].mean(0) * 0.3).astype(np.float32)
    rate = Fraction(24)
    tc = Timecode.parse("01:00:00:00", rate)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(exist_ok=True)
    a = alpha[..., None]
    writers = {k: ProResWriter(folder / f"{k}.mov", w, h, rate, start_timecode=tc) for k in ("plate", "good", "static")}
    for t in range(n):
        x0 = pan_px * t
        frames = {"plate": a * fg + (1 - a) * screen[:, x0:x0 + w], "good": a * fg + (1 - a) * world[:, x0:x0 + w],
                  "static": a * fg + (1 - a) * world[:, :w]}
        for k, wr in writers.items():
            wr.write(frames[k].astype(np.float32))
        cv2.imwrite(str(folder / f"matte.{t:04d}.png"), np.round(alpha * 65535).astype(np.uint16))
        if t in (0, n - 1):
            ref = np.clip(srgb_encode(world[:, x0:x0 + w]), 0, 1)
            cv2.imwrite(str(folder / "refs" / f"ref.{t:04d}.png"), np.round(ref[..., ::-1] * 65535).astype(np.uint16))
    for wr in writers.values():
        wr.close()
    mats = [np.array([[1, 0, pan_px * t], [0, 1, 0], [0, 0, 1]], np.float64) for t in range(n)]
    write_camera_json(folder / "camera.json", mats, width=w, height=h)
    return {"w": w, "h": h, "n": n, "folder": folder}


@pytest.fixture(scope="session")
def check_shot(tmp_path_factory):
    return make_check_shot(tmp_path_factory.mktemp("check_shot"))
