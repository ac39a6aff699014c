"""The ``paicli`` command line: one Typer app, one error boundary.

Every :class:`~paicli.errors.PaicliError` becomes one line on stderr and its sysexits
code; any other exception is a bug and exits 70 with one line (``PAICLI_DEBUG=1`` shows
the traceback). SIGINT, SIGTERM and SIGHUP stop a run through its cleanup (temporary files
and staging removed) with one line, ``interrupted (SIGTERM)``, and exit 128 + the signal
number (130, 143, 129). Command modules import their heavy dependencies lazily, so ``--help``
stays fast. Every command is registered with :mod:`paicli.commands.helptext`'s classes (its
help: what to type, every default, examples); ``--install-completion`` and
``--show-completion`` give bash, zsh and fish completion (``_PAICLI_COMPLETE``).
"""
from __future__ import annotations

import sys

import typer

from paicli import __version__
from paicli.commands import convert as convert_cmd
from paicli.commands import dataset as dataset_cmd
from paicli.commands import example as example_cmd
from paicli.commands import key as key_cmd
from paicli.commands import model as model_cmd
from paicli.commands import probe as probe_cmd
from paicli.commands import relight_check as relight_check_cmd
from paicli.commands import render as render_cmd
from paicli.commands import replace as replace_cmd
from paicli.commands.helptext import HelpCommand, HelpGroup
from paicli.errors import ExitCode, PaicliError, debugging, from_environment
from paicli.progress import Interrupted, StopSignals
from paicli.sources import SOURCES

app = typer.Typer(
    name="paicli",
    help="Batch green/blue-screen background replacement for film post-production, with exact timing and colour.",
    no_args_is_help=True,
    cls=HelpGroup,  # every command's help: what to type, every default, examples
    add_completion=True,  # --install-completion / --show-completion: bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"paicli {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """paicli: key, replace and conform green/blue-screen shots."""


app.command("key", help=key_cmd.HELP, cls=HelpCommand)(key_cmd.key)
app.command("replace", help=replace_cmd.HELP, cls=HelpCommand)(replace_cmd.replace)
app.command("render", help=render_cmd.HELP, cls=HelpCommand)(render_cmd.render)
app.command("relight-check", help=relight_check_cmd.HELP, cls=HelpCommand)(relight_check_cmd.relight_check)
app.command("probe", help=probe_cmd.HELP, cls=HelpCommand)(probe_cmd.probe)
app.command("convert", help=convert_cmd.HELP, cls=HelpCommand)(convert_cmd.convert)
app.command("example", help=example_cmd.HELP, cls=HelpCommand)(example_cmd.example)
app.add_typer(model_cmd.app, name="model", help=model_cmd.HELP, cls=HelpGroup)
app.add_typer(dataset_cmd.app, name="dataset", help=dataset_cmd.HELP, cls=HelpGroup)


def _fail(message: str, code: int, json_for: str | None = None) -> int:
    """One line on stderr; with ``--json`` (``json_for``: the command) also the one JSON
    object on stdout that a script reads: ``ok`` false, the exit code and the message."""
    sys.stderr.write(f"paicli: error: {message}\n")
    sys.stderr.flush()
    if json_for is not None:
        print_error_json(json_for, message, int(code))
    return int(code)


def print_error_json(command: str, message: str, code: int) -> None:
    """The ``--json`` object of a command that failed (the shape of a result, ``ok`` false)."""
    import json

    sys.stdout.write(json.dumps({"paicli": __version__, "command": command, "ok": False, "exit_code": code,
                                 "error": message, "outputs": [], "warnings": []}) + "\n")
    sys.stdout.flush()


def _json_command(args: list[str]) -> str | None:
    """The command's name when ``args`` ask for ``--json`` (before any ``--``), else None."""
    if "--json" not in (args[:args.index("--")] if "--" in args else args):
        return None
    words = [a for a in args if not a.startswith("-")]
    if words[:1] in (["model"], ["dataset"]):  # command groups: the group and its command
        return " ".join(words[:2])
    return words[0] if words else "paicli"


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by ``main`` and by tests)."""
    try:  # recent Typer vendors its own copy of Click
        from typer._click.exceptions import ClickException
    except ImportError:  # pragma: no cover
        from click import ClickException

    debug = debugging()
    SOURCES.clear()  # one command's sources (tests run many commands in one process)
    command = typer.main.get_command(app)
    as_json = _json_command(list(sys.argv[1:] if argv is None else argv))
    stop = StopSignals()  # our own handlers: Click turns a KeyboardInterrupt into a silent exit 130
    try:
        with stop:
            rv = command.main(args=argv, prog_name="paicli", standalone_mode=False)
        if stop.signum is not None:  # its exception was swallowed (a C callback) and the command ran on
            raise Interrupted(stop.signum)
        return int(rv) if isinstance(rv, int) else 0
    except Interrupted as e:
        return _fail(str(e), e.exit_code, as_json)
    except PaicliError as e:
        if debug:
            raise
        return _fail(e.message, e.exit_code, as_json)
    except typer.Exit as e:
        return int(e.exit_code)
    except SystemExit as e:  # shell completion (_PAICLI_COMPLETE, --show/--install-completion) ends in sys.exit
        return e.code if isinstance(e.code, int) else int(e.code is not None)
    except typer.Abort:
        return _fail("interrupted", 130, as_json)
    except ClickException as e:
        e.show()
        if as_json is not None:
            print_error_json(as_json, e.format_message(), int(e.exit_code))
        return int(e.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130, as_json)
    except BrokenPipeError:
        return 0
    except Exception as e:  # the machine (disk full, out of memory), else a bug: still one line
        if debug:
            raise
        known = from_environment(e)
        if known is not None:
            return _fail(known.message, known.exit_code, as_json)
        return _fail(f"internal error: {type(e).__name__}: {e} (set PAICLI_DEBUG=1 for a traceback)", ExitCode.SOFTWARE,
                     as_json)
    finally:
        stop.restore()


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
