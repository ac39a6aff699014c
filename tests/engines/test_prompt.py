"""The DiT engine's structured prompt: schema, default and checks."""
from __future__ import annotations

import json

import pytest

from paicli.errors import BadDataError, MissingInputError
from paicli.engines.prompt import SCHEMA, default_prompt, load_prompt


def test_the_default_prompt_fills_every_field_of_the_schema_from_the_inputs():
    p = default_prompt(["refs/beach.0000.png"], 24)
    assert set(p) == set(SCHEMA["required"]) and "beach" in p["scene"]


def test_a_valid_prompt_file_is_read_as_is(tmp_path):
    doc = {"scene": "a beach at noon", "lighting": "hard sun from the left", "camera_motion": "slow pan right",
           "subject": "a lemur"}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    assert load_prompt(tmp_path / "p.json") == doc


@pytest.mark.parametrize("text, match", [("{", "not valid JSON"), ("[]", "JSON object"),
                                         ('{"scene": "x"}', "missing lighting"),
                                         ('{"scene": "x", "lighting": "y", "camera_motion": "z", "subject": 3, '
                                          '"mood": "w"}', "unknown mood")])
def test_bad_prompt_files_are_refused_in_one_line(tmp_path, text, match):
    (tmp_path / "p.json").write_text(text)
    with pytest.raises(BadDataError, match=match) as e:
        load_prompt(tmp_path / "p.json")
    assert "\n" not in str(e.value)


def test_a_missing_prompt_file_is_missing_input(tmp_path):
    with pytest.raises(MissingInputError):
        load_prompt(tmp_path / "none.json")
