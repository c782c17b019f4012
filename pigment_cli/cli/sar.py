"""`pigment sar ...`: subject-access requests: deadlines, the request's lifecycle, the package."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pigment_cli.cli._common import (
    ActorOption,
    AsOfOption,
    DbOption,
    JsonFlag,
    SubjectArg,
    open_session,
    print_json,
    say,
    store_path,
    table,
)

if TYPE_CHECKING:
    from pigment_cli.rights.requests import RequestView

app = typer.Typer(help="Subject-access requests: deadlines, lifecycle, the access package.",
                  no_args_is_help=True)

RequestArg = Annotated[
    str, typer.Argument(metavar="REQUEST", help="Request id, e.g. R-4MX2P.", show_default=False)
]
OnOption = Annotated[
    str | None,
    typer.Option("--on", help="The day it happened, YYYY-MM-DD (default: today).", show_default=False),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept with the request, never audited).")]
ZipFlag = Annotated[bool, typer.Option(
    "--zip", help="Write one zip file instead of a directory (implied by a path ending in .zip).")]


def _step_done(view: RequestView, what: str) -> None:
    state = "clock stopped" if view.status == "paused" else view.status
    say(f"pigment: {view.id} {what}; due {view.due} ({state})")


@app.command("deadline")
def deadline_(
    received: Annotated[str, typer.Argument(metavar="DATE", help="The day the clock starts, YYYY-MM-DD.")],
    extended: Annotated[bool, typer.Option("--extended", help="Three months instead of one.")] = False,
    db: DbOption = None,
    json_: Annotated[bool, typer.Option(
        "--json", help='Print {"start", "due", "extended"} as JSON instead of the date alone.')] = False,
) -> None:
    """Print the due date of a request whose clock starts on DATE. Example: pigment sar deadline 2024-11-25"""
    from pigment_cli.clock import parse_date
    from pigment_cli.policy import default_policy
    from pigment_cli.rights.requests import deadline

    start = parse_date(received, "DATE")
    if store_path(db).exists():  # the store's policy (its bank-holiday region) when there is one
        with open_session(db, mode="read") as s:
            policy = s.policy
    else:
        policy = default_policy()
    due = deadline(policy, start, extended=extended).isoformat()
    if json_:
        print_json({"start": start.isoformat(), "due": due, "extended": extended})
    else:
        print(due)


@app.command("open")
def open_(
    subject_id: SubjectArg,
    received: Annotated[str, typer.Option("--received", help="The day the request arrived, YYYY-MM-DD.")],
    channel: Annotated[str, typer.Option(
        "--channel", help="How it arrived: email, letter, phone or in_clinic.")] = "email",
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None, json_: JsonFlag = False,
) -> None:
    """Record a subject-access request; print its id and due date.
    Example: pigment sar open S-7K3Q9 --received 2026-11-02 --channel letter
    """
    from pigment_cli.rights.requests import open_request

    with open_session(db, actor, as_of) as s:
        view = open_request(s, subject_id, received=received, channel=channel)
    if json_:
        print_json(view)
    else:
        print(f"{view.id} {view.due}")


@app.command("verify-id")
def verify_id(request_id: RequestArg, on: OnOption = None, db: DbOption = None,
              actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Record the day requested proof of identity arrived (the clock starts then).
    Example: pigment sar verify-id R-4MX2P --on 2026-11-06
    """
    from pigment_cli.rights.requests import verify_id as verify

    with open_session(db, actor, as_of) as s:
        view = verify(s, request_id, on=on)
    _step_done(view, f"identity verified; the clock starts {view.start}")


