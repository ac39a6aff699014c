"""The layers of ARCHITECTURE.md hold: imports go one way (engine below paicli, each paicli
layer only to those below it), commands are imported by the CLI alone, no engine package
reaches into another's private names, there are no import circles, and nothing outside the
engine factory branches on an engine's name."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# lower number = lower layer; a module may import its own layer and those below it
LAYERS = [
    ("engine", 0),
    ("paicli", 1), ("paicli.errors", 1), ("paicli.paths", 1), ("paicli.progress", 1),
    ("paicli.media", 2), ("paicli.timeline", 2), ("paicli.settings", 2), ("paicli.result", 2),
    ("paicli.presets", 2), ("paicli.sources", 2),
    ("paicli.engines", 3),
    ("paicli.shot", 4), ("paicli.train", 4), ("paicli.dataset", 4),
    ("paicli.check", 5),
    ("paicli.render", 6),
    ("paicli.commands", 7),
    ("paicli.cli", 8),
]


def _modules() -> dict[str, Path]:
    out = {}
    for base in ("paicli", "engine"):
        for p in (ROOT / base).rglob("*.py"):
            parts = p.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = p
    return out


MODULES = _modules()


def _imports(name: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every own-project import of ``name``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.append((sub, [], node.lineno) if sub in MODULES else (base, [a.name], node.lineno))
    return [(m, names, line) for m, names, line in found if m.split(".")[0] in ("paicli", "engine")]


def _layer(name: str) -> int:
    best = max((p for p, _ in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return dict(LAYERS)[best]


def test_every_module_has_a_layer():
    assert all(_layer(m) is not None for m in MODULES)


def test_imports_go_down_the_layers_only():
    wrong = [f"{m}:{line} imports {imp}" for m in MODULES for imp, _, line in _imports(m)
             if _layer(imp) > _layer(m)]
    assert wrong == []


def test_only_the_cli_imports_commands():
    wrong = [f"{m}:{line}" for m in MODULES if not m.startswith(("paicli.commands", "paicli.cli"))
             for imp, _, line in _imports(m) if imp.startswith("paicli.commands")]
    assert wrong == []


def test_no_engine_package_takes_another_packages_private_names():
    def package(mod: str) -> str:
        return ".".join(mod.split(".")[:2])

    wrong = [f"{m}:{line} takes {n} from {imp}" for m in MODULES
             for imp, names, line in _imports(m) for n in names
             if n.startswith("_") and imp.startswith("engine.") and package(imp) != package(m)]
    assert wrong == []


def test_no_import_circles():
    graph = {m: {imp for imp, _, _ in _imports(m) if imp in MODULES and imp != m} for m in MODULES}
    index, low, stack, on, circles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    assert circles == []


@pytest.mark.parametrize("pattern", [r"engine\s*==", r"==\s*[\"'](dit|classic)[\"']"])
def test_nothing_outside_the_engine_factory_branches_on_the_engine_name(pattern):
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "paicli").rglob("*.py")
            if p.parent.name != "engines" or p.name != "__init__.py"
            for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(pattern, line)]
    assert hits == []
