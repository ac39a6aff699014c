"""Values no setting can take: nan, inf and -inf, a TOML boolean where a number goes, a first
frame past nine digits, a settings file nested beyond reason. A usage error (2) on the
command line, a configuration error (78) from ``PAICLI_*`` or a TOML file, naming it."""
from __future__ import annotations

import time

import pytest

import paicli.settings as settings
from paicli.cli import run
from paicli.errors import ConfigError, UsageError
from paicli.settings import (MAX_FIRST_FRAME, Schema, Setting, finite_float, load_toml, parse_first_frame,
                             parse_float, parse_int, resolve)

SCHEMA = Schema("nonfinite-test", [
    Setting("strength", 0.5, "how strong (0-1)", parse_float(0.0, 1.0)),
    Setting("gain", 1.0, "unbounded gain", parse_float()),
    Setting("seed", 0, "seed", parse_int(0, 2**31 - 1)),
    Setting("first_frame", 1001, "first frame", parse_first_frame),
])

NON_FINITE = ["nan", "NaN", "inf", "-inf", "+inf", "Infinity", " nan ", "1e400", "-1e400"]


@pytest.mark.parametrize("text", NON_FINITE)
def test_a_non_finite_option_is_a_usage_error_even_without_bounds(text, tmp_path):
    for name in ("strength", "gain"):
        with pytest.raises(UsageError, match=f"--{name}: not a finite number"):
            resolve(SCHEMA, {name: text}, env={}, cwd=tmp_path)
    with pytest.raises(UsageError, match="not a finite number"):
        resolve(SCHEMA, {"gain": float(text)}, env={}, cwd=tmp_path)  # as the option parser hands it over


@pytest.mark.parametrize("text", NON_FINITE)
def test_a_non_finite_environment_value_is_a_config_error_naming_the_variable(text, tmp_path):
    with pytest.raises(ConfigError, match="PAICLI_GAIN.*not a finite number"):
        resolve(SCHEMA, {}, env={"PAICLI_GAIN": text}, cwd=tmp_path)


@pytest.mark.parametrize("toml", ["gain = nan", "gain = inf", "gain = -inf", "gain = +inf", "gain = 1e400",
                                  "[nonfinite-test]\nstrength = nan"])
def test_a_non_finite_project_file_value_is_a_config_error_naming_the_file(toml, tmp_path):
    (tmp_path / "paicli.toml").write_text(toml + "\n")
    with pytest.raises(ConfigError, match=r"paicli\.toml.*not a finite number"):
        resolve(SCHEMA, {}, env={}, cwd=tmp_path)


def test_a_non_finite_preset_value_is_a_config_error(tmp_path):
    preset = tmp_path / "mine.toml"
    preset.write_text("strength = nan\n")
    with pytest.raises(ConfigError, match=r"mine\.toml.*not a finite number"):
        resolve(SCHEMA, {}, preset=str(preset), env={}, cwd=tmp_path)


@pytest.mark.parametrize("toml, name", [("seed = true", "seed"), ("seed = false", "seed"), ("gain = true", "gain"),
                                        ("first_frame = true", "first_frame")])
def test_a_toml_boolean_is_not_a_number(toml, name, tmp_path):
    (tmp_path / "paicli.toml").write_text(toml + "\n")
    with pytest.raises(ConfigError, match=f"\\({name}\\)"):
        resolve(SCHEMA, {}, env={}, cwd=tmp_path)


def test_finite_numbers_still_pass_from_every_source(tmp_path):
    (tmp_path / "paicli.toml").write_text("seed = 7\ngain = 2\n")
    r = resolve(SCHEMA, {"strength": "0.25"}, env={"PAICLI_FIRST_FRAME": " 86400 "}, cwd=tmp_path)
    assert (r.strength, r.gain, r.seed, r.first_frame) == (0.25, 2.0, 7, 86400)
    assert finite_float("1e308") == 1e308 and finite_float(10**300) == 1e300


def test_numbers_too_large_for_a_float_or_for_int_are_refused_not_a_crash(tmp_path):
    with pytest.raises(ValueError, match="not a number"):
        finite_float(10**400)  # OverflowError inside float()
    with pytest.raises(ConfigError, match="PAICLI_SEED.*not a whole number.*characters"):
        resolve(SCHEMA, {}, env={"PAICLI_SEED": "9" * 5001}, cwd=tmp_path)  # past int()'s 4,300 digits
    (tmp_path / "paicli.toml").write_text("seed = " + "9" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"paicli\.toml is not valid TOML"):
        resolve(SCHEMA, {}, env={}, cwd=tmp_path)


