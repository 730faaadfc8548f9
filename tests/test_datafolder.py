"""One data folder, one study (issue 16, item 1).

Reproduced first: ``--db b.db --data-dir a_data init`` succeeded on study a's data folder, then
``--db b.db check --fix`` deleted a's recordings as "left by an interrupted import", and an import
into b overwrote a's file. Now a data folder carries its study's id (``.studymgr-study.json``);
every way of pointing a study at another study's folder is refused with nothing changed,
``check --fix`` moves leftovers into quarantine instead of deleting, and an import moves a file
it did not write out of its way instead of overwriting it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

import studymgr
from studymgr import ConflictError
from studymgr.cli import cli as studymgr_cli
from studymgr.store import datafolder
from tests.conftest import snapshot
from tests.test_scans import write_snirf


def run(*args: str):
    return CliRunner().invoke(studymgr_cli, list(args), catch_exceptions=False)


@pytest.fixture
def study_a(tmp_path):
    """Study a with one recording (D01/1 patient) in a_data/."""
    a = studymgr.create_study(tmp_path / "a.db", user="tester")
    a.add_dyad("D01", therapist="T01", patient="P01")
    a.add_session("D01", 1, date="2025-01-02")
    a.import_scan("D01", 1, "patient", write_snirf(tmp_path / "in" / "a.snirf", seed=1,
                                                    n_pairs=2, duration=30.0))
    a.close()
    return a


def state(study) -> tuple[bytes, dict[str, str]]:
    return study.path.read_bytes(), snapshot(study.data_dir)


def test_a_new_study_marks_its_data_folder(study):
    marker = json.loads((study.data_dir / datafolder.MARKER).read_text())
    assert marker["uid"] == study.uid and len(study.uid) == 32
    assert marker["name"] == study.name


def test_init_refuses_another_studys_data_folder(study_a, tmp_path):
    before = state(study_a)
    result = run("--db", str(tmp_path / "b.db"), "--data-dir", str(study_a.data_dir), "init")
    assert result.exit_code == 2
    assert "data folder of study 'a'" in result.output and "--data-dir" in result.output
    assert not (tmp_path / "b.db").exists()
    assert state(study_a) == before


def test_init_refuses_a_non_empty_unmarked_folder(tmp_path):
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    before = snapshot(folder)
    with pytest.raises(ConflictError, match="not empty"):
        studymgr.create_study(tmp_path / "b.db", data_dir=folder)
    assert snapshot(folder) == before and not (tmp_path / "b.db").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    studymgr.create_study(tmp_path / "c.db", data_dir=empty).close()  # empty is fine


@pytest.mark.parametrize("command", [["check"], ["check", "--fix"], ["status"],
                                     ["scans", "list"]])
def test_every_command_refuses_another_studys_data_folder(study_a, tmp_path, command):
    """The issue's scenario at command time: b pointed at a_data with --data-dir."""
    studymgr.create_study(tmp_path / "b.db", user="tester").close()
    before = state(study_a)
    b_before = (tmp_path / "b.db").read_bytes()
    result = run("--db", str(tmp_path / "b.db"), "--data-dir", str(study_a.data_dir), *command)
    assert result.exit_code == 2, result.output
    assert "belongs to another study ('a'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert state(study_a) == before
    assert (tmp_path / "b.db").read_bytes() == b_before


def test_set_data_dir_refuses_another_studys_folder(study_a, tmp_path):
    before = state(study_a)
    with studymgr.create_study(tmp_path / "b.db") as b:
        with pytest.raises(ConflictError, match="belongs to another study"):
            b.set_data_dir(str(study_a.data_dir))
        assert b.data_dir == tmp_path / "b_data"
    assert state(study_a) == before


