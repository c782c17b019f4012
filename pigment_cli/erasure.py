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


def erase_subject(conn: sqlite3.Connection, subject_id: str, *, rule: str, stamp: str,
                  actor: str, command: str, journalled: bool = True,
                  pending: list[dict[str, Any]] | None = None) -> bool:
    """Erase everything held on a subject, leaving a tombstone. Call inside a transaction.
    Returns False if the subject is already gone (a re-run after an interrupted sweep).
    The erasure is journalled at once, or appended to `pending` for the caller to journal (with
    `backup.journal`) before it commits: one fsync per batch instead of one per subject."""
    row = conn.execute("SELECT email FROM subjects WHERE id = ?", (subject_id,)).fetchone()
    if row is None:
        return False
    if journalled:
        entry = {"scope": "subject", "subject_id": subject_id, "rule": rule, "at": stamp}
        if pending is None:
            journal(conn, [entry])
        else:
            pending.append(entry)
    suppress_email(conn, row[0], stamp)
    items = conn.execute("SELECT count(*) FROM items WHERE subject_id = ?", (subject_id,)).fetchone()[0]
    # Child rows go by ON DELETE CASCADE: items, consent events, disclosures, requests, holds.
    conn.execute("DELETE FROM subjects WHERE id = ?", (subject_id,))
    conn.execute("INSERT INTO tombstones (subject_id, erased_at, rule) VALUES (?, ?, ?)",
                 (subject_id, stamp, rule))
    conn.execute(
        "INSERT INTO erasures (subject_id, scope, category, count, rule, erased_at) "
        "VALUES (?, 'subject', NULL, ?, ?, ?)",
        (subject_id, items, rule, stamp),
    )
    audit.record(conn, at=stamp, actor=actor, command=f"{command}: erase subject",
                 subject_id=subject_id, rule=rule, items=items)
    return True


def erase_items(conn: sqlite3.Connection, entries: list[dict[str, Any]], *, stamp: str,
                actor: str, command: str, journalled: bool = True) -> int:
    """Erase single items (`entries` carry item, subject_id, category, rule). Inside a transaction."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for entry in entries:
        groups.setdefault((entry["subject_id"], entry["category"], entry["rule"]), []).append(
            int(entry["item"]))
    erased: Counter[tuple[str, str, str]] = Counter()
    for key, item_ids in sorted(groups.items()):
        if journalled:
            journal(conn, [{"scope": "items", "subject_id": key[0], "category": key[1],
                            "rule": key[2], "items": item_ids, "at": stamp}])
        for item_id in item_ids:
            if conn.execute("DELETE FROM items WHERE id = ?", (item_id,)).rowcount:
                erased[key] += 1
    for (subject_id, category, rule), count in sorted(erased.items()):
        conn.execute(
            "INSERT INTO erasures (subject_id, scope, category, count, rule, erased_at) "
            "VALUES (?, 'item', ?, ?, ?, ?)",
            (subject_id, category, count, rule, stamp),
        )
        audit.record(conn, at=stamp, actor=actor, command=f"{command}: erase items",
                     subject_id=subject_id, category=category, items=count, rule=rule)
    return sum(erased.values())


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id, "applied": self.applied, "ground": self.ground,
            "whole_subject": self.whole_subject, "erased_items": self.erased,
            "kept": self.kept, "consents_withdrawn": self.consents_withdrawn,
        }


def erase_on_request(s: Session, subject_id: str, *, ground: str = "request",
                     via: str = "email", apply: bool = False) -> ErasureOutcome:
    """Erase what no legal duty keeps. Items whose purpose the policy marks `keep_on_erasure`
    (health records, payment and debt records) stay until their retention date; consents are
    withdrawn; everything else goes now. If nothing needs keeping, the whole subject goes."""
    from pigment_cli.consent import require_channel
    from pigment_cli.inventory import _items_with_due

    if ground not in ERASURE_GROUNDS:
        raise BadInput(f"unknown --reason {ground!r}; use one of: {', '.join(ERASURE_GROUNDS)}")
    require_channel(via)
    conn, policy = s.conn, s.policy
    subject = get_subject(conn, subject_id)
    outcome = ErasureOutcome(subject.id, apply, ground)
    reasons = active_holds(conn, s.today, [subject.id]).get(subject.id, [])
    keep_ids: list[int] = []
    erase_entries: list[dict[str, Any]] = []
    kept_by_reason: Counter[tuple[str, str, str]] = Counter()
    for item in _items_with_due(s, subject):
        why = policy.data["purposes"][item.purpose].get("keep_on_erasure")
        if why:
            keep_ids.append(item.id)
            kept_by_reason[(item.category, why, item.erasure_due or "")] += 1
        else:
            erase_entries.append({"item": item.id, "subject_id": subject.id,
                                  "category": item.category, "rule": f"request:{ground}"})
            outcome.erased[item.category] = outcome.erased.get(item.category, 0) + 1
    outcome.kept = [{"category": c, "items": n, "why": why, "until": until}
                    for (c, why, until), n in sorted(kept_by_reason.items())]
    from pigment_cli.consent import current_states, withdraw

    granted = [st.purpose for st in current_states(conn, policy, subject.id) if st.granted]
    outcome.consents_withdrawn = granted
    outcome.whole_subject = not keep_ids and not reasons
    if reasons and not keep_ids:
        outcome.kept.append({"category": "identity", "items": 0, "why": "; ".join(reasons),
                             "until": ""})
    if not apply:
        return outcome
    for purpose in granted:
        withdraw(s, subject.id, purpose, via=via)
    suppress_email(conn, subject.email, s.stamp)
    if outcome.whole_subject:
        erase_subject(conn, subject.id, rule=f"request:{ground}", stamp=s.stamp, actor=s.actor,
                      command="erase")
    else:
        erase_items(conn, erase_entries, stamp=s.stamp, actor=s.actor, command="erase")
        s.audit("erase", subject.id, ground=ground, kept_items=len(keep_ids),
                consents_withdrawn=len(granted))
    return outcome
