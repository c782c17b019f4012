"""`pigment disclose` and `pigment disclosure ...`: data sent to a recipient, the record of it
(listed, voided when recorded by mistake), and the recipients to tell of a change (Art. 19)."""

from __future__ import annotations

from typing import Annotated

import typer

from pigment_cli.cli._common import (
    ActorOption,
    DbOption,
    JsonFlag,
    RequestOption,
    SubjectArg,
    YesFlag,
    confirming,
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
    yes: YesFlag = False,
) -> None:
    """Record that a subject's data went to a recipient; print the disclosure id.
    Example: pigment disclose S-7K3Q9 --to "North Lab Ltd" --recipient-type laboratory --purpose medical_referral --items identity,medical_history
    """
    from pigment_cli.records import disclosures as disclosure

    def attempt(duplicate_ok: bool) -> disclosure.Disclosure:  # asks first if already recorded
        with open_session(db, actor) as s:
            return disclosure.disclose(s, subject_id, recipient=to, recipient_type=recipient_type,
                                       purpose=purpose, items=items, at=at,
                                       legal_requirement=legal_requirement,
                                       duplicate_ok=duplicate_ok)

    record = confirming(attempt, yes)
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
    void = sum(d.voided_at is not None for d in found)
    # A void disclosure (recorded by mistake) stays listed, marked void by its id.
    table(f"{len(found)} disclosure(s)" + (f", {void} void (never happened)" if void else ""),
          ["id", "at (UTC)", "to", "type", "purpose", "basis", "categories", "legal requirement",
           "recorded by"],
          [[f"{d.id} VOID" if d.voided_at else d.id, d.at, d.recipient, d.recipient_type,
            d.purpose, d.basis, ", ".join(d.categories), d.legal_requirement, d.recorded_by]
           for d in found])


DisclosureArg = Annotated[int, typer.Argument(
    metavar="DISCLOSURE", help="Disclosure id (see disclosure list).")]


@app.command("void")
def void(
    disclosure_id: DisclosureArg,
    reason: Annotated[str, typer.Option(
        "--reason", help="Why it is void, e.g. recorded twice (required).", show_default=False)],
    request: RequestOption = None,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Void a disclosure recorded by mistake: kept and shown as void, never deleted.
    Example: pigment disclosure void 12 --reason "recorded twice\""""
    from pigment_cli.records.corrections import void_disclosure

    with open_session(db, actor) as s:
        done = void_disclosure(s, disclosure_id, reason=reason, request_id=request)
    if json_:
        print_json(done.to_dict())
        return
    answered = f" (answers {done.request_id})" if done.request_id else ""
    dropped = (f"; {done.notices_dropped} notice(s) to its recipient dropped"
               if done.notices_dropped else "")
    say(f"pigment: disclosure {done.disclosure.id} of {done.disclosure.subject_id} is void"
        f"{answered}{dropped}")


@app.command("notified")
def notified(
    disclosure_id: DisclosureArg,
    on: Annotated[str | None, typer.Option(
        "--on", help="The day the recipient was told, YYYY-MM-DD (default: today; not in the "
        "future).", show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Record that a disclosure's recipient was told of a correction, erasure or restriction.
    Example: pigment disclosure notified 12 --on 2026-11-25"""
    from pigment_cli.records.notices import mark_notified

    with open_session(db, actor) as s:
        told = mark_notified(s, disclosure_id, on)
    if json_:
        print_json([n.to_dict() for n in told])
        return
    events = ", ".join(sorted({n.event for n in told}))
    say(f"pigment: disclosure {disclosure_id}: recipient told on {told[0].notified_on} "
        f"({len(told)} notice(s): {events})")


@app.command("notices")
def notices(
    subject_id: SubjectArg,
    pending: Annotated[bool, typer.Option(
        "--pending", help="Only recipients not yet told.")] = False,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """List the recipients to tell of a subject's corrections, erasure or restriction (Art. 19).
    Example: pigment disclosure notices S-7K3Q9 --pending"""
    from pigment_cli.records.notices import subject_notices

    with open_session(db, actor) as s:
        found = subject_notices(s, subject_id, pending_only=pending)
    if json_:
        print_json([n.to_dict() for n in found])
        return
    table(f"{len(found)} notice(s)" + (" not yet given" if pending else ""),
          ["disclosure", "recipient", "type", "event", "request", "noted", "told on"],
          [[n.disclosure_id, n.recipient, n.recipient_type, n.event, n.request_id,
            n.created_at[:10], n.notified_on or "not yet"] for n in found])
