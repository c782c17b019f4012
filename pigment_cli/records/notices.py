"""Telling the recipients (UK GDPR Art. 19): a rectification, erasure or restriction must be
passed on to every recipient the data was disclosed to, unless that is impossible or involves
disproportionate effort, and the person must be told who they were if they ask.

`note_recipients` is called by the command that rectifies, erases or restricts, inside its
transaction, before anything is deleted: it records one notice per (non-void) disclosure that
carried the affected categories and returns them, for the command to list. `disclosure notified
ID --on DATE` records the day they were told. Notices outlive the subject's erasure (they name a
recipient, which is an organisation, and ids), and go with the request register's retention.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from pigment_cli.store.session import Session

EVENTS = ("rectification", "erasure", "restriction")
_COLUMNS = ("id, subject_id, disclosure_id, recipient, recipient_type, event, request_id, "
            "created_at, notified_on")


@dataclass(frozen=True)
class Notice:
    id: int
    subject_id: str
    disclosure_id: int
    recipient: str
    recipient_type: str
    event: str
    request_id: str | None
    created_at: str
    notified_on: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _notice(row: sqlite3.Row) -> Notice:
    return Notice(*[row[k] for k in ("id", "subject_id", "disclosure_id", "recipient",
                                     "recipient_type", "event", "request_id", "created_at",
                                     "notified_on")])


def note_recipients(s: Session, subject_id: str, event: str, *,
                    categories: Iterable[str] | None = None,
                    request_id: str | None = None) -> list[Notice]:
    """Record a notice for every recipient of the subject's data (only disclosures that carried
    one of `categories`, when given; voided disclosures never). Returns the new notices."""
    if event not in EVENTS:
        raise ValueError(f"unknown Art. 19 event {event!r}")
    wanted = set(categories) if categories is not None else None
    rows = s.conn.execute(
        "SELECT id, recipient, recipient_type, categories FROM disclosures "
        "WHERE subject_id = ? AND voided_at IS NULL ORDER BY at, id", (subject_id,)).fetchall()
    made: list[Notice] = []
    for row in rows:
        sent = {c for c in (row["categories"] or "").split(",") if c}
        if wanted is not None and not (sent & wanted):
            continue
        cur = s.conn.execute(
            "INSERT INTO recipient_notices (subject_id, disclosure_id, recipient, recipient_type, "
            "event, request_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (subject_id, row["id"], row["recipient"], row["recipient_type"], event, request_id,
             s.stamp))
        made.append(Notice(int(cur.lastrowid or 0), subject_id, row["id"], row["recipient"],
                           row["recipient_type"], event, request_id, s.stamp, None))
    return made


def notices_of(conn: sqlite3.Connection, *, subject_id: str | None = None,
               request_id: str | None = None, pending_only: bool = False) -> list[Notice]:
    """Notices of a subject or of a request, oldest first."""
    sql = f"SELECT {_COLUMNS} FROM recipient_notices WHERE "
    sql += "subject_id = ?" if subject_id is not None else "request_id = ?"
    if pending_only:
        sql += " AND notified_on IS NULL"
    key = subject_id if subject_id is not None else request_id
    return [_notice(r) for r in conn.execute(sql + " ORDER BY id", (key,)).fetchall()]
