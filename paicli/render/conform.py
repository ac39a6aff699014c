"""Hand editorial a timeline that relinks to the renders, with the edit's timing untouched.

Written once every shot of the list is finished: each shot's finished render is found by
its sidecar (its key must be the plan's), and the list is written back relinked to the
renders' comp outputs by :mod:`paicli.timeline.conform` (``<list>_conform.otio`` plus the
input's own format, each read back and checked frame for frame before it is kept).
"""
from __future__ import annotations

from pathlib import Path

from paicli.render.plan import BLOCKED, Plan, finished
from paicli.timeline.conform import ConformClip, write_conformed


def _renders(plan: Plan, out_root: Path) -> dict[str, dict] | None:
    """shot id -> the finished render's comp output, or None while any shot is unfinished."""
    found = {}
    for ps in plan.shots:
        if ps.status in BLOCKED:
            return None
        side = finished(out_root, ps.folder, ps.stem)
        if side is None or side.get("key") != ps.key:
            return None
        comp = next((o for o in side["outputs"] if o["kind"] == "comp"), None)
        if comp is None:
            return None
        found[ps.shot.id] = {"comp": comp, "stem": ps.stem, "version": ps.version}
    return found


def conform(plan: Plan, out_root: Path) -> tuple[list[dict], str | None]:
    """Write the conformed timelines (see the module notes): (outputs, why not written)."""
    renders = _renders(plan, out_root)
    if renders is None:
        waiting = sum(1 for ps in plan.shots if finished(out_root, ps.folder, ps.stem) is None)
        return [], f"conform waits for {waiting} shot(s) still to render (or not renderable)"
    if not renders:
        return [], "no shots: nothing to conform"
    clips = []
    for ps in plan.shots:
        r = renders[ps.shot.id]
        clips.append(ConformClip(item=ps.shot.item, event_line=ps.shot.event_line, comp=r["comp"], name=r["stem"],
                                 metadata={"shot": ps.shot.id, "version": r["version"], "source_clip": ps.shot.clip}))
    return write_conformed(plan.edit_list, clips, out_root), None
