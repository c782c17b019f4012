"""Backups that never resurrect the erased.

`backup` copies the store with SQLite's online backup API (consistent while others write) into a
private file. Every erasure is also appended to an *erasure journal* kept outside the store
(`<store>-erasures.jsonl`, ids only, mode 0600). `restore` copies a backup back and then replays the
journal, so a patient erased after the backup was taken stays erased.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from pigment_cli.errors import BadInput, StoreError
from pigment_cli.files import create_private
from pigment_cli.records.erasure import ItemRef, erase_items, erase_subject
from pigment_cli.store import audit
from pigment_cli.store.connection import open_readonly, open_store
from pigment_cli.store.journal import journal_path, read_journal
from pigment_cli.store.lock import StoreLock
from pigment_cli.store.session import Session
from pigment_cli.store.tx import transaction


def _copy(source: sqlite3.Connection, dest: Path) -> None:
    """Online-backup `source` into a new private file `dest` (temp name, then rename)."""
    tmp = dest.with_name(f".{dest.name}.partial")
    tmp.unlink(missing_ok=True)
    os.close(create_private(tmp))
    target = sqlite3.connect(tmp)
    try:
        source.backup(target, pages=1024)
        target.execute("PRAGMA journal_mode = DELETE")  # a backup is one self-contained file
    finally:
        target.close()
    os.replace(tmp, dest)


def backup(s: Session, dest: Path) -> Path:
    """Copy the open store to `dest` (a new file, or a directory to put a dated file in), and
    audit it. Call with no transaction open (a `batched` session)."""
    stamp = s.stamp
    if dest.is_dir():
        dest = dest / f"pigment-backup-{stamp.replace(':', '').replace('-', '')}.db"
    if dest.exists():
        raise BadInput(f"{dest} already exists; a backup never overwrites a file")
    if not dest.parent.exists():
        raise BadInput(f"no directory {dest.parent}")
    try:
        _copy(s.conn, dest)
    except OSError as exc:
        raise BadInput(f"cannot write the backup {dest}: {exc.strerror}") from None
    with transaction(s.conn):
        s.audit("backup")
    return dest


def restore(source: Path, store: Path, *, replace: bool, stamp: str,
            actor: str) -> dict[str, Any]:
    """Replace the store with the backup `source`, then replay every journalled erasure. Holds
    the store's lock: no sweep or erasure runs meanwhile."""
    if not source.exists():
        raise BadInput(f"no backup at {source}")
    if store.exists() and not replace:
        raise BadInput(f"{store} exists; add --replace to overwrite it with the backup "
                       "(stop cron and other users first)")
    with StoreLock(store):
        return _restore(source, store, stamp=stamp, actor=actor)


def _restore(source: Path, store: Path, *, stamp: str, actor: str) -> dict[str, Any]:
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
                        conn, [ItemRef(i, entry["subject_id"], entry["category"], entry["rule"])
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
