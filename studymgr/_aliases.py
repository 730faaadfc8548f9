"""Old module paths (before the layered layout) keep importing, with a DeprecationWarning.

``import studymgr.pipeline`` gives the very module object ``studymgr.runs.synchrony`` (so
attributes, monkeypatching and ``isinstance`` agree); the warning names the new path. The aliases
stay for one release (until studymgr 0.3).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

#: old dotted name (below ``studymgr.``) -> new dotted name (below ``studymgr.``)
MOVED = {
    "analysis_table": "compute.models.table",
    "backup": "runs.backup",
    "check": "runs.check",
    "demo": "runs.demo",
    "eeg": "compute.eeg",
    "entry": "runs.entry",
    "eventlocked": "runs.eventlocked",
    "executors": "runs.executors",
    "instruments": "compute.instruments",
    "modelrun": "runs.models",
    "models": "compute.models",
    "models.centering": "compute.models.centering",
    "models.correlation": "compute.models.correlation",
    "models.mixed": "compute.models.mixed",
    "models.satterthwaite": "compute.models.satterthwaite",
    "moments": "compute.events.agreement",
    "montage": "compute.synchrony.montage",
    "pipeline": "runs.synchrony",
    "power": "compute.simulate.power",
    "preprocess": "compute.preprocess",
    "privacy": "io.privacy",
    "quality": "compute.quality",
    "scans": "io.recordings",
    "simulate": "compute.simulate.study",
    "synchrony": "compute.synchrony",
    "export": "present.export",
    "export.bids": "present.export.bids",
    "export.data": "present.export.data",
    "export.tables": "present.tables",
    "report": "present.report",
    "report.figures": "present.figures",
}
REMOVED_IN = "0.3"

#: Names that left an old module when it was split across layers: old module -> {name: new
#: module}. The old path then gives a module of its own that serves these names (with a
#: DeprecationWarning) and everything else from the MOVED target.
SPLIT = {
    "eventlocked": {"eventlocked_table": "present.tables", "moments_figure": "present.figures",
                    "LABEL_COLORS": "present.figures"},
}


class _SplitModule(ModuleType):
    """An old module path whose names now live in several modules."""

    def __init__(self, name: str, target: ModuleType, names: dict[str, str]) -> None:
        super().__init__(name, target.__doc__)
        self._target = target
        self._names = names

    def __getattr__(self, name: str) -> object:
        if name.startswith("__") or name not in self._names:
            return getattr(self._target, name)
        new = f"studymgr.{self._names[name]}"
        warnings.warn(f"{self.__name__}.{name} moved to {new}.{name}; the old path works until "
                      f"studymgr {REMOVED_IN}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(new), name)


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str, names: dict[str, str] | None = None) -> None:
        self.target = target
        self.names = names

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        return module if self.names is None else _SplitModule(spec.name, module, self.names)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module object is the new module, already imported."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("studymgr."):
            return None
        old = fullname[len("studymgr."):]
        new = MOVED.get(old)
        if new is None:
            return None
        warnings.warn(f"{fullname} moved to studymgr.{new}; the old path works until studymgr "
                      f"{REMOVED_IN}", DeprecationWarning, stacklevel=3)
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(f"studymgr.{new}", SPLIT.get(old)))


def install() -> None:
    """Put the alias finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
