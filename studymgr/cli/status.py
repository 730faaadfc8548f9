"""``studymgr status``: the study at a glance."""

from __future__ import annotations

import click

from studymgr.cli._common import Context, emit, output_options, pass_ctx


@click.command()
@output_options
@pass_ctx
def status(obj: Context, fmt: str) -> None:
    """Show the study at a glance: a dyad x session completeness grid.

    Each cell is one session: T = therapy, I = interview; * = scans planned;
    x = did not take place; L = locked. With --json/--csv, one row per dyad x session.

    \b
    Examples:
        studymgr status
        studymgr status --json
    """
    from studymgr.present.text import status_text

    study = obj.study()
    frame = study.status()
    if fmt != "table":
        emit(frame, fmt)
        return
    click.echo(status_text(study.summary(), frame, study.status_legends()))


COMMANDS = [status]
