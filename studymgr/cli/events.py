"""``studymgr events ...``: time-stamped marks in a session (recording, CSV, raters)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from studymgr.cli import _options as opt
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
@opt.reason("--replace")
@click.option("--labels", default=None, metavar="L1,L2",
              help="Allowed labels, e.g. MOI,MONI: a row with another label refuses the file.")
@pass_ctx
def events_import(obj: Context, dyad: str, session: str, file: Path, rater: str | None,
                  consensus: bool, replace: bool, reason: str | None,
                  labels: str | None) -> None:
    """Import events of session N of DYAD from a CSV file (all rows or none).

    Columns: onset,duration,label[,rater][,note] with onset and duration in seconds (>= 0)
    from the start of the session's recording; label 1-64 characters (e.g. MOI, MONI). A note
    column is read and dropped: free text is never stored.

    \b
    Examples:
        studymgr events import D01 1 moments.csv --rater R1
        studymgr events import D01 1 moments.csv --rater R2 --labels MOI,MONI
        studymgr events import D01 1 consensus.csv --consensus
        studymgr events import D01 1 moments.csv --rater R1 --replace --reason "corrected"
    """
    result = obj.study().import_events(dyad, session, file, rater=rater, consensus=consensus,
                                       replace=replace, reason=reason,
                                       labels=opt.split_labels(labels))
    removed = f" (replacing {result['n_removed']})" if replace else ""
    click.echo(f"Imported {result['n_events']} events into {dyad}/{session}{removed}")
    if result.get("n_notes_dropped"):
        click.echo(f"  {result['n_notes_dropped']} note(s) dropped: free text is never stored")


@events.command("agreement")
@click.argument("dyad")
@click.argument("session", metavar="N")
@click.option("--tolerance", type=float, default=30.0, show_default=True, metavar="SECONDS",
              help="Largest spread of the raters' marks of one moment.")
@click.option("--min-raters", type=int, default=2, show_default=True,
              help="Raters needed for a consensus moment.")
@click.option("--bin", "bin_s", type=float, default=None, metavar="SECONDS",
              help="Bin width of Fleiss' kappa [default: the tolerance].")
@click.option("--labels", default=None, metavar="L1,L2",
              help="Labels to analyse [default: every label the raters used].")
@click.option("--no-store", is_flag=True, help="Only report; store no consensus events.")
@click.option("--replace", is_flag=True,
              help="Replace stored consensus events of these labels that differ.")
@opt.reason("--replace")
@output_options
@pass_ctx
def events_agreement(obj: Context, dyad: str, session: str, tolerance: float, min_raters: int,
                     bin_s: float | None, labels: str | None, no_store: bool, replace: bool,
                     reason: str | None, fmt: str) -> None:
    """Rater agreement on the moments of session N of DYAD, and its consensus moments.

    Moments that at least --min-raters raters marked within --tolerance seconds of each other
    (one mark per rater, per label) become consensus moments: onset = median of the raters'
    onsets. They are stored as events (source consensus, no rater) unless --no-store.
    Chance-corrected agreement is Fleiss' kappa over time bins of --bin seconds (each rater
    marks a bin or not), per label. Prints the consensus moments, then the agreement per label
    (--json: both; --csv: the moments).

    \b
    Examples:
        studymgr events agreement D01 1
        studymgr events agreement D01 1 --tolerance 20 --labels MOI,MONI --no-store
        studymgr events agreement D01 1 --replace --reason "rater R3 added" --json
    """
    result = obj.study().rater_agreement(dyad, session, tolerance_s=tolerance,
                                         min_raters=min_raters, bin_s=bin_s,
                                         labels=opt.split_labels(labels), store=not no_store,
                                         replace=replace, reason=reason)
    from studymgr.present.text import agreement_json, agreement_outcome

    if fmt == "json":
        click.echo(json.dumps(agreement_json(result), indent=2, default=str))
        return
    emit(result["moments"], fmt, empty="No consensus moment.")
    if fmt == "table":
        click.echo("")
        emit(result["summary"], fmt)
        click.echo(agreement_outcome(result))


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
