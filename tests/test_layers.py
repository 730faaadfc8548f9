"""The architecture, written down: layers, no upward imports, no cycles, SQL only in the store.

Compared with: the layer table of docs/architecture.md (and DESIGN.md). Every ``import`` statement
counts, including those inside functions and under ``TYPE_CHECKING``; each rule is also shown to
fail on a deliberately planted module, so a green run means something.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "studymgr"

#: layer -> rank. A module may import its own layer and lower ranks; compute and store share the
#: bottom rank but may not import each other. The package root (studymgr/__init__.py, the front
#: door) and __main__ are above everything.
RANKS = {"foundation": 0, "compute": 1, "store": 1, "io": 2, "runs": 3, "present": 4,
         "web": 4, "cli": 5, "front": 6}
FORBIDDEN_SIDEWAYS = {("compute", "store"), ("store", "compute"), ("present", "web"),
                      ("web", "present")}
LAYER_FOLDERS = {"compute", "store", "io", "runs", "present", "web", "cli"}


def module_sources(root: Path = PACKAGE) -> dict[str, str]:
    """``{dotted module name: source}`` for every .py file of the package."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path.read_text(encoding="utf-8")
    return out


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "front"
    return parts[1] if parts[1] in LAYER_FOLDERS else "foundation"


def _type_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (never run)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


def imports_of(module: str, source: str, modules: set[str], *,
               type_only: bool = True) -> set[str]:
    """The studymgr modules that ``module`` imports anywhere in its source.

    With ``type_only=False`` the imports under ``if TYPE_CHECKING:`` are left out (they never
    run, so they cannot make a cycle; they still count for the layer rule).
    """
    is_package = any(m.startswith(module + ".") for m in modules)
    found = set()
    tree = ast.parse(source)
    skip = set() if type_only else _type_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:  # `from pkg import mod` imports the module pkg.mod
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return {m for m in found if m == "studymgr" or m.startswith("studymgr.")}


