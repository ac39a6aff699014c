"""The render plan of an edit list: every shot, its media, references, output and version.

The plan is deterministic (same list, same folders, same settings: same plan, byte for
byte), so ``--plan-only --json`` can drive a farm and every shard agrees on it.

Outputs are named by a template with tokens ``{shot}`` (the shot id), ``{clip}``,
``{reel}``, ``{index}``, ``{version}`` (3 digits) and an optional trailing ``.####`` (where
the frame number goes, which is where the writers put it); the folder part, if any, is
created under the output folder. Versions: a finished render of the shot whose key (inputs,
settings, engine and version) matches is *done* and skipped; finished renders with another
key are never overwritten, the shot gets the next version; an unfinished one is redone
under its own number.

Two shots of one plan never share an output name. Where the template leaves them the same
filled (folder, stem) (a template without ``{shot}`` or ``{index}`` and a clip or reel used
twice, or clip names that sanitise alike, such as ``.`` and ``..``), the later shot in list
order takes the next version no earlier shot holds, and the plan says so in a note. Names
are compared case-insensitively (an output folder may be on a case-insensitive share). The
rule depends only on the list's order and the finished renders on disk, so a resumed run
and every farm shard (each plans the whole list) give every shot the same name.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from paicli import __version__
from paicli.errors import UsageError
from paicli.media.timing import format_rate
from paicli.paths import sanitize_name
from paicli.render.bgmap import ShotReferences
from paicli.render.media import MediaResolver
from paicli.timeline.shots import shots_of

DEFAULT_TEMPLATE = "{shot}/v{version}/{shot}_v{version}"
_TOKENS = {"shot", "clip", "reel", "index", "version"}
RENDER_SIDECAR = "_render.json"


def check_template(template: str) -> str:
    """The template, checked: known tokens only, {version} present, no absolute or parent paths."""
    used = set(re.findall(r"\{(\w+)\}", template))
    unknown = used - _TOKENS
    if unknown:
        raise UsageError(f"--name-template: unknown token(s) {', '.join(sorted(unknown))} "
                         f"(use {', '.join('{' + t + '}' for t in sorted(_TOKENS))})")
    if "version" not in used:
        raise UsageError("--name-template must contain {version}, so published renders are never overwritten")
    body = template[:-5] if template.endswith(".####") else template
    if "#" in body:
        raise UsageError("--name-template: '####' may only end the template (frame numbers go before the extension)")
    if body.startswith(("/", "\\")) or ".." in Path(body).parts:
        raise UsageError("--name-template must stay inside the output folder")
    return template


def fill(template: str, shot, version: int) -> tuple[str, str]:
    """(relative folder, file stem) of ``shot`` at ``version``; every token made filesystem-safe."""
    values = {"shot": shot.id, "clip": sanitize_name(shot.clip, 60), "reel": sanitize_name(shot.reel or "noreel", 40),
              "index": f"{shot.index:03d}", "version": f"{version:03d}"}
    text = template[:-5] if template.endswith(".####") else template
    filled = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], text)
    parts = [sanitize_name(p, 120) for p in filled.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if not parts:
        raise UsageError("--name-template gives an empty name")
    return "/".join(parts[:-1]), parts[-1]


@dataclass
class ShotPlan:
    shot: object  # Shot
    media: object  # ShotMedia
    refs: list[str]
    refs_how: str | None
    status: str  # ready, done, unresolved, no-refs
    reason: str | None = None
    version: int | None = None
    folder: str = ""  # relative to the output folder
    stem: str = ""
    start: int = 0  # media frame index, handles included
    count: int = 0
    key: str = ""
    shard: int = 0  # 0-based shard this shot belongs to
    own_folder: bool = False  # the template gives this version a folder of its own
    name_of: str | None = None  # the earlier shot whose name the template gave this one (it took a later version)

    def to_dict(self) -> dict:
        return {**self.shot.to_dict(), "status": self.status, "reason": self.reason, "media": {
            **self.shot.to_dict()["media"], **self.media.to_dict()}, "references": self.refs,
            "references_from": self.refs_how, "version": self.version, "folder": self.folder, "stem": self.stem,
            "render_range": [self.start, self.start + self.count - 1] if self.count else None, "key": self.key,
            "shard": self.shard, "name_of": self.name_of}


BLOCKED = ("unresolved", "no-refs")  # statuses of shots that cannot render


@dataclass
class Plan:
    edit_list: object  # EditListFile
    shots: list[ShotPlan]
    notes: list[str] = field(default_factory=list)
    shard: tuple[int, int] = (0, 1)

    def blocked(self) -> list[ShotPlan]:
        """The shots that cannot render: no media, or no references."""
        return [ps for ps in self.shots if ps.status in BLOCKED]

    def mine(self) -> list[ShotPlan]:
        """The shots of this shard."""
        return [s for s in self.shots if s.shard == self.shard[0]]

    def to_dict(self) -> dict:
        el = self.edit_list
        return {"edit_list": {"path": str(el.path), "format": el.format, "rate": str(el.rate),
                              "drop_frame": el.drop_frame, "rate_from": el.rate_note},
                "shard": {"index": self.shard[0] + 1, "count": self.shard[1]},
                "counts": {k: sum(1 for s in self.shots if s.status == k) for k in ("ready", "done", "unresolved",
                                                                                   "no-refs")},
                "notes": self.notes, "shots": [s.to_dict() for s in self.shots]}


def _file_identity(path: str) -> list:
    """What identifies an input cheaply and reliably enough for resuming: path, size, mtime."""
    p = Path(path)
    if "#" in p.name:
        members = sorted(p.parent.glob(p.name.replace("#", "?")))
        return [str(p), len(members), sum(m.stat().st_size for m in members),
                max((m.stat().st_mtime_ns for m in members), default=0)]
    st = p.stat()
    return [str(p), st.st_size, st.st_mtime_ns]


def _ref_files(refs: list[str]) -> list[str]:
    out = []
    for r in refs:
        p = Path(r)
        out += [str(f) for f in sorted(p.iterdir()) if f.is_file() and not f.name.startswith(".")] if p.is_dir() else [r]
    return out


def shot_key(plan_shot: ShotPlan, settings: dict, engine: str, version: str) -> str:
    """A digest of everything a render depends on: media identity and range, references,
    settings, engine name and paicli version."""
    doc = {"media": _file_identity(plan_shot.media.path), "range": [plan_shot.start, plan_shot.count],
           "refs": [_file_identity(r) for r in _ref_files(plan_shot.refs)], "settings": settings, "engine": engine,
           "version": version}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def finished(out_root: Path, folder: str, stem: str) -> dict | None:
    """The render sidecar of a finished render, or None."""
    p = out_root / folder / f"{stem}{RENDER_SIDECAR}"
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def name_key(folder: str, stem: str) -> tuple[str, str]:
    """How two outputs' (folder, stem) compare: case-insensitively, as on a case-insensitive share."""
    return folder.casefold(), stem.casefold()


