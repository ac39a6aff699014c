"""Which reference stills go with which shot.

In order: a map file (``--bg-map``: TOML, CSV or JSON; keys are shot ids, clip names or reel
names, values a folder or files, relative to the map's folder), then the folder convention
``REFS/<shot id>/``, ``REFS/<clip>/`` or ``REFS/<reel>/`` under ``--refs-root`` (default: a
``refs`` folder beside the edit list), then the clip's own OTIO metadata (``paicli.bg``).

TOML::

    [shots]
    "003_A001C004" = "refs/street/"
    A001C005 = ["refs/a.0000.png", "refs/a.0047.png"]

CSV: a header with ``shot`` and ``bg`` columns, one row per folder or file (rows repeat a
key to list several files). JSON: ``{"key": "folder" | ["file", ...]}``.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from paicli.errors import ConfigError, MissingInputError


def load_bg_map(path: Path) -> dict[str, list[str]]:
    """The map as lower-case key -> absolute paths."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"no such --bg-map file: {path}")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
        if suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
            data = data.get("shots", data)
        elif suffix == ".json":
            data = json.loads(text)
        elif suffix == ".csv":
            rows = list(csv.DictReader(text.splitlines()))
            if rows and not {"shot", "bg"} <= {k.strip().lower() for k in rows[0]}:
                raise ConfigError(f"{path}: a CSV map needs 'shot' and 'bg' columns")
            data: dict[str, list[str]] = {}
            for row in rows:
                row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
                if row.get("shot") and row.get("bg"):
                    data.setdefault(row["shot"], []).append(row["bg"])
        else:
            raise ConfigError(f"{path}: a --bg-map is .toml, .csv or .json")
    except (ValueError, UnicodeDecodeError, csv.Error) as e:
        raise ConfigError(f"{path}: not a valid {suffix[1:].upper()} map ({str(e).splitlines()[0][:200]})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a valid {suffix[1:].upper()} map (nested too deeply)") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the map must be a table of shot -> references")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ConfigError(f"{path}: {str(key)[:80]!r} must map to a path or a list of paths")
        if any("\x00" in v for v in values):  # a key is only matched against names; a value is opened
            raise ConfigError(f"{path}: {str(key)[:80]!r}: a path holds a NUL character")
        out[str(key).lower()] = [str(p if (p := Path(v)).is_absolute() else path.parent / p) for v in values]
    return out


class ShotReferences:
    def __init__(self, bg_map: Path | None, refs_root: Path | None, list_dir: Path):
        self.map = load_bg_map(bg_map) if bg_map else {}
        self.root = refs_root if refs_root is not None else list_dir / "refs"
        self.list_dir = list_dir

    def for_shot(self, shot) -> tuple[list[str], str | None]:
        """(paths, how) for ``shot``; ([], None) when it has none."""
        keys = [shot.id, shot.clip] + ([shot.reel] if shot.reel else [])
        for key in keys:
            hit = self.map.get(str(key).lower())
            if hit:
                return hit, f"map: {key}"
        if self.root.is_dir():
            for key in keys:
                folder = self.root / str(key)
                if str(key) and folder.is_dir() and folder.resolve().parent == self.root.resolve():
                    return [str(folder)], f"folder: {folder.name}"
        meta = shot.metadata.get("bg") if isinstance(shot.metadata, dict) else None
        if meta:
            values = [meta] if isinstance(meta, str) else list(meta)
            return [str(p if (p := Path(v)).is_absolute() else self.list_dir / p) for v in values], "metadata"
        return [], None
