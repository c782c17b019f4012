"""The one erasure path: of a whole subject, or of single items, whoever asks (the retention sweep,
an erasure request, a restore replaying the journal).

What remains of an erased subject: their requests without free text (and, on requests still
open, the name and email the reply goes to: see `_keep_requests_without_their_text`), the Art. 19
notices still to give, a tombstone (id, erased_at, rule), counts in `erasures`, the
keyed hash of their email on the suppression list, and the audit trail (ids only). Erased bytes are
overwritten in the file (secure_delete) and the WAL is truncated afterwards (`scrub_files`).

The journal names what was erased by identifiers never reused in any history of the store: a
subject by its id and the time it was added, an item by its id and a fingerprint of the facts about
it that never change (`item_fingerprint`), so a replay never erases anything else.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pigment_cli.records.suppression import email_hmac
from pigment_cli.store import audit
from pigment_cli.store.journal import journal
from pigment_cli.store.tx import transaction


@dataclass(frozen=True)
class ItemRef:
    """One item to erase: its id, its subject (checked on delete), its category and the rule."""

    item: int
    subject_id: str
    category: str
    rule: str
    # When given (a replay), erase only the item it matches. Keyword-only: subclasses (the
    # retention plan's DueItem) add positional fields of their own.
    fingerprint: str | None = field(default=None, kw_only=True)


def item_fingerprint(item: int, subject_id: str, category: str, created_at: str,
                     collected_at: str) -> str:
    """A short hash of what never changes about an item: an item given the same id in another
    history of the store (a restored backup) has another fingerprint."""
    facts = "\x1f".join((str(item), subject_id, category, created_at, collected_at))
    return hashlib.sha256(facts.encode()).hexdigest()[:32]


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
                  known: tuple[str | None, int] | None = None, suppress: bool = True) -> bool:
    """Erase everything held on a subject, leaving a tombstone. Call inside a transaction.
    Returns False if the subject is already gone (a re-run after an interrupted sweep).
    With `batch`, the records it leaves are written when the caller flushes the batch.
    `suppress` puts the email's keyed hash on the suppression list: only for people who opted out,
    objected or asked for erasure (ICO), never for a plain end of retention."""
    row = known or conn.execute(
        "SELECT email, (SELECT count(*) FROM items WHERE subject_id = s.id) FROM subjects s "
        "WHERE id = ?", (subject_id,),
    ).fetchone()
    if row is None:
        return False
    email, items = row
    own = batch is None
    batch = batch or ErasureBatch(stamp, actor, journalled)
    if email and suppress:
        key = email_hmac(conn, email, batch.key)
        batch.suppression.append((key, stamp))
        batch.journal.append({"scope": "suppression", "email_hmac": key, "at": stamp})
    _keep_requests_without_their_text(conn, subject_id)
    # Child rows go by ON DELETE CASCADE: items, consent events, disclosures, holds,
    # restrictions, objections. Requests and Art. 19 notices stay (without free text).
    created = conn.execute("DELETE FROM subjects WHERE id = ? RETURNING created_at",
                           (subject_id,)).fetchall()
    batch.journal.append({"scope": "subject", "subject_id": subject_id, "rule": rule, "at": stamp,
                          "created": created[0][0] if created else None})
    batch.tombstones.append((subject_id, stamp, rule))
    batch.erasures.append((subject_id, "subject", None, items, rule, stamp))
    batch.audit.append((f"{command}: erase subject", subject_id, {"rule": rule, "items": items}))
    if own:
        batch.flush(conn)
    return True


# Free text about a request may describe the person (their health, their circumstances): it goes
# with them. The request stays as the record that it was made and answered; one still open keeps
# the name and email its reply is addressed to, until the request register's retention removes it.
_REQUEST_TEXT_GONE = "(erased with the subject)"


def _keep_requests_without_their_text(conn: sqlite3.Connection, subject_id: str) -> None:
    # Art. 19 notices of a correction or restriction of data that is now gone are moot: only
    # the recipients of erased data (notices the erasure itself made) are still to be told.
    conn.execute("DELETE FROM recipient_notices WHERE subject_id = ? AND event != 'erasure'",
                 (subject_id,))
    if conn.execute("SELECT 1 FROM requests WHERE subject_id = ? LIMIT 1",
                    (subject_id,)).fetchone() is None:
        return  # most subjects a sweep erases never made a request: one indexed lookup
    conn.execute(
        "UPDATE requests SET person_name = coalesce(person_name, (SELECT name FROM subjects "
        "WHERE id = :s)), person_email = coalesce(person_email, (SELECT email FROM subjects "
        "WHERE id = :s)) WHERE subject_id = :s AND status = 'open'", {"s": subject_id})
    conn.execute(
        "UPDATE requests SET note = NULL, outcome_reason = NULL, review_note = NULL, "
        "reviewer = NULL, extension_reason = CASE WHEN extension_reason IS NULL THEN NULL "
        "ELSE :gone END WHERE subject_id = :s", {"s": subject_id, "gone": _REQUEST_TEXT_GONE})
    conn.execute("UPDATE request_pauses SET reason = :gone WHERE request_id IN "
                 "(SELECT id FROM requests WHERE subject_id = :s)",
                 {"s": subject_id, "gone": _REQUEST_TEXT_GONE})


def erase_items(conn: sqlite3.Connection, entries: Iterable[ItemRef], *, stamp: str,
                actor: str, command: str, journalled: bool = True,
                batch: ErasureBatch | None = None) -> int:
    """Erase single items. Call inside a transaction."""
    own = batch is None
    batch = batch or ErasureBatch(stamp, actor, journalled)
    groups: dict[tuple[str, str, str], list[ItemRef]] = {}
    for entry in entries:
        groups.setdefault((entry.subject_id, entry.category, entry.rule), []).append(entry)
    erased = 0
    for (subject_id, category, rule), refs in sorted(groups.items()):
        item_ids, fingerprints = [], []
        for ref in refs:
            if ref.fingerprint is not None and _fingerprint_now(conn, ref) != ref.fingerprint:
                continue  # another item now has this id: never erase it
            rows = conn.execute(
                "DELETE FROM items WHERE id = ? AND subject_id = ? AND category = ? "
                "RETURNING created_at, collected_at", (int(ref.item), subject_id, category),
            ).fetchall()
            for created_at, collected_at in rows:
                item_ids.append(int(ref.item))
                fingerprints.append(item_fingerprint(int(ref.item), subject_id, category,
                                                     created_at, collected_at))
        count = len(item_ids)
        if count:
            batch.journal.append({"scope": "items", "subject_id": subject_id, "category": category,
                                  "rule": rule, "items": item_ids, "fingerprints": fingerprints,
                                  "at": stamp})
            erased += count
            batch.erasures.append((subject_id, "item", category, count, rule, stamp))
            batch.audit.append((f"{command}: erase items", subject_id,
                                {"category": category, "items": count, "rule": rule}))
    if own:
        batch.flush(conn)
    return erased


def _fingerprint_now(conn: sqlite3.Connection, ref: ItemRef) -> str | None:
    row = conn.execute("SELECT created_at, collected_at FROM items WHERE id = ? AND subject_id = ? "
                       "AND category = ?", (int(ref.item), ref.subject_id, ref.category)).fetchone()
    return None if row is None else item_fingerprint(int(ref.item), ref.subject_id,
                                                     ref.category, *row)


SCRUB_PENDING = "scrub_pending"  # meta key: erased values may still be in the WAL (since when)
SCRUB_ATTEMPTS = 5


def scrub_files(conn: sqlite3.Connection, stamp: str | None = None) -> bool:
    """Copy the WAL back into the (secure-deleted) file and truncate it, so erased values survive
    in neither; a reader holding an old snapshot blocks it, so try a few times. Returns False if
    the old values are still there: the store then notes it (`scrub_pending`, which
    `pigment check` reports) and the next scrub that completes clears the note."""
    for attempt in range(SCRUB_ATTEMPTS):
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if int(busy) == 0:
            break
        time.sleep(0.05 * (attempt + 1))
    else:
        if stamp is not None:
            with transaction(conn):
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                             (SCRUB_PENDING, stamp))
        return False
    if conn.execute("SELECT 1 FROM meta WHERE key = ?", (SCRUB_PENDING,)).fetchone():
        with transaction(conn):
            conn.execute("DELETE FROM meta WHERE key = ?", (SCRUB_PENDING,))
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return True


def scrub_pending(conn: sqlite3.Connection) -> str | None:
    """When an erasure's values were last left in the WAL by a reader, if they may still be."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (SCRUB_PENDING,)).fetchone()
    return None if row is None else str(row[0])
