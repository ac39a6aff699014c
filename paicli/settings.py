"""One settings model for CLI options, ``PAICLI_*`` environment variables and TOML files.

Precedence, highest first::

    command-line option  >  PAICLI_<NAME> environment variable
    >  project file (./paicli.toml, or the file PAICLI_CONFIG names)
    >  preset (--preset NAME from presets/, or a path to a TOML file)  >  built-in default

A TOML file (preset or project) holds top-level keys for every command and tables named
after a command (``[key]``, ``[convert]``) whose keys apply to that command only and
override the top-level ones. Every resolved value remembers where it came from, which
``--dry-run`` prints.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from paicli.errors import ConfigError, PaicliError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "PAICLI_"
PROJECT_FILE = "paicli.toml"


@dataclass(frozen=True)
class Setting:
    """One named setting: ``parse`` turns a CLI/env string or TOML value into the typed value."""

    name: str
    default: Any
    help: str
    parse: Callable[[Any], Any] = lambda v: v
    choices: tuple[str, ...] | None = None
    flag: str | None = None  # the command-line option ("--x", "--x/--no-x"); default "--" + name with dashes
    cli_type: type = str  # what the option parser hands over (a bool for on/off flags)
    param: str | None = None  # the engine parameter it sets, "group.field" (e.g. "key.despot_px")
    to_param: Callable[[Any], Any] | None = None  # value -> parameter, when they differ (degrees -> turns ...)

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def convert(self, value: Any) -> Any:
        if self.choices is not None:
            text = str(value).strip().lower()
            if text not in self.choices:
                raise UsageError(f"{value!r} is not one of {', '.join(self.choices)}")
            value = text
        return self.parse(value)


class Schema:
    """The settings one command understands."""

    registry: dict[str, "Schema"] = {}

    def __init__(self, command: str, settings: Iterable[Setting], inherits: tuple[str, ...] = ()):
        self.command = command
        self.settings = {s.name: s for s in settings}
        self.inherits = inherits  # other commands' [tables] whose keys apply too (before its own)
        Schema.registry[command] = self

    def __iter__(self):
        return iter(self.settings.values())

    def __contains__(self, name: str) -> bool:
        return name in self.settings


@dataclass
class Resolved:
    """Resolved values with their sources (``cli``, ``env:PAICLI_X``, ``project:PATH``,
    ``preset:NAME``, ``default``)."""

    values: dict[str, Any]
    sources: dict[str, str]
    command: str = ""  # whose schema resolved them (see :func:`params_from`)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("values", "sources", "command"):  # unpickling: not set yet
            raise AttributeError(name)
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {k: {"value": _jsonable(v), "source": self.sources[k]} for k, v in self.values.items()}

    def plain(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in self.values.items()}


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return str(v)


# ---------------------------------------------------------------- value parsers

def parse_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    text = str(v).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(f"not a yes/no value: {v!r}")


def parse_int(lo: int | None = None, hi: int | None = None) -> Callable[[Any], int]:
    def parse(v: Any) -> int:
        try:
            n = int(str(v).strip()) if not isinstance(v, int) else v
        except ValueError:
            raise UsageError(f"not a whole number: {v!r}") from None
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            raise UsageError(f"{n} is out of range ({lo}..{hi})")
        return n
    return parse


def parse_float(lo: float | None = None, hi: float | None = None) -> Callable[[Any], float]:
    def parse(v: Any) -> float:
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise UsageError(f"not a number: {v!r}") from None
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            raise UsageError(f"{x} is out of range ({lo}..{hi})")
        return x
    return parse


def parse_str(v: Any) -> str:
    return str(v)


def parse_first_frame(value: Any) -> int | str:
    """The first output frame number: a number, ``timecode`` or ``source``."""
    text = str(value).strip().lower()
    if text in ("timecode", "source"):
        return text
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"first frame must be a number, 'timecode' or 'source', not {value!r}") from None
    if n < 0:
        raise UsageError("first frame must be 0 or more")
    return n


def parse_path(v: Any) -> str | None:
    """A path as text; empty means none."""
    return None if v in (None, "") else str(v)


# ---------------------------------------------------------------- TOML sources

def builtin_presets_dir() -> Path:
    """``presets/`` of a source checkout, or the copy installed as ``paicli.presets``."""
    here = Path(__file__).resolve().parent
    checkout = here.parent / "presets"
    if checkout.is_dir():
        return checkout
    import paicli.presets as pkg  # installed wheel: presets/ is mapped onto paicli.presets

    return Path(pkg.__file__).parent if getattr(pkg, "__file__", None) else Path(list(pkg.__path__)[0])


def list_presets() -> list[str]:
    return sorted(p.stem for p in builtin_presets_dir().glob("*.toml"))


def load_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{what} {path} is not valid TOML: {e}") from None


def find_preset(name: str) -> tuple[Path, str]:
    """A preset by built-in name (``green``) or by path to a TOML file."""
    p = Path(name)
    if p.suffix == ".toml" or os.sep in name:
        if not p.is_file():
            raise ConfigError(f"preset file not found: {name}")
        return p, str(p)
    candidate = builtin_presets_dir() / f"{name}.toml"
    if not candidate.is_file():
        raise ConfigError(f"unknown preset {name!r} (built-in presets: {', '.join(list_presets()) or 'none'})")
    return candidate, name


def project_file(env: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    named = env.get(ENV_PREFIX + "CONFIG")
    if named:
        if not Path(named).is_file():
            raise ConfigError(f"{ENV_PREFIX}CONFIG names a file that does not exist: {named}")
        return Path(named)
    candidate = (cwd or Path.cwd()) / PROJECT_FILE
    return candidate if candidate.is_file() else None


def _section(data: dict[str, Any], schema: Schema, where: str) -> dict[str, Any]:
    """Top-level keys, overridden by the command's own table; unknown keys are errors."""
    known_anywhere = {n for s in Schema.registry.values() for n in s.settings} | {"preset"}
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            if k not in Schema.registry:
                raise ConfigError(f"{where}: unknown section [{k}] (commands: {', '.join(sorted(Schema.registry))})")
            continue
        if k not in known_anywhere:
            raise ConfigError(f"{where}: unknown setting {k!r}")
        if k in schema or k == "preset":
            out[k] = v
    for table in schema.inherits:
        for k, v in data.get(table, {}).items():
            if k in schema:
                out[k] = v
    for k, v in data.get(schema.command, {}).items():
        if k not in schema and k != "preset":
            raise ConfigError(f"{where}: [{schema.command}] has no setting {k!r}")
        out[k] = v
    return out