def test_older_studys_folder_is_marked_on_first_open_only_if_it_holds_its_recordings(
        study_a, tmp_path):
    """The upgrade path: a folder without a marker (a study from before markers) is marked on
    the first open when it holds nothing but the study's recordings (and empty folders)."""
    marker = study_a.data_dir / datafolder.MARKER
    marker.unlink()
    (study_a.data_dir / "empty" / "folder").mkdir(parents=True)
    with studymgr.open_study(study_a.path) as a:
        assert json.loads(marker.read_text())["uid"] == a.uid
    # a study whose unmarked folder holds a file it does not know is refused, unchanged
    marker.unlink()
    (study_a.data_dir / "sub-X" / "other.snirf").parent.mkdir()
    (study_a.data_dir / "sub-X" / "other.snirf").write_bytes(b"someone else's")
    before = state(study_a)
    with pytest.raises(ConflictError, match="no study marker.*sub-X/other.snirf"):
        studymgr.open_study(study_a.path)
    assert state(study_a) == before


def test_unmarked_folder_of_an_older_study_is_refused_to_a_newcomer(study_a, tmp_path):
    """b given a's unmarked folder (a not opened since the upgrade): a's recordings are not
    b's, so b refuses the folder rather than taking them for leftovers."""
    (study_a.data_dir / datafolder.MARKER).unlink()
    studymgr.create_study(tmp_path / "b.db").close()
    before = state(study_a)
    result = run("--db", str(tmp_path / "b.db"), "--data-dir", str(study_a.data_dir),
                 "check", "--fix")
    assert result.exit_code == 2 and "no study marker" in result.output
    assert state(study_a) == before


def test_check_fix_moves_leftovers_into_quarantine(study_a, tmp_path):
    orphan = study_a.data_dir / "sub-P01/ses-1/nirs/sub-P01_ses-1_task-therapy_rep-9_nirs.snirf"
    orphan.write_bytes(b"no row refers to me")
    result = run("--db", str(study_a.path), "check", "--fix")
    assert not orphan.exists()
    kept = [p for p in (study_a.data_dir / datafolder.QUARANTINE).rglob("*") if p.is_file()]
    assert len(kept) == 1 and kept[0].read_bytes() == b"no row refers to me"
    rel = kept[0].relative_to(study_a.data_dir).as_posix()
    assert rel.endswith("/" + orphan.relative_to(study_a.data_dir).as_posix())
    assert rel in result.output  # says where
    # the quarantine is not a leftover itself, and backups do not copy it
    with studymgr.open_study(study_a.path) as a:
        assert list(a.check_scans()["status"]) == ["ok"]
        from studymgr.runs.backup import backup_study
        info = backup_study(a, tmp_path / "backup")
    assert info["skipped"] == [] and info["n_recordings"] == 1


def test_import_never_overwrites_a_file_it_did_not_write(study_a, tmp_path):
    """A file with no row at the import's target (e.g. another study's recording copied in) is
    moved into quarantine, not overwritten."""
    a = studymgr.open_study(study_a.path)
    target = a.data_dir / a.scans()["path"].iloc[0]
    a.close()
    foreign = target.read_bytes()
    b = studymgr.create_study(tmp_path / "b.db")
    b.add_dyad("D01", therapist="T01", patient="P01")
    b.add_session("D01", 1, date="2025-01-02")
    planted = b.data_dir / target.relative_to(study_a.data_dir)
    planted.parent.mkdir(parents=True)
    shutil.copyfile(target, planted)
    b.import_scan("D01", 1, "patient", write_snirf(tmp_path / "in" / "b.snirf", seed=2,
                                                    n_pairs=2, duration=30.0))
    kept = [p for p in (b.data_dir / datafolder.QUARANTINE).rglob("*") if p.is_file()]
    assert len(kept) == 1 and kept[0].read_bytes() == foreign
    assert planted.read_bytes() != foreign
    assert list(b.check_scans()["status"]) == ["ok"]
    b.close()


def test_v4_study_gets_a_uid_and_its_folder_a_marker(tmp_path):
    from tests.test_migrations import DATA

    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path)
    conn.executescript((DATA / "study_v4.sql").read_text())
    conn.close()
    (tmp_path / "v4_data").mkdir()
    with studymgr.open_study(path) as study:
        assert study.schema_version == 5 and len(study.uid) == 32
        assert datafolder.read_marker(study.data_dir)["uid"] == study.uid
