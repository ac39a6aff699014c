"""benchmarks/dit_gpu.py's smallest case runs on a CPU (the GPU cases need a GPU)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_tiny_case_times_sampling_and_fine_tuning_on_a_cpu(tmp_path):
    out = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "dit_gpu.py"), "--cases", "tiny,1.3b-480p",
                           "--device", "cpu", "--steps", "1", "--json", str(out)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1.3b-480p skipped" in done.stdout
    (row,) = json.loads(out.read_text())
    assert row["case"] == "tiny" and row["sample_step_s"] > 0 and row["train_step_s"] > 0 and row["tokens"] == 216
