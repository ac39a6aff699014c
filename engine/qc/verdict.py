"""Verdicts: each metric's value against its warn/fail limits, a 0-100 score, an overall call.

Limits come from the caller (``paicli`` reads them from ``presets/qc.toml`` and the
settings chain); this module only applies them.
"""
from __future__ import annotations

from dataclasses import dataclass

PASS, WARN, FAIL, UNCHECKED = "pass", "warn", "fail", "n/a"
_RANK = {UNCHECKED: -1, PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class Metric:
    """One shot-level figure: ``lower_is_worse`` for fidelities (dB, SSIM), otherwise higher
    is worse; ``magnitude``: judged by its absolute value (signed figures such as stops)."""

    name: str
    group: str
    label: str
    unit: str
    lower_is_worse: bool = False
    magnitude: bool = False


METRICS: tuple[Metric, ...] = (
    Metric("harmony", "lighting", "harmony (cast + exposure)", "log"),
    Metric("illuminant", "lighting", "light colour, subject vs surroundings", "log"),
    Metric("key", "lighting", "subject key vs surroundings", "stops", magnitude=True),
    Metric("contrast", "lighting", "subject contrast vs surroundings", "stops", magnitude=True),
    Metric("light_angle", "lighting", "light direction, subject vs surroundings", "deg"),
    Metric("spill", "edges", "screen spill in the edge band", "fraction"),
    Metric("fringe", "edges", "screen-coloured residue in the edge band", "fraction"),
    Metric("halo", "edges", "halo / dark rim just outside the matte", "fraction"),
    Metric("specks", "edges", "tracking markers left in the composite", "display"),
    Metric("chatter", "edges", "matte chatter", "% alpha"),
    Metric("bg_motion", "motion", "background vs camera", "px"),
    Metric("flicker", "motion", "foreground luminance flicker", "%"),
    Metric("identity_psnr", "identity", "subject vs plate (graded), PSNR", "dB", lower_is_worse=True),
    Metric("identity_ssim", "identity", "subject vs plate (graded), SSIM", "", lower_is_worse=True),
    Metric("bg_psnr", "identity", "background vs reference stills, PSNR", "dB", lower_is_worse=True),
)
BY_NAME = {m.name: m for m in METRICS}


@dataclass(frozen=True)
class Limit:
    """``warn`` and ``fail`` thresholds in the metric's unit; ``fail`` None: the metric can
    only warn. For lower-is-worse metrics ``fail`` < ``warn``."""

    warn: float
    fail: float | None = None


def verdict(metric: Metric, value: float | None, limit: Limit) -> str:
    if value is None:
        return UNCHECKED
    v = abs(value) if metric.magnitude else value
    if metric.lower_is_worse:
        if limit.fail is not None and v < limit.fail:
            return FAIL
        return WARN if v < limit.warn else PASS
    if limit.fail is not None and v > limit.fail:
        return FAIL
    return WARN if v > limit.warn else PASS


def score(metric: Metric, value: float | None, limit: Limit) -> float | None:
    """0-100: 100 for a perfect figure, 75 at the warn limit, 40 at the fail limit, 0 as far
    again beyond it (linear between). A warn-only metric's fail point is twice its warn."""
    if value is None:
        return None
    v = abs(value) if metric.magnitude else value
    if metric.lower_is_worse:
        fail = limit.fail if limit.fail is not None else limit.warn - abs(limit.warn) * 0.5
        span = max(limit.warn - fail, 1e-9)
        bad, w, f = (limit.warn + span) - v, span, 2 * span  # badness from a best figure one span above warn
    else:
        bad, w = v, max(limit.warn, 1e-9)
        f = limit.fail if limit.fail is not None else 2 * w
    f = max(f, w * (1 + 1e-6))
    if bad <= 0:
        return 100.0
    if bad <= w:
        return 100.0 - 25.0 * bad / w
    if bad <= f:
        return 75.0 - 35.0 * (bad - w) / (f - w)
    return max(0.0, 40.0 - 40.0 * (bad - f) / (f - w))


def judge(values: dict[str, float | None], limits: dict[str, Limit]) -> dict:
    """Per metric {value, verdict, score}, and the overall verdict (the worst metric's) and
    score (the mean of the checked metrics' scores, at most 49 when any metric fails)."""
    per = {}
    for m in METRICS:
        v = values.get(m.name)
        per[m.name] = {"value": v, "verdict": verdict(m, v, limits[m.name]), "score": score(m, v, limits[m.name])}
    scores = [p["score"] for p in per.values() if p["score"] is not None]
    overall = max((p["verdict"] for p in per.values()), key=_RANK.__getitem__, default=UNCHECKED)
    total = sum(scores) / len(scores) if scores else None
    if total is not None and overall == FAIL:
        total = min(total, 49.0)
    return {"metrics": per, "verdict": overall if scores else UNCHECKED,
            "score": None if total is None else round(total, 1)}
