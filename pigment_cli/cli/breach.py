"""`pigment breach ...`: the breach register (UK GDPR Art. 33-34): record, assess, notify the ICO
within 72 hours and the people affected when the risk is high, report, close."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pigment_cli.cli._common import (
    ActorOption,
    DbOption,
    JsonFlag,
    check_out,
    open_session,
    print_json,
    say,
    table,
    write_out,
)

app = typer.Typer(help="The breach register: the ICO's 72-hour clock (UK GDPR Art. 33-34).",
                  no_args_is_help=True)
BreachArg = Annotated[str, typer.Argument(metavar="BREACH", help="Breach id, e.g. B-7K3Q9.",
                                          show_default=False)]
_TIME_HELP = "London time, e.g. 2026-11-24T09:30, or with an offset, e.g. 2026-11-24T09:30+00:00"
OnOption = Annotated[str, typer.Option("--on", help=f"When it was done: {_TIME_HELP}.",
                                       show_default=False)]
RecordsOption = Annotated[int | None, typer.Option(
    "--records", help="Approximate number of records affected.", show_default=False)]
ApproxOption = Annotated[int | None, typer.Option(
    "--approx-subjects", help="Approximate number of people affected (when they are not "
    "listed with --subjects).", show_default=False)]


@app.command("record")
def record(
    aware_at: Annotated[str, typer.Option(
        "--aware-at", help=f"When the clinic became aware of it (the 72 hours start): {_TIME_HELP}.",
        show_default=False)],
    nature: Annotated[str, typer.Option(
        "--nature", help="confidentiality, integrity or availability (comma-separated if "
        "more than one).", show_default=False)],
    description: Annotated[str, typer.Option(
        "--description", help="What happened (shown only to the manager, never audited).",
        show_default=False)],
    occurred_at: Annotated[str | None, typer.Option(
        "--occurred-at", help="When it happened, if known (not after --aware-at).",
        show_default=False)] = None,
    categories: Annotated[str | None, typer.Option(
        "--categories", help="Categories of data involved, e.g. contact,medical_history (see "
        "policy show).", show_default=False)] = None,
    subjects: Annotated[str | None, typer.Option(
        "--subjects", help="The people affected, when known: subject ids, comma-separated.",
        show_default=False)] = None,
    approx_subjects: ApproxOption = None,
    records: RecordsOption = None,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Log a breach; print its id and the ICO deadline (aware + 72 hours).
    Example: pigment breach record --aware-at 2026-11-24T09:30 --nature confidentiality --description "letter sent to the wrong patient" """
    from pigment_cli.records.breaches import record_breach

    with open_session(db, actor) as s:
        b = record_breach(s, aware_at=aware_at, nature=nature, description=description,
                          occurred_at=occurred_at, categories=categories, subjects=subjects,
                          approx_subjects=approx_subjects, records=records)
    deadline = b.deadline_text
    print(f"{b.id} {deadline}")
    say(f"pigment: breach {b.id} recorded; unless an assessment finds no likely risk, the ICO "
        f"must be told by {deadline} (next: pigment breach assess {b.id} --risk ... --reason ...)")


