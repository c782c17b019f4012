"""The one erasure path: of a whole subject, or of single items, whoever asks (the retention sweep,
an erasure request, a restore replaying the journal).

What remains of an erased subject: a tombstone (id, erased_at, rule), counts in `erasures`, the
keyed hash of their email on the suppression list, and the audit trail (ids only). Erased bytes are
overwritten in the file (secure_delete) and the WAL is truncated afterwards (`scrub_files`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pigment_cli.records.suppression import email_hmac
from pigment_cli.store import audit
from pigment_cli.store.journal import journal


@dataclass(frozen=True)
class ItemRef:
    """One item to erase: its id, its subject (checked on delete), its category and the rule."""

    item: int
    subject_id: str
    category: str
    rule: str


@dataclass
class ErasureBatch:
    """What a run of erasures leaves behind (journal lines, tombstones, counts, suppression
    hashes, audit entries), written together by `flush` before the transaction commits: a sweep
    erasing thousands of subjects pays for one fsync and a few statements per batch."""

    stamp: str
    actor: str
    journalled: bool = True
    key: bytes | None = None  # the suppression key, read once per batch
    journal: list[dict[str, Any]] = field(default_factory=list)
    audit: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)
    tombstones: list[tuple[str, str, str]] = field(default_factory=list)
    erasures: list[tuple[str, str, str | None, int, str, str]] = field(default_factory=list)
    suppression: list[tuple[str, str]] = field(default_factory=list)

    def flush(self, conn: sqlite3.Connection) -> None:
        if self.journalled:
            journal(conn, self.journal)  # on disk before the erasures commit
        conn.executemany("INSERT OR IGNORE INTO suppression (email_hmac, added_at) VALUES (?, ?)",
                         self.suppression)
        conn.executemany("INSERT INTO tombstones (subject_id, erased_at, rule) VALUES (?, ?, ?)",
                         self.tombstones)
        conn.executemany(
            "INSERT INTO erasures (subject_id, scope, category, count, rule, erased_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", self.erasures)
        audit.record_many(conn, at=self.stamp, actor=self.actor, entries=self.audit)
        for pending in (self.journal, self.audit, self.tombstones, self.erasures, self.suppression):
            pending.clear()


def erase_subject(conn: sqlite3.Connection, subject_id: str, *, rule: str, stamp: str,
                  actor: str, command: str, journalled: bool = True,
                  batch: ErasureBatch | None = None,
                  known: tuple[str | None, int] | None = None) -> bool:
    """Erase everything held on a subject, leaving a tombstone. Call inside a transaction.
    Returns False if the subject is already gone (a re-run after an interrupted sweep).
    With `batch`, the records it leaves are written when the caller flushes the batch."""
    row = known or conn.execute(
        "SELECT email, (SELECT count(*) FROM items WHERE subject_id = s.id) FROM subjects s "
        "WHERE id = ?", (subject_id,),
    ).fetchone()
    if row is None:
        return False
    email, items = row
    own = batch is None
    batch = batch or ErasureBatch(stamp, actor, journalled)
    batch.journal.append({"scope": "subject", "subject_id": subject_id, "rule": rule, "at": stamp})
    if email:
        batch.suppression.append((email_hmac(conn, email, batch.key), stamp))
    # Child rows go by ON DELETE CASCADE: items, consent events, disclosures, requests, holds.
    conn.execute("DELETE FROM subjects WHERE id = ?", (subject_id,))
    batch.tombstones.append((subject_id, stamp, rule))
    batch.erasures.append((subject_id, "subject", None, items, rule, stamp))
    batch.audit.append((f"{command}: erase subject", subject_id, {"rule": rule, "items": items}))
    if own:
        batch.flush(conn)
    return True


def erase_items(conn: sqlite3.Connection, entries: Iterable[ItemRef], *, stamp: str,
                actor: str, command: str, journalled: bool = True,
                batch: ErasureBatch | None = None) -> int:
    """Erase single items. Call inside a transaction."""
    own = batch is None
    batch = batch or ErasureBatch(stamp, actor, journalled)
    groups: dict[tuple[str, str, str], list[int]] = {}
    for entry in entries:
        groups.setdefault((entry.subject_id, entry.category, entry.rule), []).append(int(entry.item))
    erased = 0
    for (subject_id, category, rule), item_ids in sorted(groups.items()):
        batch.journal.append({"scope": "items", "subject_id": subject_id, "category": category,
                              "rule": rule, "items": item_ids, "at": stamp})
        count = sum(conn.execute("DELETE FROM items WHERE id = ? AND subject_id = ?",
                                 (item_id, subject_id)).rowcount for item_id in item_ids)
        if count:
            erased += count
            batch.erasures.append((subject_id, "item", category, count, rule, stamp))
            batch.audit.append((f"{command}: erase items", subject_id,
                                {"category": category, "items": count, "rule": rule}))
    if own:
        batch.flush(conn)
    return erased


def scrub_files(conn: sqlite3.Connection) -> bool:
    """Copy the WAL back into the (secure-deleted) file and truncate it, so erased values survive
    in neither. Returns False if a reader kept the checkpoint from completing (the next run or
    the last connection to close finishes it)."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return int(busy) == 0
