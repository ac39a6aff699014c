"""Outputs appear atomically: a killed writer never leaves a file under the final name."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from paicli.errors import OutputError
from paicli.media.atomic import HOST_TAG, OTHER_HOST_STALE_S, atomic_output, is_temp_name, sweep_stale_temps


def test_success_renames_and_error_removes(tmp_path):
    final = tmp_path / "a.txt"
    with atomic_output(final) as tmp:
        tmp.write_text("done")
        assert not final.exists() and is_temp_name(tmp.name)
    assert final.read_text() == "done" and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(ValueError):
        with atomic_output(tmp_path / "b.txt") as tmp:
            tmp.write_text("half")
            raise ValueError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_missing_folder_is_an_output_error(tmp_path):
    with pytest.raises(OutputError):
        with atomic_output(tmp_path / "nope" / "a.txt"):
            pass


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from fractions import Fraction
    from paicli.media.prores import ProResWriter
    with ProResWriter(sys.argv[1], 256, 144, Fraction(24)) as w:
        f = np.random.default_rng(0).random((144, 256, 3), dtype=np.float32)
        for i in range(100000):
            w.write(f)
            if i == 3:
                print("writing", flush=True)
""")


def test_sigkill_mid_write_leaves_no_final_file_and_the_temp_is_swept(tmp_path):
    final = tmp_path / "shot.mov"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(final)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not final.exists()
    leftovers = [p for p in tmp_path.iterdir()]
    assert leftovers and all(is_temp_name(p.name) for p in leftovers)
    removed = sweep_stale_temps(tmp_path)
    assert sorted(removed) == sorted(leftovers) and not list(tmp_path.iterdir())


def test_sweep_keeps_temps_of_live_writers(tmp_path):
    live = tmp_path / f".x.paicli-tmp-{os.getpid()}-abcd1234.mov"
    live.write_text("")
    assert sweep_stale_temps(tmp_path) == [] and live.exists()


def test_another_machines_temps_are_kept_until_long_untouched(tmp_path):
    """Farm jobs on several machines share an output folder: a process ID from another host
    says nothing here, so its temporaries go only when untouched for hours."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    other = "0badc0de" if HOST_TAG != "0badc0de" else "0badc0df"
    fresh = tmp_path / f".x.paicli-tmp-{gone.pid}-{other}12345678.mov"
    old = tmp_path / f".y.paicli-tmp-{gone.pid}-{other}12345678.exr"
    ours = tmp_path / f".z.paicli-tmp-{gone.pid}-{HOST_TAG}12345678.exr"
    for f in (fresh, old, ours):
        f.write_text("")
    hours_ago = time.time() - OTHER_HOST_STALE_S - 60
    os.utime(old, (hours_ago, hours_ago))
    assert sorted(sweep_stale_temps(tmp_path)) == sorted([old, ours]) and fresh.exists()
