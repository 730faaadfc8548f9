"""``studymgr backup`` and ``studymgr restore``: a verified copy of the study, and back."""

from __future__ import annotations

from pathlib import Path

import click

from studymgr.cli._common import Context, pass_ctx


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
    from studymgr.runs.backup import backup_study

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
    from studymgr.runs.backup import restore_study

    result = restore_study(backup_dir, to, data_dir=obj.data_dir, user=obj.user)
    click.echo(f"Restored study {result['study']!r} (backup of {result['backup_created_at'][:19]}"
               f") to {result['db']} with {result['n_recordings']} recordings in "
               f"{result['data_dir']}; {result['checks']} checks passed")
    for warning in result["warnings"]:
        click.echo(f"  to do: {warning}")


COMMANDS = [backup, restore]
