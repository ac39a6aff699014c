"""Which shard a farm task renders: ``--shard I/N`` or the array-job variables. A variable
that is set but is not a whole number 0 or more is a configuration error naming it and its
value, never "no shard" (which would render every shot in every task)."""
from __future__ import annotations

import pytest

from paicli.errors import ConfigError, UsageError
from paicli.render.shard import parse_shard, shard_from_env


@pytest.mark.parametrize("env, expected", [
    ({}, None),
    ({"PAICLI_SHARD_COUNT": "4"}, None),  # a count alone: no index, no shard
    ({"JOB_COMPLETION_INDEX": "", "PAICLI_SHARD_COUNT": "2"}, None),  # empty is unset
    ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "1"},
     ((1, 2), "SLURM_ARRAY_TASK_ID")),
    ({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "4"},
     ((2, 4), "SLURM_ARRAY_TASK_ID")),
    ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "9", "PAICLI_SHARD_COUNT": "3"},
     ((0, 3), "SLURM_ARRAY_TASK_ID")),  # PAICLI_SHARD_COUNT wins
    ({"JOB_COMPLETION_INDEX": " 1 ", "PAICLI_SHARD_COUNT": "2\n"}, ((1, 2), "JOB_COMPLETION_INDEX")),
    ({"CUE_IFRAME": "1001", "PAICLI_SHARD_COUNT": "4", "PAICLI_SHARD_FIRST": "1001"}, ((0, 4), "CUE_IFRAME")),
    ({"CUE_IFRAME": "2", "PAICLI_SHARD_COUNT": "4"}, ((1, 4), "CUE_IFRAME")),
    ({"SGE_TASK_ID": "1", "PAICLI_SHARD_COUNT": "3"}, ((0, 3), "SGE_TASK_ID")),
    ({"PBS_ARRAY_INDEX": "007", "PAICLI_SHARD_COUNT": "8"}, ((7, 8), "PBS_ARRAY_INDEX")),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "0", "PAICLI_SHARD_COUNT": "1"}, ((0, 1), "AWS_BATCH_JOB_ARRAY_INDEX")),
])
def test_well_formed_variables_give_the_shard(env, expected):
    assert shard_from_env(env) == expected


@pytest.mark.parametrize("var, value", [
    ("SLURM_ARRAY_TASK_ID", "abc"), ("SLURM_ARRAY_TASK_ID", "1.5"), ("SLURM_ARRAY_TASK_ID", "-1"),
    ("JOB_COMPLETION_INDEX", "-1"), ("JOB_COMPLETION_INDEX", "1e3"), ("JOB_COMPLETION_INDEX", "0x1"),
    ("CUE_IFRAME", "one"), ("SGE_TASK_ID", "undefined"), ("PBS_ARRAY_INDEX", "+1"),
    ("AWS_BATCH_JOB_ARRAY_INDEX", "\u0663"),  # an Arabic-Indic 3: str.isdigit() says yes
    ("AWS_BATCH_JOB_ARRAY_INDEX", "\u00b2"),  # a superscript 2: isdigit() yes, int() no
])
def test_a_malformed_array_index_is_a_config_error_naming_it(var, value):
    with pytest.raises(ConfigError) as e:
        shard_from_env({var: value, "PAICLI_SHARD_COUNT": "2"})
    assert e.value.message == f"{var}={value!r} is not a whole number 0 or more"


@pytest.mark.parametrize("env, var", [
    ({"JOB_COMPLETION_INDEX": "0", "PAICLI_SHARD_COUNT": "abc"}, "PAICLI_SHARD_COUNT='abc'"),
    ({"JOB_COMPLETION_INDEX": "0", "PAICLI_SHARD_COUNT": "-1"}, "PAICLI_SHARD_COUNT='-1'"),
    ({"JOB_COMPLETION_INDEX": "0", "PAICLI_SHARD_COUNT": "1.5"}, "PAICLI_SHARD_COUNT='1.5'"),
    ({"JOB_COMPLETION_INDEX": "0", "PAICLI_SHARD_COUNT": "0"}, "PAICLI_SHARD_COUNT=0 gives 0 shards"),
    ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "x"}, "SLURM_ARRAY_TASK_COUNT='x'"),
    ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "0"}, "SLURM_ARRAY_TASK_COUNT=0 gives 0 shards"),
    ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "x", "SLURM_ARRAY_TASK_COUNT": "2"},
     "SLURM_ARRAY_TASK_MIN='x'"),
    ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MAX": "2.0"}, "SLURM_ARRAY_TASK_MAX='2.0'"),
    ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "3", "SLURM_ARRAY_TASK_MAX": "1"},
     "SLURM_ARRAY_TASK_MAX=1 with SLURM_ARRAY_TASK_MIN=3 gives -1 shards"),
    ({"CUE_IFRAME": "1", "PAICLI_SHARD_COUNT": "2", "PAICLI_SHARD_FIRST": "first"}, "PAICLI_SHARD_FIRST='first'"),
    ({"PAICLI_SHARD_COUNT": "two"}, "PAICLI_SHARD_COUNT='two'"),  # our own variable, malformed even unused
])
def test_a_malformed_count_or_first_index_is_a_config_error_naming_it(env, var):
    with pytest.raises(ConfigError, match=var.replace(".", r"\.")):
        shard_from_env(env)


def test_a_huge_value_is_refused_shortened_not_an_internal_error():
    for value in ("9" * 5001, "1" + "0" * 9):  # past int()'s 4,300 digits; past any farm's array
        with pytest.raises(ConfigError) as e:
            shard_from_env({"JOB_COMPLETION_INDEX": "0", "PAICLI_SHARD_COUNT": value})
        assert "PAICLI_SHARD_COUNT=" in e.value.message and "too large" in e.value.message
        assert len(e.value.message) < 160
    assert shard_from_env({"JOB_COMPLETION_INDEX": "0", "PAICLI_SHARD_COUNT": "0" * 5000 + "2"}) == (
        (0, 2), "JOB_COMPLETION_INDEX")


def test_an_index_outside_the_count_is_a_config_error():
    with pytest.raises(ConfigError, match="gives shard 3, outside 1..2"):
        shard_from_env({"JOB_COMPLETION_INDEX": "2", "PAICLI_SHARD_COUNT": "2"})
    with pytest.raises(ConfigError, match="number of shards is not"):
        shard_from_env({"SGE_TASK_ID": "1"})


@pytest.mark.parametrize("text, expected", [("1/2", (0, 2)), (" 2 / 2 ", (1, 2))])
def test_the_shard_option(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "1.5/2", "\u0663/4", "9" * 5001 + "/2", "1/" + "9" * 10])
def test_a_bad_shard_option_is_a_usage_error(text):
    with pytest.raises(UsageError) as e:
        parse_shard(text)
    assert len(e.value.message) < 160


def test_render_stops_on_a_malformed_farm_variable_before_touching_anything(tmp_path, capsys, monkeypatch):
    from paicli.cli import run

    (tmp_path / "cut.edl").write_text("TITLE: cut\nFCM: NON-DROP FRAME\n")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "abc")
    monkeypatch.setenv("PAICLI_SHARD_COUNT", "2")
    assert run(["render", str(tmp_path / "cut.edl"), "-o", str(tmp_path / "out"), "--progress", "none"]) == 78
    assert capsys.readouterr().err == "paicli: error: SLURM_ARRAY_TASK_ID='abc' is not a whole number 0 or more\n"
    assert not (tmp_path / "out").exists()
