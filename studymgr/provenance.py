"""What made a number: package versions and canonical hashes of configurations."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from typing import Any

PACKAGES = ("studymgr", "mne", "mne-nirs", "numpy", "scipy", "pandas", "statsmodels",
            "pingouin", "sqlite-utils")


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that compute results, plus Python's."""
    found = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name == "studymgr":
                from studymgr._version import __version__

                found[name] = __version__
            else:
                found[name] = "not installed"
    return found


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal content gives equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def config_hash(config: Any) -> str:
    """sha256 of the canonical JSON of a configuration."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()