def import_graph(sources: dict[str, str], *, type_only: bool = True) -> dict[str, set[str]]:
    names = set(sources)
    return {m: imports_of(m, src, names, type_only=type_only) - {m}
            for m, src in sources.items()}


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module)
        for target in sorted(targets):
            there = layer_of(target)
            if RANKS[there] > RANKS[here] or (here, there) in FORBIDDEN_SIDEWAYS:
                problems.append(f"{module} ({here}) imports {target} ({there})")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles between sibling packages (e.g. present.report <-> present.export)."""
    def package(m: str) -> str:
        parts = m.split(".")
        return ".".join(parts[:3]) if len(parts) > 3 else m

    folded: dict[str, set[str]] = {}
    for module, targets in graph.items():
        src = package(module)
        folded.setdefault(src, set()).update(package(t) for t in targets if package(t) != src)
    return cycles(folded)


# -- the rules, on the real tree -------------------------------------------------------------------
def test_no_module_imports_a_higher_layer() -> None:
    assert layer_violations(import_graph(module_sources())) == []


def test_no_import_cycles() -> None:
    graph = import_graph(module_sources(), type_only=False)
    # a package's __init__ re-exporting its own modules is not a cycle between modules
    inner = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    assert cycles(inner) == []
    assert package_cycles(inner) == []


def test_every_module_lives_in_a_layer_folder() -> None:
    """Only the small foundation modules sit beside the layer folders."""
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top <= {"__init__", "__main__", "_version", "_aliases", "_docs", "errors", "ids",
                   "provenance", "resources"}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders <= LAYER_FOLDERS


# -- the rules fail on planted violations (so the green runs above mean something) ----------------
def test_planted_upward_import_is_caught() -> None:
    sources = module_sources()
    sources["studymgr.store._planted"] = (
        "def later():\n    from studymgr.runs.study import Study\n    return Study\n")
    sources["studymgr.compute._planted"] = "from studymgr.store import database\n"
    sources["studymgr.io._planted"] = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from studymgr.present import tables\n")
    problems = [p for p in layer_violations(import_graph(sources)) if "_planted" in p]
    assert problems == [
        "studymgr.compute._planted (compute) imports studymgr.store.database (store)",
        "studymgr.io._planted (io) imports studymgr.present.tables (present)",
        "studymgr.store._planted (store) imports studymgr.runs.study (runs)",
    ]


def test_planted_cycle_is_caught() -> None:
    sources = module_sources()
    sources["studymgr.present.report._planted"] = "from studymgr.present.export import _planted\n"
    sources["studymgr.present.export._planted"] = (
        "def f():\n    from studymgr.present.report import _planted\n")
    graph = import_graph(sources, type_only=False)
    assert ["studymgr.present.export._planted", "studymgr.present.report._planted"] in \
        cycles(graph)
    assert ["studymgr.present.export", "studymgr.present.report"] in package_cycles(graph)


# -- SQL belongs to the store ----------------------------------------------------------------------
SQL = re.compile(r"\b(SELECT\b.+\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|"
                 r"DELETE\s+FROM|PRAGMA\s+\w+|CREATE\s+(TABLE|INDEX|TRIGGER|VIEW)|VACUUM\b|"
                 r"BEGIN\s+IMMEDIATE)", re.S)


def sql_strings(sources: dict[str, str]) -> list[str]:
    """Modules outside the store holding a string literal that is SQL (docstrings too)."""
    found = []
    for module, source in sorted(sources.items()):
        if layer_of(module) == "store":
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    SQL.search(node.value) and not _is_docstring(node, source):
                found.append(f"{module}:{node.lineno}: {node.value[:60]!r}")
    return found


def _is_docstring(node: ast.Constant, source: str) -> bool:
    # prose may name SQL (e.g. "VACUUM INTO gives a consistent copy"); code strings are the target
    text = node.value
    return "\n" in text and not re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|PRAGMA|CREATE)", text)


def test_no_sql_outside_the_store() -> None:
    assert sql_strings(module_sources()) == []


def test_no_database_driver_outside_the_store() -> None:
    users = [m for m, src in module_sources().items() if layer_of(m) != "store"
             and re.search(r"^\s*(import|from)\s+(sqlite3|sqlite_utils)\b", src, re.M)]
    assert users == []


def test_planted_sql_is_caught() -> None:
    sources = {"studymgr.runs._planted":
               "def f(study):\n    return study.db.query('SELECT id FROM scans')\n"}
    assert sql_strings(sources) == ["studymgr.runs._planted:2: 'SELECT id FROM scans'"]


# -- old import paths of the documented API keep working ------------------------------------------
@pytest.mark.parametrize(("old", "name", "new"), [
    ("studymgr.models", "growth_model", "studymgr.compute.models"),
    ("studymgr.demo", "ensure_demo", "studymgr.runs.demo"),
    ("studymgr.pipeline", "compute_synchrony", "studymgr.runs.synchrony"),
    ("studymgr.synchrony", "band_coherence", "studymgr.compute.synchrony"),
    ("studymgr.export", "export_tables", "studymgr.present.export"),
    ("studymgr.report", "write_report", "studymgr.present.report"),
    ("studymgr.scans", "read_recording", "studymgr.io.recordings"),
    ("studymgr.store", "Store", "studymgr.store"),
])
def test_old_import_paths_still_work(old: str, name: str, new: str) -> None:
    import importlib
    import sys

    sys.modules.pop(old, None) if old != new else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
    if old != new:
        assert any(new in str(w.message) and issubclass(w.category, DeprecationWarning)
                   for w in caught)


def test_front_door() -> None:
    import studymgr
    from studymgr.runs.study import Study, create_study, open_study
    from studymgr.store import Store

    assert studymgr.Study is Study and issubclass(Study, Store)
    assert studymgr.open_study is open_study and studymgr.create_study is create_study


def test_package_ships_type_information() -> None:
    """PEP 561: the marker file is in the package (hatch puts every package file in the wheel)."""
    assert (PACKAGE / "py.typed").is_file()
