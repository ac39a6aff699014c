"""How every command's ``--help`` reads, decided once for options it has never seen.

- **Metavars say what to type**: ``SHOT``, ``FOLDER``, ``FILE``, ``N``, ``X``, ``R,G,B``,
  ``A-B``, a setting's choices (``auto|green|blue``) ... from the option's flag
  (:data:`METAVARS`), else its type; the usage line reads ``paicli key [OPTIONS] SHOT``.
- **Every default is shown** as ``[default: 180]``: a plain option's own, and a setting's
  built-in default (its option's is None, so that the setting resolves from
  ``PAICLI_*``, ``paicli.toml`` and presets when it is not given); a ``--x/--no-x`` switch
  shows the flag that is on by default.
- **Examples** close every command's help (:mod:`paicli.commands.examples`).

:class:`HelpCommand` and :class:`HelpGroup` are the Click command classes that do this;
``paicli/cli.py`` (and the command groups) register every command with them.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Iterator, get_args, get_origin

from typer.core import TyperCommand, TyperGroup

from paicli.commands.examples import EXAMPLES
from paicli.settings import Schema, Setting

# What to type after an option, by its flag, for text and path options (a number is N or X,
# a setting with choices lists them). "COMMAND --flag" entries are for one command only.
METAVARS: dict[str, str] = {
    "--output": "FOLDER",
    "--name": "NAME",
    "--frames": "A-B",
    "--clean-plate": "FILE",
    "--garbage-matte": "FILE",
    "--core-matte": "FILE",
    "--matte": "FILE",
    "--plate": "FILE",
    "--input-colorspace": "COLORSPACE",
    "--output-colorspace": "COLORSPACE",
    "--bg-colorspace": "COLORSPACE",
    "--plate-colorspace": "COLORSPACE",
    "--screen-colour": "R,G,B",
    "--spill-colour": "R,G,B",
    "--garbage-box": "X0,Y0,X1,Y1",
    "--core-box": "X0,Y0,X1,Y1",
    "--outputs": "KIND,...",
    "--first-frame": "N|timecode|source",
    "--prores-profile": "proxy|lt|422|hq|4444|4444xq",
    "--exr-compression": "zip|zips|piz|dwaa|dwab|rle|none",
    "--preset": "NAME|FILE",
    "--progress": "auto|rich|plain|json|none",
    "--log-format": "plain|json",
    "--bg": "PATH",
    "--bg-at": "N,N,...",
    "--lora": "FILE",
    "--camera": "auto|track|static|FILE",
    "relight-check --camera": "FILE",
    "--model": "PATH",
    "model train --model": "FOLDER",
    "--model-config": "FOLDER",
    "--prompt": "FILE",
    "--prompt-embeds": "FILE",
    "--shift": "X",
    "--rate": "FPS",
    "--bg-map": "FILE",
    "--refs-root": "FOLDER",
    "--media-root": "FOLDER",
    "--sequence": "NAME",
    "--shard": "I/N",
    "--shot": "ID",
    "--executor": "local|ray",
    "--address": "URL",
    "--limit": "NAME=WARN[,FAIL]",
    "--name-template": "TEMPLATE",
    "--engine": "classic|dit",
    "--device": "auto|cpu|cuda",
    "--dtype": "auto|bf16|fp16|fp32",
    "--size": "WxH",
    "--caption": "TEXT",
    "--backgrounds": "FOLDER",
    "dataset build --screen": "green|blue",
}
# What to type for an option the table does not name, by its value's type.
TYPE_METAVARS = {"int": "N", "float": "X", "path": "PATH", "text": "TEXT"}


def command_path(ctx) -> str:
    """``paicli``, ``paicli key``, ``paicli model init-tiny``: whatever the program was called
    (a test runner names it differently), the names the commands were registered under."""
    names = []
    while ctx is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(["paicli", *reversed(names[:-1])])


def setting_of(ctx, param) -> Setting | None:
    """The setting an option of this command was made from (its command's schema, the same
    name and flag), else None."""
    schema = Schema.registry.get(command_path(ctx).partition(" ")[2])
    setting = schema.settings.get(param.name or "") if schema is not None else None
    if setting is None or setting.option.split("/")[0] not in param.opts:
        return None
    return setting


def _value_kind(param) -> tuple[str, tuple[str, ...]]:
    """``int``, ``float``, ``path``, ``text``, ``bool`` or ``choice`` (with the choices), from
    Typer's type description (or Click's type, for a Typer that has one)."""
    desc = getattr(param, "type_descriptor", None)
    if desc is not None:
        if desc.is_choice:
            return "choice", tuple(str(getattr(c, "value", c)) for c in desc.choices or ())
        annotation = desc.annotation
        if get_origin(annotation) is list and get_args(annotation):
            annotation = get_args(annotation)[0]
        name = getattr(annotation, "__name__", "")
        return {"int": "int", "float": "float", "bool": "bool", "Path": "path"}.get(name, "text"), ()
    kind = getattr(param, "type", None)
    choices = getattr(kind, "choices", None)
    if choices:
        return "choice", tuple(str(getattr(c, "value", c)) for c in choices)
    name = getattr(kind, "name", "text")
    return {"integer": "int", "float": "float", "boolean": "bool", "path": "path"}.get(name, "text"), ()


def metavar(ctx, param, setting: Setting | None = None) -> str:
    """What to type after the option ``param`` ('' for an on/off flag)."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    if param.metavar:
        return param.metavar
    path = command_path(ctx).partition(" ")[2]
    for opt in param.opts:
        if f"{path} {opt}" in METAVARS:
            return METAVARS[f"{path} {opt}"]
    if setting is not None and setting.choices:
        return "|".join(setting.choices)
    kind, choices = _value_kind(param)
    if kind == "choice":
        return "|".join(choices)
    if kind in ("text", "path"):
        for opt in param.opts:
            if opt in METAVARS:
                return METAVARS[opt]
    return TYPE_METAVARS.get(kind, "TEXT")


