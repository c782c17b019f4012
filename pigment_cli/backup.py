"""Backups, and restores that never undo an act on a person's rights.

`backup` copies the store with SQLite's online backup API (consistent while others write) into a
private file, and notes it among the store's copies (`store.copies`). Every act on a person's
rights is also appended to the journal kept outside the store (`<store>-erasures.jsonl`, ids,
keys and times only, mode 0600). `restore` checks its inputs, then, excluding every other command
(the access lock, exclusively), builds the restored store beside the live one (the backup's copy,
the journal replayed) and switches to it with one rename: a restore killed at any moment leaves
the old store or the fully replayed new one, never the raw backup.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pigment_cli import encryption
from pigment_cli.errors import BadInput, PigmentError, StoreError
from pigment_cli.files import (
    create_private,
    lock_in_use,
    private_temp,
    refuse_own_file,
    remove_leftovers,
    same_file,
)
from pigment_cli.records.replay import ReplayResult, replay
from pigment_cli.store import anchor, audit, seal
from pigment_cli.store.connection import open_readonly, open_store
from pigment_cli.store.copies import BACKUP, REPLACED, record_copy, restoring_path
from pigment_cli.store.journal import journal_path, read_journal
from pigment_cli.store.lock import AccessLock, StoreLock
from pigment_cli.store.own import own_files
from pigment_cli.store.session import Session
from pigment_cli.store.tx import transaction


def _copy(source: sqlite3.Connection, dest: Path) -> None:
    """Online-backup `source` into a new private file `dest` (temp name, locked while written,
    then renamed). A temporary a killed run left is removed by the next backup to that place."""
    tmp = dest.with_name(f".{dest.name}.partial")
    for pattern in (".*.partial", ".*.partial-journal"):
        remove_leftovers(dest.parent, pattern)
    tmp.unlink(missing_ok=True)  # ours alone now: any other would be locked, and refused below
    os.close(create_private(tmp))
    held = lock_in_use(tmp)
    try:
        target = sqlite3.connect(tmp)
        try:
            source.backup(target, pages=1024)
            target.execute("PRAGMA journal_mode = DELETE")  # a backup is one self-contained file
        finally:
            target.close()
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(held)


def backup(s: Session, dest: Path, *, encrypt_to: Sequence[str] = ()) -> Path:
    """Copy the open store to `dest` (a new file, or a directory to put a dated file in), note
    it among the store's copies, and audit it. Call with no transaction open (a `batched`
    session). With `encrypt_to` (age recipients, or files of them), the copy is encrypted: the
    plain copy exists only as a private temporary beside the store, never where `dest` is."""
    assert s.path is not None
    stamp = s.stamp
    to = encryption.recipients(encrypt_to) if encrypt_to else None  # checked before any copy
    dest = Path(dest).expanduser().absolute()
    if dest.is_dir():
        name = f"pigment-backup-{stamp.replace(':', '').replace('-', '')}.db"
        dest = dest / (f"{name}.age" if to else name)
    refuse_own_file(dest, own_files(s.path), what="backup")
    if dest.exists() or dest.is_symlink():
        raise BadInput(f"{dest} already exists; a backup never overwrites a file")
    if not dest.parent.is_dir():
        raise BadInput(f"no directory {dest.parent}")
    try:
        if to:
            _encrypted_copy(s.conn, s.path.parent, dest, to)
        else:
            _copy(s.conn, dest)
    except OSError as exc:
        raise BadInput(f"cannot write the backup {dest}: {exc.strerror}") from None
    record_copy(s.path, dest, BACKUP, stamp)
    with transaction(s.conn):
        s.audit("backup", encrypted=bool(to), recipients=len(to or ()))
    return dest


def _encrypted_copy(source: sqlite3.Connection, beside_store: Path, dest: Path,
                    to: Sequence[encryption.Recipient]) -> None:
    """The online backup into a private temporary beside the store (locked while in use, removed
    afterwards), encrypted from there into `dest`."""
    fd, plain = private_temp(beside_store, prefix=".pigment-backup-", suffix=".tmp")
    os.close(fd)
    held = lock_in_use(plain)
    try:
        _copy(source, plain)
        held_copy = lock_in_use(plain)  # `_copy` renamed a new file over it
        os.close(held)
        held = held_copy
        encryption.encrypt_to_new_file(plain, dest, to)
    finally:
        plain.unlink(missing_ok=True)
        os.close(held)


# --- restore ----------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    restored_from: str
    store: str
    journal: str
    journal_found: bool
    replaced_store_kept_at: str | None = None
    replayed: ReplayResult = field(default_factory=ReplayResult)

    def to_dict(self) -> dict[str, Any]:
        return {"restored_from": self.restored_from, "store": self.store,
                **self.replayed.to_dict(), "replaced_store_kept_at": self.replaced_store_kept_at,
                "journal": self.journal, "journal_found": self.journal_found}


def check_restore(source: Path, store: Path, *, replace: bool) -> Path:
    """Everything a restore can know is wrong before it copies anything: one line each, exit 2
    (or 4 from `open_readonly`, for a file that is not a pigment store). Returns the backup's
    absolute path."""
    source = Path(source).expanduser().absolute()
    if not source.exists():
        raise BadInput(f"no backup at {source}")
    if source.is_dir():
        raise BadInput(f"{source} is a directory; give a backup file made by pigment backup")
    if any(same_file(source, own) for own in own_files(store)):
        raise BadInput(f"{source} is the store itself (or one of its own files); give a backup "
                       "file made by pigment backup")
    if not store.parent.is_dir():
        raise BadInput(f"no directory {store.parent} for the store; create it first")
    if store.exists() and not replace:
        raise BadInput(f"{store} exists; add --replace to overwrite it with the backup "
                       "(stop cron and other users first)")
    return source


def restore(source: Path, store: Path, *, replace: bool, stamp: str, actor: str,
            identity: Path | None = None) -> RestoreResult:
    """Replace the store with the backup `source`, with every journalled act on a person's rights
    replayed. Holds the store's lock (no sweep or erasure meanwhile) and the access lock
    exclusively (no other command meanwhile: one still running is waited for, briefly). An
    encrypted backup is decrypted with `identity` into a private temporary beside the store,
    removed afterwards, whatever happens."""
    source = check_restore(source, store, replace=replace)
    encrypted = encryption.is_encrypted(source)
    if encrypted and identity is None:
        raise BadInput(f"{source} is an encrypted backup; give the identity file that decrypts "
                       "it: --identity KEYFILE")
    if identity is not None and not encrypted:
        raise BadInput(f"{source} is not an encrypted backup; leave out --identity")
    if identity is None:
        open_readonly(source).close()  # refuses a file that is not a pigment store, before any lock
        with StoreLock(store), AccessLock(store, exclusive=True):
            return _restore(source, store, stamp=stamp, actor=actor)
    keys = encryption.identities(identity)
    plain = encryption.decrypt_to_temp(source, store.parent, keys)
    held = lock_in_use(plain)
    try:
        try:
            open_readonly(plain).close()
            with StoreLock(store), AccessLock(store, exclusive=True):
                result = _restore(plain, store, stamp=stamp, actor=actor)
        except PigmentError as exc:  # name the backup the user gave, not the temporary
            exc.message = exc.message.replace(str(plain), str(source))
            raise
        result.restored_from = str(source)
        return result
    finally:
        plain.unlink(missing_ok=True)
        os.close(held)


def _restore(source: Path, store: Path, *, stamp: str, actor: str) -> RestoreResult:
    building = restoring_path(store)
    for leftover in (building, Path(f"{building}-wal"), Path(f"{building}-shm"),
                     Path(f"{building}-journal")):
        leftover.unlink(missing_ok=True)  # a killed restore's (we hold both locks)
    entries = read_journal(journal_path(store))  # a damaged journal refuses before any copy
    live_sequences = _sequences(store) if store.exists() else {}
    result = RestoreResult(str(source), str(store), str(journal_path(store)),
                           journal_path(store).exists())
    try:
        backup_head = _build(source, building, entries, live_sequences, store=store, stamp=stamp,
                             actor=actor, result=result)
        kept = _keep_replaced(store, stamp) if store.exists() else None
        if backup_head is not None:
            anchor.mark_restore(store, *backup_head)  # the backup's head starts a new stretch
        for suffix in ("-wal", "-shm", "-journal"):
            # The live store was checkpointed into its file (and kept aside): its WAL and index
            # must not meet the restored file.
            Path(f"{store}{suffix}").unlink(missing_ok=True)
        os.replace(building, store)  # the switch: one rename
        _fsync_directory(store.parent)
    except BaseException:
        for leftover in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    conn = open_store(store)
    try:
        anchor.start(conn, store)  # a new key and seals, if there was no key (a new machine)
        anchor.anchor_head(conn, store)
    finally:
        conn.close()
    if kept is not None:
        record_copy(store, kept, REPLACED, stamp)
        result.replaced_store_kept_at = str(kept)
    return result


def _build(source: Path, building: Path, entries: list[dict[str, Any]],
           live_sequences: dict[str, int], *, store: Path, stamp: str, actor: str,
           result: RestoreResult) -> tuple[int, str] | None:
    """The restored store, complete, at `building`: the backup's copy, migrated, with the journal
    replayed, ids raised above any the replaced store issued, audited and sealed. Returns the
    backup's own audit head (seq, hash)."""
    backup_conn = open_readonly(source)  # never writes to the backup
    try:
        if backup_conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise StoreError(f"{source} fails its integrity check; choose another backup")
        head = backup_conn.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
        vouched = anchor.vouch_for_backup(backup_conn, store, source)  # a rewritten one is refused
        os.close(create_private(building))
        target = sqlite3.connect(building)
        try:
            backup_conn.backup(target, pages=1024)
        finally:
            target.close()
    finally:
        backup_conn.close()
    conn = open_store(building)  # migrates a backup made by an older pigment
    try:
        with transaction(conn):
            anchor.unseal(conn)  # the replay appends here, away from the key; sealed again below
            result.replayed = replay(conn, entries, stamp=stamp, actor=actor)
            _raise_sequences(conn, live_sequences, result.replayed.max_item_id)
            counts: dict[str, Any] = {k: len(v) if isinstance(v, list) else v  # lists: counted
                                      for k, v in result.replayed.to_dict().items()}
            audit.record(conn, at=stamp, actor=actor, command="restore", **counts,
                         anchor="re-anchored", backup_audit=vouched)
            # The chain's new head and the policy, sealed with the store's own key (a new key is
            # made once the store is in place, if it was lost); the anchor gets the backup's head
            # before the switch, and this one after.
            anchor.reseal(conn, seal.load_key(store))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    if head is None:
        return None
    seq, _, digest = str(head[0]).partition(":")
    return int(seq), digest


