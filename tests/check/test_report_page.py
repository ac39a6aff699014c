"""The relight-check report as a person sees it: rendered by headless Chromium (Debian's
``chromium``, which ``.ci/run`` installs), the screenshot must show the thumbnails and plots."""
from __future__ import annotations

import base64
import re
import subprocess

import cv2
import numpy as np
import pytest

from paicli.cli import run

from conftest import chromium_path

CHROMIUM = chromium_path()
pytestmark = pytest.mark.needs_chromium


def _screenshot(page, tmp_path, width=1300, height=4000) -> np.ndarray:
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}",
                    f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    return cv2.imread(str(shot))


def test_the_report_renders_offline_with_its_thumbnails_and_plots(check_shot, tmp_path, capsys):
    f = check_shot["folder"]
    code = run(["relight-check", str(f / "static.mov"), "--matte", str(f / "matte.%04d.png"), "--plate",
                str(f / "plate.mov"), "--bg", str(f / "refs"), "-o", str(tmp_path / "qc"), "--progress", "none"])
    capsys.readouterr()
    page = tmp_path / "qc" / "static_qc.html"
    text = page.read_text()
    assert code == 1 and "http:" not in text and "https:" not in text and "<script" not in text
    shot = _screenshot(page, tmp_path)
    assert shot is not None

    # every thumbnail (first, middle, last frame) is on screen as it was encoded
    thumbs = re.findall(r'<img class="thumb" alt="[^"]*" src="data:image/jpeg;base64,([^"]+)"', text)
    assert len(thumbs) == 3
    for b64 in thumbs:
        thumb = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)
        found = cv2.matchTemplate(shot, thumb, cv2.TM_CCOEFF_NORMED).max()
        assert found > 0.9, found

    # one plot panel per series, each with its line drawn
    panel = np.all(shot == (0x17, 0x11, 0x0D), axis=-1).astype(np.uint8)  # the plot background #0d1117 (BGR)
    n, _, stats, _ = cv2.connectedComponentsWithStats(panel)
    panels = [s for s in stats[1:] if s[cv2.CC_STAT_AREA] > 20000]
    assert len(panels) == text.count('<svg class="plot"') >= 12
    line = np.all(np.abs(shot.astype(int) - (0xEB, 0x6F, 0x1F)) < 40, axis=-1)  # #1f6feb
    drawn = sum(line[max(y - 4, 0):y + h + 4, x:x + w].sum() > 30 for x, y, w, h, _ in panels)
    assert drawn >= len(panels) - 2  # a series may be unmeasured on this shot (e.g. flicker's ends only)
    assert (np.all(np.abs(shot.astype(int) - (0x22, 0x22, 0xCF)) < 30, axis=-1)).sum() > 100  # the red "fail" badge
