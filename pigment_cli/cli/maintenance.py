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
    dest: Annotated[str, typer.Argument(
        metavar="DEST", help="A new file, or an existing directory (a path ending in / must be "
        "one).")],
    encrypt_to: Annotated[list[str] | None, typer.Option(
        "--encrypt-to", metavar="RECIPIENT",
        help="Encrypt the backup (age format) to this public key (age1...), or to every key in "
             "this file; may be given more than once. Needs the backup-encryption extra.",
        show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None,
) -> None:
    """Copy the store, consistently, while others keep working; --encrypt-to for an off-site copy.
    Example: pigment backup /mnt/backups/ --encrypt-to ~/clinic/backup-recipients.txt"""
    from pigment_cli.backup import backup as copy
    from pigment_cli.errors import BadInput

    # A trailing slash means a directory: never write a file named like the missing folder.
    if dest.endswith("/") and not Path(dest).is_dir():
        raise BadInput(f"{dest} is not an existing directory; create it first (mkdir -p)")
    with open_session(db, actor, mode="batched") as s:
        written = copy(s, Path(dest), encrypt_to=encrypt_to or ())
    print(written)


def restore(
    source: Annotated[Path, typer.Argument(metavar="BACKUP", help="A file written by pigment backup.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace the existing store.")] = False,
    identity: Annotated[Path | None, typer.Option(
        "--identity", metavar="KEYFILE",
        help="For an encrypted backup (.age): the age identity file that decrypts it (as "
             "age-keygen writes it).", show_default=False)] = None,
    db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False,
) -> None:
    """Restore a backup, then replay every act on a person's rights made since it was taken
    (erasures, consent withdrawals, suppressions: the journal <store>-erasures.jsonl, or
    $PIGMENT_ERASURE_LOG) and list the rectifications to redo.

    Example: pigment restore /mnt/backups/pigment-backup-20261124T021500.db --replace"""
    from pigment_cli.backup import restore as put_back
    from pigment_cli.clock import iso_now, system_now

    path = store_path(db)
    result = put_back(source, path, replace=replace, stamp=iso_now(system_now()),
                      actor=resolve_actor(actor), identity=identity)
    if not result.journal_found:
        say(f"pigment: WARNING: no erasure journal at {result.journal}: anyone erased after the "
            "backup was taken is back; set PIGMENT_ERASURE_LOG to the journal's path and restore again")
    replayed = result.replayed
    redo = ", ".join(f"{r['subject_id']} ({', '.join(r['fields'])})"
                     for r in replayed.rectifications)
    if json_:
        print_json(result.to_dict())
    else:
        say(f"pigment: restored {path} from {result.restored_from}; replayed what was done since "
            f"the backup: {replayed.subjects} subject(s) and {replayed.items} item(s) erased, "
            f"{replayed.withdrawals} consent withdrawal(s), {replayed.suppressions} "
            f"suppression(s), {replayed.unsuppressions} lifted")
        if result.replaced_store_kept_at:
            say(f"pigment: the replaced store is kept at {result.replaced_store_kept_at} "
                "(pigment copies list shows it; pigment copies prune removes it in time)")
    if redo:
        say(f"pigment: redo these rectifications: {redo} (the journal never holds new values; "
            "see pigment audit log --subject ID)")


def check(as_of: AsOfOption = None, db: DbOption = None, json_: JsonFlag = False) -> None:
    """Check the store's health; exit 1 with a list of findings. Example: pigment check"""
    from pigment_cli.reports.health import check as run

    with open_session(db, as_of=as_of, mode="read") as s:
        report = run(s)
    if json_:
        print_json(report)
    else:
        if report["findings"]:
            table("Findings", ["check", "problem", "what to do"],
                  [[f["check"], f["problem"], f["fix"]] for f in report["findings"]])
        if report["copies"]:
            table("Copies of personal data outside the store", ["kind", "path", "age (days)",
                                                                "expires"],
                  [[c["kind"], c["path"], c["age_days"], c["expires_on"] or "now (left by a "
                    "killed run)"] for c in report["copies"]])
    if not report["ok"]:
        raise CheckFailed(f"{len(report['findings'])} finding(s); the store needs attention")
    if not json_:
        say(f"pigment: all checks passed ({', '.join(report['passed'])})")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("check")(check)
