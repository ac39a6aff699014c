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

import math
import os
import re
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
# Output frame numbers stay below 10**9 (nine digits; the ``####`` of the EXR names widens
# as needed): the first frame is at most this, which leaves room for any shot's frames.
MAX_FIRST_FRAME = 10**8 - 1
MAX_TOML_BYTES = 1 << 20  # a preset or project file holds settings: a few hundred bytes
MAX_TOML_NESTING = 32  # arrays and tables inside each other, or the parts of one dotted key


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
    was: str | None = None  # its former name, now another command's setting: a value of this one's kind under it
    # (env or top-level TOML) is refused, naming the new name, instead of silently going elsewhere

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
                raise UsageError(f"{shown(value)} is not one of {', '.join(self.choices)}")
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
    """A whole number in ``lo..hi``, from text or a TOML integer (not a boolean)."""
    def parse(v: Any) -> int:
        if isinstance(v, bool):  # TOML ``true`` is not 1
            raise UsageError(f"not a whole number: {v!r}")
        try:
            n = int(str(v).strip()) if not isinstance(v, int) else v
        except ValueError:  # also past int()'s 4,300 digits
            raise UsageError(f"not a whole number: {shown(v)}") from None
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            raise UsageError(f"{shown(n)} is out of range ({lo}..{hi})")
        return n
    return parse


def parse_float(lo: float | None = None, hi: float | None = None) -> Callable[[Any], float]:
    """A finite number in ``lo..hi``, from text or a TOML number (not a boolean, nan or inf)."""
    def parse(v: Any) -> float:
        try:
            x = finite_float(v)
        except ValueError as e:
            raise UsageError(str(e)) from None
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            raise UsageError(f"{x} is out of range ({lo}..{hi})")
        return x
    return parse


def finite_float(v: Any) -> float:
    """``v`` (a number, or its text) as a finite float; ValueError naming it for anything else:
    booleans, text that is not a number, nan, inf and -inf (also as ``1e400``), integers too
    large for a float."""
    if isinstance(v, bool):
        raise ValueError(f"not a number: {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"not a number: {shown(v)}") from None
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {shown(v)}")
    return x


def parse_str(v: Any) -> str:
    return str(v)


def parse_first_frame(value: Any) -> int | str:
    """The first output frame number (0..MAX_FIRST_FRAME), ``timecode`` or ``source``."""
    if isinstance(value, bool):
        raise UsageError(f"first frame must be a number, 'timecode' or 'source', not {value!r}")
    text = str(value).strip().lower()
    if text in ("timecode", "source"):
        return text
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise UsageError(f"first frame must be a number, 'timecode' or 'source', not {shown(value)}")
    digits = text.lstrip("+-").lstrip("0") or "0"
    if text.startswith("-") and digits != "0":
        raise UsageError("first frame must be 0 or more")
    if len(digits) > len(str(MAX_FIRST_FRAME)) or int(digits) > MAX_FIRST_FRAME:  # length first: int() stops at 4,300
        raise UsageError(f"first frame {text[:24]}{'...' if len(text) > 24 else ''} is too large (at most "
                         f"{MAX_FIRST_FRAME:,}, so that every frame number stays below 10^9)")
    return int(digits)


def shown(v: Any, limit: int = 60) -> str:
    """``repr(v)`` for an error line, shortened when long (a value may be a megabyte)."""
    if isinstance(v, str) and len(v) > limit:
        return f"{v[:limit]!r}... ({len(v):,} characters)"
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 200:
        return f"a number of about {int(v.bit_length() * 0.30103) + 1:,} digits"
    try:
        text = repr(v)
    except (RecursionError, ValueError):  # a list nested too deep, or holding an int past 4,300 digits
        text = f"<a {type(v).__name__} too large to show>"
    return text if len(text) <= limit else text[:limit] + "..."


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
    """A preset or project file's tables; any fault of the file (missing, unreadable, not
    UTF-8 or TOML, over MAX_TOML_BYTES, nested deeper than MAX_TOML_NESTING) is a
    :class:`ConfigError` naming it."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except OSError as e:
        raise ConfigError(f"{what} {path} cannot be read: {e.strerror or e}") from None
    if len(data) > MAX_TOML_BYTES:
        raise ConfigError(f"{what} {path} is over {MAX_TOML_BYTES >> 20} MiB; a settings file is a few lines")
    try:
        text = data.decode("utf-8")
        # tomllib recurses once per level (RecursionError) and keeps every prefix of a dotted
        # key (memory grows with the square of its length): refuse deep nesting first
        if _toml_nesting(text) > MAX_TOML_NESTING:
            raise ConfigError(f"{what} {path} nests arrays, tables or dotted keys deeper than "
                              f"{MAX_TOML_NESTING} levels")
        return tomllib.loads(text)
    except (ValueError, RecursionError) as e:  # TOMLDecodeError, UnicodeDecodeError, int()'s digit limit
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"{what} {path} is not valid TOML: {first[:200]}") from None


_TOML_TOKEN = re.compile("|".join((
    r'"""(?:[^\\]|\\.)*?"""',  # multi-line basic string
    r"'''.*?'''",  # multi-line literal string
    r'"(?:[^"\\\n]|\\.)*"',  # basic string
    r"'[^'\n]*'",  # literal string
    r"#[^\n]*",  # comment
    r"[\[\]{}.]",
    r"[A-Za-z0-9_\- \t]+",  # bare key characters (and spaces between the parts of a key)
    r".",  # anything else, line ends too
)), re.S)


def _toml_nesting(text: str) -> int:
    """The deepest nesting of TOML ``text``, outside strings and comments: arrays and inline
    tables inside each other, or the parts of one dotted key (``a.b.c`` is 3). A quick
    over-estimate is fine (``1.5`` counts as a two-part key): only absurd depths matter."""
    depth = deepest = parts = 0
    for m in _TOML_TOKEN.finditer(text):
        t = m.group()
        if t == "[" or t == "{":
            depth, parts = depth + 1, 0
        elif t == "]" or t == "}":
            depth, parts = max(depth - 1, 0), 0
        elif t == ".":
            parts += 1
        elif not (t[0] in "\"'" or t[0].isalnum() or t[0] in "_- \t"):
            parts = 0  # '=', ',', a line end: the key, if any, is over
        deepest = max(deepest, depth, parts + 1)
        if deepest > MAX_TOML_NESTING:
            break
    return deepest


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
    for s in schema:
        if s.was is not None and s.was in data and s.name not in out:
            _refuse_former_name(s, schema.command, data[s.was], f"{where}: {s.was} = {shown(data[s.was])}", s.was,
                                s.name)
    return out


def _refuse_former_name(setting: Setting, command: str, value: Any, where: str, former: str, now: str) -> None:
    """A value given under ``setting``'s former name (``former``: the variable or key) that
    reads as one of its own (a colour where the name now means a strength) was meant for
    it: refused (78), naming the name to use, ``now``."""
    try:
        setting.convert(value)
    except PaicliError:
        return  # a value of the other command's setting that has the name now
    raise ConfigError(f"{where} reads as {command}'s {setting.name} under its former name: give it as {now} "
                      f"({former} now sets another command's setting)")


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
        elif s.was is not None and env.get(ENV_PREFIX + s.was.upper()):
            former = ENV_PREFIX + s.was.upper()
            _refuse_former_name(s, schema.command, env[former], f"{former}={shown(env[former])}", former, s.env_var)
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
