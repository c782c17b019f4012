"""`pigment request ...`: the register of every kind of request (access, rectification, erasure,
restriction, portability, objection, complaint), on the clock. `pigment sar ...` is the access
kind's short form; the lifecycle verbs are the same commands."""

from __future__ import annotations

from typing import Annotated

import typer

from pigment_cli.cli import sar
from pigment_cli.cli._common import (
    ActorOption,
    AsOfOption,
    DbOption,
    JsonFlag,
    YesFlag,
    confirming,
    open_session,
    print_json,
    refuse_future_step,
    say,
)
from pigment_cli.cli._requests import OnOption, RequestArg, closed, listing, render, step_done
from pigment_cli.cli.letter import letter

app = typer.Typer(help="Every kind of request a person can make, on the clock: access, "
                  "rectification, erasure, restriction, portability, objection, complaint.",
                  no_args_is_help=True)

KindOption = Annotated[str, typer.Option(
    "--kind", help="access, rectification, erasure, restriction, portability, objection or "
    "complaint.", show_default=False)]


@app.command("open")
def open_(
    subject_id: Annotated[str | None, typer.Argument(
        metavar="[SUBJECT]", help="Subject id, e.g. S-7K3Q9 (none with --unknown).",
        show_default=False)] = None,
    kind: KindOption = "access",
    received: Annotated[str, typer.Option(
        "--received", help="The day the request arrived, YYYY-MM-DD.", show_default=False)] = "",
    via: Annotated[str, typer.Option(
        "--via", "--channel", help="How it arrived: email, letter, phone, in_clinic or "
        "web_form.")] = "email",
    purpose: Annotated[str | None, typer.Option(
        "--purpose", help="Restriction or objection: the purpose it concerns (default: all).",
        show_default=False)] = None,
    note: Annotated[str | None, typer.Option(
        "--note", help="What was asked, in a few words (kept with the request, never audited).",
        show_default=False)] = None,
    unknown: Annotated[bool, typer.Option(
        "--unknown", help="From someone the clinic holds nothing on: no subject, give --name.")] = False,
    name: Annotated[str | None, typer.Option(
        "--name", help="With --unknown: the person's name.", show_default=False)] = None,
    email: Annotated[str | None, typer.Option(
        "--email", help="With --unknown: their email, if they gave one.", show_default=False)] = None,
    yes: YesFlag = False,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None, json_: JsonFlag = False,
) -> None:
    """Record a request of any kind; print its id and due date.
    Example: pigment request open S-7K3Q9 --kind rectification --received 2026-11-02 --via letter
    """
    from pigment_cli.errors import BadInput
    from pigment_cli.rights.requests import RequestView, due_soon, open_request, today_of

    if not received:
        raise BadInput("--received is required: the day the request arrived, YYYY-MM-DD")
    if unknown == (subject_id is not None):
        raise BadInput("give a SUBJECT, or --unknown --name NAME for someone not in the store")
    refuse_future_step(as_of, "request open")

    def attempt(duplicate_ok: bool) -> tuple[RequestView, str | None]:
        with open_session(db, actor, as_of) as s:
            view = open_request(s, subject_id, received=received, channel=via, kind=kind,
                                purpose=purpose, note=note, person_name=name,
                                person_email=email, duplicate_ok=duplicate_ok)
            return view, due_soon(s.policy, view, today_of(s))

    view, warning = confirming(attempt, yes)
    if json_:
        print_json(view)
    else:
        print(f"{view.id} {view.due}")
    if warning:
        say(f"pigment: warning: {warning}")


@app.command("acknowledge")
def acknowledge(request_id: RequestArg, on: OnOption = None, db: DbOption = None,
                actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Record the day the request was acknowledged (a complaint: within 30 days of receipt).
    Example: pigment request acknowledge R-4MX2P --on 2026-11-05
    """
    from pigment_cli.rights.requests import acknowledge as record

    refuse_future_step(as_of, "request acknowledge")
    with open_session(db, actor, as_of) as s:
        view = record(s, request_id, on=on)
    step_done(view, f"acknowledged on {view.acknowledged_on}")


OutcomeOption = Annotated[str | None, typer.Option(
    "--outcome", help="done (default), partly-done, refused or withdrawn; nothing-held for "
    "someone not in the store; a complaint: upheld, partly-upheld, not-upheld or withdrawn.",
    show_default=False)]
OutcomeReasonOption = Annotated[str | None, typer.Option(
    "--reason", help="Why (required for refused, partly-done, partly-upheld and not-upheld: it "
    "goes in the letter; never audited).", show_default=False)]


@app.command("close")
def close(request_id: RequestArg, outcome: OutcomeOption = None,
          reason: OutcomeReasonOption = None, on: OnOption = None, yes: YesFlag = False,
          db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Close a request with its outcome (done needs its action recorded first).
    Example: pigment request close R-4MX2P --outcome refused --reason "manifestly unfounded"
    """
    from pigment_cli.rights.requests import RequestView
    from pigment_cli.rights.requests import close as finish

    refuse_future_step(as_of, "request close")

    def attempt(duplicate_ok: bool) -> RequestView:
        with open_session(db, actor, as_of) as s:
            return finish(s, request_id, on=on, outcome=outcome, reason=reason,
                          duplicate_ok=duplicate_ok)

    closed(confirming(attempt, yes))


@app.command("show")
def show(request_id: RequestArg, db: DbOption = None, actor: ActorOption = None,
         as_of: AsOfOption = None, json_: JsonFlag = False) -> None:
    """Show a request: kind, status, due date, actions, recipients still to be told.
    Example: pigment request show R-4MX2P
    """
    from pigment_cli.rights.requests import show_request

    with open_session(db, actor, as_of) as s:
        view = show_request(s, request_id)
    if json_:
        print_json(view)
    else:
        render(view)


@app.command("list")
def list_(
    kind: Annotated[str | None, typer.Option(
        "--kind", help="Only this kind (see request open --help).", show_default=False)] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open (or paused) requests.")] = False,
    overdue: Annotated[bool, typer.Option(
        "--overdue", help="Only overdue requests; exit 1 if there are any.")] = False,
    due_within: Annotated[str | None, typer.Option(
        "--due-within", help="Only open requests due within this many days, e.g. 7d or 2w "
        "(overdue ones included); exit 1 if there are any.", show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None, json_: JsonFlag = False,
) -> None:
    """List open and paused requests by due date, then closed ones (exit 1 for cron with
    --overdue or --due-within when any match).
    Example: pigment request list --due-within 7d
    """
    listing(kind, open_only, overdue, due_within, db, actor, as_of, json_)


# The lifecycle verbs are the same as `sar`'s: they take any request id.
for _name, _command in (
    ("verify-id", sar.verify_id), ("fee-received", sar.fee_received), ("pause", sar.pause),
    ("resume", sar.resume), ("extend", sar.extend), ("review", sar.review),
):
    app.command(_name)(_command)
app.command("letter")(letter)
