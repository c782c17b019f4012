"""`pigment request letter`: a ready-to-send letter about a request (acknowledgement, proof of
identity, clarification, extension, completion, refusal, nothing held, a restriction to be
lifted), as text or HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pigment_cli.cli._common import ActorOption, DbOption, open_session, say

RequestArg = Annotated[
    str, typer.Argument(metavar="REQUEST", help="Request id, e.g. R-4MX2P.", show_default=False)
]
TemplateOption = Annotated[str, typer.Option(
    "--template", help="acknowledgement, id-request, clarification, extension, completed, "
    "refusal, nothing-held or restriction-lifting.", show_default=False)]
FormatOption = Annotated[str, typer.Option(
    "--format", help="txt (plain text) or html (a printable web page).")]
OutOption = Annotated[Path | None, typer.Option(
    "--out", help="Write the letter to this new file (0600; never over an existing file) "
    "instead of printing it.", show_default=False)]
DetailOption = Annotated[str | None, typer.Option(
    "--detail", help="Clarification: what is unclear (default: the pause's reason); "
    "restriction-lifting: why the restriction will be lifted.", show_default=False)]
LiftOnOption = Annotated[str | None, typer.Option(
    "--lift-on", help="Restriction-lifting only (required): the day the restriction will be "
    "lifted (YYYY-MM-DD), after the letter's date.", show_default=False)]


def letter(
    request_id: RequestArg,
    template: TemplateOption,
    fmt: FormatOption = "txt",
    out: OutOption = None,
    detail: DetailOption = None,
    lift_on: LiftOnOption = None,
    db: DbOption = None,
    actor: ActorOption = None,
) -> None:
    """Write a letter about a request, in the clinic's name, ready to send.
    Example: pigment request letter R-4MX2P --template acknowledgement
    """
    from pigment_cli.rights.letters import issue_letter

    # No --as-of: a letter is dated the day of the step it records, or today (rights.letters).
    with open_session(db, actor) as s:
        written = issue_letter(s, request_id, template, fmt, detail=detail, lift_on=lift_on,
                               out=out)
    if written.out is None:
        print(written.text, end="")
    else:
        say(f"pigment: {written.template} letter for {written.request_id} written to "
            f"{written.out}")
