import pytest

from engine.qc.verdict import BY_NAME, METRICS, Limit, judge, score, verdict


def test_verdicts_follow_the_limits_on_either_side():
    spill, psnr, key = BY_NAME["spill"], BY_NAME["identity_psnr"], BY_NAME["key"]
    assert [verdict(spill, v, Limit(0.05, 0.1)) for v in (0.01, 0.07, 0.2, None)] == ["pass", "warn", "fail", "n/a"]
    assert [verdict(psnr, v, Limit(28, 20)) for v in (35, 25, 15)] == ["pass", "warn", "fail"]
    assert verdict(key, -3.5, Limit(3.0)) == "warn" and verdict(key, -50.0, Limit(3.0)) == "warn"  # warn-only
    assert verdict(key, -5.0, Limit(3.0, 4.0)) == "fail" and verdict(key, 3.5, Limit(3.0, 4.0)) == "warn"


def test_scores_are_75_at_warn_and_40_at_fail():
    spill, psnr = BY_NAME["spill"], BY_NAME["identity_psnr"]
    assert score(spill, 0.0, Limit(0.05, 0.1)) == 100
    assert score(spill, 0.05, Limit(0.05, 0.1)) == pytest.approx(75)
    assert score(spill, 0.1, Limit(0.05, 0.1)) == pytest.approx(40)
    assert score(spill, 1.0, Limit(0.05, 0.1)) == 0
    assert score(psnr, 28, Limit(28, 20)) == pytest.approx(75) and score(psnr, 20, Limit(28, 20)) == pytest.approx(40)
    assert score(psnr, 40, Limit(28, 20)) == 100


def test_one_failing_metric_fails_the_shot_and_caps_its_score():
    limits = {m.name: Limit(1.0, 2.0) if not m.lower_is_worse else Limit(2.0, 1.0) for m in METRICS}
    good = {m.name: (0.0 if not m.lower_is_worse else 10.0) for m in METRICS}
    assert judge(good, limits)["verdict"] == "pass" and judge(good, limits)["score"] == 100
    bad = dict(good, bg_motion=5.0)
    j = judge(bad, limits)
    assert j["verdict"] == "fail" and j["score"] <= 49 and j["metrics"]["bg_motion"]["verdict"] == "fail"
    assert judge({}, limits)["verdict"] == "n/a"
