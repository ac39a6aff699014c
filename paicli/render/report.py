"""What a render run shows a person: a thumbnail strip per shot and ``report.html``.

The strip (``<stem>_thumbs.jpg``, written with the shot) has the source on top and the
result below, at the shot's first, middle and last frame (handles left out), 120 px high,
display-encoded (BT.709). ``report.html`` in the output folder lists every shot of the plan
with its status, version, frames, times and camera figures, a link to its relight-check
report (``<stem>_qc.html``, verdict and score) and its strip inlined, so the file is
self-contained; it is rewritten at the end of every run. A shot that took a later version
because the name template gave it an earlier shot's name says so in its problem column.
"""
from __future__ import annotations

import html
import json
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

from paicli.check.report import jpeg_img
from paicli.errors import PaicliError
from paicli.media import atomic
from paicli.media.reader import open_source
from paicli.media.stills import display_uint8, jpeg_bytes
from paicli.render.plan import finished

THUMB_HEIGHT = 120


def _frames(path: str, indices: list[int], info=None) -> list[np.ndarray]:
    """The frames at ``indices`` of a movie or sequence, opened once; unreadable ones left out."""
    try:
        src = open_source(path, info=info) if info is not None else open_source(path)
    except (PaicliError, OSError):
        return []
    out = []
    try:
        for i in indices:
            try:
                f = next(iter(src.frames(i, 1)), None)
            except (PaicliError, OSError):
                f = None
            if f is not None:
                out.append(f)
    finally:
        src.close()
    return out


def thumb_strip(source_path: str, source_info, source_first: int, result_path: str, result_first: int,
                count: int) -> bytes | None:
    """JPEG bytes of the 2x3 strip (see the module notes), or None if no frame could be read."""
    picks = sorted({0, count // 2, max(count - 1, 0)})
    rows = []
    for path, first, info in ((source_path, source_first, source_info), (result_path, result_first, None)):
        row = []
        for f in _frames(path, [first + i for i in picks], info):
            h, w = f.shape[:2]
            row.append(display_uint8(f, height=THUMB_HEIGHT))
        if row:
            rows.append(np.concatenate(row, axis=1))
    if not rows:
        return None
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return jpeg_bytes(np.concatenate(rows, axis=0))


def write_report(plan, out_root: Path, outcomes: list) -> Path:
    """``report.html`` for every shot of ``plan`` (see the module notes)."""
    by_id = {o.shot.shot.id: o for o in outcomes}
    el = plan.edit_list
    head = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>paicli render: {html.escape(Path(el.path).name)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:1.5em;background:#111;color:#ddd}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #333;padding:4px 8px;text-align:left;vertical-align:middle}}
tr.failed td,tr.unresolved td,tr.no-refs td,tr.not-renderable td{{color:#f77}}tr.busy td{{color:#e3b341}}img{{display:block;height:120px}}
a{{color:#58a6ff}}a.qc.fail{{color:#f77}}a.qc.warn{{color:#e3b341}}</style>
</head><body><h1>{html.escape(Path(el.path).name)}</h1>
<p>{len(plan.shots)} shots at {html.escape(str(el.rate))} fps ({html.escape(el.format)}); written
{time.strftime('%Y-%m-%d %H:%M:%S')}. Strips: source above, result below, first / middle / last frame.</p>
<table><thead><tr><th>shot</th><th>record</th><th>source</th><th>version</th><th>status</th><th>frames</th>
<th>figures</th><th>check</th><th>problem</th><th>source / result</th></tr></thead><tbody>
"""
    path = out_root / "report.html"
    with atomic.atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as page:
        page.write(head)
        for ps in plan.shots:  # one row at a time: memory does not grow with the list
            page.write(_row(ps, out_root, by_id.get(ps.shot.id)) + "\n")
        page.write("</tbody></table></body></html>\n")
    return path


def _row(ps, out_root: Path, o) -> str:
    side = finished(out_root, ps.folder, ps.stem) if ps.version else None
    status = o.status if o is not None else ("done" if side else ps.status)
    figures = {}
    strip = qc = ""
    if side:
        try:
            report = json.loads((out_root / ps.folder / f"{ps.stem}_replace.json").read_text()).get("report", {})
        except (OSError, ValueError):
            report = {}
        timing = report.get("timing") or {}
        cam = report.get("camera") or {}
        if timing.get("frames"):
            figures["engine ms/frame"] = round(1000 * (timing.get("analysis_s", 0) + timing.get("render_s", 0))
                                               / timing["frames"], 1)
        if cam:
            figures["camera"] = cam.get("mode")
            if cam.get("mean_residual_px") is not None:
                figures["residual px"] = cam.get("mean_residual_px")
        qc = _qc_link(out_root, ps)
        thumbs = out_root / ps.folder / f"{ps.stem}_thumbs.jpg"
        if thumbs.is_file():
            strip = jpeg_img(thumbs.read_bytes(), f"source and result of {ps.shot.id}")
    if o is not None and o.seconds:
        figures["seconds"] = round(o.seconds, 1)
    err = (o.error if o is not None and o.error else ps.reason) or ""
    if getattr(ps, "name_of", None):  # the template gave it an earlier shot's name: it took a later version
        err = "; ".join(filter(None, (f"name template gave it {ps.name_of}'s name: next version", err)))
    return (f"<tr class=\"{html.escape(status)}\"><td>{html.escape(ps.shot.id)}</td>"
            f"<td>{html.escape(ps.shot.record_tc)}</td><td>{html.escape(ps.shot.source_tc)}</td>"
            f"<td>{'v%03d' % ps.version if ps.version else '-'}</td><td>{html.escape(status)}</td>"
            f"<td>{ps.count or ''}</td><td>{html.escape(', '.join(f'{k} {v}' for k, v in figures.items()))}"
            f"</td><td>{qc}</td><td>{html.escape(err)}</td><td>{strip}</td></tr>")


def _qc_link(out_root: Path, ps) -> str:
    """A link to the shot's relight-check report with its verdict and score, if it has one."""
    doc_path = out_root / ps.folder / f"{ps.stem}_qc.json"
    try:
        doc = json.loads(doc_path.read_text())
    except (OSError, ValueError):
        return ""
    href = quote(str(Path(ps.folder) / f"{ps.stem}_qc.html").replace("\\", "/"))
    verdict = str(doc.get("verdict", "?"))
    return (f'<a class="qc {html.escape(verdict)}" href="{html.escape(href)}">{html.escape(verdict)} '
            f'{html.escape(str(doc.get("score")))}</a>')
