"""The ``relight-check`` report: one self-contained HTML page and a JSON document.

The page has no scripts and loads nothing: thumbnails and edge crops are inline JPEGs,
plots are inline SVG. It shows the overall verdict and score, every metric with its
value, limits and verdict, the first / middle / last frames with the matte's edge band
outlined, edge-band crops at twice their size, and a per-frame plot of every series
with its warn (amber) and fail (red) limits.
"""
from __future__ import annotations

import base64
import html
import json
import math
import time
from pathlib import Path

import numpy as np

from engine.qc.verdict import BY_NAME
from paicli.check.inputs import CheckInputs
from paicli.check.measure import CheckOutcome
from paicli.media import atomic
from paicli.media.stills import display_uint8, jpeg_bytes

THUMB_HEIGHT = 180
CROP = 96  # edge crop side at 540 lines, scaled with the frame; shown twice as large
PLOT_W, PLOT_H, PAD = 520, 120, 30
LINE = "#1f6feb"
COLOURS = {"pass": "#2da44e", "warn": "#d4a72c", "fail": "#cf222e", "n/a": "#6e7781"}
SERIES_LABELS = {"cast": ("colour cast of the subject (part of harmony)", "log"),
                 "exposure": ("exposure vs plate (part of harmony)", "|ln|"),
                 "flicker": ("subject luminance, 2nd temporal difference", "%")}


def jpeg_img(data: bytes, alt: str, cls: str | None = None) -> str:
    """An ``<img>`` holding JPEG ``data`` inline (a data URI), so the page needs no other file."""
    klass = f'class="{html.escape(cls)}" ' if cls else ""
    return f'<img {klass}alt="{html.escape(alt)}" src="data:image/jpeg;base64,{base64.b64encode(data).decode()}">'


def _img(rgb8: np.ndarray, alt: str, cls: str) -> str:
    return jpeg_img(jpeg_bytes(rgb8) or b"", alt, cls)


