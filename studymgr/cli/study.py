"""``studymgr init``, ``status`` and ``audit``."""

from __future__ import annotations

import json

import click
import pandas as pd

from studymgr.cli._common import Context, emit, output_options, pass_ctx, render_table


@click.command()
@click.option("--name", default=None, help="Study code name [default: the database file's stem].")
@pass_ctx
def init(obj: Context, name: str | None) -> None:
    """Create a new, empty study database (and its data folder).

    \b
    Examples:
        studymgr init
        studymgr --db haifa.db init --name haifa-2025
        studymgr --db /srv/studies/gim.db --data-dir /srv/recordings/gim init
    """
    from studymgr.runs.study import create_study

    study = create_study(obj.db, name=name, data_dir=obj.data_dir, user=obj.user)
    with study:
        click.echo(f"Created study {study.name!r}: database {study.path}, "
                   f"data folder {study.data_dir}")


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
    study = obj.study()
    frame = study.status()
    if fmt != "table":
        emit(frame, fmt)
        return
    info = study.summary()
    click.echo(
        f"Study {info['study']!r} (schema v{info['schema_version']}): {info['dyads']} dyads, "
        f"{info['therapists']} therapists, {info['patients']} patients, "
        f"{info['sessions']} sessions ({info['locked']} locked)"
    )
    if frame.empty:
        click.echo("No dyads yet: add one with 'studymgr dyad add D01 --therapist T01 "
                   "--patient P01'.")
        return
    click.echo(render_table(status_grid(frame)))
    click.echo("Cells: T therapy, I interview, * scans planned, x not attended, L locked.")
    for legend in study.status_legends():
        click.echo(legend)


def status_grid(frame: pd.DataFrame) -> pd.DataFrame:
    """Pivot the tidy status rows into one row per dyad and one column per session number."""
    numbers = sorted(int(n) for n in frame["session"].dropna().unique())
    rows = []
    for (dyad, therapist, patient), group in frame.groupby(
        ["dyad", "therapist", "patient"], sort=True
    ):
        row = {"dyad": dyad, "therapist": therapist, "patient": patient}
        by_number = {int(r.session): r for r in group.itertuples() if not pd.isna(r.session)}
        for n in numbers:
            r = by_number.get(n)
            row[str(n)] = "" if r is None else _cell(r)
        rows.append(row)
    return pd.DataFrame(rows, columns=["dyad", "therapist", "patient", *map(str, numbers)])


def _cell(r) -> str:
    text = "T" if r.kind == "therapy" else "I"
    if r.scanned:
        text += "*"
    if not r.attended:
        text += "x"
    if r.locked:
        text += "L"
    marks = [str(v) for k, v in r._asdict().items()
             if k.startswith("mark_") and isinstance(v, str) and v]
    return " ".join([text, *marks])


@click.command()
@click.option("--limit", type=int, default=20, show_default=True,
              help="Show the newest N entries (0 for all).")
@output_options
@pass_ctx
def audit(obj: Context, limit: int, fmt: str) -> None:
    """Show the audit trail: who changed what, when, and why (newest first).

    \b
    Examples:
        studymgr audit
        studymgr audit --limit 0 --csv > audit.csv
    """
    frame = obj.study().audit(limit=None if limit == 0 else limit)
    if fmt == "table":
        frame = frame.assign(
            change=[_change(o, n) for o, n in zip(frame["old"], frame["new"], strict=True)]
        )[["id", "at", "user", "action", "entity", "entity_key", "change", "reason"]]
    elif fmt == "json":  # nested objects, not JSON inside JSON strings
        for col in ("old", "new"):
            frame[col] = [json.loads(v) if isinstance(v, str) else None for v in frame[col]]
    emit(frame, fmt, empty="(the audit trail is empty)")


def _change(old: object, new: object) -> str:
    # Missing JSON comes back from pandas as None or NaN.
    o = json.loads(old) if isinstance(old, str) and old else None
    n = json.loads(new) if isinstance(new, str) and new else None
    if o is None:
        return _short(n)
    return f"{_short(o)} -> {_short(n)}"


def _short(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)


COMMANDS = [init, status, audit]
