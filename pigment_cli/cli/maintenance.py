"""`pigment backup`, `pigment restore` and `pigment check`: keeping the store safe and healthy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from pigment_cli.records.replay_requests import RegisterReplay


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
    (erasures, consent withdrawals, suppressions, requests and Art. 19 notices: the journal
    <store>-erasures.jsonl, or $PIGMENT_ERASURE_LOG) and list what a person must redo
    (rectifications, requests of people not in the store, texts the journal never holds).

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
    _say_register(replayed.register, result.replaced_store_kept_at, quiet=json_)


def _say_register(done: RegisterReplay, kept_at: str | None, *, quiet: bool) -> None:
    """The register's part of a restore: what was replayed (unless --json), then what a person
    must redo (always: it is talk, on stderr)."""
    if not quiet and (done.requests or done.steps or done.actions or done.notices
                      or done.notices_told):
        say(f"pigment: and on the register: {done.requests} request(s) recreated, {done.steps} "
            f"step(s) and {done.actions} answering action(s) redone, {done.notices} Art. 19 "
            f"notice(s) recreated, {done.notices_told} recipient(s) marked told")
    where = f"the replaced store ({kept_at})" if kept_at else "your records"
    if done.redo_requests:
        listed = "; ".join(
            f"{r['request_id']} ({r['kind']}{', ' + r['subject_id'] if r['subject_id'] else ''}"
            f", received {r['received_on'] or 'unknown'}: {r['why']}"
            + (", then " + ", ".join(" ".join(str(v) for v in s.values()) for s in r["steps"])
               if r["steps"] else "") + ")"
            for r in done.redo_requests)
        say(f"pigment: requests not rebuilt (the journal never holds a name or email), to "
            f"re-enter from {where}: {listed}")
    if done.redo_texts:
        listed = "; ".join(f"{r['request_id']} ({', '.join(r['fields'])})"
                           for r in done.redo_texts)
        say(f"pigment: texts not restored (the journal never holds them), to recover from "
            f"{where}: {listed}")
    if done.redo_notices:
        listed = "; ".join(
            f"disclosure {n['disclosure_id']} of {n['subject_id']} ({n['event']}, noted "
            f"{n['noted_on']}, {'told ' + n['notified_on'] if n['notified_on'] else 'not told'})"
            for n in done.redo_notices)
        say(f"pigment: Art. 19 notices not rebuilt (their disclosure is not in the backup), "
            f"recipients to find in {where}: {listed}")
    if done.skipped:
        listed = ", ".join(r["request_id"] for r in done.skipped)
        say(f"pigment: warning: not replayed: {listed} (the id names another request in the "
            "backup, of another subject or kind); check them by hand")


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
