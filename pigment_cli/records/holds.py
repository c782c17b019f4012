"""Holds: reasons a subject's data must outlive its retention date (outstanding debt, a legal
claim, a regulator's enquiry). A hold is active until released or past its `until` date."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from pigment_cli.clock import parse_date
from pigment_cli.errors import BadInput, NeedsConfirmation, NotFound
from pigment_cli.records.ids import fresh_id
from pigment_cli.records.subjects import get_subject
from pigment_cli.records.validate import clean_text
from pigment_cli.store.session import Session

# The one definition of an active hold, in SQL (with :today as YYYY-MM-DD) and in Python.
ACTIVE_HOLD_SQL = "released_at IS NULL AND (until IS NULL OR until >= :today)"


def hold_is_active(released_at: str | None, until: str | None, today: str) -> bool:
    return released_at is None and (until is None or until >= today)


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
    active = hold_is_active(row["released_at"], row["until"], today)
    return Hold(row["id"], row["subject_id"], row["reason"], row["until"], row["created_at"],
                row["released_at"], active)


def add_hold(s: Session, subject_id: str, *, reason: str, until: str | None = None,
             duplicate_ok: bool = False) -> Hold:
    """Hold a subject's data. A hold identical to an active one (same subject, reason and end)
    is refused with NeedsConfirmation (exit 3, ids only) unless `duplicate_ok`."""
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
    twins = [] if duplicate_ok else same_active_holds(s.conn, subject.id, text, until_day, s.today)
    if twins:
        said = (f"{', '.join(twins)} {'is an active hold' if len(twins) == 1 else 'are active holds'}"
                f" on {subject.id} with the same reason and end")
        raise NeedsConfirmation(f"{said}: nothing was added (see: pigment hold list --subject "
                                f"{subject.id}; give --yes to add anyway)", f"{said}; add anyway?")
    hold_id = fresh_id(s.conn, "H", "SELECT 1 FROM holds WHERE id = ?1")
    s.conn.execute(
        "INSERT INTO holds (id, subject_id, reason, until, created_at) VALUES (?, ?, ?, ?, ?)",
        (hold_id, subject.id, text, until_day, s.stamp),
    )
    s.audit("hold add", subject.id, hold=hold_id, until=until_day)
    return get_hold(s, hold_id)


def same_active_holds(conn: sqlite3.Connection, subject_id: str, reason: str,
                      until: str | None, today: date) -> list[str]:
    """The ids of the subject's active holds with this reason (case and spacing ignored) and
    this end (None: until released): the same hold entered twice."""
    key = " ".join(reason.casefold().split())
    return [h.id for h in holds_of(conn, subject_id, today)
            if h.until == until and " ".join(h.reason.casefold().split()) == key]


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


def active_holds(conn: sqlite3.Connection, today: date,
                 subject_ids: Iterable[str] | None = None, *,
                 answering: str | None = None) -> dict[str, list[str]]:
    """subject id -> reasons erasure must wait: active holds, open requests (of any kind) and
    restrictions of every purpose (Art. 18). `answering`: the id of the request the erasure answers, which never holds it back."""
    reasons: dict[str, list[str]] = {}
    ids = None if subject_ids is None else list(subject_ids)
    for sql in (
        "SELECT subject_id, 'hold ' || id || coalesce(' until ' || until, '') FROM holds "
        f"WHERE {ACTIVE_HOLD_SQL}",
        "SELECT subject_id, CASE kind WHEN 'access' THEN 'open subject-access request ' "
        "ELSE 'open ' || kind || ' request ' END || id FROM requests "
        "WHERE status = 'open' AND id IS NOT :answering",
        # Erasing is processing too: data restricted for every purpose is only stored (Art. 18(2)).
        "SELECT subject_id, 'restriction ' || id || ' (UK GDPR Art. 18)' FROM restrictions "
        "WHERE ended_at IS NULL AND purpose IS NULL",
    ):
        params = {"today": today.isoformat(), "answering": answering}
        if ids is None:
            rows = conn.execute(sql, params).fetchall()
        else:
            rows = []
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                names = {f"s{n}": sid for n, sid in enumerate(chunk)}
                marks = ",".join(f":{name}" for name in names)
                rows += conn.execute(f"{sql} AND subject_id IN ({marks})",
                                     {**params, **names}).fetchall()
        for subject_id, reason in rows:
            reasons.setdefault(subject_id, []).append(reason)
    return reasons


def count_active(conn: sqlite3.Connection, today: date) -> int:
    return int(conn.execute(f"SELECT count(*) FROM holds WHERE {ACTIVE_HOLD_SQL}",
                            {"today": today.isoformat()}).fetchone()[0])


def holds_of(conn: sqlite3.Connection, subject_id: str, today: date) -> list[Hold]:
    """A subject's active holds, oldest first (no audit: callers audit their own view)."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM holds WHERE subject_id = :subject AND "
                        f"{ACTIVE_HOLD_SQL} ORDER BY created_at",
                        {"subject": subject_id, "today": today.isoformat()}).fetchall()
    return [_hold(r, today.isoformat()) for r in rows]