def _sequences(store: Path) -> dict[str, int]:
    """The AUTOINCREMENT counters of the store being replaced: the restored one never issues an
    id this one issued (the journal names erased items by id)."""
    try:
        conn = sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)
        try:
            return {str(n): int(s) for n, s in conn.execute("SELECT name, seq FROM sqlite_sequence")}
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return {}


def _raise_sequences(conn: sqlite3.Connection, live: dict[str, int], max_item_id: int) -> None:
    wanted = dict(live)
    wanted["items"] = max(wanted.get("items", 0), max_item_id)
    for name, seq in wanted.items():
        updated = conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?",
                               (seq, name)).rowcount
        if not updated and seq and conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone():
            conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, seq))


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep_replaced(store: Path, stamp: str) -> Path:
    """Nothing is lost by a restore: the store it replaces is kept beside it (mode 0600), its WAL
    checkpointed into it first."""
    base = f"{store.name}.replaced-{stamp.replace(':', '').replace('-', '')}"
    kept, n = store.with_name(base), 1
    while kept.exists():  # two restores in one second: never overwrite a kept store
        kept, n = store.with_name(f"{base}-{n}"), n + 1
    try:
        conn = open_store(store)
        try:
            _copy(conn, kept)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except (StoreError, sqlite3.DatabaseError):  # unreadable: keep the raw files as they are
        for suffix in ("", "-wal"):
            if Path(f"{store}{suffix}").exists():
                shutil.copyfile(f"{store}{suffix}", f"{kept}{suffix}")
                os.chmod(f"{kept}{suffix}", 0o600)
    return kept