def choose_version(out_root: Path, template: str, ps: ShotPlan, reuse: bool = True,
                   taken: dict | None = None) -> tuple[int, bool]:
    """(version, done): the finished version with this key (unless not ``reuse``), else the
    first never finished; versions whose name (:func:`name_key`) is in ``taken`` (the names
    of the plan's earlier shots) are passed over whatever is on disk."""
    version = 1
    while True:
        folder, stem = fill(template, ps.shot, version)
        if taken and name_key(folder, stem) in taken:
            version += 1
            continue
        side = finished(out_root, folder, stem)
        if side is None:
            return version, False
        if reuse and side.get("key") == ps.key:
            return version, True
        version += 1


def _shared_name(template: str, shot, version: int, taken: dict) -> tuple[str | None, str | None]:
    """(the earlier shot, the plan's note) when ``shot`` took ``version`` because an earlier
    shot of the plan holds the name of a version below it; (None, None) when it did not."""
    for v in range(1, version):
        folder, stem = fill(template, shot, v)
        holder = taken.get(name_key(folder, stem))
        if holder is not None and holder != shot.id:
            return holder, (f"{shot.id}: --name-template {template!r} gives it the name "
                            f"{'/'.join(filter(None, (folder, stem)))} of {holder}; it renders as v{version:03d} "
                            "(add {shot} or {index} to the template to keep the names apart)")
    return None, None


