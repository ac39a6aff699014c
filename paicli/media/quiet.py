"""What C libraries print: captured instead of reaching the terminal.

libpng, OpenEXR and OpenCV write their complaints about a damaged file straight to file
descriptor 2, around Python, so a bad frame would print a stray line before paicli's own
one-line error. Reads that can meet such files run inside :func:`c_stderr`, which gives the
captured lines back so the error can quote them.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from typing import Iterator

_ONE_AT_A_TIME = threading.Lock()  # fd 2 is the process's: one capture at a time
_OURS = re.compile(r"^(\s|\x1b|\{|\d{4}-\d\d-\d\d|\[?\d{2}:\d{2}:\d{2}|paicli)")  # progress lines, not a library's


@contextlib.contextmanager
def c_stderr() -> Iterator[list[str]]:
    """Capture file descriptor 2 for the block; the yielded list holds the lines afterwards.
    (Python-level writes to stderr from other threads during the block are captured too:
    keep the block to one library call.)"""
    lines: list[str] = []
    with _ONE_AT_A_TIME, tempfile.TemporaryFile() as sink:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable stderr (closed, or not a file): nothing to protect
            yield lines
            return
        try:
            os.dup2(sink.fileno(), 2)
            yield lines
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(x.strip() for x in sink.read().decode("utf-8", "replace").splitlines()
                         if x.strip() and not _OURS.match(x))
