"""`pigment consent ...`: grant, withdraw and check consents; the mailing audience; unsubscribes."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pigment_cli.cli._common import (
    ActorOption,
    DbOption,
    JsonFlag,
    SubjectArg,
    check_out,
    open_session,
    print_json,
    say,
    table,
    tell_recipients,
    write_out,
)

if TYPE_CHECKING:
    from pigment_cli.records.consents import ConsentState, EventResult

app = typer.Typer(help="Consents to the optional purposes: newsletters, surveys, ads, cookies, "
                  "non-medical sharing.", no_args_is_help=True)

PurposeArg = Annotated[str, typer.Argument(
    metavar="PURPOSE", help="A consent purpose, e.g. newsletter (see policy show).",
    show_default=False)]
Via = Annotated[str, typer.Option(
    "--via", help="Channel: email, newsletter_link, web_form, paper_form, phone, in_clinic. "
    "paper_form, email and web_form count as written.", show_default=False)]
Evidence = Annotated[str | None, typer.Option(
    "--evidence", help="Where the proof is, e.g. a form number or email reference.",
    show_default=False)]
Notice = Annotated[str | None, typer.Option(
    "--notice", help="Version of the privacy notice the person was shown (default: the version "
    "of the policy in force in the store at that time).", show_default=False)]
Recipient = Annotated[str | None, typer.Option(
    "--recipient", help="For a specific consent (third_party_non_medical): who may receive the "
    "data, by name or recipient type (e.g. authority). On a withdrawal: that recipient only.",
    show_default=False)]
Categories = Annotated[str | None, typer.Option(
    "--categories", help="For a specific consent: the categories of data it covers, "
    "comma-separated, e.g. identity,contact.", show_default=False)]
At = Annotated[str | None, typer.Option(
    "--at", help="When it happened, ISO date or time, UTC (default: now).", show_default=False)]


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _report_event(result: EventResult, json_: bool) -> None:
    state, event = result.state, result.event
    if json_:
        print_json(result.to_dict())
    elif not result.recorded or event is None:
        who = f"{event.subject_id}: " if event is not None else ""
        say(f"pigment: {who}nothing recorded; {state.purpose} consent {result.reason}")
    elif event.action == "withdraw" and event.recipient is not None:
        still = (f"; still {state.state} for other recipients" if state.granted else "")
        say(f"pigment: {event.subject_id}: {event.purpose} consent withdrawn for that recipient at "
            f"{event.at} (via {event.channel}){still}; event {event.id}")
    else:
        written = "written, " if event.written else ""
        say(f"pigment: {event.subject_id}: {event.purpose} consent {state.state} at {event.at} "
            f"({written}via {event.channel}, notice {event.notice_version}); event {event.id}")
    if event is not None and result.erased_items:
        say(f"pigment: {event.subject_id}: erased {result.erased_items} item(s) held only for "
            f"{state.purpose} (the withdrawal ends that processing: UK GDPR Art. 7(3), 17(1)(b))")
    if event is not None and result.notices and not json_:  # Art. 19: whom to tell
        tell_recipients(list(result.notices))
    if event is not None and result.kept_by:
        say(f"pigment: {event.subject_id}: the data held only for {state.purpose} is kept while "
            f"{'; '.join(result.kept_by)} stands; the next retention sweep erases it after that")
    if event is not None and result.suppressed:
        say(f"pigment: warning: {event.subject_id}'s email is on the suppression list: it stays "
            "out of every audience and `consent check` answers no until it is taken off with: "
            f"pigment consent unsuppress {event.subject_id} (needs a written consent)")
    if event is not None and result.objected_on:
        say(f"pigment: warning: {event.subject_id} objected to {state.purpose} on "
            f"{result.objected_on} (UK GDPR Art. 21(3)): they stay out of every {state.purpose} "
            "audience and `consent check` answers no until the objection is withdrawn with: "
            f"pigment object {event.subject_id} --purpose {state.purpose} --withdraw (needs a "
            "written consent)")


@app.command("grant")
def grant(
    subject_id: SubjectArg, purpose: PurposeArg, via: Via, evidence: Evidence = None,
    notice: Notice = None, at: At = None, recipient: Recipient = None,
    categories: Categories = None, db: DbOption = None, actor: ActorOption = None,
    json_: JsonFlag = False,
) -> None:
    """Record that a subject consented to a purpose.
    Example: pigment consent grant S-7K3Q9 newsletter --via paper_form --evidence "form 2026/114"
    """
    from pigment_cli.records import consents as consent

    with open_session(db, actor) as s:
        result = consent.grant(s, subject_id, purpose, via=via, evidence=evidence, notice=notice,
                               at=at, recipient=recipient, categories=categories)
    _report_event(result, json_)


@app.command("withdraw")
def withdraw(
    subject_id: SubjectArg, purpose: PurposeArg, via: Via, evidence: Evidence = None,
    notice: Notice = None, at: At = None, recipient: Recipient = None, db: DbOption = None,
    actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Record that a subject withdrew (or refused) consent to a purpose, and erase the data held
    only for it. Example: pigment consent withdraw S-7K3Q9 newsletter --via email --at 2026-11-20
    """
    from pigment_cli.records import consents as consent

    with open_session(db, actor) as s:
        result = consent.withdraw(s, subject_id, purpose, via=via, evidence=evidence,
                                  notice=notice, at=at, recipient=recipient)
    _report_event(result, json_)


