"""``studymgr check``: is the study intact, and how to fix what is not."""

from __future__ import annotations

import click

from studymgr.cli._common import Context, emit, output_options, pass_ctx
from studymgr.errors import InputError


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
    from studymgr.present.text import shown_checks
    from studymgr.runs.check import check_study, n_problems, open_for_check

    study = open_for_check(obj.db, data_dir=obj.data_dir, user=obj.user)
    click.get_current_context().call_on_close(study.close)
    frame = check_study(study, fix=fix)
    n = n_problems(frame)
    emit(shown_checks(frame) if fmt == "table" else frame, fmt)
    if n:
        raise InputError(f"{n} problem(s) found in {study.path.name}: each row says how to fix "
                         "it")
    if fmt == "table":
        fixed = int((frame["status"] == "fixed").sum())
        click.echo(f"All {frame['check'].nunique()} checks passed"
                   + (f" ({fixed} leftover(s) fixed)" if fixed else ""))


COMMANDS = [check]
