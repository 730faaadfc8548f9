"""``studymgr dyad ...``: therapist-patient pairs."""

from __future__ import annotations

import click

from studymgr.cli._common import Context, emit, output_options, pass_ctx


@click.group()
def dyad() -> None:
    """Add and list dyads (a therapist and a patient)."""


@dyad.command("add")
@click.argument("dyad_code", metavar="DYAD")
@click.option("--therapist", required=True, metavar="CODE", help="Therapist's pseudonymous code.")
@click.option("--patient", required=True, metavar="CODE", help="Patient's pseudonymous code.")
@pass_ctx
def dyad_add(obj: Context, dyad_code: str, therapist: str, patient: str) -> None:
    """Add a dyad. People are registered on first use; one therapist may be in many dyads.

    Codes are pseudonymous: 1-32 letters, digits, '-' or '_' (never names).

    \b
    Examples:
        studymgr dyad add D01 --therapist T01 --patient P01
        studymgr dyad add D02 --therapist T01 --patient P02
    """
    study = obj.study()
    study.add_dyad(dyad_code, therapist=therapist, patient=patient)
    click.echo(f"Added dyad {dyad_code}: therapist {therapist}, patient {patient}")


@dyad.command("list")
@output_options
@pass_ctx
def dyad_list(obj: Context, fmt: str) -> None:
    """List dyads with their therapist, patient and number of sessions.

    \b
    Examples:
        studymgr dyad list
        studymgr dyad list --json
    """
    emit(obj.study().dyads(), fmt, empty="No dyads yet: add one with 'studymgr dyad add'.")


COMMANDS = [dyad]