def test_the_first_frame_is_capped_so_frame_numbers_keep_nine_digits(tmp_path):
    assert parse_first_frame(str(MAX_FIRST_FRAME)) == MAX_FIRST_FRAME == 99_999_999
    assert parse_first_frame("timecode") == "timecode" and parse_first_frame(0) == 0
    for too_big in ("100000000", "99999999999999999999", "9" * 5001):
        with pytest.raises(UsageError, match="too large"):
            parse_first_frame(too_big)
    with pytest.raises(UsageError, match="0 or more"):
        parse_first_frame("-1")
    with pytest.raises(UsageError, match="--first-frame: first frame 99999999999999999999 is too large"):
        resolve(SCHEMA, {"first_frame": "99999999999999999999"}, env={}, cwd=tmp_path)


@pytest.mark.parametrize("text", [
    "a = " + "[" * 100_000 + "]" * 100_000,
    "a = " + "{b=" * 100_000 + "1" + "}" * 100_000,
    "[" + ".".join(["a"] * 100_000) + "]",
    "a" + ".a" * 100_000 + " = 1",  # tomllib keeps every prefix of a dotted key: memory ~ parts squared
], ids=["arrays", "inline-tables", "table-header", "dotted-key"])
def test_a_project_file_nested_100000_deep_is_a_config_error_naming_it_at_once(text, tmp_path):
    (tmp_path / "paicli.toml").write_text(text + "\n")
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=rf"project file {tmp_path / 'paicli.toml'} nests .* deeper than 32"):
        resolve(SCHEMA, {}, env={}, cwd=tmp_path)
    assert time.monotonic() - t0 < 5


def test_a_recursion_error_in_the_toml_parser_is_a_config_error_too(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "_toml_nesting", lambda text: 0)  # as if the depth check missed it
    p = tmp_path / "deep.toml"
    p.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match=r"preset .*deep\.toml is not valid TOML"):
        load_toml(p, "preset")


def test_nesting_inside_strings_and_comments_does_not_count_and_ordinary_files_pass(tmp_path):
    text = ('a = "' + "[" * 100 + '"\n' + "# " + "{" * 100 + "\n" + "b = '''" + "a." * 100 + "'''\n"
            + 'boxes = [[0, 0, 10, 10], [2, 2, 4, 4]]\nc."quoted.key".d = 1.5\n[key]\nscreen = "green"\n')
    p = tmp_path / "ok.toml"
    p.write_text(text)
    data = load_toml(p, "preset")
    assert data["boxes"] == [[0, 0, 10, 10], [2, 2, 4, 4]] and data["c"]["quoted.key"]["d"] == 1.5
    assert settings._toml_nesting(text) <= 4


def test_a_settings_file_over_a_mebibyte_or_not_utf8_is_a_config_error(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 120_000)
    with pytest.raises(ConfigError, match=r"big\.toml is over 1 MiB"):
        load_toml(big, "preset")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'a = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin\.toml is not valid TOML"):
        load_toml(latin, "preset")


@pytest.mark.parametrize("command, argv, fragment", [
    ("replace", ["--parallax", "nan"], "--parallax: not a finite number"),
    ("replace", ["--shutter-angle", "nan"], "--shutter-angle: not a finite number"),
    ("replace", ["--shutter-angle=-inf"], "--shutter-angle: not a finite number"),
    ("replace", ["--first-frame", "99999999999999999999", "--format", "exr"], "too large"),
    ("key", ["--spill-colour", "inf,0,0"], "--spill-colour: a colour is r,g,b"),
    ("key", ["--screen-colour", "nan,1,1"], "--screen-colour: a picked colour"),
    ("key", ["--garbage-box", "0,0,inf,5"], "--garbage-box: a box is x0,y0,x1,y1"),
])
def test_the_commands_refuse_them_with_one_line_and_exit_2(command, argv, fragment, tmp_path, capsys):
    bg = ["--bg", str(tmp_path)] if command == "replace" else []
    assert run([command, str(tmp_path / "plate.mov"), *bg, "-o", str(tmp_path / "out"), "--progress", "none",
                *argv]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("paicli: error:") and fragment in lines[0]


def test_environment_and_project_file_values_reach_the_command_as_78(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "paicli.toml").write_text("strength = nan\n")
    assert run(["replace", str(tmp_path / "plate.mov"), "--bg", str(tmp_path), "-o", str(tmp_path / "out")]) == 78
    assert "paicli.toml (strength): not a finite number" in capsys.readouterr().err
    (tmp_path / "paicli.toml").unlink()
    monkeypatch.setenv("PAICLI_SEED", "true")
    assert run(["replace", str(tmp_path / "plate.mov"), "--bg", str(tmp_path), "-o", str(tmp_path / "out")]) == 78
    assert "PAICLI_SEED (seed): not a whole number" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e400", True])
def test_a_relight_check_limit_must_be_finite(text):
    from paicli.check.settings import _limit_value
    from paicli.errors import UsageError

    with pytest.raises(UsageError, match="a limit is a number"):
        _limit_value(text)
    assert _limit_value("0.25") == 0.25 and _limit_value("none") is None
