"""``studymgr events ...``: time-stamped marks in a session (recording, CSV, raters)."""

from __future__ import annotations

from pathlib import Path

import click

from studymgr.cli._common import Context, emit, output_options, pass_ctx


@click.group()
def events() -> None:
    """Import and list time-stamped session events."""


@events.command("import")
@click.argument("dyad")
@click.argument("session", metavar="N")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--rater", default=None, metavar="CODE", help="Rater of every row.")
@click.option("--consensus", is_flag=True, help="The rows are the raters' consensus.")
@click.option("--replace", is_flag=True,
              help="First remove this session's events of the same source and rater(s).")
@click.option("--reason", default=None, help="Why (required with --replace; audited).")
@pass_ctx
def events_import(obj: Context, dyad: str, session: str, file: Path, rater: str | None,
                  consensus: bool, replace: bool, reason: str | None) -> None:
    """Import events of session N of DYAD from a CSV file (all rows or none).

    Columns: onset,duration,label[,rater] with onset and duration in seconds (>= 0) from the
    start of the session's recording; label 1-64 characters.

    \b
    Examples:
        studymgr events import D01 1 moments.csv --rater R1
        studymgr events import D01 1 consensus.csv --consensus
        studymgr events import D01 1 moments.csv --rater R1 --replace --reason "corrected"
    """
    result = obj.study().import_events(dyad, session, file, rater=rater, consensus=consensus,
                                       replace=replace, reason=reason)
    removed = f" (replacing {result['n_removed']})" if replace else ""
    click.echo(f"Imported {result['n_events']} events into {dyad}/{session}{removed}")


@events.command("list")
@click.argument("dyad", required=False)
@click.argument("session", metavar="[N]", required=False)
@output_options
@pass_ctx
def events_list(obj: Context, dyad: str | None, session: str | None, fmt: str) -> None:
    """List events, of all sessions, of one DYAD, or of its session N.

    \b
    Examples:
        studymgr events list
        studymgr events list D01 1 --csv
    """
    emit(obj.study().events(dyad, session), fmt, empty="No events.")


COMMANDS = [events]
