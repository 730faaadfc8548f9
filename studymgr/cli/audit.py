"""``studymgr audit``: who changed what, when, and why."""

from __future__ import annotations

import click

from studymgr.cli._common import Context, emit, output_options, pass_ctx


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
    from studymgr.present.text import audit_changes, audit_decoded

    frame = obj.study().audit(limit=None if limit == 0 else limit)
    if fmt == "table":
        frame = audit_changes(frame)
    elif fmt == "json":  # nested objects, not JSON inside JSON strings
        frame = audit_decoded(frame)
    emit(frame, fmt, empty="(the audit trail is empty)")


COMMANDS = [audit]
