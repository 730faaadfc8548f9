"""Writing an output folder all at once: build it beside its final place, then rename it."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from studymgr.errors import ConflictError, InputError

logger = logging.getLogger(__name__)


def check_out_dir(out: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Validate an output folder before any work is done.

    Raises
    ------
    InputError
        ``out`` is a file, or its parent folder does not exist.
    ConflictError
        ``out`` is a non-empty folder and ``overwrite`` is False.
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} is a file: give a folder name for the output")
    if not path.parent.is_dir():
        raise InputError(f"cannot write {path}: folder {path.parent} does not exist")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ConflictError(f"{path} exists and is not empty: choose a new folder or pass "
                            "--overwrite to replace it")
    return path


@contextlib.contextmanager
def staged_folder(out: str | os.PathLike[str], *, overwrite: bool) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out``; on success it becomes ``out``.

    On any error the temporary folder is removed and ``out`` is left as it was. With
    ``overwrite`` an existing ``out`` is replaced only after the new one is complete.
    """
    path = check_out_dir(out, overwrite=overwrite)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        yield tmp
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote %s", path)


def sha256_file(path: Path) -> str:
    """sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, name: str = "MANIFEST.sha256") -> Path:
    """``sha256sum -c``-compatible checksums of every file under ``folder``."""
    lines = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = file.relative_to(folder).as_posix()
        if rel != name:
            lines.append(f"{sha256_file(file)}  {rel}")
    out = folder / name
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
