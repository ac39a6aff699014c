"""The CLI boundary: --help is cheap, errors are one line with a sysexits code, --json is one object."""
import json
import subprocess
import sys

import pytest

from paicli.cli import run


def paicli(*args, env=None):
    """Run paicli in a subprocess; returns (exit code, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "paicli.cli", *map(str, args)], capture_output=True, text=True, env=env)
    return p.returncode, p.stdout, p.stderr


def test_help_imports_no_heavy_modules():
    code = ("import sys\nfrom paicli.cli import run\n"
            "try:\n    run(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'diffusers', 'numpy', 'av', 'cv2', 'OpenEXR') if m in sys.modules]\n"
            "print('HEAVY:' + ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY:"


@pytest.mark.parametrize("cmd", ["probe", "convert", "example"])
def test_every_command_has_help_and_json(cmd):
    code, out, _ = paicli(cmd, "--help")
    assert code == 0 and "--json" in out


def test_usage_error_exits_2():
    code, _, err = paicli("convert")
    assert code == 2


def test_missing_input_is_one_line_and_exit_66(tmp_path):
    code, out, err = paicli("probe", tmp_path / "nope.mov")
    assert code == 66 and out == ""
    assert err.strip().count("\n") == 0 and "no such file" in err and "Traceback" not in err


def test_garbage_movie_is_exit_65(tmp_path):
    bad = tmp_path / "bad.mov"
    bad.write_bytes(b"not a movie at all" * 100)
    code, _, err = paicli("probe", bad)
    assert code == 65 and "Traceback" not in err


def test_probe_json_reports_exact_timing(write_prores):
    from fractions import Fraction

    path = write_prores(n=5, rate=Fraction(30000, 1001), tc="00:59:59;29", reel="R1")
    code, out, _ = paicli("probe", path, "--json")
    assert code == 0
    d = json.loads(out)
    assert d["command"] == "probe" and d["ok"]
    i = d["inputs"][0]
    assert (i["rate"], i["frame_count"], i["start_timecode"], i["end_timecode"], i["reel"], i["drop_frame"]) == \
        ("30000/1001", 5, "00:59:59;29", "01:00:00;03", "R1", True)


def test_convert_json_lists_the_output_with_range_and_timecode(tmp_path, write_prores):
    from fractions import Fraction

    src = write_prores(n=10, rate=Fraction(25), tc="10:00:00:00", reel="A001")
    out = tmp_path / "renders"
    code, stdout, err = paicli("convert", src, "-o", out, "--frames", "2-5", "--handles", "1", "--prores-profile", "422",
                               "--json", "--progress", "json")
    assert code == 0, err
    d = json.loads(stdout)
    o = d["outputs"][0]
    assert o["kind"] == "media" and o["frame_range"] == [0, 5] and o["frame_count"] == 6
    assert o["timecode"]["start"] == "10:00:00:01" and o["timecode"]["end"] == "10:00:00:06"
    assert o["rate"] == "25" and o["format"] == "prores_422"
    for line in err.strip().splitlines():  # progress went to stderr as JSON lines
        assert "event" in json.loads(line)
    from paicli.media.probe import probe

    info = probe(o["path"])
    assert info.frame_count == 6 and str(info.start_timecode) == "10:00:00:01" and info.reel == "A001"


def test_dry_run_prints_settings_and_their_sources(tmp_path, write_prores, monkeypatch):
    src = write_prores()
    env = dict(__import__("os").environ, PAICLI_PRORES_PROFILE="lt")
    code, out, _ = paicli("convert", src, "-o", tmp_path / "o", "--dry-run", "--json", "--preset", "vfx-pull", env=env)
    assert code == 0
    d = json.loads(out)
    s = d["settings"]
    assert d["dry_run"] and s["prores_profile"] == {"value": "lt", "source": "env:PAICLI_PRORES_PROFILE"}
    assert s["handles"] == {"value": 8, "source": "preset:vfx-pull"}
    assert s["exr_compression"]["source"] == "preset:vfx-pull"
    assert s["first_frame"]["value"] == 1001
    assert not (tmp_path / "o").exists()


def test_bad_env_value_is_exit_78(write_prores, tmp_path):
    env = dict(__import__("os").environ, PAICLI_PRORES_PROFILE="ultra")
    code, _, err = paicli("convert", write_prores(), "-o", tmp_path, env=env)
    assert code == 78 and "PAICLI_PRORES_PROFILE" in err


def test_internal_errors_are_one_line_without_debug(monkeypatch, capsys):
    import paicli.commands.probe as probe_cmd

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr("paicli.media.probe.probe", boom)
    assert run(["probe", "x.mov"]) == 70
    err = capsys.readouterr().err
    assert "kaboom" in err and "Traceback" not in err
    monkeypatch.setenv("PAICLI_DEBUG", "1")
    with pytest.raises(RuntimeError):
        run(["probe", "x.mov"])


@pytest.mark.parametrize("cmd", [["key"], ["replace", "--bg", "refs"], ["convert"], ["relight-check"]])
def test_a_missing_input_is_reported_before_a_bad_progress_mode(cmd, tmp_path, capsys):
    """--progress is checked when progress starts: the input's error comes first, as it always did."""
    argv = [cmd[0], str(tmp_path / "missing.mov"), *cmd[1:], "-o", str(tmp_path / "o"), "--progress", "bogus"]
    assert run(argv) == 66 and "missing.mov" in capsys.readouterr().err


def test_a_dry_run_starts_no_progress_so_a_bad_mode_does_not_stop_it(tmp_path, capsys):
    from paicli.shot.example import make_example_shot

    make_example_shot(tmp_path / "s", width=32, height=32, frames=3)
    argv = ["key", str(tmp_path / "s" / "plate.mov"), "-o", str(tmp_path / "o"), "--dry-run", "--json",
            "--progress", "bogus"]
    assert run(argv) == 0 and json.loads(capsys.readouterr().out)["dry_run"] is True


@pytest.mark.parametrize("argv,code", [
    (["render", "{d}/missing.edl", "--json"], 66),
    (["key", "{d}/missing.mov", "--json"], 66),
    (["replace", "{d}/missing.mov", "--bg", "{d}", "--json"], 66),
    (["key", "{d}/missing.mov", "--no-such-option", "--json"], 2),
    (["model", "info", "{d}/missing.safetensors", "--json"], 66),
])
def test_json_on_an_error_prints_one_object_with_ok_false_the_code_and_the_message(argv, code, tmp_path, capsys):
    assert run([a.format(d=tmp_path) for a in argv]) == code
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1, out
    got = json.loads(lines[0])
    assert got["ok"] is False and got["exit_code"] == code and got["command"] == " ".join(argv[:2 if argv[0] == "model" else 1])
    assert got["error"] and got["error"] in err  # the same message as the stderr line
    assert got["outputs"] == []


def test_without_json_an_error_prints_nothing_on_stdout(tmp_path, capsys):
    assert run(["key", str(tmp_path / "missing.mov")]) == 66
    assert capsys.readouterr().out == ""