@app.command("fee-received")
def fee_received(request_id: RequestArg, on: OnOption = None, db: DbOption = None,
                 actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Record the day a requested fee arrived (the clock starts then if it is the latest).
    Example: pigment sar fee-received R-4MX2P --on 2026-11-09
    """
    from pigment_cli.rights.requests import fee_received as record

    with open_session(db, actor, as_of) as s:
        view = record(s, request_id, on=on)
    _step_done(view, f"fee received; the clock starts {view.start}")


@app.command("pause")
def pause(request_id: RequestArg, reason: ReasonOption, on: OnOption = None, db: DbOption = None,
          actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Stop the clock while awaiting clarification asked for on --on.
    Example: pigment sar pause R-4MX2P --reason "asked which years" --on 2026-11-10
    """
    from pigment_cli.rights.requests import pause as stop

    with open_session(db, actor, as_of) as s:
        view = stop(s, request_id, reason=reason, on=on)
    _step_done(view, "paused")


@app.command("resume")
def resume(request_id: RequestArg, on: OnOption = None, db: DbOption = None,
           actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Restart the clock: the clarification arrived on --on.
    Example: pigment sar resume R-4MX2P --on 2026-11-13
    """
    from pigment_cli.rights.requests import resume as restart

    with open_session(db, actor, as_of) as s:
        view = restart(s, request_id, on=on)
    _step_done(view, f"resumed after {view.paused_days} paused day(s)")


@app.command("extend")
def extend(request_id: RequestArg, reason: ReasonOption, on: OnOption = None, db: DbOption = None,
           actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Extend to three months from the start (only within the first month, only once).
    Example: pigment sar extend R-4MX2P --reason "records from three clinics"
    """
    from pigment_cli.rights.requests import extend as lengthen

    with open_session(db, actor, as_of) as s:
        view = lengthen(s, request_id, reason=reason, on=on)
    _step_done(view, "extended; tell the subject, with the reason, within the first month")


@app.command("review")
def review(
    request_id: RequestArg,
    by: Annotated[str, typer.Option("--by", help="The health professional who gave the opinion.")],
    outcome: Annotated[str, typer.Option("--outcome", help="release or withhold-part.")],
    note: Annotated[str, typer.Option("--note", help="Their opinion (kept, never audited).")],
    on: OnOption = None, db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None,
) -> None:
    """Record a health professional's serious-harm review before health data is released.
    Example: pigment sar review R-4MX2P --by "Dr A. Shah" --outcome release --note "No risk of harm"
    """
    from pigment_cli.rights.requests import review as record

    with open_session(db, actor, as_of) as s:
        view = record(s, request_id, by=by, outcome=outcome, note=note, on=on)
    _step_done(view, f"review recorded ({outcome})")


@app.command("close")
def close(
    request_id: RequestArg, on: OnOption = None,
    export: Annotated[Path | None, typer.Option(
        "--export", help="Also write the access package to this new directory (a zip file with "
        "--zip or a path ending in .zip).",
        show_default=False)] = None,
    zip_: ZipFlag = False,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None,
) -> None:
    """Close an answered request (refused for health data without a recorded review).
    Example: pigment sar close R-4MX2P --on 2026-11-24 --export ~/sar/R-4MX2P
    """
    from pigment_cli.rights.package import close_and_export
    from pigment_cli.rights.requests import close as finish

    package = None
    with open_session(db, actor, as_of) as s:
        if export is None:
            view = finish(s, request_id, on=on)
        else:
            view, package = close_and_export(s, request_id, export, on=on, zip_=zip_)
    late = " (after its due date)" if view.closed_late else ""
    say(f"pigment: {view.id} closed on {view.closed_on}{late}; it was due {view.due}")
    if package:
        _package_done(package)


def _package_done(package: dict[str, Any]) -> None:
    print(package["path"])
    say(f"pigment: wrote {len(package['files'])} files for {package['subject_id']} to "
        f"{package['path']}")
    if package["flags"]["health_data"]:
        for review_ in package["reviews"]:
            say(f"pigment: health data: a health professional's serious-harm review is recorded "
                f"for {review_['request']} on {review_['reviewed_on']} (outcome: "
                f"{review_['outcome']}); follow it before release (DPA 2018 Sch. 3 Part 2)")
        if not package["reviews"]:
            say("pigment: warning: health data: a health professional's serious-harm opinion is "
                "needed before release and none is recorded (DPA 2018 Sch. 3 Part 2)")
    say("pigment: check free text for other people's data before release (DPA 2018 Sch. 2 Part 3)")


@app.command("show")
def show(request_id: RequestArg, db: DbOption = None, actor: ActorOption = None,
         as_of: AsOfOption = None, json_: JsonFlag = False) -> None:
    """Show a request: status, start, due date, days left, pauses, extension, review.
    Example: pigment sar show R-4MX2P
    """
    from pigment_cli.rights.requests import show_request

    with open_session(db, actor, as_of) as s:
        view = show_request(s, request_id)
    if json_:
        print_json(view)
        return
    review_ = view.review
    table(f"Request {view.id}", ["field", "value"], [
        ["subject", view.subject_id], ["channel", view.channel], ["status", view.status],
        ["received", view.received_on], ["identity verified", view.id_verified_on],
        ["fee received", view.fee_received_on], ["clock started", view.start],
        ["paused days", view.paused_days],
        ["extended", f"{view.extended_on}: {view.extension_reason}" if view.extended else "no"],
        ["due", view.due], ["internal target", view.internal_target],
        ["days left", view.days_left], ["overdue", "yes" if view.overdue else "no"],
        ["review", f"{review_.reviewed_on} by {review_.reviewer}: {review_.outcome}"
         if review_ else None],
        ["review note", review_.note if review_ else None], ["closed", view.closed_on],
    ])
    if view.pauses:
        table("Pauses (clock stopped)", ["asked for clarification", "clarification arrived", "reason"],
              [[p.paused_on, p.resumed_on, p.reason] for p in view.pauses])


@app.command("list")
def list_(
    open_only: Annotated[bool, typer.Option("--open", help="Only open (or paused) requests.")] = False,
    overdue: Annotated[bool, typer.Option(
        "--overdue", help="Only overdue requests; exit 1 if there are any.")] = False,
    due_within: Annotated[str | None, typer.Option(
        "--due-within", help="Only open requests due within this many days, e.g. 7d or 2w.",
        show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None, json_: JsonFlag = False,
) -> None:
    """List open and paused requests by due date, then closed ones by due date.
    Example: pigment sar list --open --due-within 7d
    """
    from pigment_cli.errors import CheckFailed
    from pigment_cli.rights.requests import list_requests, parse_within

    within = parse_within(due_within) if due_within is not None else None
    with open_session(db, actor, as_of) as s:
        views = list_requests(s, open_only=open_only, overdue_only=overdue, due_within=within)
    if json_:
        print_json(views)
    else:
        table(f"{len(views)} request(s)",
              ["request", "subject", "status", "received", "clock from", "due", "days left"],
              [[v.id, v.subject_id, _status_word(v), v.received_on, v.start, v.due,
                v.days_left] for v in views])
    late = sum(v.overdue for v in views)
    if overdue and late:
        raise CheckFailed(f"{late} request(s) overdue")


@app.command("export")
def export(
    subject_id: SubjectArg,
    out: Annotated[Path, typer.Option(
        "--out", help="A new directory (or zip file with --zip or a path ending in .zip).")],
    zip_: ZipFlag = False,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None,
) -> None:
    """Write the subject-access package (report.html, data.json, CSVs, manifest) to a new directory.
    Example: pigment sar export S-7K3Q9 --out ~/sar/S-7K3Q9
    """
    from pigment_cli.rights.package import export_package

    with open_session(db, actor, as_of) as s:
        package = export_package(s, subject_id, out, zip_=zip_)
    _package_done(package)


def _status_word(view: RequestView) -> str:
    """One word for the list (it must fit 80 columns): OVERDUE first, then the state."""
    if view.overdue:
        return "OVERDUE"
    return f"{view.status}{' (ext.)' if view.extended else ''}"