# ---------------------------------------------------------------- resolution

def resolve(schema: Schema, cli: Mapping[str, Any], *, preset: str | None = None,
            env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Resolved:
    """Resolve every setting of ``schema``; ``cli`` maps names to values (None = not given).

    A bad command-line value exits 2; a bad environment or file value exits 78.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for s in schema:
        values[s.name], sources[s.name] = s.default, "default"

    proj_path = project_file(env, cwd)
    proj = _section(load_toml(proj_path, "project file"), schema, str(proj_path)) if proj_path else {}

    # the preset itself may come from the CLI, the environment or the project file
    preset_name, preset_from = preset, "cli"
    if preset_name is None and env.get(ENV_PREFIX + "PRESET"):
        preset_name, preset_from = env[ENV_PREFIX + "PRESET"], "env"
    if preset_name is None and "preset" in proj:
        preset_name, preset_from = str(proj["preset"]), "project"
    layers: list[tuple[dict[str, Any], str]] = []
    if preset_name:
        path, label = find_preset(preset_name)
        layers.append((_section(load_toml(path, "preset"), schema, str(path)), f"preset:{label}"))
    if proj:
        layers.append((proj, f"project:{proj_path}"))
    for data, label in layers:
        for k, v in data.items():
            if k == "preset":
                continue
            values[k] = _convert(schema.settings[k], v, label, ConfigError)
            sources[k] = label
    for s in schema:
        raw = env.get(s.env_var)
        if raw is not None and raw != "":
            values[s.name] = _convert(s, raw, f"env:{s.env_var}", ConfigError)
            sources[s.name] = f"env:{s.env_var}"
    for name, v in cli.items():
        if v is None:
            continue
        if name not in schema:
            raise KeyError(f"{name} is not a setting of {schema.command}")
        values[name] = _convert(schema.settings[name], v, "option", UsageError)
        sources[name] = "cli"
    if preset_name:
        values["preset"], sources["preset"] = preset_name, preset_from
    return Resolved(values, sources, schema.command)


def params_from(resolved: Resolved, group: str, cls: type):
    """The engine parameters ``cls(...)`` that ``resolved``'s settings declare for ``group``
    (every setting whose ``param`` is ``group.field``); the others keep ``cls``'s defaults."""
    schema = Schema.registry.get(resolved.command)
    if schema is None:  # a process that unpickled the settings without importing their declarations
        raise RuntimeError(f"the settings of {resolved.command!r} are not declared in this process")
    kw = {}
    for s in schema:
        if s.param and s.param.split(".", 1)[0] == group:
            value = resolved.values[s.name]
            kw[s.param.split(".", 1)[1]] = s.to_param(value) if s.to_param else value
    return cls(**kw)


def _convert(setting: Setting, value: Any, where: str, error: type[PaicliError]) -> Any:
    try:
        return setting.convert(value)
    except PaicliError as e:
        flag = "--" + setting.name.replace("_", "-")
        label = flag if where == "option" else f"{where} ({setting.name})"
        raise error(f"{label}: {e.message}") from None
