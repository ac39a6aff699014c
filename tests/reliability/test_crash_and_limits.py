"""Crashes and exhausted machines lose nothing: SIGKILL at random points, a full disk, an
engine out of memory. Finished work stays byte-identical; nothing partial stays under a
final name; the next run completes. (Scenarios in ``crashes.py``, shared with
``benchmarks/reliability.py``.)"""
from __future__ import annotations

import pytest
from crashes import (OutOfMemoryError, crash_trials, full_disk_render, full_disk_replace, oom_render,
                     oom_replace)


def test_sigkill_at_random_points_then_rerun_gives_the_uninterrupted_bytes(tmp_path):
    trials = crash_trials(tmp_path, trials=20)
    assert len(trials) == 20 and sum(t["killed"] for t in trials) >= 18  # (a late draw may let a run finish)
    for t in trials:
        assert t["incomplete_under_final_names"] == [], t  # what stands under a final name is complete
        assert t["rerun_code"] == 0 and t["rerun_stderr"] == "", t
        assert t["lost_or_different"] == [] and t["leftovers"] == [] and not t["source_changed"], t
    assert any(0 < t["finished_before_rerun"] for t in trials)  # some kills fell between finished shots


def test_a_full_disk_exits_73_and_leaves_finished_shots_intact(tmp_path):
    r = full_disk_render(tmp_path)
    assert r["code"] == 73 and len(r["stderr"]) == 1 and r["stderr"][0].startswith("paicli: error: 1 of 3 shot(s)")
    assert [r["results"][k]["status"] for k in sorted(r["results"])] == ["skipped", "skipped", "failed"]
    error = r["results"]["003_big"]["error"]
    assert error.startswith("cannot write EXR 003_big_v001_comp.1001.exr in ") and "paicli-tmp" not in error
    assert r["finished_kept"] and r["leftovers"] == []  # the failed shot's staging is gone too


def test_a_full_disk_during_replace_is_one_line_and_no_final_file(tmp_path):
    r = full_disk_replace(tmp_path)
    assert r["code"] == 73 and len(r["stderr"]) == 1 and "File too large" in r["stderr"][0]
    assert r["outputs"] == []


@pytest.mark.parametrize("error", [MemoryError, OutOfMemoryError])
def test_an_engine_out_of_memory_fails_its_shot_75_and_the_others_render(tmp_path, error):
    r = oom_render(tmp_path, error)
    assert r["code"] == 75  # worth a retry (more memory, another machine)
    assert [x[:3] for x in r["results"]] == [("001_shot01", "rendered", 0), ("002_shot02", "failed", 75),
                                             ("003_shot03", "rendered", 0)]
    assert "out of memory" in r["results"][1][3] and r["leftovers"] == []
    assert len(r["stderr"]) == 1 and "002_shot02: out of memory" in r["stderr"][0]
    assert r["retry_code"] == 0 and r["finished_kept"]  # the retry renders only the shot that failed


def test_replace_out_of_memory_is_one_line_and_75(tmp_path):
    r = oom_replace(tmp_path)
    assert r["code"] == 75 and len(r["stderr"]) == 1 and "out of memory" in r["stderr"][0]
    assert r["outputs"] == []
