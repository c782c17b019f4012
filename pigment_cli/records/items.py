"""Data items: one piece of personal data held on a subject, with its category, source, purpose,
basis and dates; each shows the day it will be erased."""

from __future__ import annotations

import sqlite3
from typing import Any

from pigment_cli.clock import day_of, normalise_when
from pigment_cli.errors import BadInput, NotFound, Refused
from pigment_cli.policy.rules import item_due, subject_due
from pigment_cli.records.consents import events_of, state_from
from pigment_cli.records.models import Item, Subject
from pigment_cli.records.restrictions import check_processing
from pigment_cli.records.subjects import bump_processed, get_subject
from pigment_cli.records.validate import check_item
from pigment_cli.store.session import Session

# The one INSERT of an item (the bulk importer and the demo batch it with executemany).
ITEM_INSERT_COLUMNS = ("subject_id, category, source, purpose, basis, value, collected_at, "
                       "processed_at, created_at")
ITEM_INSERT = f"INSERT INTO items ({ITEM_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
ITEM_COLUMNS = (
    "id, subject_id, category, source, purpose, basis, value, collected_at, processed_at"
)


def _item(row: sqlite3.Row) -> Item:
    return Item(
        id=row["id"], subject_id=row["subject_id"], category=row["category"],
        source=row["source"], purpose=row["purpose"], basis=row["basis"], value=row["value"],
        collected_at=row["collected_at"], processed_at=row["processed_at"],
    )



def add_item(s: Session, subject_id: str, *, category: str, source: str, purpose: str, basis: str | None = None,
             value: str | None = None, collected: str | None = None,
             processed: str | None = None) -> Item:
    conn = s.conn
    subject = get_subject(conn, subject_id)
    stamp = s.stamp
    category, source, purpose, basis, text, collected_at, processed_at = check_item(
        s.policy, s.today.isoformat(), stamp, category=category, source=source, purpose=purpose,
        basis=basis, value=value, collected=collected, processed=processed,
    )
    if basis == "consent":  # data for a consent purpose is held only while the consent stands
        require_consent(conn, subject.id, purpose)
    check_processing(conn, s.policy, subject.id, purpose)  # restricted or objected to: refused
    cur = conn.execute(ITEM_INSERT, (subject.id, category, source, purpose, basis, text,
                                     collected_at, processed_at, stamp))
    bump_processed(conn, subject.id, processed_at)
    item_id = int(cur.lastrowid or 0)
    s.audit("item add", subject.id, item=item_id, category=category, purpose=purpose)
    return get_item(conn, item_id)


def require_consent(conn: sqlite3.Connection, subject_id: str, purpose: str) -> None:
    """Refused (exit 3) unless the subject's consent to `purpose` stands now."""
    consent = state_from(purpose, events_of(conn, subject_id, purpose))
    if not consent.granted:
        raise Refused(
            f"refused: {purpose!r} rests on consent and {subject_id}'s {purpose} consent is "
            f"not granted ({consent.state}); record the consent first (pigment consent grant "
            f"{subject_id} {purpose} --via ...). Nothing was recorded."
        )


def get_item(conn: sqlite3.Connection, item_id: int) -> Item:
    row = conn.execute(f"SELECT {ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise NotFound(f"no item {item_id} (see the item ids with: pigment item list SUBJECT)")
    return _item(row)


def touch_item(s: Session, item_id: int, processed: str | None = None) -> Item:
    """Record a new processing of an item (it restarts the retention clock)."""
    conn = s.conn
    item = get_item(conn, item_id)
    when = normalise_when(processed, "--processed") if processed else s.stamp
    if day_of(when) > s.today:
        raise BadInput("--processed cannot be in the future")
    if when < item.processed_at:
        raise BadInput(f"item {item_id} was already processed later ({item.processed_at[:10]})")
    if item.basis == "consent":  # no processing for a consent purpose without the consent
        require_consent(conn, item.subject_id, item.purpose)
    # A restricted record may be read, never processed again (UK GDPR Art. 18(2)).
    check_processing(conn, s.policy, item.subject_id, item.purpose)
    conn.execute("UPDATE items SET processed_at = ? WHERE id = ?", (when, item_id))
    bump_processed(conn, item.subject_id, when)
    s.audit("item touch", item.subject_id, item=item_id)
    return get_item(conn, item_id)


def items_with_due(s: Session, subject: Subject, category: str | None = None) -> list[Item]:
    conn, policy = s.conn, s.policy
    if category:
        policy.require("categories", category)
    due_subject = subject_due(policy, subject.last_processed_at, subject.dob)
    sql = f"SELECT {ITEM_COLUMNS} FROM items WHERE subject_id = ?"
    args: list[Any] = [subject.id]
    if category:
        sql += " AND category = ?"
        args.append(category)
    rows = conn.execute(sql + " ORDER BY category, collected_at, id", args).fetchall()
    out = []
    for row in rows:
        item = _item(row)
        due = item_due(policy, item.category, item.processed_at, due_subject)
        out.append(Item(**{**item.to_dict(), "erasure_due": due.isoformat()}))
    return out


def list_items(s: Session, subject_id: str, category: str | None = None) -> list[Item]:
    subject = get_subject(s.conn, subject_id)
    items = items_with_due(s, subject, category)
    s.audit("item list", subject.id, items=len(items))
    return items


