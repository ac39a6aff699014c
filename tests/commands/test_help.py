"""``--help`` that helps: every command and subcommand says what to type, shows every default
(a setting's built-in one too) and ends with examples that parse; ``-V`` is ``--version``;
shell completion installs and completes for bash, zsh and fish; key's spill colour and
replace's spill strength are two settings."""
from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys

import pytest
import typer

from paicli import __version__
from paicli.cli import app, run
from paicli.settings import Schema

ROOT = typer.main.get_command(app)


def _commands(command=ROOT, path=("paicli",)):
    """(path, Click command) of the program, every group and every command under them."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = {" ".join(path): command for path, command in _commands()}


def _help(capsys, path: str) -> str:
    code = run([*path.split()[1:], "--help"])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def _option_block(text: str, opts: list[str]) -> str:
    """The Options entry of the option whose first line names all of ``opts``, as one line
    (Click wraps the help, at spaces and after hyphens)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("  -") and all(re.search(rf"(^|[\s,/]){re.escape(o)}(?=[\s,]|$)", line) for o in opts):
            block = [line]
            for more in lines[i + 1:]:
                if not more.startswith("   "):
                    break
                block.append(more)
            return re.sub(r"(?<=\w-) (?=\w)", "", " ".join(" ".join(block).split()))
    raise AssertionError(f"no entry for {opts} in:\n{text}")


def _expected_default(path: str, param) -> str | None:
    """What ``[default: ...]`` must say: a setting's built-in default (from its schema), else
    the option's own; None when there is none to show."""
    schema = Schema.registry.get(path.partition(" ")[2])
    setting = schema.settings.get(param.name) if schema is not None else None
    if setting is not None and setting.option.split("/")[0] in param.opts:
        value = setting.default
    else:
        value = param.default
    if value is None or callable(value):
        return None
    if param.is_flag:
        return (param.opts[0] if value else param.secondary_opts[0]) if param.secondary_opts else None
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or None
    return f"{value:g}" if isinstance(value, float) else str(value)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_shows_the_default_of_every_option_that_has_one(capsys, path):
    text = _help(capsys, path)
    shown = 0
    for param in COMMANDS[path].params:
        if param.param_type_name != "option" or param.hidden:
            continue
        block = _option_block(text, param.opts)
        expected = _expected_default(path, param)
        if expected is None:
            assert not re.search(r"\[(.*; )?default: ", block), block
        else:
            assert re.search(rf"\[(.*; )?default: {re.escape(expected)}[;\]]", block), (expected, block)
            shown += 1
    if path in ("paicli key", "paicli replace", "paicli render", "paicli convert", "paicli model train"):
        assert shown >= 5


def test_a_settings_default_is_its_built_in_one_not_its_options_none(capsys):
    replace = _help(capsys, "paicli replace")
    assert "[default: 180]" in _option_block(replace, ["--shutter-angle"])
    assert "[default: --pin-to-refs]" in _option_block(replace, ["--pin-to-refs"])
    assert "[default: --relight]" in _option_block(replace, ["--keep-lighting"])
    assert "[default: 0.04]" in _option_block(replace, ["--clip-black"])
    key = _help(capsys, "paicli key")
    assert "[default: rgba,matte]" in _option_block(key, ["--outputs"])
    assert "default:" not in _option_block(key, ["--screen-colour"])  # None: found in the shot
    assert "default:" not in _option_block(key, ["--garbage-box"])  # none unless given
    assert "PAICLI_" in key.split("Examples:")[0].split("-h, --help")[1]  # where else a setting comes from


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_ends_with_examples_that_parse(capsys, path):
    text = _help(capsys, path)
    assert "\nExamples:\n" in text
    examples = [line.strip() for line in text.split("\nExamples:\n", 1)[1].splitlines()]
    own = [e for e in examples if e.startswith(path + " ") or e == path]
    assert own, text
    for line in examples:  # every paicli line runs as it stands (options that exist, values they take)
        if not line.startswith("paicli "):
            continue
        words = shlex.split(line.split("&&")[0])[1:]
        command, at = ROOT, 0
        while hasattr(command, "commands") and at < len(words) and words[at] in command.commands:
            command, at = command.commands[words[at]], at + 1
        assert not hasattr(command, "commands"), line
        command.make_context(words[at - 1], words[at:])


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_metavars_say_what_to_type(capsys, path):
    text = _help(capsys, path)
    usage = text.split("\n\n")[0]
    assert "{" not in usage and "<" not in usage, usage
    for line in text.splitlines():
        if line.startswith("  -"):
            declared = re.split(r"\s{2,}", line.strip())[0]
            assert not re.search(r"[{<]", declared), line
    for python_type in ("<list[", "<str>", "<int>", "<float>", "<path>", "<bool>", "<Path>"):
        assert python_type not in text


