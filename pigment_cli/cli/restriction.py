"""`pigment restrict`, `pigment unrestrict` and `pigment object`: restriction of processing
(UK GDPR Art. 18) and objection (Art. 21)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pigment_cli.records.notices import Notice

RequestOption = Annotated[str | None, typer.Option(
    "--request", help="The request (R-...) this answers; the action is recorded against it.",
    show_default=False)]
ScopeOption = Annotated[str | None, typer.Option(
    "--purpose", help="One purpose only, e.g. newsletter (default: every purpose; see policy "
    "show).", show_default=False)]


def restrict(
    subject_id: SubjectArg,
    purpose: ScopeOption = None,
    reason: Annotated[str | None, typer.Option(
        "--reason", help="Why, e.g. accuracy contested (Art. 18(1)(a)-(d)).",
        show_default=False)] = None,
    request: RequestOption = None,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Restrict the processing of a subject's data: store only (UK GDPR Art. 18).
    Example: pigment restrict S-7K3Q9 --reason "accuracy contested\""""
    from pigment_cli.records.restrictions import restrict as restrict_data

    with open_session(db, actor) as s:
        result = restrict_data(s, subject_id, purpose=purpose, reason=reason, request_id=request)
    if json_:
        print_json(result.to_dict())
        return
    r = result.restriction
    say(f"pigment: {r.subject_id}: processing restricted for {r.scope} (restriction {r.id}); "
        "the data may only be stored: no new data, no disclosure unless the law requires it, "
        "no mailing (UK GDPR Art. 18(2))")
    _recipients(r.subject_id, result.notices, "restriction")


def _recipients(subject_id: str, notices: Sequence[Notice], event: str) -> None:
    if not notices:
        say(f"pigment: {subject_id}: no recipient has received this data: nobody to tell "
            "(UK GDPR Art. 19)")
        return
    table(f"Recipients to tell of the {event} ({len(notices)}, UK GDPR Art. 19)",
          ["disclosure", "recipient", "type"],
          [[n.disclosure_id, n.recipient, n.recipient_type] for n in notices])
    say("pigment: when each has been told: pigment disclosure notified DISCLOSURE --on DATE")


def unrestrict(
    subject_id: SubjectArg,
    purpose: ScopeOption = None,
    told_on: Annotated[str | None, typer.Option(
        "--told-on", help="Required: the day the person was told it would be lifted, "
        "YYYY-MM-DD (UK GDPR Art. 18(3); not in the future, not before it began).",
        show_default=False)] = None,
    request: RequestOption = None,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Lift a restriction, once the person has been told (UK GDPR Art. 18(3)).
    Example: pigment unrestrict S-7K3Q9 --told-on 2026-11-25"""
    from pigment_cli.records.restrictions import unrestrict as lift

    with open_session(db, actor) as s:
        lifted = lift(s, subject_id, told_on=told_on, purpose=purpose, request_id=request)
    if json_:
        print_json(lifted.to_dict())
        return
    say(f"pigment: {lifted.subject_id}: restriction {lifted.id} ({lifted.scope}, since "
        f"{lifted.started_at[:10]}) lifted; the person was told on {lifted.told_on} (UK GDPR "
        "Art. 18(3))")


def object_(
    subject_id: SubjectArg,
    purpose: Annotated[str, typer.Option(
        "--purpose", help="The purpose objected to, e.g. newsletter (see policy show).",
        show_default=False)],
    via: Annotated[str, typer.Option(
        "--via", help="How the objection came (the channel recorded on the consent it "
        "withdraws).")] = "email",
    request: RequestOption = None,
    withdraw: Annotated[bool, typer.Option(
        "--withdraw", help="The person withdraws their objection to --purpose (they changed "
        "their mind); direct marketing: only with a written consent given since.")] = False,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Record an objection to one purpose, and stop it (UK GDPR Art. 21).
    Example: pigment object S-7K3Q9 --purpose newsletter"""
    from pigment_cli.records.objections import DIRECT_MARKETING, object_to, withdraw_objection
    from pigment_cli.records.restrictions import REPORTING

    if withdraw:
        with open_session(db, actor) as s:
            ended = withdraw_objection(s, subject_id, purpose, request_id=request)
        if json_:
            print_json(ended.to_dict())
            return
        say(f"pigment: {ended.subject_id}: objection to {ended.purpose} (since "
            f"{ended.objected_on}) withdrawn; {ended.purpose} may start again for them")
        if ended.still_suppressed:
            say(f"pigment: {ended.subject_id}'s email is still on the suppression list: it stays "
                "out of every audience until: pigment consent unsuppress "
                f"{ended.subject_id}")
        return
    with open_session(db, actor) as s:
        result = object_to(s, subject_id, purpose, via=via, request_id=request)
    if json_:
        print_json(result.to_dict())
        return
    o = result.objection
    stops = (f"pigment refuses new {o.purpose} data and disclosures for {o.subject_id}"
             if result.outside else f"{o.purpose} stops for {o.subject_id}")
    what = {DIRECT_MARKETING: "direct marketing stops for good (UK GDPR Art. 21(3))",
            "consent": "the consent is withdrawn (UK GDPR Art. 21, 7(3))"}.get(
        result.ground, f"{stops} (UK GDPR Art. 21(1))")
    say(f"pigment: {o.subject_id}: objection {o.id} to {o.purpose} recorded; {what}")
    withdrawal = result.withdrawal
    if withdrawal is not None and withdrawal.recorded:
        say(f"pigment: {o.subject_id}: {o.purpose} consent withdrawn")
    if withdrawal is not None and withdrawal.erased_items:
        say(f"pigment: {o.subject_id}: erased {withdrawal.erased_items} item(s) held only for "
            f"{o.purpose}")
    if withdrawal is not None and withdrawal.kept_by:
        say(f"pigment: {o.subject_id}: the data held only for {o.purpose} is kept while "
            f"{'; '.join(withdrawal.kept_by)} stands")
    if result.suppressed:
        say(f"pigment: {o.subject_id}: email on the suppression list: left out of every "
            "audience, even after a new consent, until: pigment consent unsuppress")
    if result.no_email:
        say(f"pigment: {o.subject_id} has no email address: nothing to put on the suppression "
            "list")
    if o.purpose == REPORTING and result.ground != "consent":
        say(f"pigment: {o.subject_id}: left out of the aggregated reports (pigment report) "
            "from now on")
    if result.outside:
        say(f"pigment cannot stop this processing itself: {o.purpose} is done outside pigment; "
            f"stop it for {o.subject_id} there, or refuse the objection on compelling legitimate "
            f"grounds (pigment request close {o.request_id or 'R-...'} --outcome refused --reason "
            "...; UK GDPR Art. 21(1))")
    if result.notices:
        _recipients(o.subject_id, result.notices, "erasure")