def make_plan(edit_list, out_root: Path, *, template: str, handles: int, settings: dict, engine: str,
              media_roots: list[Path], bg_map: Path | None, refs_root: Path | None, shard: tuple[int, int],
              force: bool = False, resolver=None) -> Plan:
    """Plan every video shot of ``edit_list`` (see the module notes); shots are dealt to
    ``shard[1]`` shards round-robin by index, the same in every process."""
    shots, notes = shots_of(edit_list)
    notes = list(edit_list.notes) + notes
    if not shots:
        notes.append("the edit list has no video clips to render")
    list_dir = Path(edit_list.path).resolve().parent
    resolver = resolver or MediaResolver(list_dir, media_roots)
    refs = ShotReferences(bg_map, refs_root, list_dir)
    planned = []
    taken: dict[tuple[str, str], str] = {}  # name_key of every version given so far -> its shot id
    for shot in shots:
        media = resolver.resolve(shot)
        paths, how = refs.for_shot(shot)
        ps = ShotPlan(shot, media, paths, how, "ready", shard=(shot.index - 1) % shard[1])
        if shot.retime:
            notes.append(f"{shot.id}: retimed ({shot.retime}); renders the {shot.source_out - shot.source_in} "
                         f"source frame(s) its {shot.record_frames} record frames show, {shot.source_tc}")
        if media.problem:
            ps.status, ps.reason = "unresolved", media.problem
        elif not paths:
            ps.status, ps.reason = "no-refs", "no reference stills (map, refs/<shot>/ folder or metadata)"
        else:
            info = media.info
            ps.start = max(0, media.start - handles)
            ps.count = min(info.frame_count, media.start + media.count + handles) - ps.start
            ps.key = shot_key(ps, settings, engine, __version__)
            version, done = choose_version(out_root, template, ps, reuse=not force, taken=taken)
            ps.version = version
            ps.folder, ps.stem = fill(template, shot, version)
            taken[name_key(ps.folder, ps.stem)] = shot.id
            ps.name_of, note = _shared_name(template, shot, version, taken)
            notes += [note] if note else []
            ps.own_folder = bool(ps.folder) and ps.folder != fill(template, shot, version + 1)[0]
            if done:
                ps.status = "done"
        planned.append(ps)
    note = _rate_note(edit_list, planned)
    return Plan(edit_list, planned, notes + ([note] if note else []), shard)


def _rate_note(edit_list, planned: list[ShotPlan]) -> str | None:
    """A note when the shots' media run at another rate than the list is read at (an EDL
    read at 24 whose media are 24000/1001), naming how the list's rate was decided."""
    rates = sorted({ps.media.info.rate for ps in planned if ps.media.info is not None
                    and ps.media.info.rate != edit_list.rate}, key=float)
    if not rates:
        return None
    shown = ", ".join(format_rate(r) for r in rates)
    how = edit_list.rate_note if edit_list.rate_note != "given" else f"{format_rate(edit_list.rate)} fps (--rate)"
    text = (f"the edit list's rate, {how}, differs from its shots' media ({shown} fps): source timecodes are "
            "matched frame for frame")
    if edit_list.format == "cmx_3600" and edit_list.rate_note != "given":
        text += f"; if the edit was cut at {format_rate(rates[0])} fps, say --rate {rates[0]}"
    return text

