"""`pigment sar ...`: subject-access requests (the access kind of `pigment request`): deadlines,
the request's lifecycle, the package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
    refuse_future_step,
    say,
    store_path,
)
from pigment_cli.cli._requests import (
    OnOption,
    RequestArg,
    closed,
    listing,
    render,
    step_done,
)

app = typer.Typer(help="Subject-access requests: deadlines, lifecycle, the access package.",
                  no_args_is_help=True)

ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept with the request, never audited).")]
ZipFlag = Annotated[bool, typer.Option(
    "--zip", help="Write one zip file instead of a directory (implied by a path ending in .zip).")]


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
        "--channel", "--via", help="How it arrived: email, letter, phone, in_clinic or "
        "web_form.")] = "email",
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None, json_: JsonFlag = False,
) -> None:
    """Record a subject-access request; print its id and due date.
    Example: pigment sar open S-7K3Q9 --received 2026-11-02 --channel letter
    """
    from pigment_cli.rights.requests import due_soon, open_request, today_of

    refuse_future_step(as_of, "sar open")
    with open_session(db, actor, as_of) as s:
        view = open_request(s, subject_id, received=received, channel=channel)
        warning = due_soon(s.policy, view, today_of(s))
    if json_:
        print_json(view)
    else:
        print(f"{view.id} {view.due}")
    if warning:
        say(f"pigment: warning: {warning}")


@app.command("verify-id")
def verify_id(request_id: RequestArg, on: OnOption = None, db: DbOption = None,
              actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Record the day requested proof of identity arrived (the clock starts then).
    Example: pigment sar verify-id R-4MX2P --on 2026-11-06
    """
    from pigment_cli.rights.requests import verify_id as verify

    refuse_future_step(as_of, "sar verify-id")
    with open_session(db, actor, as_of) as s:
        view = verify(s, request_id, on=on)
    step_done(view, f"identity verified; the clock starts {view.start}")


@app.command("fee-received")
def fee_received(request_id: RequestArg, on: OnOption = None, db: DbOption = None,
                 actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Record the day a requested fee arrived (the clock starts then if it is the latest).
    Example: pigment sar fee-received R-4MX2P --on 2026-11-09
    """
    from pigment_cli.rights.requests import fee_received as record

    refuse_future_step(as_of, "sar fee-received")
    with open_session(db, actor, as_of) as s:
        view = record(s, request_id, on=on)
    step_done(view, f"fee received; the clock starts {view.start}")


@app.command("pause")
def pause(request_id: RequestArg, reason: ReasonOption, on: OnOption = None, db: DbOption = None,
          actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Stop the clock while awaiting clarification asked for on --on.
    Example: pigment sar pause R-4MX2P --reason "asked which years" --on 2026-11-10
    """
    from pigment_cli.rights.requests import pause as stop

    refuse_future_step(as_of, "sar pause")
    with open_session(db, actor, as_of) as s:
        view = stop(s, request_id, reason=reason, on=on)
    step_done(view, "paused")


@app.command("resume")
def resume(request_id: RequestArg, on: OnOption = None, db: DbOption = None,
           actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Restart the clock: the clarification arrived on --on.
    Example: pigment sar resume R-4MX2P --on 2026-11-13
    """
    from pigment_cli.rights.requests import resume as restart

    refuse_future_step(as_of, "sar resume")
    with open_session(db, actor, as_of) as s:
        view = restart(s, request_id, on=on)
    step_done(view, f"resumed after {view.paused_days} paused day(s)")


@app.command("extend")
def extend(request_id: RequestArg, reason: ReasonOption, on: OnOption = None, db: DbOption = None,
           actor: ActorOption = None, as_of: AsOfOption = None) -> None:
    """Extend to three months from the start (only within the first month, only once).
    Example: pigment sar extend R-4MX2P --reason "records from three clinics"
    """
    from pigment_cli.rights.requests import extend as lengthen

    refuse_future_step(as_of, "sar extend")
    with open_session(db, actor, as_of) as s:
        view = lengthen(s, request_id, reason=reason, on=on)
    step_done(view, "extended; tell the subject, with the reason, within the first month")


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

    refuse_future_step(as_of, "sar review")
    with open_session(db, actor, as_of) as s:
        view = record(s, request_id, by=by, outcome=outcome, note=note, on=on)
    step_done(view, f"review recorded ({outcome})")


@app.command("close")
def close(
    request_id: RequestArg, on: OnOption = None,
    outcome: Annotated[str | None, typer.Option(
        "--outcome", help="done (default: needs the package written, e.g. with --export), "
        "partly-done, refused or withdrawn.", show_default=False)] = None,
    reason: Annotated[str | None, typer.Option(
        "--reason", help="Why (required for refused and partly-done; never audited).",
        show_default=False)] = None,
    export: Annotated[Path | None, typer.Option(
        "--export", help="Also write the access package to this new directory (a zip file with "
        "--zip or a path ending in .zip).",
        show_default=False)] = None,
    zip_: ZipFlag = False,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None,
) -> None:
    """Close a request: with --export, write the package and close it as done.
    Example: pigment sar close R-4MX2P --on 2026-11-24 --export ~/sar/R-4MX2P
    """
    from pigment_cli.errors import BadInput
    from pigment_cli.rights.package import close_and_export
    from pigment_cli.rights.requests import close as finish

    package = None
    refuse_future_step(as_of, "sar close")
    with open_session(db, actor, as_of) as s:
        if export is None:
            view = finish(s, request_id, on=on, outcome=outcome, reason=reason)
        elif outcome not in (None, "done"):
            raise BadInput("--export closes the request as done; without --export give the "
                           "outcome")
        else:
            view, package = close_and_export(s, request_id, export, on=on, zip_=zip_)
    closed(view)
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
    render(view)


@app.command("list")
def list_(
    open_only: Annotated[bool, typer.Option("--open", help="Only open (or paused) requests.")] = False,
    overdue: Annotated[bool, typer.Option(
        "--overdue", help="Only overdue requests; exit 1 if there are any.")] = False,
    due_within: Annotated[str | None, typer.Option(
        "--due-within", help="Only open requests due within this many days, e.g. 7d or 2w "
        "(overdue ones included); exit 1 if there are any.", show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None, json_: JsonFlag = False,
) -> None:
    """List open and paused requests by due date, then closed ones by due date.
    Example: pigment sar list --open --due-within 7d
    """
    listing("access", open_only, overdue, due_within, db, actor, as_of, json_)


@app.command("export")
def export(
    subject_id: SubjectArg,
    out: Annotated[Path, typer.Option(
        "--out", help="A new directory (or zip file with --zip or a path ending in .zip).")],
    zip_: ZipFlag = False, request: RequestOption = None,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None,
) -> None:
    """Write the subject-access package (report.html, data.json, CSVs, manifest) to a new directory.
    Example: pigment sar export S-7K3Q9 --out ~/sar/S-7K3Q9
    """
    from pigment_cli.rights.package import export_package

    with open_session(db, actor, as_of) as s:
        package = export_package(s, subject_id, out, zip_=zip_, request_id=request)
    _package_done(package)
