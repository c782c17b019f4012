"""Telling the recipients (UK GDPR Art. 19): a rectification, erasure or restriction must be
passed on to every recipient the data was disclosed to, unless that is impossible or involves
disproportionate effort, and the person must be told who they were if they ask.

`note_recipients` is called by the command that rectifies, erases or restricts, inside its
transaction, before anything is deleted: it records one notice per (non-void) disclosure that
carried the affected categories (or was made for an affected purpose) and returns them, for the
command to list. A disclosure gets one notice of an event per command, however many fields or
steps the command changes. `disclosure notified ID [--on DATE]` records the day they were told.
Notices outlive the subject's erasure (they name a recipient, which is an organisation, and ids);
once told, they go with the request register's retention (a notice not yet given never does).
Both are journalled (ids and times, never the recipient), so a restore never loses a notice
(`records.replay_requests`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from pigment_cli.clock import parse_date
from pigment_cli.errors import BadInput, NotFound
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
                    purposes: Iterable[str] | None = None,
                    request_id: str | None = None) -> list[Notice]:
    """Record a notice for every recipient of the subject's data: only disclosures that carried
    one of `categories`, when given, and only those made for one of `purposes`, when given;
    voided disclosures never. A disclosure this command (this session's time) already noted of
    `event` is not noted again: that notice is returned as it is. Returns the notices, one per
    disclosure."""
    if event not in EVENTS:
        raise ValueError(f"unknown Art. 19 event {event!r}")
    wanted = set(categories) if categories is not None else None
    for_purposes = set(purposes) if purposes is not None else None
    rows = s.conn.execute(
        "SELECT id, recipient, recipient_type, categories, purpose FROM disclosures "
        "WHERE subject_id = ? AND voided_at IS NULL ORDER BY at, id", (subject_id,)).fetchall()
    made: list[Notice] = []
    for row in rows:
        sent = {c for c in (row["categories"] or "").split(",") if c}
        if wanted is not None and not (sent & wanted):
            continue
        if for_purposes is not None and row["purpose"] not in for_purposes:
            continue
        noted = s.conn.execute(
            f"SELECT {_COLUMNS} FROM recipient_notices WHERE disclosure_id = ? AND event = ? AND "
            "created_at = ? AND notified_on IS NULL", (row["id"], event, s.stamp)).fetchone()
        if noted is not None:  # one notice per disclosure per command
            made.append(_notice(noted))
            continue
        cur = s.conn.execute(
            "INSERT INTO recipient_notices (subject_id, disclosure_id, recipient, recipient_type, "
            "event, request_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (subject_id, row["id"], row["recipient"], row["recipient_type"], event, request_id,
             s.stamp))
        made.append(Notice(int(cur.lastrowid or 0), subject_id, row["id"], row["recipient"],
                           row["recipient_type"], event, request_id, s.stamp, None))
        # Ids and times only: a restore reads the recipient back from the backup's disclosure.
        s.journal("notice", subject_id=subject_id, disclosure_id=row["id"], event=event,
                  request_id=request_id, created_at=s.stamp)
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


def mark_notified(s: Session, disclosure_id: int, on: str | None = None) -> list[Notice]:
    """Record that the recipient of disclosure `disclosure_id` was told, on `on` (YYYY-MM-DD;
    None: today), of every rectification, erasure or restriction still pending for it. BadInput
    (exit 2) if none is pending, or if `on` is in the future or before the oldest pending notice
    was made. Works after the subject's erasure: notices outlive their disclosures."""
    day = parse_date(on, "--on") if on is not None else s.today
    if day > s.today:
        raise BadInput(f"--on {day.isoformat()} is in the future (today is "
                       f"{s.today.isoformat()})")
    rows = s.conn.execute(f"SELECT {_COLUMNS} FROM recipient_notices WHERE disclosure_id = ? "
                          "AND notified_on IS NULL ORDER BY id", (disclosure_id,)).fetchall()
    if not rows:
        told = s.conn.execute("SELECT max(notified_on) FROM recipient_notices WHERE "
                              "disclosure_id = ?", (disclosure_id,)).fetchone()[0]
        if told:
            raise BadInput(f"disclosure {disclosure_id}: its recipient was already told (on "
                           f"{told}); nothing is pending")
        raise BadInput(f"disclosure {disclosure_id} has no recipient to tell (see: pigment "
                       "disclosure notices SUBJECT --pending)")
    pending = [_notice(r) for r in rows]
    first = min(n.created_at[:10] for n in pending)
    if day.isoformat() < first:
        raise BadInput(f"--on {day.isoformat()} is before the change they were told of "
                       f"({first})")
    s.conn.execute("UPDATE recipient_notices SET notified_on = ? WHERE disclosure_id = ? AND "
                   "notified_on IS NULL", (day.isoformat(), disclosure_id))
    s.audit("disclosure notified", pending[0].subject_id, disclosure=disclosure_id,
            notices=len(pending))
    for subject_id in sorted({n.subject_id for n in pending}):  # a restore replays it
        s.journal("notice_told", subject_id=subject_id, disclosure_id=disclosure_id,
                  notified_on=day.isoformat())
    return [replace(n, notified_on=day.isoformat()) for n in pending]


def subject_notices(s: Session, subject_id: str, *, pending_only: bool = False) -> list[Notice]:
    """A subject's notices, oldest first, audited as `disclosure notices`. An erased subject's
    notices are still listed (the recipients may not all have been told); an id that names
    no subject, present or erased, is NotFound (exit 2)."""
    key = (subject_id or "").strip().upper()
    known = s.conn.execute("SELECT 1 FROM subjects WHERE id = ?1 UNION ALL SELECT 1 FROM "
                           "tombstones WHERE subject_id = ?1 UNION ALL SELECT 1 FROM "
                           "recipient_notices WHERE subject_id = ?1 LIMIT 1", (key,)).fetchone()
    if known is None:
        well_formed = len(key) <= 12 and key.isascii() and key.replace("-", "").isalnum()
        shown = key if well_formed else "with that id"  # never a control character typed
        raise NotFound(f"no subject {shown} (ids look like S-7K3Q9; find one with: pigment "
                       "subject find)")
    found = notices_of(s.conn, subject_id=key, pending_only=pending_only)
    s.audit("disclosure notices", key, notices=len(found), pending_only=pending_only)
    return found
