#!/usr/bin/env python3
"""``paicli render``'s own overhead on a long edit list (a script, not a test).

    python benchmarks/render.py [--events 500] [--small 50] [--json OUT]

A synthetic CMX 3600 list of N four-frame events over a few tiny generated movies (64x48) is
planned, rendered with the classic engine and conformed. Printed:

1. Per-shot overhead: planning (read, media resolution and probing, references, keys,
   versions), conform (writing and reading back the timelines), and the render loop's own
   time per shot (staging, sidecars, moves: the loop's wall time less the engine's and the
   writers' time as the replace summary reports it). Bar: under 0.5 s per shot.
2. Peak RSS of the whole `paicli render` process for a short and a long list (polled,
   children included). Bar: independent of the number of shots (within 10 %).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REELS = ("A001C001", "A001C002", "A002C001", "A002C002")


def make_project(root: Path, events: int) -> Path:
    from paicli.shot.example import make_example_shot
    from paicli.media.timing import Timecode

    for i, reel in enumerate(REELS):
        if not (root / reel / "plate.mov").exists():
            make_example_shot(root / reel, width=64, height=48, frames=96, start_tc=f"0{i + 1}:00:00:00", reel=reel,
                              rate=Fraction(25))
    lines = ["TITLE: bench", "FCM: NON-DROP FRAME"]
    rec = Timecode.parse("10:00:00:00", Fraction(25)).frames
    for n in range(1, events + 1):
        reel = REELS[n % len(REELS)]
        src = Timecode.parse(f"0{n % len(REELS) + 1}:00:00:00", Fraction(25)).frames + (n * 7) % 80
        tcs = " ".join(str(Timecode(f, 25)) for f in (src, src + 4, rec, rec + 4))
        lines += [f"{n:03d}  {reel} V     C        {tcs}", f"* FROM CLIP NAME:  {reel}_{n:04d}",
                  f"* SOURCE FILE: {root / reel / 'plate.mov'}"]
        rec += 4
    edl = root / f"list{events}.edl"
    edl.write_text("\n".join(lines) + "\n")
    (root / f"map{events}.json").write_text(json.dumps({f"{r}_{n:04d}": str(root / REELS[0] / "refs")
                                               for n in range(1, events + 1) for r in REELS}))
    return edl


def _map(edl: Path) -> Path:
    return edl.parent / f"map{edl.stem[4:]}.json"


def argv(edl: Path, out: Path) -> list[str]:
    return ["render", str(edl), "-o", str(out), "--bg-map", str(_map(edl)), "--format", "exr",
            "--rate", "25", "--progress", "none", "--json"]


def overhead(edl: Path, out: Path, events: int) -> dict:
    import contextlib
    import io

    from paicli.render.conform import conform
    from paicli.render.plan import DEFAULT_TEMPLATE, make_plan
    from paicli.cli import run
    from paicli.render.settings import NOT_IN_KEY
    from paicli.timeline.read import read_edit_list

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        t0 = time.perf_counter()
        code = run(argv(edl, out))
        wall = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"render failed ({code})")
    doc = json.loads(buf.getvalue())
    sides = [json.loads(p.read_text()) for p in out.rglob("*_replace.json")]
    engine = sum((s["report"].get("timing") or {}).get("analysis_s", 0) + (s["report"].get("timing") or {})
                 .get("render_s", 0) for s in sides)
    qc = sum(json.loads(p.read_text())["details"].get("seconds", 0) for p in out.rglob("*_qc.json"))
    settings = {k: v for k, v in doc["settings"].items() if k not in NOT_IN_KEY}
    t0 = time.perf_counter()
    el = read_edit_list(edl, rate="25")
    plan = make_plan(el, out, template=DEFAULT_TEMPLATE, handles=settings["handles"], settings=settings,
                     engine=settings["engine"], media_roots=[], bg_map=_map(edl), refs_root=None,
                     shard=(0, 1))
    plan_s = time.perf_counter() - t0
    assert all(ps.status == "done" for ps in plan.shots), "a replan of a finished run plans nothing new"
    t0 = time.perf_counter()
    written, _ = conform(plan, out)
    conform_s = time.perf_counter() - t0
    loop = max(wall - engine - qc - plan_s - conform_s, 0.0)
    return {"events": events, "wall_s": wall, "engine_s": engine, "qc_s_per_shot": qc / events, "plan_s_per_shot": plan_s / events,
            "conform_s_per_shot": conform_s / events, "loop_s_per_shot": loop / events,
            "total_s_per_shot": (plan_s + conform_s + loop) / events, "timelines": len(written)}


def peak(edl: Path, out: Path) -> float:
    from dit import peak as peak_of  # the same polling of a child's RSS

    return peak_of([sys.executable, "-m", "paicli.cli", *argv(edl, out)])["peak_rss_mib"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=500)
    ap.add_argument("--small", type=int, default=50)
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        big, small = make_project(root, a.events), make_project(root, a.small)
        figures = overhead(big, root / "out_big", a.events)
        figures["peak_rss_mib"] = {a.small: peak(small, root / "rss_small"), a.events: peak(big, root / "rss_big")}
    f = figures
    print(f"paicli render overhead, {a.events}-event EDL, classic engine on 64x48 four-frame shots "
          f"(render wall {f['wall_s']:.1f} s, engine {f['engine_s']:.1f} s, relight-check "
          f"{f['qc_s_per_shot']:.3f} s per shot, counted with the engine, not as overhead)")
    print("| per shot | planning s | conform s | render loop s | total s | < 0.5 s |")
    print("|---|---|---|---|---|---|")
    ok = "PASS" if f["total_s_per_shot"] < 0.5 else "FAIL"
    print(f"| {a.events} events | {f['plan_s_per_shot']:.4f} | {f['conform_s_per_shot']:.4f} | "
          f"{f['loop_s_per_shot']:.4f} | {f['total_s_per_shot']:.4f} | {ok} |")
    rss = f["peak_rss_mib"]
    growth = rss[a.events] / rss[a.small] - 1
    print("\n| peak RSS, `paicli render` | " + " | ".join(f"{n} shots" for n in rss) + " | growth | < 10 % |")
    print("|---|" + "---|" * (len(rss) + 2))
    print("| whole process | " + " | ".join(f"{v:.0f} MiB" for v in rss.values()) +
          f" | {100 * growth:+.1f} % | {'PASS' if growth < 0.10 else 'FAIL'} |")
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
