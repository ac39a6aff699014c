"""Options every command shares, and how a command reports its result."""
from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated, Callable, Iterable, Optional

import typer

from paicli.result import CommandResult
from paicli.settings import Resolved, Schema

JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print one JSON object on stdout: what was done and every file written (kind, path, frames, timecode).")]
DryRunOpt = Annotated[bool, typer.Option(
    "--dry-run", help="Resolve and print the settings (and where each came from), then stop without writing anything.")]
PresetOpt = Annotated[Optional[str], typer.Option(
    "--preset", help="A preset from presets/ (e.g. green, blue, fine-hair, fast) or a path to a TOML file. Env: PAICLI_PRESET.",
    show_default=False)]
ProgressOpt = Annotated[Optional[str], typer.Option(
    "--progress", help="Progress on stderr: auto (bars on a terminal, timestamped lines otherwise), rich, plain, json, none. "
    "Env: PAICLI_PROGRESS.", show_default=False)]


OutputDirOpt = Annotated[Optional[Path], typer.Option(
    "-o", "--output", help="Output folder, created if missing (default: paicli/ beside the shot or source).",
    show_default=False, readable=False)]  # paicli reports an unwritable folder in one line
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Replace the results of an earlier run in the output folder (default: refuse, so old and new "
    "never mix); its files this run does not write again are removed.")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="Output name stem (default: the shot's name).",
                                                show_default=False)]
FramesOpt = Annotated[Optional[str], typer.Option(
    "--frames", help="Range A-B: frame numbers, 0-based movie indices or timecodes.", show_default=False)]
InputColorspaceOpt = Annotated[Optional[str], typer.Option(
    "--input-colorspace", help="Colour space of the shot (default from its tags).", show_default=False)]


def setting_option(schema: Schema, name: str) -> inspect.Parameter:
    """The command-line option of the schema's setting ``name``: its flag, type and help as the
    setting declares them (``None`` when not given, so the setting resolves from the other
    sources; ``--help`` shows the setting's built-in default instead: paicli.commands.helptext).
    Shell completion offers the setting's choices, when it has some."""
    setting = schema.settings[name]
    choices = setting.choices or ()

    def complete(incomplete: str) -> list[str]:
        return [c for c in choices if c.startswith(incomplete.lower())]

    annotation = Annotated[Optional[setting.cli_type],
                           typer.Option(setting.option, help=setting.help, show_default=False,
                                        autocompletion=complete if choices else None)]
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=annotation)


def with_settings(schema: Schema, names: Iterable[str], before: str = "preset"):
    """A command that takes the settings ``names`` of ``schema`` as options, made from their
    declarations and placed before its parameter ``before``; they reach the command in its
    ``**settings`` (each None when not given on the command line)."""
    def decorate(func: Callable) -> Callable:
        own = [p for p in inspect.signature(func, eval_str=True).parameters.values() if p.kind != p.VAR_KEYWORD]
        at = next(i for i, p in enumerate(own) if p.name == before)
        params = own[:at] + [setting_option(schema, n) for n in names] + own[at:]

        @functools.wraps(func)
        def command(**kwargs):
            return func(**kwargs)

        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command
    return decorate


def report(result: CommandResult, json_out: bool, human: Callable[[], None] | None = None) -> None:
    """Print the result: one JSON object with ``--json``, else the human summary on stdout."""
    if json_out:
        result.print_json()
    elif human is not None:
        human()


def print_settings(result: CommandResult, resolved: Resolved, json_out: bool) -> None:
    """``--dry-run``: the resolved settings with their sources."""
    result.dry_run = True
    result.settings = resolved.to_dict()
    if json_out:
        result.print_json()
        return
    from paicli.commands.tables import print_table

    print_table(f"paicli {result.command}: resolved settings", ("setting", "value", "from"),
                [(name, entry["value"], entry["source"]) for name, entry in result.settings.items()])
    for o in result.outputs:
        print(f"would write {o.kind}: {o.path}")
    earlier = result.summary.get("earlier_outputs")
    if earlier:
        held = f"{result.summary['output_folder']} holds results of an earlier run ({', '.join(earlier)})"
        print(held + (": the run replaces them (--force)" if result.summary.get("force")
                      else ": the run is refused without --force"))
