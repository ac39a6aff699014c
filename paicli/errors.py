"""The one domain exception type, and the sysexits codes it maps to.

Every error a user can cause is raised as a :class:`PaicliError` (or a subclass) and
caught once, at the CLI boundary, where it becomes one line on stderr and an exit code.
"""
from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """sysexits(3) codes, as scripts and render farms expect them."""

    OK = 0
    FAILED = 1  # a check ran and the verdict is "fail" (relight-check), or some shots failed
    USAGE = 2  # as Typer/Click report bad options
    DATAERR = 65  # input data is malformed
    NOINPUT = 66  # input file missing or unreadable
    SOFTWARE = 70  # internal error (a bug)
    UNAVAILABLE = 69  # engine, weights or GPU unavailable
    CANTCREAT = 73  # cannot create an output
    IOERR = 74
    TEMPFAIL = 75  # temporary failure, worth a retry
    CONFIG = 78  # bad configuration


class PaicliError(Exception):
    """An error the user can act on: a one-line message and an exit code."""

    exit_code: ExitCode = ExitCode.SOFTWARE

    def __init__(self, message: str, exit_code: ExitCode | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class UsageError(PaicliError):
    exit_code = ExitCode.USAGE


class BadDataError(PaicliError):
    """The input exists but its content cannot be used (corrupt movie, VFR, wrong size)."""

    exit_code = ExitCode.DATAERR


class MissingInputError(PaicliError):
    exit_code = ExitCode.NOINPUT


class EngineUnavailableError(PaicliError):
    exit_code = ExitCode.UNAVAILABLE


class OutputError(PaicliError):
    """An output cannot be created (permissions, full disk, outside the output folder)."""

    exit_code = ExitCode.CANTCREAT


class TemporaryFailure(PaicliError):
    exit_code = ExitCode.TEMPFAIL


class ConfigError(PaicliError):
    exit_code = ExitCode.CONFIG


def debugging() -> bool:
    """``PAICLI_DEBUG`` is set (not empty, not 0): let exceptions through with their traceback."""
    import os

    return os.environ.get("PAICLI_DEBUG", "") not in ("", "0")


def from_environment(error: BaseException) -> PaicliError | None:
    """The domain error for a failure of the machine rather than of the input: a full disk or
    a file-size limit (73, naming the file), running out of host or GPU memory (75: a retry
    with more memory, or on another machine, may pass); and for names the system refuses
    wherever they were met: too long or a symlink loop (66), permission denied (66 reading an
    existing file, 73 creating one). None for anything else."""
    import errno

    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":  # torch's CUDA OOM too
        return TemporaryFailure("out of memory; try a smaller chunk or tile size, or a machine with more memory")
    if not isinstance(error, OSError):
        return None
    where = f" {str(error.filename)[:300]}" if error.filename else ""
    if error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS):
        return OutputError(f"cannot write{where}: {error.strerror or error}")
    if error.errno in (errno.ENAMETOOLONG, errno.ELOOP):  # a name the system cannot open: an input's
        return MissingInputError(f"cannot open{where}: {error.strerror or error}")
    if error.errno in (errno.EACCES, errno.EPERM):
        # an existing file that cannot be read is an input's fault (66); a name that cannot be
        # created (in a read-only or locked folder) an output's (73)
        import os

        exists = bool(error.filename) and os.path.lexists(error.filename) and not os.path.isdir(error.filename)
        what = "cannot read" if exists else "cannot create"
        return (MissingInputError if exists else OutputError)(f"{what}{where}: permission denied")
    return None