@pytest.mark.parametrize("path, usage", [
    ("paicli replace", "Usage: paicli replace [OPTIONS] SHOT\n"),
    ("paicli probe", "Usage: paicli probe [OPTIONS] FILE...\n"),
    ("paicli dataset build", "Usage: paicli dataset build [OPTIONS] SOURCES...\n"),
    ("paicli model init-tiny", "Usage: paicli model init-tiny [OPTIONS] DIR\n"),
    ("paicli", "Usage: paicli [OPTIONS] COMMAND [ARGS]...\n"),
])
def test_the_usage_line_reads_as_typed(capsys, path, usage):
    assert _help(capsys, path).startswith(usage)


@pytest.mark.parametrize("path, entry", [
    ("paicli key", "--screen-colour R,G,B"),
    ("paicli key", "--spill-colour R,G,B"),
    ("paicli key", "--garbage-box X0,Y0,X1,Y1"),
    ("paicli key", "-o, --output FOLDER"),
    ("paicli key", "--frames A-B"),
    ("paicli key", "--screen auto|green|blue"),
    ("paicli key", "--despot N"),
    ("paicli replace", "--shutter-angle X"),
    ("paicli replace", "--bg PATH"),
    ("paicli render", "--shard I/N"),
    ("paicli render", "--media-root FOLDER"),
    ("paicli example", "--frames N"),
    ("paicli dataset build", "--size WxH"),
])
def test_options_name_what_to_type(capsys, path, entry):
    assert re.search(rf"^  {re.escape(entry)}(\s|$)", _help(capsys, path), re.M)


def test_init_tiny_help_promises_what_a_cpu_does(capsys):
    text = " ".join(_help(capsys, "paicli model init-tiny").split())
    assert "in seconds" not in text and "minutes" in text


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_dash_capital_v_is_version(capsys, flag):
    assert run([flag]) == 0
    assert capsys.readouterr().out == f"paicli {__version__}\n"


# ------------------------------------------------------------------------------ shell completion

@pytest.fixture
def shell_named(monkeypatch, tmp_path):
    """--show-completion/--install-completion take the shell's name (Typer's switch for this;
    a user's shell is detected), and install into a HOME of the test's own."""
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("shell, calls", [
    ("bash", "_PAICLI_COMPLETE=complete_bash"),
    ("zsh", "_PAICLI_COMPLETE=complete_zsh"),
    ("fish", "_PAICLI_COMPLETE=complete_fish"),
])
def test_show_completion_prints_the_shells_script(capsys, shell_named, shell, calls):
    assert run(["--show-completion", shell]) == 0
    script = capsys.readouterr().out
    assert calls in script and "paicli" in script


@pytest.mark.parametrize("shell, where", [
    ("bash", ".bash_completions/paicli.sh"),
    ("zsh", ".zfunc/_paicli"),
    ("fish", ".config/fish/completions/paicli.fish"),
])
def test_install_completion_writes_the_script_for_each_shell(capsys, shell_named, shell, where):
    assert run(["--install-completion", shell]) == 0
    assert f"{shell} completion installed" in capsys.readouterr().out
    assert "_PAICLI_COMPLETE=complete_" in (shell_named / where).read_text()


