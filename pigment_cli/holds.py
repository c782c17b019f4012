"""Holds: reasons a subject's data must outlive its retention date (outstanding debt, a legal
claim, a regulator's enquiry). A hold is active until released or past its `until` date."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pigment_cli.clock import parse_date
from pigment_cli.errors import BadInput, NotFound
from pigment_cli.inventory import clean_text, get_subject, new_id
from pigment_cli.session import Session


@dataclass(frozen=True)
class Hold:
    id: str
    subject_id: str
    reason: str
    until: str | None
    created_at: str
    released_at: str | None
    active: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = "id, subject_id, reason, until, created_at, released_at"


def _hold(row: Any, today: str) -> Hold:
    active = row["released_at"] is None and (row["until"] is None or row["until"] >= today)
    return Hold(row["id"], row["subject_id"], row["reason"], row["until"], row["created_at"],
                row["released_at"], active)


def add_hold(s: Session, subject_id: str, *, reason: str, until: str | None = None) -> Hold:
    subject = get_subject(s.conn, subject_id)
    text = clean_text(reason, "--reason")
    if not text:
        raise BadInput("--reason is required: say why erasure must wait (e.g. outstanding debt)")
    until_day = None
    if until:
        day = parse_date(until, "--until")
        if day < s.today:
            raise BadInput(f"--until {day.isoformat()} is already past")
        until_day = day.isoformat()
    hold_id = new_id("H")
    while s.conn.execute("SELECT 1 FROM holds WHERE id = ?", (hold_id,)).fetchone():
        hold_id = new_id("H")
    s.conn.execute(
        "INSERT INTO holds (id, subject_id, reason, until, created_at) VALUES (?, ?, ?, ?, ?)",
        (hold_id, subject.id, text, until_day, s.stamp),
    )
    s.audit("hold add", subject.id, hold=hold_id, until=until_day)
    return get_hold(s, hold_id)


def get_hold(s: Session, hold_id: str) -> Hold:
    row = s.conn.execute(f"SELECT {_COLUMNS} FROM holds WHERE id = ?",
                         (hold_id.strip().upper(),)).fetchone()
    if row is None:
        raise NotFound(f"no hold {hold_id.strip().upper()[:12]} (see: pigment hold list --all)")
    return _hold(row, s.today.isoformat())


def release_hold(s: Session, hold_id: str) -> Hold:
    hold = get_hold(s, hold_id)
    if hold.released_at is not None:
        raise BadInput(f"hold {hold.id} was already released on {hold.released_at[:10]}")
    s.conn.execute("UPDATE holds SET released_at = ? WHERE id = ?", (s.stamp, hold.id))
    s.audit("hold release", hold.subject_id, hold=hold.id)
    return get_hold(s, hold.id)


def list_holds(s: Session, *, subject_id: str | None = None, include_inactive: bool = False) -> list[Hold]:
    sql = f"SELECT {_COLUMNS} FROM holds"
    args: list[Any] = []
    if subject_id:
        sql += " WHERE subject_id = ?"
        args.append(get_subject(s.conn, subject_id).id)
    rows = s.conn.execute(sql + " ORDER BY created_at, id", args).fetchall()
    holds = [_hold(r, s.today.isoformat()) for r in rows]
    if not include_inactive:
        holds = [h for h in holds if h.active]
    s.audit("hold list", subject_id.strip().upper() if subject_id else None, holds=len(holds))
    return holds