def _outlined(comp: np.ndarray, alpha: np.ndarray, height: int) -> np.ndarray:
    import cv2

    rgb = display_uint8(comp, height=height)
    a = cv2.resize(alpha, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_AREA)
    edge = cv2.morphologyEx((a > 0.5).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    rgb[edge] = (255, 200, 0)
    return rgb


def _edge_crop(comp: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The result and matte around where the edge band is densest, doubled (nearest)."""
    import cv2

    from engine.qc.regions import regions  # imports cv2 at its top: lazy like cv2

    band = regions(alpha).band.astype(np.float32)
    if not band.any():
        return None
    h, w = alpha.shape
    side = max(16, min(h, w, int(round(CROP * h / 540))))
    density = cv2.boxFilter(band, -1, (side, side))
    y, x = np.unravel_index(int(np.argmax(density)), density.shape)
    y0, x0 = min(max(y - side // 2, 0), h - side), min(max(x - side // 2, 0), w - side)
    crop = display_uint8(comp[y0:y0 + side, x0:x0 + side])
    matte = (np.clip(alpha[y0:y0 + side, x0:x0 + side], 0, 1) * 255 + 0.5).astype(np.uint8)
    big = lambda im: cv2.resize(im, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)  # noqa: E731
    return big(crop), big(np.repeat(matte[..., None], 3, axis=2))


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _plot(name: str, values: list, first: int, limit=None, unit: str = "") -> str:
    """An SVG line plot of one per-frame series (gaps where a frame was not measured)."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    ys = [v for _, v in pts]
    marks = []
    if limit is not None:
        marks = [(limit.warn, COLOURS["warn"])] + ([(limit.fail, COLOURS["fail"])] if limit.fail is not None else [])
    lo = min(ys + [m for m, _ in marks] + [0.0]) if ys else 0.0
    hi = max(ys + [m for m, _ in marks]) if ys else 1.0
    if hi - lo < 1e-9:
        hi = lo + 1.0
    n = max(len(values) - 1, 1)
    sx = lambda i: PAD + (PLOT_W - PAD - 8) * i / n  # noqa: E731
    sy = lambda v: PLOT_H - 18 - (PLOT_H - 28) * (v - lo) / (hi - lo)  # noqa: E731
    parts = [f'<svg class="plot" width="{PLOT_W}" height="{PLOT_H}" viewBox="0 0 {PLOT_W} {PLOT_H}" '
             f'role="img" aria-label="{html.escape(name)} per frame">',
             f'<rect x="{PAD}" y="10" width="{PLOT_W - PAD - 8}" height="{PLOT_H - 28}" fill="#0d1117" stroke="#30363d"/>']
    for m, colour in marks:
        parts.append(f'<line x1="{PAD}" x2="{PLOT_W - 8}" y1="{sy(m):.1f}" y2="{sy(m):.1f}" stroke="{colour}" '
                     'stroke-dasharray="4 3"/>')
    runs, run = [], []
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            if run:
                runs.append(run)
            run = []
        else:
            run.append(f"{sx(i):.1f},{sy(v):.1f}")
    if run:
        runs.append(run)
    for r in runs:
        if len(r) == 1:
            x, y = r[0].split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{LINE}"/>')
        else:
            parts.append(f'<polyline fill="none" stroke="{LINE}" stroke-width="2" points="{" ".join(r)}"/>')
    parts.append(f'<text x="2" y="16" fill="#8b949e" font-size="10">{_fmt(hi)}</text>'
                 f'<text x="2" y="{PLOT_H - 18}" fill="#8b949e" font-size="10">{_fmt(lo)}</text>'
                 f'<text x="{PAD}" y="{PLOT_H - 4}" fill="#8b949e" font-size="10">frame {first}</text>'
                 f'<text x="{PLOT_W - 8}" y="{PLOT_H - 4}" fill="#8b949e" font-size="10" text-anchor="end">'
                 f'{first + len(values) - 1}</text>')
    if not pts:
        parts.append(f'<text x="{PLOT_W / 2}" y="{PLOT_H / 2}" fill="#8b949e" text-anchor="middle">not measured</text>')
    parts.append("</svg>")
    return "".join(parts)


def document(inputs: CheckInputs, outcome: CheckOutcome, limits: dict, settings: dict) -> dict:
    """The JSON form of the check (also what ``--json`` prints in its summary)."""
    metrics = {}
    for name, j in outcome.judged["metrics"].items():
        m, lim = BY_NAME[name], limits[name]
        metrics[name] = {**j, "group": m.group, "label": m.label, "unit": m.unit,
                         "warn": lim.warn, "fail": lim.fail,
                         "worse": "lower" if m.lower_is_worse else ("abs higher" if m.magnitude else "higher")}
    return {"schema": "paicli.relight_check.1", "verdict": outcome.verdict, "score": outcome.judged["score"],
            "result": inputs.result.path, "frames": [inputs.first_number, inputs.first_number + inputs.count - 1],
            "inputs": {**{(k + "_from" if k in ("result", "plate", "references") else k): v
                          for k, v in inputs.sources.items()},
                       "plate": inputs.plate.path if inputs.plate else None, "screen": outcome.screen,
                       "references": [str(p) for _, p in inputs.references]},
            "metrics": metrics, "details": outcome.details, "notes": outcome.notes, "settings": settings,
            "series": outcome.series}


def write_html(path: Path, inputs: CheckInputs, outcome: CheckOutcome, doc: dict, limits: dict) -> None:
    v = doc["verdict"]
    first = inputs.first_number
    rows = []
    for name, m in doc["metrics"].items():
        rows.append(f'<tr><td>{html.escape(m["group"])}</td><td>{html.escape(m["label"])}</td>'
                    f'<td class="num">{_fmt(m["value"])}</td><td>{html.escape(m["unit"])}</td>'
                    f'<td class="num">{_fmt(m["warn"])}</td><td class="num">{_fmt(m["fail"])}</td>'
                    f'<td><span class="v" style="background:{COLOURS[m["verdict"]]}">{m["verdict"]}</span></td>'
                    f'<td class="num">{_fmt(m["score"])}</td></tr>')
    thumbs, crops = [], []
    for i, (comp, alpha) in sorted(outcome.kept.items()):
        label = f"frame {first + i}"
        thumbs.append(f'<figure>{_img(_outlined(comp, alpha, THUMB_HEIGHT), label, "thumb")}'
                      f"<figcaption>{label}</figcaption></figure>")
        c = _edge_crop(comp, alpha)
        if c is not None:
            crops.append(f'<figure>{_img(c[0], label + " edge", "crop")}{_img(c[1], label + " matte", "crop")}'
                         f"<figcaption>{label}: edge band, result and matte (2x)</figcaption></figure>")
    plots = []
    for name, values in outcome.series.items():
        if name in BY_NAME:
            label, unit, lim = BY_NAME[name].label, BY_NAME[name].unit, limits[name]
            if name == "flicker":
                label, unit = SERIES_LABELS[name]
                lim = None
        else:
            (label, unit), lim = SERIES_LABELS[name], None
        caption = f"{label} ({unit})" if unit else label
        plots.append(f'<figure class="chart"><figcaption>{html.escape(caption)}</figcaption>'
                     f"{_plot(label, values, first, lim, unit)}</figure>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in doc["notes"])
    inputs_rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(val))}</td></tr>"
                          for k, val in doc["inputs"].items() if val not in (None, [], ""))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>relight-check: {html.escape(inputs.stem)} {v}</title>
<style>body{{font:14px system-ui,sans-serif;margin:1.5em;background:#161b22;color:#e6edf3}}
h1 .v,td .v{{color:#fff;padding:2px 10px;border-radius:4px}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}
td,th{{border-bottom:1px solid #30363d;padding:3px 10px;text-align:left}}td.num{{text-align:right;font-variant-numeric:tabular-nums}}
figure{{display:inline-block;margin:0 12px 12px 0;vertical-align:top}}figcaption{{color:#8b949e;font-size:12px}}
img.thumb{{height:{THUMB_HEIGHT}px;display:block}}img.crop{{display:inline-block;margin-right:4px}}</style>
</head><body>
<h1>{html.escape(inputs.stem)} <span class="v" style="background:{COLOURS[v]}">{v}</span>
score {_fmt(doc["score"])}</h1>
<p>{html.escape(inputs.result.path)}, frames {first}-{first + inputs.count - 1}; checked
{time.strftime('%Y-%m-%d %H:%M:%S')} by paicli relight-check.</p>
<table><tbody>{inputs_rows}</tbody></table>
<h2>Metrics</h2>
<table><thead><tr><th>group</th><th>metric</th><th>value</th><th>unit</th><th>warn</th><th>fail</th><th>verdict</th>
<th>score</th></tr></thead><tbody>{''.join(rows)}</tbody></table>
<ul>{notes}</ul>
<h2>Frames</h2><div class="thumbs">{''.join(thumbs)}</div>
<h2>Edges</h2><div class="crops">{''.join(crops)}</div>
<h2>Per frame</h2><div class="plots">{''.join(plots)}</div>
</body></html>
"""
    atomic.write_text(path, page)


def write_json(path: Path, doc: dict) -> None:
    atomic.write_text(path, json.dumps(doc, indent=1, default=str) + "\n")
