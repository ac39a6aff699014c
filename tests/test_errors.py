"""paicli.errors.from_environment: names the system refuses become one line with the right
code, wherever they were met (a bug's exception stays an internal error)."""
from __future__ import annotations

import errno

import pytest

from paicli.errors import ExitCode, from_environment
from paicli.media import atomic


def test_a_name_too_long_or_a_symlink_loop_is_a_missing_input(tmp_path):
    for code in (errno.ENAMETOOLONG, errno.ELOOP):
        e = from_environment(OSError(code, "refused", str(tmp_path / "x.png")))
        assert e.exit_code == ExitCode.NOINPUT and "x.png" in e.message


def test_permission_denied_reading_a_file_is_66_and_creating_one_is_73(tmp_path):
    existing = tmp_path / "plate.mov"
    existing.write_bytes(b"x")
    read = from_environment(PermissionError(errno.EACCES, "Permission denied", str(existing)))
    create = from_environment(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "out" / "new.exr")))
    into_folder = from_environment(PermissionError(errno.EACCES, "Permission denied", str(tmp_path)))
    assert read.exit_code == ExitCode.NOINPUT and "cannot read" in read.message
    assert create.exit_code == ExitCode.CANTCREAT and into_folder.exit_code == ExitCode.CANTCREAT
    assert from_environment(ValueError("a bug")) is None


def test_a_sequence_temporary_folder_that_cannot_be_made_is_an_output_error(tmp_path, monkeypatch):
    from paicli.errors import OutputError

    def refuse(self, *a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(type(tmp_path), "mkdir", refuse)
    with pytest.raises(OutputError, match="cannot write in"):
        atomic.temp_dir_for(tmp_path / "plate_key.####.exr")
