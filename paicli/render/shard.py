"""Which slice of the plan this process renders: ``--shard i/n`` or the farm's environment.

Array-job variables understood, first found wins: SLURM (``SLURM_ARRAY_TASK_ID`` with
``SLURM_ARRAY_TASK_COUNT``, or ``SLURM_ARRAY_TASK_MIN``/``MAX``), Kubernetes indexed jobs
(``JOB_COMPLETION_INDEX`` with ``PAICLI_SHARD_COUNT``), Grid Engine / PBS
(``SGE_TASK_ID`` / ``PBS_ARRAY_INDEX`` with ``PAICLI_SHARD_COUNT``), OpenCue
(``CUE_IFRAME`` with ``PAICLI_SHARD_COUNT``), AWS Batch (``AWS_BATCH_JOB_ARRAY_INDEX`` with
``PAICLI_SHARD_COUNT``). Returned 0-based: (index, count). A variable that is set but is
not a whole number (``abc``, ``1.5``, ``-1``), or a count below 1, is a configuration error.
"""
from __future__ import annotations

import re
from typing import Mapping

from paicli.errors import ConfigError, UsageError


def parse_shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*([0-9]{1,9})\s*/\s*([0-9]{1,9})\s*", text or "")
    if not m:
        raise UsageError(f"--shard: expected I/N (e.g. 3/8), got {_shown(text or '')}")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= i <= n:
        raise UsageError(f"--shard {text}: I must be 1..N")
    return i - 1, n


def shard_from_env(env: Mapping[str, str]) -> tuple[tuple[int, int], str] | None:
    """((index, count), source) from array-job variables, or None when none is set.

    A variable that is set (not empty) but is not a whole number 0 or more (spaces around
    the digits are fine) is a :class:`ConfigError` naming it and its value: a farm task that
    cannot tell which slice is its own must not render every shot.
    """
    shard_count = _whole(env, "PAICLI_SHARD_COUNT")
    first = _whole(env, "PAICLI_SHARD_FIRST")
    source = next((var for var in _FIRST_INDEX if env.get(var, "").strip()), None)
    if source is None:
        return None
    index = _whole(env, source)
    count = (shard_count, f"PAICLI_SHARD_COUNT={shard_count}")
    if source == "SLURM_ARRAY_TASK_ID":
        lo, hi, n = (_whole(env, f"SLURM_ARRAY_TASK_{v}") for v in ("MIN", "MAX", "COUNT"))
        first = 0 if lo is None else lo
        if shard_count is None and n is not None:
            count = (n, f"SLURM_ARRAY_TASK_COUNT={n}")
        elif shard_count is None and hi is not None:
            count = (hi - first + 1, f"SLURM_ARRAY_TASK_MAX={hi} with SLURM_ARRAY_TASK_MIN={first}")
    elif _FIRST_INDEX[source] is not None:
        first = _FIRST_INDEX[source]
    elif first is None:  # OpenCue numbers frames from the job's first frame: PAICLI_SHARD_FIRST, default 1
        first = 1
    return _checked(index - first, count, source)


# The array index variables, first found wins, and the number each one gives its first task
# (None: PAICLI_SHARD_FIRST says).
_FIRST_INDEX = {"SLURM_ARRAY_TASK_ID": 0, "JOB_COMPLETION_INDEX": 0, "CUE_IFRAME": None, "SGE_TASK_ID": 1,
                "PBS_ARRAY_INDEX": 0, "AWS_BATCH_JOB_ARRAY_INDEX": 0}
MAX_NUMBER = 10**9 - 1  # far beyond any farm's array (SLURM's MaxArraySize is at most 4,000,001)


def _whole(env: Mapping[str, str], var: str) -> int | None:
    """The whole number 0..MAX_NUMBER in ``env[var]`` (ASCII digits, spaces around them
    allowed); None when the variable is unset or empty."""
    raw = env.get(var)
    if raw is None or not raw.strip():
        return None
    digits = raw.strip()
    if not re.fullmatch(r"[0-9]+", digits):
        raise ConfigError(f"{var}={_shown(raw)} is not a whole number 0 or more")
    digits = digits.lstrip("0") or "0"
    if len(digits) > len(str(MAX_NUMBER)) or int(digits) > MAX_NUMBER:  # length first: int() refuses 4,300 digits
        raise ConfigError(f"{var}={_shown(raw)} is too large (at most {MAX_NUMBER})")
    return int(digits)


def _shown(raw: str, limit: int = 40) -> str:
    """``raw`` quoted for an error line, shortened when long."""
    if len(raw) <= limit:
        return repr(raw)
    return f"{raw[:limit]!r}... ({len(raw)} characters)"


def _checked(index: int, count: tuple[int | None, str], var: str) -> tuple[tuple[int, int], str]:
    """``count``: (number of shards or None, what gave it)."""
    n, count_from = count
    if n is None:
        raise ConfigError(f"{var} is set but the number of shards is not (set PAICLI_SHARD_COUNT)")
    if n < 1:
        raise ConfigError(f"{count_from} gives {n} shards; there must be 1 or more")
    if not 0 <= index < n:
        raise ConfigError(f"{var} gives shard {index + 1}, outside 1..{n}")
    return (index, n), var
