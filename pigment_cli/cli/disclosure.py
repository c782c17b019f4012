"""`pigment disclose` and `pigment disclosure list`: data sent to a recipient, and the record of it."""

from __future__ import annotations

from typing import Annotated

import typer

from pigment_cli.cli._common import (
    ActorOption,
    DbOption,
    JsonFlag,
    SubjectArg,
    open_session,
    print_json,
    say,
    table,
)

app = typer.Typer(help="Disclosures: what data went to which recipient, why, on what basis.",
                  no_args_is_help=True)


def disclose(
    subject_id: SubjectArg,
    to: Annotated[str, typer.Option("--to", help="The recipient's name, e.g. a laboratory.",
                                    show_default=False)],
    recipient_type: Annotated[str, typer.Option(
        "--recipient-type", help="laboratory, specialist, hospital, payment_processor, "
        "debt_collector, authority or other (see policy show).", show_default=False)],
    purpose: Annotated[str, typer.Option(
        "--purpose", help="Why, e.g. medical_referral (see policy show).", show_default=False)],
    items: Annotated[str, typer.Option(
        "--items", help="Categories of data sent, comma-separated, e.g. identity,medical_history "
        "(required).", show_default=False)],
    at: Annotated[str | None, typer.Option(
        "--at", help="When it was sent, ISO date or time, UTC (default: now).",
        show_default=False)] = None,
    legal_requirement: Annotated[str | None, typer.Option(
        "--legal-requirement", help="The law that requires this disclosure (basis: legal "
        "obligation).", show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Record that a subject's data went to a recipient; print the disclosure id.
    Example: pigment disclose S-7K3Q9 --to "North Lab Ltd" --recipient-type laboratory --purpose medical_referral --items identity,medical_history
    """
    from pigment_cli.records import disclosures as disclosure

    with open_session(db, actor) as s:
        record = disclosure.disclose(s, subject_id, recipient=to, recipient_type=recipient_type,
                                     purpose=purpose, items=items, at=at,
                                     legal_requirement=legal_requirement)
    if json_:
        print_json(record.to_dict())
    else:
        print(record.id)
    say(f"pigment: {record.subject_id}: disclosure {record.id} recorded ({record.purpose}, "
        f"basis {record.basis})")


@app.command("list")
def list_(subject_id: SubjectArg, db: DbOption = None, actor: ActorOption = None,
          json_: JsonFlag = False) -> None:
    """List a subject's disclosures, oldest first. Example: pigment disclosure list S-7K3Q9"""
    from pigment_cli.records import disclosures as disclosure

    with open_session(db, actor) as s:
        found = disclosure.list_disclosures(s, subject_id)
    if json_:
        print_json([d.to_dict() for d in found])
        return
    table(f"{len(found)} disclosure(s)",
          ["id", "at (UTC)", "to", "type", "purpose", "basis", "categories", "legal requirement",
           "recorded by"],
          [[d.id, d.at, d.recipient, d.recipient_type, d.purpose, d.basis, ", ".join(d.categories),
            d.legal_requirement, d.recorded_by] for d in found])
