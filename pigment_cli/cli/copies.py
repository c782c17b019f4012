"""`pigment copies ...`: the copies of personal data pigment made outside the store (backups,
stores kept aside by a restore, rejects files, temporaries left by killed runs), their age and
their retention."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pigment_cli.cli._common import ActorOption, DbOption, JsonFlag, open_session, print_json, say, table

if TYPE_CHECKING:
    from pigment_cli.store.copies import Copy

app = typer.Typer(help="Copies of personal data outside the store: backups, kept-aside stores, "
                  "rejects files; list and prune them.", no_args_is_help=True)


def _rows(copies: list[Copy]) -> list[list[object]]:
    return [[c.kind, c.path, c.made_at[:10], c.age_days,
             c.expires_on or "now (left by a killed run)", "yes" if c.expired else "no"]
            for c in copies]


_COLUMNS = ["kind", "path", "made", "age (days)", "expires", "due"]


@app.command("list")
def list_(db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False) -> None:
    """List every copy of personal data pigment knows of, with its age and when it expires.
    Example: pigment copies list"""
    from pigment_cli.store.copies import list_copies

    with open_session(db, actor, mode="read") as s:
        copies = list_copies(s)
        keep = s.policy.copies_keep()
    if json_:
        print_json([c.to_dict() for c in copies])
        return
    if copies:
        table(f"Copies of personal data (kept {keep}: policy [copies] keep)", _COLUMNS, _rows(copies))
    due = sum(c.expired for c in copies)
    say(f"pigment: {len(copies)} cop{'y' if len(copies) == 1 else 'ies'}, {due} due for pruning"
        + (" (pigment copies prune --apply)" if due else ""))


@app.command("prune")
def prune(
    apply: Annotated[bool, typer.Option(
        "--apply", help="Really delete (default: show what would go).")] = False,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Delete the copies past their retention and what killed runs left; a dry run unless --apply.
    Example: pigment copies prune --apply"""
    from pigment_cli.store.copies import prune_copies

    with open_session(db, actor, mode="write" if apply else "read") as s:
        result = prune_copies(s, apply=apply)
    if json_:
        print_json(result.to_dict())
        return
    if result.due:
        table("Past their retention" if not apply else "Removed", _COLUMNS, _rows(
            [c for c in result.due if not apply or c.path in result.removed]))
    if not apply:
        say(f"pigment: {len(result.due)} cop{'y' if len(result.due) == 1 else 'ies'} past their "
            f"retention ({result.keep})" + ("; add --apply to delete them" if result.due else ""))
        return
    left = len(result.due) - len(result.removed)
    say(f"pigment: removed {len(result.removed)} cop{'y' if len(result.removed) == 1 else 'ies'}"
        + (f"; {left} could not be removed (in use, or no permission)" if left else ""))
