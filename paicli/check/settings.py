"""relight-check's settings, each declared once: the screen, ``adapt``, and a warn and a fail
limit per metric (defaults from ``presets/qc.toml``), overridable like every setting and by
``--limit NAME=WARN[,FAIL]``."""
from __future__ import annotations

from engine.qc.verdict import BY_NAME, METRICS, Limit
from paicli.errors import UsageError
from paicli.settings import Schema, Setting, builtin_presets_dir, finite_float, load_toml, parse_float, parse_str

SCHEMA_NAME = "relight-check"


def _limit_value(v):
    if v is None or str(v).strip().lower() in ("none", ""):
        return None
    try:
        return finite_float(v)
    except (TypeError, ValueError):
        raise UsageError(f"a limit is a number or 'none', not {str(v)[:40]!r}") from None


def _schema() -> Schema:
    defaults = load_toml(builtin_presets_dir() / "qc.toml", "preset").get(SCHEMA_NAME, {})
    settings = [
        Setting("screen", "auto", "Screen colour whose spill to look for: auto (from the render, else the plate), "
                "green or blue.", parse_str, ("auto", "green", "blue")),
        Setting("adapt", 0.0, "How far the subject's light should take the background's colour (0: neutral), as "
                "replace's --adapt.", parse_float(0.0, 1.0), cli_type=float),
    ]
    for m in METRICS:
        for edge in ("warn", "fail"):
            name = f"{m.name}_{edge}"
            settings.append(Setting(name, _limit_value(defaults.get(name)),
                                    f"{m.label}: {edge} {'below' if m.lower_is_worse else 'above'} this "
                                    f"({m.unit or 'ratio'}; 'none' = never).", _limit_value))
    return Schema(SCHEMA_NAME, settings)


SCHEMA = _schema()


def limits_from(s) -> dict:
    """Name -> :class:`engine.qc.verdict.Limit` from resolved settings."""
    out = {}
    for m in METRICS:
        warn, fail = getattr(s, f"{m.name}_warn"), getattr(s, f"{m.name}_fail")
        if warn is None:
            raise UsageError(f"{m.name}_warn cannot be 'none': every metric needs a warn limit")
        if fail is not None and (fail > warn if m.lower_is_worse else fail < warn):
            raise UsageError(f"{m.name}: the fail limit {fail} is on the wrong side of the warn limit {warn}")
        out[m.name] = Limit(warn, fail)
    return out


def limits_option(values: list[str] | None) -> dict:
    """``--limit NAME=WARN[,FAIL]`` into settings."""
    out = {}
    for item in values or []:
        name, sep, rest = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in BY_NAME:
            raise UsageError(f"--limit: expected NAME=WARN[,FAIL] with NAME one of {', '.join(BY_NAME)}; got {item!r}")
        parts = [p.strip() for p in rest.split(",")]
        if len(parts) > 2 or not parts[0]:
            raise UsageError(f"--limit {item!r}: give WARN or WARN,FAIL")
        for part in parts:
            try:
                _limit_value(part)
            except UsageError as e:
                raise UsageError(f"--limit {item!r}: {e.message}") from None
        out[f"{name}_warn"] = parts[0]
        if len(parts) == 2:
            out[f"{name}_fail"] = parts[1]
    return out