def _state_rows(states: list[ConsentState]) -> list[list[Any]]:
    return [[st.purpose, st.state, st.since, st.channel, _yes_no(st.written), st.notice_version,
             st.evidence] for st in states]


@app.command("status")
def status(subject_id: SubjectArg, db: DbOption = None, actor: ActorOption = None,
           json_: JsonFlag = False) -> None:
    """Show where every consent purpose stands for a subject. Example: pigment consent status S-7K3Q9"""
    from pigment_cli.records import consents as consent

    with open_session(db, actor) as s:
        states = consent.status(s, subject_id)
    if json_:
        print_json([st.to_dict() for st in states])
        return
    table(f"Consents of {subject_id.strip().upper()}", ["purpose", "state", "since", "via", "written", "notice",
                                 "evidence"], _state_rows(states))


@app.command("history")
def history(subject_id: SubjectArg, db: DbOption = None, actor: ActorOption = None,
            json_: JsonFlag = False) -> None:
    """List every consent event of a subject, oldest first. Example: pigment consent history S-7K3Q9"""
    from pigment_cli.records import consents as consent

    with open_session(db, actor) as s:
        events = consent.history(s, subject_id)
    if json_:
        print_json([e.to_dict() for e in events])
        return
    table(f"{len(events)} consent event(s)",
          ["event", "at (UTC)", "purpose", "action", "via", "written", "evidence", "notice",
           "recorded by", "recorded at"],
          [[e.id, e.at, e.purpose, e.action, e.channel, _yes_no(e.written), e.evidence,
            e.notice_version, e.recorded_by, e.recorded_at] for e in events])


