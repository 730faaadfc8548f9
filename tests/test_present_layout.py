"""The present layer's inner shape: a DAG with the shared modules at the bottom.

``present/tables.py``, ``present/figures.py`` and ``present/results.py`` are read by both
``present/report/`` and ``present/export/``, which stand beside each other and never import one
another (not even inside a function); no module imports its own package's ``__init__``; and the
import graph inside ``studymgr.present`` has no cycle, counting every edge (a package's
``__init__`` importing its modules included). The import walker is the one of test_layers.py.
"""

from __future__ import annotations

from test_layers import cycles, import_graph, module_sources

PRESENT = "studymgr.present"
REPORT, EXPORT = f"{PRESENT}.report", f"{PRESENT}.export"
#: The bottom of the layer: shared by report and export, importing neither.
SHARED = {f"{PRESENT}.tables", f"{PRESENT}.figures", f"{PRESENT}.results"}


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def present_graph(sources: dict[str, str] | None = None) -> dict[str, set[str]]:
    """The import graph restricted to modules of ``studymgr.present``."""
    graph = import_graph(module_sources() if sources is None else sources)
    return {m: {t for t in ts if _inside(t, PRESENT)} for m, ts in graph.items()
            if _inside(m, PRESENT)}


def crossings(graph: dict[str, set[str]]) -> list[str]:
    """Imports between report and export, and from the shared modules up into either."""
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            up = module in SHARED and (_inside(target, REPORT) or _inside(target, EXPORT))
            across = any(_inside(module, a) and _inside(target, b)
                         for a, b in ((REPORT, EXPORT), (EXPORT, REPORT)))
            if up or across:
                found.append(f"{module} imports {target}")
    return found


def own_package_imports(graph: dict[str, set[str]]) -> list[str]:
    """Modules importing their own package's ``__init__`` (or an ancestor's)."""
    return [f"{m} imports {t}" for m, ts in sorted(graph.items()) for t in sorted(ts)
            if m.startswith(t + ".")]


def test_present_modules_exist() -> None:
    graph = present_graph()
    assert SHARED | {REPORT, EXPORT, f"{REPORT}.collect", f"{EXPORT}.data"} <= set(graph)


def test_report_and_export_do_not_import_each_other() -> None:
    assert crossings(present_graph()) == []


def test_no_module_imports_its_own_package() -> None:
    assert own_package_imports(present_graph()) == []


def test_no_import_cycle_within_present() -> None:
    assert cycles(present_graph()) == []


def test_planted_violations_are_caught() -> None:
    sources = module_sources()
    sources[f"{EXPORT}._planted"] = (
        "def later():\n    from studymgr.present.report.collect import gather\n")
    sources[f"{REPORT}._planted"] = "from studymgr.present.report import MAX_TIMELINES\n"
    sources[f"{PRESENT}.tables"] += "\nfrom studymgr.present.export import parse_formats\n"
    graph = present_graph(sources)
    assert crossings(graph) == [
        f"{EXPORT}._planted imports {REPORT}.collect",
        f"{PRESENT}.tables imports {EXPORT}",
    ]
    assert own_package_imports(graph) == [f"{REPORT}._planted imports {REPORT}"]
    # export/__init__ -> tables -> export/__init__
    assert [EXPORT, f"{PRESENT}.tables"] in cycles(graph)
