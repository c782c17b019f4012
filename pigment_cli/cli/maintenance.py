"""`pigment backup`, `pigment restore` and `pigment check`: keeping the store safe and healthy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pigment_cli.cli._common import (
    ActorOption,
    AsOfOption,
    DbOption,
    JsonFlag,
    open_session,
    print_json,
    resolve_actor,
    say,
    store_path,
    table,
)
from pigment_cli.errors import CheckFailed


def backup(
    dest: Annotated[Path, typer.Argument(metavar="DEST", help="A new file, or a directory.")],
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Copy the store, consistently, while others keep working. Example: pigment backup /mnt/backups/"""
    from pigment_cli.backup import backup as copy

    with open_session(db, actor, mode="batched") as s:
        written = copy(s, dest)
    print(written)


def restore(
    source: Annotated[Path, typer.Argument(metavar="BACKUP", help="A file written by pigment backup.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace the existing store.")] = False,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Restore a backup, then re-erase everyone erased since it was taken (from the erasure
    journal: <store>-erasures.jsonl, or $PIGMENT_ERASURE_LOG).
    Example: pigment restore /mnt/backups/pigment-backup-20261124T021500.db --replace"""
    from pigment_cli.backup import restore as put_back
    from pigment_cli.clock import iso_now, system_now

    path = store_path(db)
    result = put_back(source, path, replace=replace, stamp=iso_now(system_now()),
                      actor=resolve_actor(actor))
    if not result["journal_found"]:
        say(f"pigment: WARNING: no erasure journal at {result['journal']}: anyone erased after the "
            "backup was taken is back; set PIGMENT_ERASURE_LOG to the journal's path and restore again")
    if json_:
        print_json(result)
        return
    say(f"pigment: restored {path} from {source}; re-erased {result['replayed_subjects']} "
        f"subject(s) and {result['replayed_items']} item(s) erased since the backup")
    if result["replaced_store_kept_at"]:
        say(f"pigment: the replaced store is kept at {result['replaced_store_kept_at']}")


def check(as_of: AsOfOption = None, db: DbOption = None, json_: JsonFlag = False) -> None:
    """Check the store's health; exit 1 with a list of findings. Example: pigment check"""
    from pigment_cli.reports.health import check as run

    with open_session(db, as_of=as_of, mode="read") as s:
        report = run(s)
    if json_:
        print_json(report)
    elif report["findings"]:
        table("Findings", ["check", "problem", "what to do"],
              [[f["check"], f["problem"], f["fix"]] for f in report["findings"]])
    if not report["ok"]:
        raise CheckFailed(f"{len(report['findings'])} finding(s); the store needs attention")
    if not json_:
        say(f"pigment: all checks passed ({', '.join(report['passed'])})")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("check")(check)
