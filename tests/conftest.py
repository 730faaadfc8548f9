"""Shared fixtures: a fresh study, the CLI, byte-for-byte snapshots, the shared real data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _audit_user(monkeypatch):
    # A fixed audit user keeps tests independent of the machine's login name.
    monkeypatch.setenv("STUDYMGR_USER", "tester")
    monkeypatch.delenv("STUDYMGR_DB", raising=False)
    monkeypatch.delenv("STUDYMGR_DEBUG", raising=False)


@pytest.fixture
def shared_data() -> Path:
    """The real recordings in ../shared/data; the test is skipped when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared real data not found at {SHARED_DATA} (only present beside the "
                    "project checkout; synthetic fixtures cover the same code paths)")
    return SHARED_DATA


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "study.db"


@pytest.fixture
def study(db_path: Path):
    """A fresh, empty study (closed at the end of the test)."""
    from studymgr import create_study

    s = create_study(db_path, user="tester")
    yield s
    s.close()


@pytest.fixture
def small_study(study):
    """Two dyads sharing one therapist; D01 has sessions 1-3 (1 locked), D02 has session 1."""
    study.add_dyad("D01", therapist="T01", patient="P01")
    study.add_dyad("D02", therapist="T01", patient="P02")
    for n in (1, 2, 3):
        study.add_session("D01", n, date=f"2025-03-0{n}")
    study.add_session("D02", 1, kind="interview", scanned=False)
    study.lock_session("D01", 1)
    return study


class Cli:
    """Runs ``studymgr`` in-process against one database file."""

    def __init__(self, db: Path):
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        from studymgr.cli import cli

        return self.runner.invoke(cli, ["--db", str(self.db), *args], input=input,
                                  catch_exceptions=False)


@pytest.fixture
def cli(db_path: Path) -> Cli:
    return Cli(db_path)


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (and the folder's file list): byte-for-byte state."""
    state = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        state[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return state
