"""`pigment hold ...`: reasons a subject's data must outlive its retention date."""

from __future__ import annotations

from typing import Annotated

import typer

from pigment_cli.cli._common import (
    ActorOption,
    AsOfOption,
    DbOption,
    JsonFlag,
    SubjectArg,
    YesFlag,
    confirming,
    open_session,
    print_json,
    say,
    table,
)

app = typer.Typer(help="Holds: keep a subject's data past its retention date.", no_args_is_help=True)
HoldArg = Annotated[str, typer.Argument(metavar="HOLD", help="Hold id, e.g. H-4RT9Q.")]


@app.command("add")
def add(
    subject_id: SubjectArg,
    reason: Annotated[str, typer.Option("--reason", help="Why erasure must wait.")],
    until: Annotated[str | None, typer.Option(
        "--until", help="The hold ends on this date (default: until released).",
        show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None,
    yes: YesFlag = False,
) -> None:
    """Hold a subject's data past its retention date; print the hold id.
    Example: pigment hold add S-7K3Q9 --reason "outstanding debt" --until 2027-06-30"""
    from pigment_cli.records.holds import Hold, add_hold

    def attempt(duplicate_ok: bool) -> Hold:  # asks first if the same hold is active already
        with open_session(db, actor, as_of) as s:
            return add_hold(s, subject_id, reason=reason, until=until, duplicate_ok=duplicate_ok)

    print(confirming(attempt, yes).id)


@app.command("list")
def list_(
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject id.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include released and expired holds.")] = False,
    db: DbOption = None, actor: ActorOption = None, as_of: AsOfOption = None, json_: JsonFlag = False,
) -> None:
    """List active holds (--all: every hold). Example: pigment hold list --all"""
    from pigment_cli.records.holds import list_holds

    with open_session(db, actor, as_of) as s:
        holds = list_holds(s, subject_id=subject, include_inactive=all_)
    if json_:
        print_json([h.to_dict() for h in holds])
        return
    table(f"{len(holds)} hold(s)", ["hold", "subject", "reason", "until", "since", "released", "active"],
          [[h.id, h.subject_id, h.reason, h.until or "until released", h.created_at[:10],
            (h.released_at or "")[:10], "yes" if h.active else "no"] for h in holds])


@app.command("release")
def release(hold_id: HoldArg, db: DbOption = None, actor: ActorOption = None,
            as_of: AsOfOption = None) -> None:
    """Release a hold: the retention rules apply again. Example: pigment hold release H-4RT9Q"""
    from pigment_cli.records.holds import release_hold

    with open_session(db, actor, as_of) as s:
        hold = release_hold(s, hold_id)
    say(f"pigment: hold {hold.id} on {hold.subject_id} released")
