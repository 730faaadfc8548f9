"""The small file helpers the io modules share (studymgr.io.files)."""

from __future__ import annotations

from studymgr.io import backup, recordings
from studymgr.io.files import fsync_dir, remove_path


def test_remove_path_removes_files_and_folders_and_accepts_missing_ones(tmp_path):
    (tmp_path / "a.snirf").write_bytes(b"x")
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "sub" / "b.txt").write_text("y")
    (tmp_path / "link").symlink_to(tmp_path / "folder")
    remove_path(tmp_path / "link")  # the link goes, not what it points to
    assert (tmp_path / "folder" / "sub" / "b.txt").exists()
    for name in ("a.snirf", "folder", "never-there"):
        remove_path(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_fsync_dir_is_best_effort(tmp_path):
    fsync_dir(tmp_path)
    fsync_dir(tmp_path / "missing")  # no error: a folder that cannot be synced is skipped


def test_one_definition_serves_recordings_and_backups():
    assert recordings.remove_path is backup.remove_path is remove_path
    assert backup.fsync_dir is fsync_dir
