"""`pigment status` and `pigment report`: the manager's screen and the anonymised reports."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pigment_cli.cli._common import AsOfOption, DbOption, JsonFlag, open_session, out, print_json, table


def status(as_of: AsOfOption = None, db: DbOption = None, json_: JsonFlag = False) -> None:
    """Show what is held and what needs doing today. Example: pigment status"""
    from pigment_cli.reports.status import status as build

    with open_session(db, as_of=as_of, mode="read") as s:
        view = build(s)
    if json_:
        print_json(view)
        return
    retention = view["retention"]
    last = retention["last_sweep"]
    table(f"pigment status on {view['as_of']} (policy {view['policy_version']})", ["", ""], [
        ["subjects held", view["subjects"]], ["data items", view["items"]],
        ["subjects erased (tombstones)", view["erased_subjects"]],
        ["open requests", f"{view['requests']['open']} ({view['requests']['overdue']} overdue)"],
        ["due for erasure now", f"{retention['due_subjects']} subject(s), {retention['due_items']} item(s)"],
        ["held back", f"{retention['held']} subject(s); {view['holds']} active hold(s)"],
        ["restricted (Art. 18)", f"{view['restricted_subjects']} subject(s)"],
        ["open breaches", f"{view['breaches']['open']} ({view['breaches']['overdue']} past "
         "72 hours unreported)"],
        ["contracts ending", f"{len(view['processors']['contracts_ending'])} within 30 days"],
        ["DPIAs to review", f"{view['dpias']['due']} within {view['dpias']['due_within_days']} "
         f"days ({view['dpias']['past_due']} past due)"],
        ["next falls due", retention["next_due"] or "-"],
        ["last sweep", f"{last['finished_at'] or last['started_at']} ({last['status']})" if last else "never"],
        ["audit chain", (f"intact, {view['audit']['entries']} entries (last full check: "
                         f"{view['audit']['last_full_verification'] or 'never; run pigment audit verify'})")
         if view["audit"]["ok"] else f"BROKEN: {view['audit']['reason']}"],
        ["store size", f"{view['store']['path_size_bytes'] / 1_048_576:.1f} MiB"],
    ])
    if view["requests"]["list"]:
        table("Open requests", ["request", "kind", "subject", "status", "due", "days left"],
              [[r["id"], r["kind"], r["subject_id"] or "(not held)", r["status"], r["due"],
                f"{r['days_left']} (OVERDUE)" if r["overdue"] else r["days_left"]]
               for r in view["requests"]["list"]])
    _registers(view)
    _consent_chart(view["consents"])


def _breach_clock(b: dict[str, Any]) -> str:
    if not b["clock_running"]:
        return "ICO told" if b["ico_notified"] else "not notifiable"
    if b["overdue"]:
        return f"{b['hours_left']} (OVERDUE)"
    return f"{b['hours_left']} (UNDER 24)" if b["hours_left"] < 24 else str(b["hours_left"])


def _registers(view: dict[str, Any]) -> None:
    """Open breaches (red under 24 hours left), contracts ending, DPIAs due: ids and dates."""
    breaches = view["breaches"]["list"]
    if breaches:
        table("Open breaches (Art. 33: tell the ICO within 72 hours)",
              ["breach", "ICO deadline", "hours left"],
              [[b["id"], b["ico_deadline"], _breach_clock(b)] for b in breaches],
              styles=["bold red" if b["clock_running"] and b["hours_left"] < 24 else None
                      for b in breaches])
    ending = view["processors"]["contracts_ending"]
    if ending:
        table("Processor contracts ending within 30 days (Art. 28)",
              ["processor", "name", "contract until", "days left"],
              [[p["id"], p["name"], p["contract_until"],
                f"{p['days_left']} (ENDED)" if p["days_left"] < 0 else p["days_left"]]
               for p in ending])
    dpias = view["dpias"]["list"]
    if dpias:
        table("DPIAs to review (Art. 35)", ["dpia", "review by", "days left"],
              [[d["id"], d["review_by"],
                f"{d['days_left']} (PAST DUE)" if d["past_due"] else d["days_left"]]
               for d in dpias])


def _consent_chart(consents: dict[str, dict[str, Any]]) -> None:
    console = out()
    if console.is_terminal:
        console.print("Consent rates (granted, share of all subjects)")
        for purpose, c in consents.items():
            bar = "█" * round(c["rate"] / 2.5)
            console.print(f"{purpose:<24} [green]{bar}[/green] {c['rate']}% ({c['granted']})",
                          highlight=False)
        return
    table("Consent rates", ["purpose", "granted", "withdrawn", "rate %"],
          [[p, c["granted"], c["withdrawn"], c["rate"]] for p, c in consents.items()])


def report(
    name: Annotated[str, typer.Argument(metavar="REPORT", help="consents, sources, requests or retention.")],
    from_: Annotated[str | None, typer.Option("--from", help="First day (default: 12 months back).",
                                              show_default=False)] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day (default: today).",
                                           show_default=False)] = None,
    format_: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    as_of: AsOfOption = None, db: DbOption = None, json_: JsonFlag = False,
) -> None:
    """Print an aggregated report no one can be identified from. Example: pigment report sources --format csv"""
    import sys

    from pigment_cli.clock import parse_date
    from pigment_cli.errors import BadInput
    from pigment_cli.reports import aggregates

    if json_:
        format_ = "json"
    if format_ not in ("table", "csv", "json"):
        raise BadInput(f"unknown --format {format_!r}; use table, csv or json")
    start = parse_date(from_, "--from") if from_ else None
    end = parse_date(to, "--to") if to else None
    with open_session(db, as_of=as_of, mode="read") as s:
        result = aggregates.build(s.conn, s.policy, name, today=s.today, start=start, end=end)
    if format_ == "json":
        print_json(result)
        return
    columns = result["columns"]
    rows = [[row.get(c) for c in columns] for row in result["rows"]]
    if format_ == "csv":
        from pigment_cli.files import write_csv

        write_csv(rows, columns, sys.stdout)
        return
    table(result["title"], columns, rows)
    stats = result.get("statistics") or {}
    for key, value in stats.items():
        sys.stdout.write(f"{key}: {value}\n")
    control = result["disclosure_control"]
    sys.stdout.write(f"Counts {control['suppressed']}; others rounded to the nearest "
                     f"{control['rounded_to']}.\n")
    for note in result["notes"]:
        sys.stdout.write(note + "\n")


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("report")(report)
