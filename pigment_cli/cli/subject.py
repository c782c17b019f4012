"""`pigment subject ...`: add, rectify, find, list and show the people the clinic holds data on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

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
    out,
    print_json,
    table,
)

if TYPE_CHECKING:
    from pigment_cli.policy import Policy
    from pigment_cli.records.models import Subject
    from pigment_cli.reports.holding import HoldingView

app = typer.Typer(help="The people the clinic holds data on.", no_args_is_help=True)

def _opt(flag: str, text: str) -> Any:
    return typer.Option(flag, help=text, show_default=False)


Title = Annotated[str | None, _opt("--title", "Title, e.g. Ms, Dr.")]
Dob = Annotated[str | None, _opt("--dob", "Date of birth, YYYY-MM-DD.")]
Email = Annotated[str | None, _opt("--email", "Email address.")]
Phone = Annotated[str | None, _opt("--phone", "Telephone number.")]
Address = Annotated[str | None, _opt("--address", "Postal address.")]


def _subject_rows(subjects: list[Subject]) -> list[list[Any]]:
    return [[s.id, s.title, s.name, s.dob, s.email, s.phone] for s in subjects]


_COLUMNS = ["id", "title", "name", "date of birth", "email", "phone"]


@app.command("add")
def add(
    name: Annotated[str, _opt("--name", "Full name (required).")],
    title: Title = None, dob: Dob = None, email: Email = None, phone: Phone = None,
    address: Address = None,
    external_id: Annotated[str | None, _opt("--external-id", "Id in the practice system.")] = None,
    processed: Annotated[str | None, typer.Option(
        "--processed", "--last-seen", show_default=False,
        help="When the clinic last used this person's data for one of its purposes (a visit, a "
        "payment), ISO date or time; it starts the retention clock. Default: now.")] = None,
    db: DbOption = None, actor: ActorOption = None, yes: YesFlag = False,
) -> None:
    """Add a subject; print the new id alone. Example: pigment subject add --name "Ada Lovelace\""""
    from pigment_cli.records.subjects import add_subject

    def attempt(duplicate_ok: bool) -> Subject:  # asks first if the person looks held already
        with open_session(db, actor) as s:
            return add_subject(s, name=name, title=title, dob=dob, email=email, phone=phone,
                               address=address, external_id=external_id, processed_at=processed,
                               duplicate_ok=duplicate_ok)

    print(confirming(attempt, yes).id)


@app.command("update")
def update(
    subject_id: SubjectArg,
    name: Annotated[str | None, _opt("--name", "Corrected full name.")] = None,
    title: Title = None, dob: Dob = None, email: Email = None, phone: Phone = None,
    address: Address = None, request: RequestOption = None, db: DbOption = None,
    actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Rectify a subject's details ("" clears a field). Example: pigment subject update S-7K3Q9 --email a@b.org"""
    from pigment_cli.cli._common import refuse_unscrubbed, say, tell_recipients
    from pigment_cli.records.corrections import rectify_subject

    with open_session(db, actor) as s:
        done = rectify_subject(s, subject_id, request_id=request, name=name, title=title,
                               dob=dob, email=email, phone=phone, address=address)
    if json_:
        print_json(done.to_dict())
    else:
        answered = f" (answers {done.request_id})" if done.request_id else ""
        say(f"pigment: {done.subject.id}: " + (f"updated {', '.join(done.changed)}{answered}"
                                               if done.changed else "no change"))
        if done.changed:
            tell_recipients(done.notices)
    refuse_unscrubbed(done.scrubbed, "updated")


@app.command("find")
def find(
    text: Annotated[str, typer.Argument(metavar="TEXT", help="Part of a name, email, phone or id.")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Find subjects by name, email, phone or id (case-insensitive). Example: pigment subject find lovelace"""
    from pigment_cli.cli._common import say
    from pigment_cli.records.subjects import find_subjects

    with open_session(db, actor) as s:
        found = find_subjects(s, text, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    if more:
        say(f"pigment: showing the first {limit} matches; there are more (narrow the search, or "
            "raise --limit)")
    if json_:
        print_json([x.to_dict() for x in found])
    else:
        table(f"{len(found)}{'+' if more else ''} match(es)", _COLUMNS, _subject_rows(found))


@app.command("list")
def list_(
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many.")] = None,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many first.")] = 0,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """List subjects by name. Example: pigment subject list --limit 20"""
    from pigment_cli.records.subjects import list_subjects

    with open_session(db, actor) as s:
        subjects, total = list_subjects(s, limit, offset)
    if json_:
        print_json({"total": total, "subjects": [x.to_dict() for x in subjects]})
    else:
        table(f"Subjects ({len(subjects)} of {total})", _COLUMNS, _subject_rows(subjects))


@app.command("show")
def show(subject_id: SubjectArg, db: DbOption = None, actor: ActorOption = None,
         json_: JsonFlag = False) -> None:
    """Show everything held on a subject, with erasure dates. Example: pigment subject show S-7K3Q9"""
    from pigment_cli.reports.holding import holding

    with open_session(db, actor) as s:
        view = holding(s, subject_id)
        policy = s.policy
    if json_:
        print_json(view.to_dict())
        return
    render_holding(view, policy)


def render_holding(view: HoldingView, policy: Policy) -> None:
    subject = view.subject
    table(f"Subject {subject.id}", ["field", "value"], [
        ["name", subject.name], ["title", subject.title], ["date of birth", subject.dob],
        ["email", subject.email], ["phone", subject.phone], ["address", subject.address],
        ["external id", subject.external_id], ["added", subject.created_at],
        ["last processed", subject.last_processed_at],
        ["erased on (if nothing changes)", view.erasure_due],
        ["retention rule", view.retention_rule],
        *[["RESTRICTED (Art. 18)", f"{r.scope} since {r.started_at[:10]}: store only"]
          for r in view.restrictions if r.active],
    ])
    if not view.items:
        out().print("No data items held.")
    for category, items in view.items_by_category().items():
        special = " (special category: health)" if policy.is_special_category(category) else ""
        table(f"{policy.label('categories', category)} [{category}]{special}",
              ["item", "value", "source", "purpose", "basis", "collected", "processed", "erased on"],
              [[i.id, i.value, i.source, i.purpose, i.basis, i.collected_at[:10],
                i.processed_at[:10], i.erasure_due] for i in items])
    for section, rows in view.sections().items():
        if rows:
            columns = list(rows[0].keys())
            table(section.capitalize(), columns, [[_cell(r[c]) for c in columns] for r in rows])


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value