@app.command("assess")
def assess(
    breach_id: BreachArg,
    risk: Annotated[str, typer.Option(
        "--risk", help="none (the ICO need not be told), risk (tell the ICO) or high (tell the "
        "ICO and the people affected).", show_default=False)],
    reason: Annotated[str, typer.Option(
        "--reason", help="Why (kept, even when the ICO is not told: UK GDPR Art. 33(5)).",
        show_default=False)],
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Record the risk assessment: it decides who must be told.
    Example: pigment breach assess B-7K3Q9 --risk risk --reason "health data of one patient" """
    from pigment_cli.records.breaches import assess_breach

    with open_session(db, actor) as s:
        b = assess_breach(s, breach_id, risk=risk, reason=reason)
    deadline = b.deadline_text
    if b.risk == "none":
        say(f"pigment: breach {b.id} assessed: no likely risk; the ICO need not be told, the "
            "breach and the reason stay on the register (UK GDPR Art. 33(5))")
    elif b.risk == "risk":
        say(f"pigment: breach {b.id} assessed: a risk; tell the ICO by {deadline} (UK GDPR "
            f"Art. 33), then: pigment breach notify-ico {b.id} --on ...")
    else:
        say(f"pigment: breach {b.id} assessed: HIGH risk; tell the ICO by {deadline} (Art. 33) "
            "and the people affected without undue delay (Art. 34), then: pigment breach "
            f"notify-ico / notify-subjects {b.id} --on ...")


@app.command("notify-ico")
def notify_ico_(
    breach_id: BreachArg,
    on: OnOption,
    reference: Annotated[str | None, typer.Option(
        "--reference", help="The ICO's case reference, if given.", show_default=False)] = None,
    late_reason: Annotated[str | None, typer.Option(
        "--late-reason", help="Why the ICO was told after the 72 hours: required then (UK GDPR "
        "Art. 33(1)); shown only to the manager and in the report.", show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Record when the ICO was told of a breach (after 72 hours, with --late-reason).
    Example: pigment breach notify-ico B-7K3Q9 --on 2026-11-25T10:00 --reference IC-123456"""
    from pigment_cli.records.breaches import notify_ico

    with open_session(db, actor) as s:
        b = notify_ico(s, breach_id, on=on, reference=reference, late_reason=late_reason)
    say(f"pigment: breach {b.id}: the ICO was told"
        + (" (voluntary: assessed as no likely risk)" if b.risk == "none" else "")
        + (" - LATE, after the 72 hours; the reasons for the delay are kept for the report "
           "(UK GDPR Art. 33(1))" if b.ico_late else ""))
    if b.risk is None:
        say(f"pigment: breach {b.id} is not yet assessed: pigment breach assess {b.id}")


@app.command("notify-subjects")
def notify_subjects_(breach_id: BreachArg, on: OnOption, db: DbOption = None,
                     actor: ActorOption = None) -> None:
    """Record when the people affected were told (UK GDPR Art. 34).
    Example: pigment breach notify-subjects B-7K3Q9 --on 2026-11-25T10:15"""
    from pigment_cli.records.breaches import notify_subjects

    with open_session(db, actor) as s:
        b = notify_subjects(s, breach_id, on=on)
    say(f"pigment: breach {b.id}: the people affected were told"
        + ("" if b.subjects_required else " (voluntary: not assessed as high risk)")
        + "; the letter must describe the breach in clear language, name the DPO or contact, "
        "the likely consequences and the measures taken (UK GDPR Art. 34(2))")


@app.command("update")
def update(
    breach_id: BreachArg,
    description: Annotated[str | None, typer.Option(
        "--description", help="What happened (replaces the text).", show_default=False)] = None,
    consequences: Annotated[str | None, typer.Option(
        "--consequences", help="The likely consequences for the people affected.",
        show_default=False)] = None,
    measures: Annotated[str | None, typer.Option(
        "--measures", help="Measures taken or proposed to deal with it and limit its effects.",
        show_default=False)] = None,
    records: RecordsOption = None,
    approx_subjects: ApproxOption = None,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Add what is learnt about a breach as it is learnt (UK GDPR Art. 33(4)).
    Example: pigment breach update B-7K3Q9 --measures "letter retrieved; staff retrained" """
    from pigment_cli.records.breaches import update_breach

    with open_session(db, actor) as s:
        b = update_breach(s, breach_id, description=description, consequences=consequences,
                          measures=measures, records=records, approx_subjects=approx_subjects)
    say(f"pigment: breach {b.id} updated")


@app.command("close")
def close(breach_id: BreachArg, db: DbOption = None, actor: ActorOption = None) -> None:
    """Close a breach; refused (exit 3) while a notification it needs is missing.
    Example: pigment breach close B-7K3Q9"""
    from pigment_cli.records.breaches import close_breach

    with open_session(db, actor) as s:
        b = close_breach(s, breach_id)
    say(f"pigment: breach {b.id} closed")


@app.command("list")
def list_(
    open_only: Annotated[bool, typer.Option("--open", help="Only breaches not yet closed.")] = False,
    overdue: Annotated[bool, typer.Option(
        "--overdue", help="Only notifiable breaches past their 72 hours with the ICO not told.")]
    = False,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """List the register (no free text); exit 1 if any breach is overdue.
    Example: pigment breach list --open"""
    from pigment_cli.errors import CheckFailed
    from pigment_cli.records.breaches import list_breaches

    with open_session(db, actor) as s:
        found = list_breaches(s, open_only=open_only, overdue_only=overdue)
        now = s.now
    rows = [b.summary(now) for b in found]
    if json_:
        print_json(rows)
    else:
        table(f"{len(rows)} breach(es)", ["breach", "ICO deadline", "hours left", "risk",
                                          "ICO told", "people told", "status"],
              [[r["id"], _short(r["ico_deadline"]),
                f"{r['hours_left']:.1f}" if r["status"] != "closed" and not r["ico_notified_at"]
                else "", r["risk"] or "?", (r["ico_notified_at"] or "-")[:10],
                (r["subjects_notified_at"] or "-")[:10], r["status"]] for r in rows])
    # Every overdue breach is open, so it is in the list whatever the filter.
    late = [r["id"] for r in rows if r["overdue"]]
    if late:
        raise CheckFailed(f"{len(late)} notifiable breach(es) past the 72 hours with the ICO not "
                          f"told: {', '.join(late)} (UK GDPR Art. 33)")


def _short(text: str | None) -> str:
    """2026-03-31T11:00+01:00 -> 2026-03-31 11:00 (the offset is in the JSON)."""
    return (text or "")[:16].replace("T", " ")


@app.command("show")
def show(breach_id: BreachArg, db: DbOption = None, actor: ActorOption = None,
         json_: JsonFlag = False) -> None:
    """Show one breach in full, with what it still needs.
    Example: pigment breach show B-7K3Q9"""
    from pigment_cli.records.breaches import show_breach

    with open_session(db, actor) as s:
        b = show_breach(s, breach_id)
        now = s.now
    data = b.to_dict(now)
    if json_:
        print_json(data)
        return
    rows = [[key.replace("_", " "), _cell(data[key])] for key in (
        "id", "status", "occurred_at", "aware_at", "ico_deadline", "hours_left", "nature",
        "description", "categories", "approx_subjects", "subject_ids", "records", "risk",
        "risk_reason", "assessed_at", "consequences", "measures", "ico_notified_at", "ico_late",
        "ico_reference", "late_reason", "subjects_required", "subjects_notified_at", "closed_at")]
    rows.append(["still needs", "; ".join(data["missing"]) or "nothing"])
    table(f"Breach {b.id}", ["field", "value"], rows)


def _cell(value: object) -> object:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


@app.command("report")
def report(
    breach_id: BreachArg,
    format_: Annotated[str, typer.Option(
        "--format", help="md (Markdown) or html.")] = "md",
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write to this file (0600) instead of stdout.", show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Print the answers the ICO's breach report form asks for, ready to copy.
    Example: pigment breach report B-7K3Q9 --format html --out breach-report.html"""
    from pigment_cli.errors import BadInput
    from pigment_cli.records.breaches import REPORT_FORMATS, render_report, report_fields

    if format_ not in REPORT_FORMATS:
        raise BadInput(f"--format must be one of {', '.join(REPORT_FORMATS)}")
    if out_file is not None:
        check_out(out_file, db)
    with open_session(db, actor) as s:
        b, fields = report_fields(s, breach_id)
        text = render_report(b, fields, format_)
    if out_file is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    write_out(out_file, text, db)
    say(f"pigment: breach {b.id}: report written to {out_file}")


@app.command("letter")
def letter(
    breach_id: BreachArg,
    subject: Annotated[str | None, typer.Option(
        "--subject", help="A subject linked to the breach, e.g. S-7K3Q9 (without it: a letter "
        "to \"Dear patient\", for a mail merge).", show_default=False)] = None,
    format_: Annotated[str, typer.Option(
        "--format", help="txt (plain text) or html (a printable web page).")] = "txt",
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write the letter to this new file (0600; never over an existing file) "
        "instead of printing it.", show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Write the letter telling the people affected of a high-risk breach (UK GDPR Art. 34).
    Example: pigment breach letter B-7K3Q9 --subject S-7K3Q9 --format html --out letter.html"""
    from pigment_cli.rights.letters import issue_breach_letter

    with open_session(db, actor) as s:
        written = issue_breach_letter(s, breach_id, subject, format_, out=out_file)
    if written.out is None:
        print(written.text, end="")
    else:
        say(f"pigment: breach {written.breach_id}: letter written to {written.out}")
