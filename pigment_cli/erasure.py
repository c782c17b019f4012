"""Erasure: of a whole subject (the retention rule is due), of single items (a shorter category rule
is due), and on the subject's request (GDPR Art. 17), keeping what the law says must stay.

What remains of an erased subject: a tombstone (id, erased_at, rule), counts in `erasures`, the
keyed hash of their email on the suppression list, and the audit trail (ids only). Erased bytes are
overwritten in the file (secure_delete) and the WAL is truncated afterwards (`scrub_files`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pigment_cli import audit
from pigment_cli.backup import journal
from pigment_cli.errors import BadInput
from pigment_cli.inventory import get_subject
from pigment_cli.retention import active_holds
from pigment_cli.session import Session

# Art. 17(1) grounds a request may rest on (recorded in the audit trail; never free text).
ERASURE_GROUNDS = (
    "request", "no-longer-necessary", "consent-withdrawn", "objection", "unlawful",
    "legal-obligation", "child",
)


def suppress_email(conn: sqlite3.Connection, email: str | None, stamp: str) -> None:
    """Put the keyed hash of `email` on the marketing suppression list."""
    if not email:
        return
    from pigment_cli.consent import email_hmac

    conn.execute(
        "INSERT OR IGNORE INTO suppression (email_hmac, added_at) VALUES (?, ?)",
        (email_hmac(conn, email), stamp),
    )


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
    from pigment_cli.consent import email_hmac

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


def erase_items(conn: sqlite3.Connection, entries: list[dict[str, Any]], *, stamp: str,
                actor: str, command: str, journalled: bool = True,
                batch: ErasureBatch | None = None) -> int:
    """Erase single items (`entries` carry item, subject_id, category, rule). Inside a transaction."""
    own = batch is None
    batch = batch or ErasureBatch(stamp, actor, journalled)
    groups: dict[tuple[str, str, str], list[int]] = {}
    for entry in entries:
        groups.setdefault((entry["subject_id"], entry["category"], entry["rule"]), []).append(
            int(entry["item"]))
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
    return busy == 0


# --- erasure on request (Art. 17) ---------------------------------------------------------------


@dataclass
class ErasureOutcome:
    subject_id: str
    applied: bool
    ground: str
    whole_subject: bool = False
    erased: dict[str, int] = field(default_factory=dict)  # category -> items erased
    kept: list[dict[str, Any]] = field(default_factory=list)  # what stays, and why
    consents_withdrawn: list[str] = field(default_factory=list)
    held_by: list[str] = field(default_factory=list)  # holds and open requests standing

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id, "applied": self.applied, "ground": self.ground,
            "whole_subject": self.whole_subject, "erased_items": self.erased,
            "kept": self.kept, "consents_withdrawn": self.consents_withdrawn,
            "held_by": self.held_by,
        }


def erase_on_request(s: Session, subject_id: str, *, ground: str = "request",
                     via: str = "email", apply: bool = False) -> ErasureOutcome:
    """Erase what no legal duty keeps. Items whose purpose the policy marks `keep_on_erasure`
    stay until their retention date: payment and debt records always, care and medical-record
    purposes when the subject has health records (an enquirer's contact details go). Consents are
    withdrawn; everything else goes now. If nothing needs keeping and no hold or open request
    stands, the whole subject goes. The request never extends what is kept: recording the
    withdrawals does not restart the retention clock."""
    from pigment_cli.consent import current_states, require_channel, withdraw
    from pigment_cli.inventory import _items_with_due

    if ground not in ERASURE_GROUNDS:
        raise BadInput(f"unknown --reason {ground!r}; use one of: {', '.join(ERASURE_GROUNDS)}")
    require_channel(via)
    conn, policy = s.conn, s.policy
    subject = get_subject(conn, subject_id)
    outcome = ErasureOutcome(subject.id, apply, ground)
    outcome.held_by = active_holds(conn, s.today, [subject.id]).get(subject.id, [])
    items = _items_with_due(s, subject)
    has_health = any(policy.is_special_category(item.category) for item in items)
    keep_ids: list[int] = []
    erase_entries: list[dict[str, Any]] = []
    kept_by_reason: Counter[tuple[str, str, str]] = Counter()
    for item in items:
        why = policy.data["purposes"][item.purpose].get("keep_on_erasure")
        if why and (has_health or not policy.is_medical_purpose(item.purpose)):
            keep_ids.append(item.id)
            kept_by_reason[(item.category, why, item.erasure_due or "")] += 1
        else:
            erase_entries.append({"item": item.id, "subject_id": subject.id,
                                  "category": item.category, "rule": f"request:{ground}"})
            outcome.erased[item.category] = outcome.erased.get(item.category, 0) + 1
    outcome.kept = [{"category": c, "items": n, "why": why, "until": until}
                    for (c, why, until), n in sorted(kept_by_reason.items())]
    granted = [st.purpose for st in current_states(conn, policy, subject.id) if st.granted]
    outcome.consents_withdrawn = granted
    outcome.whole_subject = not keep_ids and not outcome.held_by
    if outcome.held_by and not keep_ids:
        outcome.kept.append({"category": "identity and contact (the subject record)", "items": 0,
                             "why": "; ".join(outcome.held_by), "until": "released / answered"})
    if not apply:
        return outcome
    last_processed = subject.last_processed_at
    for purpose in granted:
        withdraw(s, subject.id, purpose, via=via)
    # The withdrawals are records of the request, not new processing: the clock stays put.
    conn.execute("UPDATE subjects SET last_processed_at = ? WHERE id = ?",
                 (last_processed, subject.id))
    suppress_email(conn, subject.email, s.stamp)
    if outcome.whole_subject:
        erase_subject(conn, subject.id, rule=f"request:{ground}", stamp=s.stamp, actor=s.actor,
                      command="erase")
    else:
        erase_items(conn, erase_entries, stamp=s.stamp, actor=s.actor, command="erase")
        s.audit("erase", subject.id, ground=ground, kept_items=len(keep_ids),
                consents_withdrawn=len(granted), held=len(outcome.held_by))
    return outcome
