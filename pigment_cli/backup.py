"""Backups that never resurrect the erased.

`backup` copies the store with SQLite's online backup API (consistent while others write) into a
private file. Every erasure is also appended to an *erasure journal* kept outside the store
(`<store>-erasures.jsonl`, ids only, mode 0600). `restore` copies a backup back and then replays the
journal, so a patient erased after the backup was taken stays erased.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pigment_cli.errors import BadInput, StoreError

JOURNAL_ENV = "PIGMENT_ERASURE_LOG"


def journal_path(store_path: Path | str) -> Path:
    """Where erasures are journalled: $PIGMENT_ERASURE_LOG, else beside the store."""
    override = os.environ.get(JOURNAL_ENV)
    return Path(override) if override else Path(f"{store_path}-erasures.jsonl")


def store_file(conn: sqlite3.Connection) -> Path:
    return Path(conn.execute("PRAGMA database_list").fetchone()[2])


def journal(conn: sqlite3.Connection, entries: list[dict[str, Any]]) -> None:
    """Append erasures (ids, scope, rule, time; never personal data) and fsync them before the
    erasing transaction commits: a crash in between leaves an erasure to replay, never one lost."""
    if not entries:
        return
    path = journal_path(store_file(conn))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        lines = "".join(json.dumps(e, separators=(",", ":"), sort_keys=True) + "\n" for e in entries)
        os.write(fd, lines.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_journal(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a crash: the erasure it began is re-derived by rules


def _copy(source: sqlite3.Connection, dest: Path) -> None:
    """Online-backup `source` into a new private file `dest` (temp name, then rename)."""
    tmp = dest.with_name(f".{dest.name}.partial")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    os.close(fd)
    target = sqlite3.connect(tmp)
    try:
        source.backup(target, pages=1024)
        target.execute("PRAGMA journal_mode = DELETE")  # a backup is one self-contained file
    finally:
        target.close()
    os.replace(tmp, dest)


def backup(conn: sqlite3.Connection, dest: Path, *, stamp: str) -> Path:
    """Copy the open store to `dest` (a new file, or a directory to put a dated file in)."""
    if dest.is_dir():
        dest = dest / f"pigment-backup-{stamp.replace(':', '').replace('-', '')}.db"
    if dest.exists():
        raise BadInput(f"{dest} already exists; a backup never overwrites a file")
    if not dest.parent.exists():
        raise BadInput(f"no directory {dest.parent}")
    try:
        _copy(conn, dest)
    except OSError as exc:
        raise BadInput(f"cannot write the backup {dest}: {exc.strerror}") from None
    return dest


def restore(source: Path, store: Path, *, stamp: str, actor: str) -> dict[str, Any]:
    """Replace the store with the backup `source`, then replay every journalled erasure."""
    from pigment_cli import audit
    from pigment_cli.erasure import erase_items, erase_subject
    from pigment_cli.store import open_readonly, open_store, transaction

    kept = _keep_replaced(store, stamp) if store.exists() else None
    backup_conn = open_readonly(source)  # never writes to the backup; refuses a foreign file
    restoring = store.with_name(f".{store.name}.restoring")
    try:
        if backup_conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise StoreError(f"{source} fails its integrity check; choose another backup")
        _copy(backup_conn, restoring)
    finally:
        backup_conn.close()
    # Only now, with the copy complete, do the live store's WAL and index go (the kept copy
    # above holds everything they had).
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    os.replace(restoring, store)
    conn = open_store(store)
    replayed_subjects = replayed_items = 0
    journal_file = journal_path(store)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        with transaction(conn):
            for entry in read_journal(journal_file):
                if entry.get("scope") == "subject":
                    if erase_subject(conn, entry["subject_id"], rule=entry["rule"], stamp=stamp,
                                     actor=actor, command="restore: replay", journalled=False):
                        replayed_subjects += 1
                elif entry.get("scope") == "items":
                    replayed_items += erase_items(
                        conn, [{"item": i, "subject_id": entry["subject_id"],
                                "category": entry["category"], "rule": entry["rule"]}
                               for i in entry["items"]],
                        stamp=stamp, actor=actor, command="restore: replay", journalled=False)
            audit.record(conn, at=stamp, actor=actor, command="restore",
                         replayed_subjects=replayed_subjects, replayed_items=replayed_items)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return {"restored_from": str(source), "replayed_subjects": replayed_subjects,
            "replayed_items": replayed_items, "replaced_store_kept_at": str(kept) if kept else None,
            "journal": str(journal_file), "journal_found": journal_file.exists()}


def _keep_replaced(store: Path, stamp: str) -> Path:
    """Nothing is lost by a restore: the store it replaces is kept beside it (mode 0600)."""
    import shutil

    from pigment_cli.store import open_store

    base = f"{store.name}.replaced-{stamp.replace(':', '').replace('-', '')}"
    kept, n = store.with_name(base), 1
    while kept.exists():  # two restores in one second: never overwrite a kept store
        kept, n = store.with_name(f"{base}-{n}"), n + 1
    try:
        conn = open_store(store)
        try:
            _copy(conn, kept)
        finally:
            conn.close()
    except (StoreError, sqlite3.DatabaseError):  # unreadable: keep the raw files as they are
        for suffix in ("", "-wal"):
            if Path(f"{store}{suffix}").exists():
                shutil.copyfile(f"{store}{suffix}", f"{kept}{suffix}")
                os.chmod(f"{kept}{suffix}", 0o600)
    return kept
