"""`pigment erase`: erasure on the subject's request (GDPR Art. 17)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pigment_cli.cli._common import (
    ActorOption,
    AsOfOption,
    DbOption,
    JsonFlag,
    RequestOption,
    SubjectArg,
    open_session,
    print_json,
    refuse_future_as_of,
    refuse_unscrubbed,
    table,
    tell_recipients,
)


def erase(
    subject_id: SubjectArg,
    reason: Annotated[str, typer.Option(
        "--reason", help="The Art. 17(1) ground: request, no-longer-necessary, consent-withdrawn, "
        "objection, unlawful, legal-obligation, child.")] = "request",
    via: Annotated[str, typer.Option(
        "--via", help="How the request came (the channel recorded on withdrawn consents).")] = "email",
    apply: Annotated[bool, typer.Option("--apply", help="Really erase (default: show what would happen).")] = False,
    request: RequestOption = None,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None, json_: JsonFlag = False,
) -> None:
    """Erase a subject's data on request, keeping only what the law requires (and saying why).
    Example: pigment erase S-7K3Q9 --request R-7K3Q9 --apply"""
    from pigment_cli.rights.erasure import erase_on_request

    if apply:
        refuse_future_as_of(as_of, "erase --apply")
    with open_session(db, actor, as_of, lock=apply) as s:  # a preview takes no lock
        outcome = erase_on_request(s, subject_id, ground=reason, via=via, apply=apply,
                                   request_id=request)
    if json_:
        print_json(outcome.to_dict())
        refuse_unscrubbed(outcome.scrubbed)
        return
    head = "Erased" if apply else "Would erase (add --apply to erase)"
    if apply and not outcome.scrubbed:
        head = "Erased from the store (the old values are still in its write-ahead log)"
    if outcome.whole_subject:
        sys.stdout.write(f"{head}: everything held on {outcome.subject_id}; a tombstone remains.\n")
    else:
        erased = ", ".join(f"{c}: {n}" for c, n in sorted(outcome.erased.items())) or "nothing"
        sys.stdout.write(f"{head} on {outcome.subject_id}: {erased}\n")
    if outcome.held_by:
        sys.stdout.write(f"Held: {'; '.join(outcome.held_by)} (the subject record stays while these "
                         "stand)\n")
    if outcome.consents_withdrawn:
        sys.stdout.write(f"Consents withdrawn: {', '.join(outcome.consents_withdrawn)}\n")
    if outcome.kept:
        table("Kept, and why", ["category", "items", "why", "until"],
              [[k["category"], k["items"], k["why"], k["until"]] for k in outcome.kept])
    if apply:
        if outcome.request_id:
            sys.stdout.write(f"Answers request {outcome.request_id}.\n")
        tell_recipients(outcome.notices)
    refuse_unscrubbed(outcome.scrubbed)


def register(app: typer.Typer) -> None:
    app.command("erase")(erase)
