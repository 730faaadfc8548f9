"""``studymgr check``, ``backup`` and ``restore``: is the study intact, and keep a copy of it."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from studymgr.cli._common import Context, emit, output_options, pass_ctx
from studymgr.errors import InputError

#: In the table, at most this many problems of one check are listed (JSON/CSV list all).
MAX_SHOWN = 20


@click.command("check")
@click.option("--fix", is_flag=True,
              help="Remove leftovers of interrupted imports and make files owner-only.")
@output_options
@pass_ctx
def check(obj: Context, fix: bool, fmt: str) -> None:
    """Verify the whole study and say how to fix each problem.

    Checks the schema (version, tables, triggers), SQLite's integrity and foreign keys, the
    audit trail's hash chain, every score (recomputed from its items), every recording (hashed
    again), synchrony computed from recordings that changed since, unfinished runs, leftovers of
    interrupted imports, and that files are readable by their owner only. An older study is
    checked as it is (not upgraded). Exit status 2 when a problem is found.

    \b
    Examples:
        studymgr check
        studymgr check --fix
        studymgr check --json > check.json
    """
    from studymgr.runs.check import check_study, n_problems, open_for_check

    study = open_for_check(obj.db, data_dir=obj.data_dir, user=obj.user)
    click.get_current_context().call_on_close(study.close)
    frame = check_study(study, fix=fix)
    n = n_problems(frame)
    emit(_shown(frame) if fmt == "table" else frame, fmt)
    if n:
        raise InputError(f"{n} problem(s) found in {study.path.name}: each row says how to fix "
                         "it")
    if fmt == "table":
        fixed = int((frame["status"] == "fixed").sum())
        click.echo(f"All {frame['check'].nunique()} checks passed"
                   + (f" ({fixed} leftover(s) fixed)" if fixed else ""))


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for _, group in frame.groupby("check", sort=False):
        problems = group[group["status"] == "problem"]
        if len(problems) > MAX_SHOWN:
            more = pd.DataFrame([{**problems.iloc[-1].to_dict(), "where": "",
                                  "detail": f"... and {len(problems) - MAX_SHOWN} more "
                                            "(--json lists all)"}])
            group = pd.concat([group[group["status"] != "problem"], problems.iloc[:MAX_SHOWN],
                               more])
        parts.append(group)
    return pd.concat(parts, ignore_index=True) if parts else frame


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@pass_ctx
def backup(obj: Context, dest: Path) -> None:
    """Copy the study (database and recordings) to a new folder DEST and verify the copy.

    Safe while other people keep working: the database is copied as one consistent snapshot
    (SQLite's backup API) and every recording it refers to is copied and compared with its
    SHA-256. DEST must not exist (or be empty); it is complete or absent, never half-written.
    Restore it with 'studymgr restore DEST --to NEW.db'.

    \b
    Examples:
        studymgr backup backups/2025-03-14
        studymgr --db /srv/studies/gim.db backup /mnt/usb/gim-2025-03-14
    """
    from studymgr.io.backup import backup_study

    result = backup_study(obj.study(), dest)
    counts = result["counts"]
    click.echo(f"Backed up study {result['study']!r} to {result['dest']}: database "
               f"({counts['responses']} responses, {counts['audit_log']} audit rows) and "
               f"{result['n_recordings']} recordings, {result['bytes'] / 1e6:.1f} MB, verified")
    if result["skipped"]:
        click.echo(f"  {len(result['skipped'])} file(s) of the data folder that no recording "
                   "refers to were not copied (see 'studymgr check')")


@click.command("restore")
@click.argument("backup_dir", metavar="BACKUP", type=click.Path(path_type=Path))
@click.option("--to", "to", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The new study database (must not exist).")
@pass_ctx
def restore(obj: Context, backup_dir: Path, to: Path) -> None:
    """Restore BACKUP (a folder written by 'studymgr backup') as a new study database.

    Every file is compared with the backup's manifest and the copy is checked as by
    'studymgr check' before it is used; a backup that fails is refused and nothing is written.
    Nothing is ever overwritten. The recordings go to <name>_data beside the new database, or to
    the folder given with the global --data-dir. An older backup is upgraded.

    \b
    Examples:
        studymgr restore backups/2025-03-14 --to restored.db
        studymgr --data-dir /srv/rec/gim2 restore /mnt/usb/gim --to /srv/studies/gim2.db
    """
    from studymgr.io.backup import restore_study

    result = restore_study(backup_dir, to, data_dir=obj.data_dir, user=obj.user)
    click.echo(f"Restored study {result['study']!r} (backup of {result['backup_created_at'][:19]}"
               f") to {result['db']} with {result['n_recordings']} recordings in "
               f"{result['data_dir']}; {result['checks']} checks passed")
    for warning in result["warnings"]:
        click.echo(f"  to do: {warning}")


COMMANDS = [check, backup, restore]
