"""Output paths that cannot escape the output folder, whatever a clip name says."""
from __future__ import annotations

import os
import re
from pathlib import Path

from paicli.errors import OutputError

_UNSAFE = re.compile(r"[^A-Za-z0-9._#%@{}+=,-]+")
MAX_COMPONENT = 200  # an output file or folder name, in characters (ASCII: bytes); a temporary
# name adds ~35 (atomic.temp_path_for) and filesystems allow 255


def sanitize_name(name: str, max_len: int = 120) -> str:
    """A file-name component safe on every filesystem: no separators, no ``..``, no NUL."""
    name = name.replace("\x00", "")
    name = _UNSAFE.sub("_", name).strip("._") or "untitled"
    return name[:max_len]


def safe_output_path(out_dir: str | os.PathLike, relative: str) -> Path:
    """``out_dir/relative`` after checking it stays inside ``out_dir``.

    Components are sanitised; symlinked folders that lead outside ``out_dir`` are refused.
    The output folder is created if missing.
    """
    root = Path(out_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create output folder {root}: {e.strerror or e}") from None
    parts = [sanitize_name(p, MAX_COMPONENT) for p in Path(relative).parts if p not in ("", ".", "..", "/")]
    if not parts:
        raise OutputError(f"empty output name {relative!r}")
    candidate = root.joinpath(*parts)
    real_root = root.resolve()
    real_parent = candidate.parent.resolve()
    if real_parent != real_root and real_root not in real_parent.parents:
        raise OutputError(f"output {relative!r} would be written outside {root}")
    if candidate.is_symlink():
        raise OutputError(f"refusing to write through a symlink: {candidate}")
    try:
        candidate.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {candidate.parent}: {e.strerror or e}") from None
    return candidate
