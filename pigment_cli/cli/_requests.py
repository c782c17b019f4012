"""What `pigment request ...` and `pigment sar ...` share: the request id argument, the --on
option, and how a request, a listing and a finished step are printed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pigment_cli.cli._common import (
    ActorOption,
    AsOfOption,
    DbOption,
    open_session,
    print_json,
    say,
    table,
)

if TYPE_CHECKING:
    from pigment_cli.rights.requests import RequestView

RequestArg = Annotated[
    str, typer.Argument(metavar="REQUEST", help="Request id, e.g. R-4MX2P.", show_default=False)
]
OnOption = Annotated[
    str | None,
    typer.Option("--on", help="The day it happened, YYYY-MM-DD (default: today).", show_default=False),
]


def step_done(view: RequestView, what: str) -> None:
    state = "clock stopped" if view.status == "paused" else view.status
    say(f"pigment: {view.id} {what}; due {view.due} ({state})")


def closed(view: RequestView) -> None:
    late = " (after its due date)" if view.closed_late else ""
    say(f"pigment: {view.id} closed on {view.closed_on} ({view.outcome}){late}; it was due "
        f"{view.due}")


def render(view: RequestView) -> None:
    """A request, as `request show` and `sar show` print it."""
    review = view.review
    who = view.subject_id or f"{view.person_name} (not in the store)"
    rows: list[list[object]] = [
        ["kind", view.kind], ["subject", who], ["email", view.person_email],
        ["purpose", view.purpose], ["note", view.note], ["via", view.channel],
        ["status", view.status], ["received", view.received_on],
    ]
    if view.kind == "complaint":
        late = " (acknowledged late)" if view.ack_late and view.acknowledged_on else ""
        rows += [["acknowledge by", view.ack_due],
                 ["acknowledged", f"{view.acknowledged_on}{late}" if view.acknowledged_on
                  else ("NOT YET (late)" if view.ack_late else None)]]
    else:
        rows += [["identity verified", view.id_verified_on],
                 ["fee received", view.fee_received_on], ["clock started", view.start],
                 ["paused days", view.paused_days],
                 ["extended", f"{view.extended_on}: {view.extension_reason}"
                  if view.extended else "no"],
                 ["acknowledged", view.acknowledged_on]]
    rows += [
        ["due", view.due], ["internal target", view.internal_target],
        ["days left", view.days_left], ["overdue", "yes" if view.overdue else "no"],
    ]
    if view.kind in ("access", "portability"):
        rows += [["review", f"{review.reviewed_on} by {review.reviewer}: {review.outcome}"
                  if review else None], ["review note", review.note if review else None]]
    rows += [["closed", view.closed_on], ["outcome", view.outcome],
             ["outcome reason", view.outcome_reason]]
    table(f"Request {view.id}", ["field", "value"], [r for r in rows if r[1] is not None])
    if view.pauses:
        table("Pauses (clock stopped)", ["asked for clarification", "clarification arrived", "reason"],
              [[p.paused_on, p.resumed_on, p.reason] for p in view.pauses])
    if view.actions:
        table("Done to answer it", ["at (UTC)", "action", "detail"],
              [[a["at"][:16].replace("T", " "), a["action"], _detail(a["detail"])]
               for a in view.actions])
    if view.notices:
        table("Recipients to tell (Art. 19)", ["disclosure", "recipient", "type", "of", "told on"],
              [[n["disclosure_id"], n["recipient"], n["recipient_type"], n["event"],
                n["notified_on"] or "NOT YET"] for n in view.notices])


def listing(kind: str | None, open_only: bool, overdue: bool, due_within: str | None,
            db: DbOption, actor: ActorOption, as_of: AsOfOption, json_: bool) -> None:
    """`request list` and `sar list` (the access kind)."""
    from pigment_cli.errors import CheckFailed
    from pigment_cli.rights.requests import list_requests, parse_within

    within = parse_within(due_within) if due_within is not None else None
    with open_session(db, actor, as_of) as s:
        views = list_requests(s, kind=kind, open_only=open_only, overdue_only=overdue,
                              due_within=within)
    if json_:
        print_json(views)
    else:
        columns = ["request", "kind", "subject", "status", "received", "due", "days left"]
        if kind:
            columns.remove("kind")
        table(f"{len(views)} request(s)", columns,
              [[v.id, *([] if kind else [v.kind]), v.subject_id or "(not held)",
                _status_word(v), v.received_on, v.due, v.days_left] for v in views])
    late = sum(v.overdue for v in views)
    if overdue and late:
        raise CheckFailed(f"{late} request(s) overdue")
    if due_within is not None and views:
        raise CheckFailed(f"{len(views)} open request(s) due within {within} day(s)"
                          + (f", {late} overdue" if late else ""))


def _status_word(view: RequestView) -> str:
    """One word for the list (it must fit 80 columns): OVERDUE first, then the state."""
    if view.overdue:
        return "OVERDUE"
    if view.status == "closed" and view.outcome:
        return view.outcome
    return f"{view.status}{' (ext.)' if view.extended else ''}"


def _detail(detail: dict[str, object]) -> str:
    """An action's ids and counts in words: "item 4; fields value, source"."""
    parts = []
    for key, value in detail.items():
        if isinstance(value, bool):
            if value:
                parts.append(key.replace("_", " "))
            continue
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts.append(f"{key.replace('_', ' ')} {shown}")
    return "; ".join(parts)
