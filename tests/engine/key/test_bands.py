"""Row bands: a compiled pass split across cores gives exactly the single-pass result."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from engine.key import bands, fused


@pytest.fixture(params=[1, 2, 3])
def cores(request, monkeypatch):
    monkeypatch.setattr(bands, "cores", lambda: request.param)
    return request.param


def test_every_row_is_filled_once_by_bands_that_run_at_once(cores):
    seen = np.zeros(1001, np.int64)
    n = min(cores, 1001 // bands.MIN_BAND_ROWS)
    together = threading.Barrier(n, timeout=10)  # breaks unless all n bands are running at the same time

    def kernel(out, r0, r1):
        together.wait()
        out[r0:r1] += 1

    bands.in_bands(kernel, 1001, seen)
    assert (seen == 1).all()


def test_banded_keyer_kernels_equal_one_pass(cores):
    rng = np.random.default_rng(0)
    h, w = 301, 64
    img = rng.random((h, w, 3), dtype=np.float32)
    plate = np.broadcast_to(np.float32([0.1, 0.5, 0.15]), (h, w, 3)).copy()
    alpha = rng.random((h, w), dtype=np.float32)
    whole, banded = np.empty((h, w), np.float32), np.empty((h, w), np.float32)
    fused.screen_amount(img, plate, 1, 1.0, True, whole, 0, h)
    bands.in_bands(fused.screen_amount, h, img, plate, 1, 1.0, True, banded)
    np.testing.assert_array_equal(whole, banded)
    fg = [np.empty((h, w, 3), np.float32) for _ in range(2)]
    spill = [np.empty((h, w), np.float32) for _ in range(2)]
    replace = np.zeros(3, np.float32)
    fused.unmix_despill(img, alpha, plate, 1, 1, 1.0, replace, False, fg[0], spill[0], 0, h)
    bands.in_bands(fused.unmix_despill, h, img, alpha, plate, 1, 1, 1.0, replace, False, fg[1], spill[1])
    np.testing.assert_array_equal(fg[0], fg[1])
    np.testing.assert_array_equal(spill[0], spill[1])
    from engine.key.chroma import LUMA
    for along_y in (False, True):  # a band's rows need their neighbours' fits: recomputed, not shared
        smooth = rng.random((h, w), dtype=np.float32)
        out = [np.empty_like(img) for _ in range(2)]
        fused.rebuild_chroma(img, LUMA, smooth, along_y, True, np.float32(1e-5), out[0], 0, h)
        bands.in_bands(fused.rebuild_chroma, h, img, LUMA, smooth, along_y, True, np.float32(1e-5), out[1])
        np.testing.assert_array_equal(out[0], out[1])
    band = rng.random((h, w)) < 0.5  # a band's rows read their neighbours' mattes: not cut at its edge
    out = [np.empty((h, w), np.float32) for _ in range(2)]
    fused.smooth_matte(alpha, band, 0.1, 1.0, 2, out[0], 0, h)
    bands.in_bands(fused.smooth_matte, h, alpha, band, 0.1, 1.0, 2, out[1])
    np.testing.assert_array_equal(out[0], out[1])


def test_a_band_that_fails_fails_the_call_after_all_bands_finish(monkeypatch):
    monkeypatch.setattr(bands, "cores", lambda: 2)
    done = []

    def kernel(r0, r1):
        if r0 > 0:
            raise ValueError("bad band")
        done.append(r0)

    with pytest.raises(ValueError, match="bad band"):
        bands.in_bands(kernel, 200)
    assert done == [0]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (not on this platform)")
def test_a_forked_child_starts_its_own_threads(monkeypatch):
    monkeypatch.setattr(bands, "cores", lambda: 2)
    seen = np.zeros(200, np.int64)
    bands.in_bands(lambda out, r0, r1: out.__setitem__(slice(r0, r1), 1), 200, seen)  # the parent's pool exists
    pid = os.fork()
    if pid == 0:  # the child: the parent's pool threads are gone; a band must still run
        try:
            out = np.zeros(200, np.int64)
            bands.in_bands(lambda o, r0, r1: o.__setitem__(slice(r0, r1), 1), 200, out)
            os._exit(0 if (out == 1).all() else 1)
        except BaseException:
            os._exit(2)
    import signal
    import time

    deadline = time.monotonic() + 30
    while True:  # a child waiting on threads it does not have would hang: give it 30 s
        done, status = os.waitpid(pid, os.WNOHANG)
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if not done:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done and os.waitstatus_to_exitcode(status) == 0