def _shown(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def default_text(param, setting: Setting | None = None) -> str | None:
    """The default to show for ``param``: the setting's built-in one when it has a setting,
    else its own; None when there is none (None, an empty list, an off switch, a default
    computed at run time)."""
    value = setting.default if setting is not None else param.default
    if callable(value) or value is None:
        return None
    if getattr(param, "is_flag", False):
        if param.secondary_opts:  # --x/--no-x: the flag that is in effect
            return param.opts[0] if value else param.secondary_opts[0]
        return None  # a switch: off unless given
    if isinstance(value, (list, tuple)):
        return ",".join(_shown(v) for v in value) or None
    text = _shown(value)
    return text if text != "" else None


def _number_range(param) -> str | None:
    lo, hi = getattr(param, "min", None), getattr(param, "max", None)
    if lo is None and hi is None:
        return None
    return f"x>={lo}" if hi is None else f"x<={hi}" if lo is None else f"{lo}<=x<={hi}"


def _joined(opts: list[str]) -> str:
    return ", ".join(sorted(opts, key=lambda o: o.startswith("--")))  # -o, --output


def _argument_name(param) -> str:
    name = param.metavar or (param.name or "").upper()
    return name if param.nargs == 1 or name.endswith("...") else name + "..."


def help_record(ctx, param) -> tuple[str, str] | None:
    """One line of the Arguments or Options table: what to type, and the help with its
    ``[default: ...; required]``."""
    if getattr(param, "hidden", False):
        return None
    setting = setting_of(ctx, param) if param.param_type_name == "option" else None
    extra = []
    if param.param_type_name == "argument":
        first = _argument_name(param)
    else:
        first = " ".join(p for p in (_joined(param.opts), metavar(ctx, param, setting)) if p)
        if param.secondary_opts:
            first += " / " + _joined(param.secondary_opts)
        default = default_text(param, setting)
        if default is not None:
            extra.append(f"default: {default}")
        number_range = _number_range(param)
        if number_range:
            extra.append(number_range)
    if param.required:
        extra.append("required")
    text = getattr(param, "help", None) or ""
    if extra:
        text = f"{text}  [{'; '.join(extra)}]" if text else f"[{'; '.join(extra)}]"
    return first, text


def usage_pieces(command, ctx) -> list[str]:
    """``[OPTIONS] SHOT``, ``[OPTIONS] FILE...``: the arguments as they are typed."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if param.param_type_name == "argument":
            name = _argument_name(param)
            pieces.append(name if param.required else f"[{name}]")
    return pieces


def write_parameters(command, ctx, formatter) -> None:
    rows = [(p.param_type_name, help_record(ctx, p)) for p in command.get_params(ctx)]
    for kind, heading in (("argument", "Arguments"), ("option", "Options")):
        section = [r for k, r in rows if k == kind and r is not None]
        if section:
            with formatter.section(heading):
                formatter.write_dl(section)


def _settings_note(ctx, command) -> str | None:
    schema = Schema.registry.get(command_path(ctx).partition(" ")[2])
    named = [s for s in (setting_of(ctx, p) for p in command.params) if s is not None] if schema else []
    if not named:
        return None
    return (f"Defaults shown are the built-in ones: a setting also comes from PAICLI_<NAME> (e.g. {named[0].env_var}), "
            "paicli.toml or --preset; the option wins over them all.")


def example_lines(ctx) -> Iterator[str]:
    for line, what in EXAMPLES.get(command_path(ctx), []):
        yield f"# {what}"
        yield line
        yield ""


def write_epilog(command, ctx, formatter) -> None:
    """The command's own epilog, the note on settings, then its examples, written as they are
    (never re-wrapped: a command line is copied whole)."""
    if command.epilog:
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(command.epilog)
    note = _settings_note(ctx, command)
    if note:
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(note)
    lines = list(example_lines(ctx))
    if lines:
        with formatter.section("Examples"):
            for line in lines[:-1]:
                formatter.write(f"{'':>{formatter.current_indent}}{line}\n" if line else "\n")


class HelpCommand(TyperCommand):
    """A command whose help says what to type, every default, and examples."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return usage_pieces(self, ctx)

    def format_options(self, ctx, formatter) -> None:
        write_parameters(self, ctx, formatter)

    def format_epilog(self, ctx, formatter) -> None:
        write_epilog(self, ctx, formatter)


class HelpGroup(TyperGroup):
    """A command group whose help reads as :class:`HelpCommand`'s, then lists its commands."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [*usage_pieces(self, ctx), self.subcommand_metavar]

    def format_options(self, ctx, formatter) -> None:
        write_parameters(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_epilog(self, ctx, formatter) -> None:
        write_epilog(self, ctx, formatter)