@pytest.mark.parametrize("shell, env, names", [
    ("bash", {"COMP_WORDS": "paicli re", "COMP_CWORD": "1"}, lambda out: out.split()),
    ("zsh", {"_TYPER_COMPLETE_ARGS": "paicli re"}, lambda out: re.findall(r'"([^"]+)":"', out)),
    ("fish", {"_TYPER_COMPLETE_ARGS": "paicli re", "_TYPER_COMPLETE_FISH_ACTION": "get-args"},
     lambda out: [line.split("\t")[0] for line in out.splitlines()]),
])
def test_completing_re_offers_replace_render_and_relight_check(capsys, monkeypatch, shell, env, names):
    """What each shell's script asks the program (``_PAICLI_COMPLETE=complete_SHELL``)."""
    monkeypatch.setenv("_PAICLI_COMPLETE", f"complete_{shell}")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert run([]) == 0
    out = capsys.readouterr().out
    assert names(out) == ["replace", "render", "relight-check"], out


def test_bash_completes_commands_options_and_choices_through_the_installed_script(capsys, shell_named):
    """The script as bash sources it, calling the program as a shell does."""
    assert run(["--show-completion", "bash"]) == 0
    script = shell_named / "paicli.sh"
    script.write_text(capsys.readouterr().out)
    bin_dir = shell_named / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "paicli"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m paicli.cli "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)

    def complete(*words: str) -> list[str]:
        line = " ".join(shlex.quote(w) for w in words)
        body = (f"source {shlex.quote(str(script))}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
                "_paicli_completion paicli; printf '%s\\n' \"${COMPREPLY[@]}\"")
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        p = subprocess.run(["bash", "-c", body], capture_output=True, text=True, env=env, check=True)
        return p.stdout.split()

    assert complete("paicli", "re") == ["replace", "render", "relight-check"]
    assert complete("paicli", "key", "--spill") == ["--spill-colour"]
    assert complete("paicli", "replace", "--screen", "") == ["auto", "green", "blue"]


# ------------------------------------------------------------------------------ spill colour vs spill strength

def test_key_takes_a_spill_colour_and_replace_a_spill_strength(capsys):
    key = _help(capsys, "paicli key")
    assert "--spill-replace" not in key and "R,G,B" in _option_block(key, ["--spill-colour"])
    replace = _help(capsys, "paicli replace")
    assert "--spill-colour" not in replace
    assert "[default: 1]" in _option_block(replace, ["--spill-replace"])
    assert run(["key", "shot.mov", "--spill-replace", "1,0,0"]) == 2
    assert "--spill-colour" in capsys.readouterr().err  # the option it meant


def test_one_spill_replace_value_serves_replace_and_leaves_key_alone(capsys, monkeypatch, tmp_path):
    from paicli.shot.example import make_example_shot

    make_example_shot(tmp_path / "shot", width=96, height=64, frames=4)
    monkeypatch.setenv("PAICLI_SPILL_REPLACE", "0.5")  # replace's strength: key used to read it as a colour
    monkeypatch.chdir(tmp_path)
    plate = str(tmp_path / "shot" / "plate.mov")
    assert run(["key", plate, "-o", "k", "--spill-colour", "0.1,0.2,0.3", "--dry-run", "--json"]) == 0
    key = json.loads(capsys.readouterr().out)["settings"]
    assert key["spill_colour"] == {"value": [0.1, 0.2, 0.3], "source": "cli"} and "spill_replace" not in key
    refs = str(tmp_path / "shot" / "refs")
    assert run(["replace", plate, "--bg", refs, "-o", "r", "--dry-run", "--json"]) == 0
    replace = json.loads(capsys.readouterr().out)["settings"]
    assert replace["spill_replace"] == {"value": 0.5, "source": "env:PAICLI_SPILL_REPLACE"}
