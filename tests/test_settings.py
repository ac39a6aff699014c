"""Settings precedence: CLI > PAICLI_* env > project file > preset > defaults, with sources."""
import pytest

from paicli.errors import ConfigError, UsageError
from paicli.settings import Schema, Setting, parse_bool, parse_int, resolve

SCHEMA = Schema("testcmd", [
    Setting("strength", 5, "how strong", parse_int(0, 10)),
    Setting("screen", "auto", "screen colour", str, ("auto", "green", "blue")),
    Setting("despill", True, "despill", parse_bool),
])


@pytest.fixture
def presets(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('strength = 2\nscreen = "blue"\n[testcmd]\ndespill = false\n')
    return p


def test_defaults_when_nothing_is_given(tmp_path):
    r = resolve(SCHEMA, {}, env={}, cwd=tmp_path)
    assert r.values == {"strength": 5, "screen": "auto", "despill": True}
    assert set(r.sources.values()) == {"default"}


def test_full_precedence_chain(tmp_path, presets):
    (tmp_path / "paicli.toml").write_text('strength = 3\n')
    env = {"PAICLI_SCREEN": "green"}
    r = resolve(SCHEMA, {"strength": None, "despill": "yes"}, preset=str(presets), env=env, cwd=tmp_path)
    assert r.strength == 3 and r.sources["strength"] == f"project:{tmp_path / 'paicli.toml'}"
    assert r.screen == "green" and r.sources["screen"] == "env:PAICLI_SCREEN"
    assert r.despill is True and r.sources["despill"] == "cli"
    r2 = resolve(SCHEMA, {"strength": 9}, preset=str(presets), env=env, cwd=tmp_path)
    assert r2.strength == 9 and r2.sources["strength"] == "cli"


def test_preset_command_table_overrides_top_level(tmp_path, presets):
    r = resolve(SCHEMA, {}, preset=str(presets), env={}, cwd=tmp_path)
    assert r.despill is False and r.strength == 2 and r.sources["strength"] == f"preset:{presets}"


def test_preset_can_come_from_environment(tmp_path, presets):
    r = resolve(SCHEMA, {}, env={"PAICLI_PRESET": str(presets)}, cwd=tmp_path)
    assert r.screen == "blue" and r.sources["preset"] == "env"


def test_bad_cli_value_is_a_usage_error_and_bad_env_a_config_error(tmp_path):
    with pytest.raises(UsageError, match="--strength"):
        resolve(SCHEMA, {"strength": "11"}, env={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="PAICLI_SCREEN"):
        resolve(SCHEMA, {}, env={"PAICLI_SCREEN": "purple"}, cwd=tmp_path)


def test_unknown_keys_and_broken_files_are_config_errors(tmp_path):
    (tmp_path / "paicli.toml").write_text("strenght = 3\n")
    with pytest.raises(ConfigError, match="strenght"):
        resolve(SCHEMA, {}, env={}, cwd=tmp_path)
    (tmp_path / "paicli.toml").write_text("strength = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve(SCHEMA, {}, env={}, cwd=tmp_path)
    (tmp_path / "paicli.toml").unlink()
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve(SCHEMA, {}, preset="no-such-preset", env={}, cwd=tmp_path)


def test_paicli_config_names_the_project_file(tmp_path):
    f = tmp_path / "elsewhere.toml"
    f.write_text("[testcmd]\nstrength = 1\n")
    r = resolve(SCHEMA, {}, env={"PAICLI_CONFIG": str(f)}, cwd=tmp_path / "nowhere")
    assert r.strength == 1


def test_builtin_presets_all_parse():
    from paicli.settings import builtin_presets_dir, list_presets, load_toml

    names = list_presets()
    assert names, "presets/ ships at least one preset"
    for n in names:
        load_toml(builtin_presets_dir() / f"{n}.toml", "preset")


def test_keys_old_spill_colour_under_its_former_name_is_refused_not_silently_dropped(tmp_path, monkeypatch, capsys):
    """``spill_replace`` was key's colour and is now replace's 0-1 strength only: a colour given
    under it (environment or top-level TOML) names key's new ``spill_colour``; a strength
    there is replace's and key leaves it alone."""
    from paicli.cli import run
    from paicli.shot.settings import KEY

    env = {"PAICLI_SPILL_REPLACE": "0.2,0.3,0.5"}
    with pytest.raises(ConfigError, match="reads as key's spill_colour under its former name: give it as "
                                          "PAICLI_SPILL_COLOUR"):
        resolve(KEY, {}, env=env, cwd=tmp_path)
    assert resolve(KEY, {}, env={"PAICLI_SPILL_REPLACE": "0.5"}, cwd=tmp_path).spill_colour is None
    assert resolve(KEY, {}, env={**env, "PAICLI_SPILL_COLOUR": "0.1,0.1,0.1"}, cwd=tmp_path).spill_colour == \
        pytest.approx((0.1, 0.1, 0.1))
    (tmp_path / "paicli.toml").write_text("spill_replace = [0.2, 0.3, 0.5]\n")
    monkeypatch.chdir(tmp_path)
    code = run(["key", "shot.mov", "--dry-run"])
    assert code == 78 and "spill_replace = [0.2, 0.3, 0.5] reads as key's spill_colour" in capsys.readouterr().err
