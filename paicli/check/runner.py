"""Check one result and write its report: what ``relight-check`` and ``render`` call."""
from __future__ import annotations

import time
from pathlib import Path

from paicli.check.inputs import CheckInputs
from paicli.check.measure import run_check
from paicli.check.report import document, write_html, write_json
from paicli.media.atomic import sweep_stale_temps
from paicli.paths import safe_output_path
from paicli.progress import Progress
from paicli.result import OutputFile
from paicli.shot.earlier import qc_report_names as report_names


def check_into(out_dir: Path, inputs: CheckInputs, limits: dict, *, adapt: float, settings: dict,
               progress: Progress) -> tuple[dict, list[OutputFile]]:
    """Run the check and write ``<stem>_qc.html`` and ``<stem>_qc.json`` into ``out_dir``;
    returns the JSON document and the two outputs."""
    sweep_stale_temps(out_dir)  # reports a killed check was writing
    t0 = time.perf_counter()
    outcome = run_check(inputs, limits, adapt=adapt, progress=progress)
    outcome.details["seconds"] = round(time.perf_counter() - t0, 3)
    doc = document(inputs, outcome, limits, settings)
    names = report_names(inputs.stem)
    html_path = safe_output_path(out_dir, names["html"])
    json_path = safe_output_path(out_dir, names["json"])
    write_html(html_path, inputs, outcome, doc, limits)
    write_json(json_path, doc)
    frames = (inputs.first_number, inputs.first_number + inputs.count - 1)  # file numbers, as the result's
    extra = {"verdict": doc["verdict"], "score": doc["score"]}
    return doc, [OutputFile(kind="report", path=str(html_path), format="html", frames=frames, extra=dict(extra)),
                 OutputFile(kind="report", path=str(json_path), format="json", frames=frames, extra=dict(extra))]
