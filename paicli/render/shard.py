"""Which slice of the plan this process renders: ``--shard i/n`` or the farm's environment.

Array-job variables understood, first found wins: SLURM (``SLURM_ARRAY_TASK_ID`` with
``SLURM_ARRAY_TASK_COUNT``, or ``SLURM_ARRAY_TASK_MIN``/``MAX``), Kubernetes indexed jobs
(``JOB_COMPLETION_INDEX`` with ``PAICLI_SHARD_COUNT``), Grid Engine / PBS
(``SGE_TASK_ID`` / ``PBS_ARRAY_INDEX`` with ``PAICLI_SHARD_COUNT``), OpenCue
(``CUE_IFRAME`` with ``PAICLI_SHARD_COUNT``), AWS Batch (``AWS_BATCH_JOB_ARRAY_INDEX`` with
``PAICLI_SHARD_COUNT``). Returned 0-based: (index, count).
"""
from __future__ import annotations

import re
from typing import Mapping

from paicli.errors import ConfigError, UsageError


def parse_shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m:
        raise UsageError(f"--shard: expected I/N (e.g. 3/8), got {text!r}")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= i <= n:
        raise UsageError(f"--shard {text}: I must be 1..N")
    return i - 1, n


def shard_from_env(env: Mapping[str, str]) -> tuple[tuple[int, int], str] | None:
    """((index, count), source) from array-job variables, or None."""
    def count(default_var: str | None = None) -> int | None:
        raw = env.get("PAICLI_SHARD_COUNT") or (env.get(default_var) if default_var else None)
        return int(raw) if raw and raw.isdigit() else None

    if env.get("SLURM_ARRAY_TASK_ID", "").isdigit():
        tid = int(env["SLURM_ARRAY_TASK_ID"])
        lo = int(env.get("SLURM_ARRAY_TASK_MIN", "0") or 0)
        n = count("SLURM_ARRAY_TASK_COUNT")
        if n is None and env.get("SLURM_ARRAY_TASK_MAX", "").isdigit():
            n = int(env["SLURM_ARRAY_TASK_MAX"]) - lo + 1
        return _checked(tid - lo, n, "SLURM_ARRAY_TASK_ID")
    for var, base in (("JOB_COMPLETION_INDEX", 0), ("CUE_IFRAME", None), ("SGE_TASK_ID", 1),
                      ("PBS_ARRAY_INDEX", 0), ("AWS_BATCH_JOB_ARRAY_INDEX", 0)):
        raw = env.get(var, "")
        if raw.isdigit():
            first = base if base is not None else int(env.get("PAICLI_SHARD_FIRST", "1") or 1)
            return _checked(int(raw) - first, count(), var)
    return None


def _checked(index: int, n: int | None, var: str) -> tuple[tuple[int, int], str]:
    if n is None:
        raise ConfigError(f"{var} is set but the number of shards is not (set PAICLI_SHARD_COUNT)")
    if not 0 <= index < n:
        raise ConfigError(f"{var} gives shard {index + 1}, outside 1..{n}")
    return (index, n), var
