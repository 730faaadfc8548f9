"""``studymgr init``: a new, empty study."""

from __future__ import annotations

import click

from studymgr.cli._common import Context, pass_ctx


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


COMMANDS = [init]
