"""`pigment processor ...`: the register of processors and transfers abroad (UK GDPR Art. 28,
44-46)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from pigment_cli.cli._common import (
    ActorOption,
    DbOption,
    JsonFlag,
    open_session,
    print_json,
    say,
    table,
)

if TYPE_CHECKING:
    from pigment_cli.records.processors import Processor

app = typer.Typer(help="Processors and transfers abroad: who handles the clinic's data, where.",
                  no_args_is_help=True)
ProcessorArg = Annotated[str, typer.Argument(metavar="PROCESSOR",
                                             help="Processor id, e.g. P-7K3Q9.")]
_ROLES = "mailing, payment, laboratory, it, hosting or other"
_SAFEGUARDS = "idta, uk-addendum, adequacy or none"


_NAME = "The organisation, e.g. \"Mailchimp (Intuit)\"."
_ROLE = f"What it does for the clinic: {_ROLES}."
_PURPOSES = "The policy's purposes it serves, comma-separated, e.g. newsletter."
_CATEGORIES = "The categories of data it handles, comma-separated, e.g. identity,contact."


def _opt(flag: str, help_: str) -> Any:
    return typer.Option(flag, help=help_, show_default=False)


NameOption = Annotated[str | None, _opt("--name", _NAME)]
RoleOption = Annotated[str | None, _opt("--role", _ROLE)]
PurposesOption = Annotated[str | None, _opt("--purposes", _PURPOSES)]
CategoriesOption = Annotated[str | None, _opt("--categories", _CATEGORIES)]
SafeguardOption = Annotated[str | None, _opt(
    "--safeguard", f"For a country other than GB (a transfer): {_SAFEGUARDS}.")]
UntilOption = Annotated[str | None, _opt(
    "--contract-until", "The Art. 28 contract runs until this date (YYYY-MM-DD).")]
NoteOption = Annotated[str | None, _opt(
    "--note", "A note for the manager (e.g. where the contract is filed); never in reports.")]


def _warn_expired(p: Processor, expired: bool) -> None:
    if expired:
        say(f"pigment: warning: the contract of {p.id} ended on {p.contract_until}: renew it or "
            f"end the processor (pigment processor end {p.id})")


@app.command("add")
def add(
    name: Annotated[str, _opt("--name", _NAME)],
    role: Annotated[str, _opt("--role", _ROLE)],
    purposes: Annotated[str, _opt("--purposes", _PURPOSES)],
    categories: Annotated[str, _opt("--categories", _CATEGORIES)],
    country: Annotated[str, typer.Option(
        "--country", help="Where it processes the data: ISO 3166 alpha-2 code.")] = "GB",
    safeguard: SafeguardOption = None, contract_until: UntilOption = None,
    note: NoteOption = None, db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Put a processor on the register; print its id.
    Example: pigment processor add --name "Mailchimp (Intuit)" --role mailing --purposes
    newsletter --categories identity,contact --country US --safeguard uk-addendum"""
    from pigment_cli.records.processors import add_processor

    with open_session(db, actor) as s:
        p = add_processor(s, name=name, role=role, purposes=purposes, categories=categories,
                          country=country, safeguard=safeguard, contract_until=contract_until,
                          note=note)
        expired = p.contract_expired(s.today)
    print(p.id)
    _warn_expired(p, expired)


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include ended processors.")] = False,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """List the processors in use (--all: ended ones too). Example: pigment processor list"""
    from pigment_cli.records.processors import list_processors

    with open_session(db, actor) as s:
        found = list_processors(s, include_ended=all_)
    if json_:
        # the note is free text: only `processor show` prints it
        print_json([{k: v for k, v in p.to_dict().items() if k != "note"} for p in found])
        return
    table(f"{len(found)} processor(s)",
          ["processor", "name", "role", "country", "safeguard", "contract", "ended"],
          [[p.id, p.name, p.role, p.country, p.safeguard or "-", p.contract_until or "-",
            p.ended_at or ""] for p in found])


@app.command("show")
def show(processor_id: ProcessorArg, db: DbOption = None, actor: ActorOption = None,
         json_: JsonFlag = False) -> None:
    """Show one processor: what it handles, where, under which contract.
    Example: pigment processor show P-7K3Q9"""
    from pigment_cli.records.processors import SAFEGUARD_LABELS, get_processor

    with open_session(db, actor) as s:
        p = get_processor(s, processor_id)
    if json_:
        print_json(p.to_dict())
        return
    where = p.country + (f" (transfer: {SAFEGUARD_LABELS[p.safeguard or 'none']})"
                         if p.transfer else "")
    table(f"Processor {p.id}", ["", ""], [
        ["name", p.name], ["role", p.role], ["purposes", ", ".join(p.purposes)],
        ["categories", ", ".join(p.categories)], ["country", where],
        ["contract until", p.contract_until or "-"], ["note", p.note or ""],
        ["added", p.added_at], ["updated", p.updated_at], ["ended", p.ended_at or "in use"]])


@app.command("update")
def update(
    processor_id: ProcessorArg, name: NameOption = None, role: RoleOption = None,
    purposes: PurposesOption = None, categories: CategoriesOption = None,
    country: Annotated[str | None, _opt(
        "--country", "Where it now processes the data (ISO 3166 alpha-2); a new country "
        "abroad needs --safeguard.")] = None,
    safeguard: SafeguardOption = None, contract_until: UntilOption = None,
    note: NoteOption = None, db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Change a processor's entry (only what is given).
    Example: pigment processor update P-7K3Q9 --contract-until 2028-03-31"""
    from pigment_cli.records.processors import update_processor

    with open_session(db, actor) as s:
        p = update_processor(s, processor_id, name=name, role=role, purposes=purposes,
                             categories=categories, country=country, safeguard=safeguard,
                             contract_until=contract_until, note=note)
        expired = p.contract_expired(s.today)
    say(f"pigment: processor {p.id} updated")
    _warn_expired(p, expired)


@app.command("end")
def end(
    processor_id: ProcessorArg,
    on: Annotated[str | None, _opt("--on", "The day it stopped (default: today).")] = None,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Record that a processor no longer handles the clinic's data.
    Example: pigment processor end P-7K3Q9 --on 2026-11-20"""
    from pigment_cli.records.processors import end_processor

    with open_session(db, actor) as s:
        p = end_processor(s, processor_id, on=on)
    say(f"pigment: processor {p.id} ended on {p.ended_at}")
