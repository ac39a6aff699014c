"""A test that needs something from outside the checkout (ffmpeg, Chromium, the ../shared
benchmark data) is never skipped silently: the run names what is missing in its header (and,
even with -q, right after collection, with how many tests that skips) and counts the skips per
requirement in its summary; PAICLI_REQUIRE turns them into failures (tests/conftest.py).

Each case runs pytest in a fresh process on a small generated checkout (this conftest.py beside
a tests file that uses the markers), with PATH and the shared folder chosen by the test."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

NEEDS = '''
import pytest

@pytest.mark.needs_shared
def test_bench():
    pass

@pytest.mark.needs_shared("edit_lists")
@pytest.mark.parametrize("n", range(3))
def test_edit_list(n):
    pass

@pytest.mark.needs_chromium
def test_report_page():
    pass

@pytest.mark.needs_ffmpeg
def test_probe():
    pass

def test_plain():
    pass
'''


def _checkout(tmp_path: Path) -> Path:
    """``tmp_path/repo`` with tests/conftest.py and tests/test_needs.py; no ../shared beside it."""
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "pytest.ini").write_text("[pytest]\naddopts = -ra\n")
    shutil.copy(HERE / "conftest.py", repo / "tests" / "conftest.py")
    (repo / "tests" / "test_needs.py").write_text(NEEDS)
    return repo


def _pytest(repo: Path, *args: str, path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PAICLI_SHARED", "PAICLI_REQUIRE")}
    clean.update(PATH=str(path), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=repo, env=clean,
                          capture_output=True, text=True, timeout=300)


def _lines(text: str, start: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(start)]


def _summary(out: str) -> list[str]:
    """The lines of the 'skipped tests and missing requirements' section."""
    lines = out.splitlines()
    at = [i for i, line in enumerate(lines) if "skipped tests and missing requirements" in line]
    assert at, f"no requirements section in the summary:\n{out}"
    section = []
    for line in lines[at[0] + 1:]:
        if line.startswith("="):
            break
        section.append(line)
    return section


@pytest.fixture
def empty_path(tmp_path) -> Path:
    (tmp_path / "bin").mkdir()
    return tmp_path / "bin"


def test_a_clean_clone_without_shared_chromium_or_ffmpeg_says_so_in_header_and_summary(tmp_path, empty_path):
    repo = _checkout(tmp_path)
    done = _pytest(repo, path=empty_path)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    (header,) = _lines(out, "test requirements: ")
    assert "ffmpeg MISSING" in header and "chromium MISSING" in header and "../shared MISSING" in header
    beside = tmp_path / "shared"
    shared = (f"../shared not found (bench shots and edit lists; set PAICLI_SHARED to its path or place it beside "
              f"the checkout, at {beside})")
    chromium = "chromium not found on PATH (looked for chromium, chromium-browser, google-chrome"
    ffmpeg = "ffmpeg and ffprobe not found on PATH ("
    assert f"  missing: {shared}; tests that need it will be skipped" in out.splitlines()
    # right after "collected 7 items": what the missing requirements skip, counted
    assert f"4 tests will be skipped: {shared}" in out.splitlines()
    assert _lines(out, "1 test will be skipped: chromium not found on PATH")
    assert _lines(out, "1 test will be skipped: ffmpeg and ffprobe not found on PATH")
    section = _summary(out)
    assert section[0] == f"4 tests skipped: {shared}"
    assert any(line.startswith(f"1 test skipped: {chromium}") for line in section)
    assert any(line.startswith(f"1 test skipped: {ffmpeg}") for line in section)
    assert len(section) == 3
    assert "1 passed, 6 skipped" in out.splitlines()[-1]


def test_with_q_the_counts_come_first_and_the_summary_still_names_each_requirement(tmp_path, empty_path):
    repo = _checkout(tmp_path)
    missing = tmp_path / "no such folder"
    done = _pytest(repo, "-q", path=empty_path, PAICLI_SHARED=str(missing))
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    shared = (f"PAICLI_SHARED={missing} not found (bench shots and edit lists; point PAICLI_SHARED at the shared "
              "data folder, or unset it to use ../shared)")
    first = out.splitlines()[:3]  # before the progress dots
    assert f"4 tests will be skipped: {shared}" in first
    assert any(line.startswith("1 test will be skipped: chromium not found") for line in first)
    assert any(line.startswith("1 test will be skipped: ffmpeg and ffprobe not found") for line in first)
    assert f"4 tests skipped: {shared}" in _summary(out)


def test_a_shared_folder_without_the_part_a_test_needs_names_the_part(tmp_path, empty_path):
    repo = _checkout(tmp_path)
    (tmp_path / "shared").mkdir()  # ../shared beside the checkout, but no edit_lists in it
    done = _pytest(repo, "-q", path=empty_path)
    section = _summary(done.stdout)
    assert f"3 tests skipped: edit_lists not found in the shared data folder {tmp_path / 'shared'} " \
           "(bench shots and edit lists; get the complete folder)" in section
    assert not any("../shared not found" in line for line in section)  # test_bench has what it needs


def test_with_everything_there_the_header_names_each_and_nothing_is_skipped(tmp_path, empty_path):
    repo = _checkout(tmp_path)
    for name in ("chromium", "ffmpeg", "ffprobe"):  # only found on PATH, never run here
        (empty_path / name).write_text("#!/bin/sh\nexit 1\n")
        (empty_path / name).chmod(0o755)
    (tmp_path / "shared" / "edit_lists").mkdir(parents=True)
    done = _pytest(repo, path=empty_path)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    (header,) = _lines(out, "test requirements: ")
    assert f"chromium ({empty_path / 'chromium'})" in header and f"../shared ({tmp_path / 'shared'})" in header
    assert f"ffmpeg ({empty_path / 'ffmpeg'}, {empty_path / 'ffprobe'})" in header and "MISSING" not in header
    assert "will be skipped" not in out and "skipped tests and missing requirements" not in out
    assert "7 passed" in out.splitlines()[-1]


def test_paicli_require_turns_the_skips_of_what_it_names_into_failures(tmp_path, empty_path):
    repo = _checkout(tmp_path)
    done = _pytest(repo, "-q", path=empty_path, PAICLI_REQUIRE="chromium,ffmpeg")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert _lines(out, "1 test will fail (PAICLI_REQUIRE requires chromium): chromium not found on PATH")
    assert _lines(out, "4 tests will be skipped: ../shared not found")
    section = _summary(out)
    assert any(line.startswith("1 test failed at setup: chromium not found on PATH") for line in section)
    assert any(line.startswith("1 test failed at setup: ffmpeg and ffprobe not found on PATH") for line in section)
    assert any(line.startswith("4 tests skipped: ../shared not found") for line in section)
    assert "2 errors" in out.splitlines()[-1]

    done = _pytest(repo, "-q", path=empty_path, PAICLI_REQUIRE="chromum")
    assert done.returncode == 4
    assert "PAICLI_REQUIRE: unknown requirement chromum (known: ffmpeg, chromium, shared, ray, skimage, or all)" \
        in done.stderr


def test_the_edit_list_tests_use_the_shared_folder_paicli_shared_names(tmp_path):
    """A real test of the suite, not a generated one: PAICLI_SHARED moves the folder it reads."""
    missing = tmp_path / "elsewhere"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/timeline/test_read.py", "-k", "table_names_every_edit_list"],
                          cwd=HERE.parent, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PAICLI_SHARED": str(missing), "PAICLI_REQUIRE": ""})
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"1 test skipped: PAICLI_SHARED={missing} not found (bench shots and edit lists; " in done.stdout


def test_corpus_cases_whose_inputs_ffmpeg_makes_are_marked_so_they_skip_without_it():
    sys.path.insert(0, str(Path(__file__).resolve().parent / "reliability"))
    from corpus import CASES

    marked = {c.id for c in CASES if c.runs_ffmpeg}
    assert {"media/png_8bit_sequence", "media/prores_4444_with_alpha_replace",
            "output equals input/key_into_its_own_sequence"} <= marked  # a helper, a nested function, another module
    assert "media/empty_directory_as_shot" not in marked and len(marked) < len(CASES) / 2