@app.command("check")
def check(
    subject_id: SubjectArg, purpose: PurposeArg,
    written: Annotated[bool, typer.Option(
        "--written", help="Also require that it was given through a written channel.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing; only the exit code.")]
    = False,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Exit 0 if the subject's consent is granted now, 1 if not (for scripts).
    Example: pigment consent check S-7K3Q9 newsletter --quiet && send-newsletter
    """
    from pigment_cli.errors import CheckFailed
    from pigment_cli.records import consents as consent

    with open_session(db, actor) as s:
        result = consent.check(s, subject_id, purpose, written=written)
    if result.ok:
        if not quiet:
            say(f"pigment: {result.reason}")
        return
    if quiet:
        raise typer.Exit(1)
    raise CheckFailed(result.reason)


@app.command("unsuppress")
def unsuppress(subject_id: SubjectArg, db: DbOption = None, actor: ActorOption = None,
               json_: JsonFlag = False) -> None:
    """Take a subject's email off the suppression list after a new written consent.
    Example: pigment consent unsuppress S-7K3Q9
    """
    from pigment_cli.records import consents as consent

    with open_session(db, actor) as s:
        result = consent.unsuppress(s, subject_id)
    if json_:
        print_json(result.to_dict())
    if not result.removed:
        say(f"pigment: {result.subject_id}: the email is not on the suppression list; nothing "
            "changed")
        return
    say(f"pigment: {result.subject_id}: email taken off the suppression list (on it since "
        f"{result.suppressed_at}; written {result.purpose} consent, event {result.event})")


class AudienceFormat(StrEnum):
    csv = "csv"
    json = "json"


@app.command("audience")
def audience(
    purpose: PurposeArg,
    format_: Annotated[AudienceFormat, typer.Option(
        "--format", help="csv (for the mailing tool) or json.")] = AudienceFormat.csv,
    written: Annotated[bool, typer.Option(
        "--written", help="Only consents given through a written channel.")] = False,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write to this file (mode 0600) instead of stdout.", show_default=False,
        dir_okay=False)] = None,
    db: DbOption = None, actor: ActorOption = None,
    json_: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Export the subjects whose consent to a purpose is granted now.
    Example: pigment consent audience newsletter --format csv --out newsletter.csv
    """
    import io

    from pigment_cli.files import write_csv
    from pigment_cli.records import consents as consent

    if out_file is not None:
        check_out(out_file, db)

    if json_:  # --json is short for --format json, as in pigment report
        format_ = AudienceFormat.json
    with open_session(db, actor) as s:
        members = consent.audience(s, purpose, written_only=written)
    if format_ is AudienceFormat.json:
        import json

        text = json.dumps([m.to_dict() for m in members], indent=2, ensure_ascii=False) + "\n"
    else:
        buffer = io.StringIO()
        write_csv((m.to_dict() for m in members), ["id", "email", "name", "granted_since"], buffer)
        text = buffer.getvalue()
    if out_file is not None:
        write_out(out_file, text, db)
    else:
        sys.stdout.write(text)
    without_email = sum(1 for m in members if not m.email)
    where = f" to {out_file}" if out_file is not None else ""
    say(f"pigment: {len(members)} subject(s) consent to {purpose}{where}"
        + (f"; {without_email} of them have no email address" if without_email else ""))


@app.command("import-withdrawals")
def import_withdrawals(
    file: Annotated[Path, typer.Argument(
        metavar="FILE", help="Unsubscribe export (CSV) or a list of emails, one per line.",
        show_default=False)],
    purpose: Annotated[str, typer.Option(
        "--purpose", help="The consent purpose withdrawn, e.g. newsletter.", show_default=False)],
    via: Annotated[str, typer.Option(
        "--via", help="Channel of the withdrawals, e.g. newsletter_link.", show_default=False)],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Report what would be withdrawn; record nothing.")] = False,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Withdraw consent for every subject whose email is in a mailing service's unsubscribe export.
    Example: pigment consent import-withdrawals unsubscribed.csv --purpose newsletter --via newsletter_link
    """
    from pigment_cli.records import consents as consent

    with open_session(db, actor) as s:
        report = consent.import_withdrawals(s, file, purpose=purpose, via=via, dry_run=dry_run)
    if json_:
        print_json(report.to_dict())
    would = "would be " if dry_run else ""
    say(f"pigment: {file.name}: {report.rows} row(s), {report.emails} distinct email(s): "
        f"{report.matched} matched, {report.unknown} unknown, {report.invalid} invalid, "
        f"{report.duplicates} duplicate(s)")
    say(f"pigment: {purpose}: {report.withdrawn} {would}withdrawn, {report.already_withdrawn} "
        f"already withdrawn, {report.granted_later} granted again after unsubscribing (kept)")
    if report.erased_items:
        say(f"pigment: {purpose}: erased {report.erased_items} item(s) held only for it "
            "(a withdrawal ends that processing)")
    for label, lines in (("unknown email", report.unknown_lines),
                         ("no valid email", report.invalid_lines)):
        if lines:
            shown = ", ".join(str(n) for n in lines[:20]) + (" ..." if len(lines) > 20 else "")
            say(f"pigment: {label} on line(s) {shown}")
