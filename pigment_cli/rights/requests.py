"""Subject-access requests: opening one, its clock (start, pauses, extension), the health
professional's review, closing, and the deadline view every command shows.

The date arithmetic lives in `pigment_cli.clock` (`sar_due_date`); this module decides which dates
feed it. Audit entries carry request ids and counts only, never reasons, notes or reviewer names.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

from pigment_cli.clock import london_today, parse_date, sar_due_date, sar_raw_end
from pigment_cli.errors import BadInput, NotFound, Refused
from pigment_cli.policy import Policy
from pigment_cli.records.ids import fresh_id
from pigment_cli.records.subjects import get_subject
from pigment_cli.records.validate import clean_text
from pigment_cli.store.session import Session

REQUEST_CHANNELS = ("email", "letter", "phone", "in_clinic")
REVIEW_OUTCOMES = ("release", "withhold-part")
DEFAULT_TARGET_DAYS = 28
# An extended request's internal target: this many days before its (extended) due date.
EXTENDED_TARGET_MARGIN_DAYS = 3
_REQUEST_ID = re.compile(r"^R-[0-9A-Z]{5}$")
_COLUMNS = (
    "id, subject_id, channel, received_on, id_verified_on, fee_received_on, status, extended_on, "
    "extension_reason, reviewed_on, reviewer, review_outcome, review_note, closed_on, created_at"
)


# --- the clock ---------------------------------------------------------------------------------


def deadline(policy: Policy, start: date, *, extended: bool = False) -> date:
    """The due date of a request whose clock starts on `start` (what `sar deadline` prints)."""
    country, subdivision = policy.holiday_region()
    return sar_due_date(start, extended=extended, country=country, subdivision=subdivision)


def parse_within(text: str) -> int:
    """`7d`, `2w` or `7` -> a number of days (for `sar list --due-within`)."""
    match = re.fullmatch(r"\s*(\d{1,4})\s*([dw]?)\s*", text or "")
    if not match:
        raise BadInput(f"--due-within {text!r} is not a number of days; use e.g. 7d or 2w")
    return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


def _paused_days(pauses: list[sqlite3.Row], start: date, until: date) -> int:
    """Distinct days the clock was stopped: each pause counts from the day clarification was asked
    for to the day it arrived, both included (an unanswered pause runs to `until`). Days before
    the clock started do not count."""
    days: set[date] = set()
    for pause in pauses:
        first = max(date.fromisoformat(pause["paused_on"]), start)
        last = date.fromisoformat(pause["resumed_on"]) if pause["resumed_on"] else until
        while first <= last:
            days.add(first)
            first += timedelta(days=1)
    return len(days)


@dataclass(frozen=True)
class Pause:
    paused_on: str
    resumed_on: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"paused_on": self.paused_on, "resumed_on": self.resumed_on, "reason": self.reason}


@dataclass(frozen=True)
class Review:
    """A health professional's serious-harm opinion (the reviewer and note are internal)."""

    reviewed_on: str
    reviewer: str
    outcome: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"reviewed_on": self.reviewed_on, "reviewer": self.reviewer,
                "outcome": self.outcome, "note": self.note}


@dataclass(frozen=True)
class RequestView:
    """A request as every command shows it: its dates, due date, days left, pauses, review."""

    id: str
    subject_id: str
    channel: str
    status: str  # open / paused / closed
    received_on: str
    id_verified_on: str | None
    fee_received_on: str | None
    start: str
    raw_end: str
    paused_days: int
    one_month_due: str
    extended: bool
    extended_on: str | None
    extension_reason: str | None
    due: str
    internal_target: str
    days_left: int | None
    overdue: bool
    closed_on: str | None
    closed_late: bool
    pauses: list[Pause]
    review: Review | None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["pauses"] = [p.to_dict() for p in self.pauses]
        out["review"] = self.review.to_dict() if self.review else None
        return out


def _view(row: sqlite3.Row, pauses: list[sqlite3.Row], policy: Policy, today: date) -> RequestView:
    """The request's view: its clock worked out from the dates recorded."""
    received = date.fromisoformat(row["received_on"])
    start = max(date.fromisoformat(d) for d in (row["received_on"], row["id_verified_on"],
                                                 row["fee_received_on"]) if d)
    closed = row["status"] == "closed"
    until = date.fromisoformat(row["closed_on"]) if closed else today
    paused = _paused_days(pauses, start, max(until, received))
    country, subdivision = policy.holiday_region()
    extended = row["extended_on"] is not None
    due = sar_due_date(start, extended=extended, paused_days=paused, country=country,
                       subdivision=subdivision)
    one_month = sar_due_date(start, paused_days=paused, country=country, subdivision=subdivision)
    waiting = any(p["resumed_on"] is None for p in pauses)
    status = "closed" if closed else ("paused" if waiting else "open")
    target_days = policy.internal_target_days(DEFAULT_TARGET_DAYS)
    if extended:
        target = due - timedelta(days=EXTENDED_TARGET_MARGIN_DAYS)
    else:
        target = min(start + timedelta(days=target_days + paused), due)
    review = None
    if row["reviewed_on"]:
        review = Review(row["reviewed_on"], row["reviewer"], row["review_outcome"],
                        row["review_note"])
    return RequestView(
        id=row["id"],
        subject_id=row["subject_id"],
        channel=row["channel"],
        status=status,
        received_on=row["received_on"],
        id_verified_on=row["id_verified_on"],
        fee_received_on=row["fee_received_on"],
        start=start.isoformat(),
        raw_end=sar_raw_end(start, extended=extended, paused_days=paused).isoformat(),
        paused_days=paused,
        one_month_due=one_month.isoformat(),
        extended=extended,
        extended_on=row["extended_on"],
        extension_reason=row["extension_reason"],
        due=due.isoformat(),
        internal_target=target.isoformat(),
        days_left=None if closed else (due - today).days,
        overdue=status == "open" and today > due,
        closed_on=row["closed_on"],
        closed_late=closed and until > due,
        pauses=[Pause(p["paused_on"], p["resumed_on"], p["reason"]) for p in pauses],
        review=review,
    )


# --- reading -----------------------------------------------------------------------------------


def _pauses(conn: sqlite3.Connection, request_id: str) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT id, paused_on, resumed_on, reason FROM request_pauses WHERE request_id = ? "
        "ORDER BY paused_on, id", (request_id,),
    ).fetchall()


def _row(conn: sqlite3.Connection, request_id: str) -> sqlite3.Row:
    key = request_id.strip().upper()
    row: sqlite3.Row | None = conn.execute(
        f"SELECT {_COLUMNS} FROM requests WHERE id = ?", (key,)).fetchone()
    if row is None:
        shown = key if _REQUEST_ID.match(key) else "with that id"
        raise NotFound(f"no request {shown} (ids look like R-7K3Q9; see: pigment sar list)")
    return row


def today_of(s: Session) -> date:
    """The clinic's day for this session (deadlines end at midnight, Europe/London)."""
    return london_today(s.now)


def _current(s: Session, request_id: str, today: date | None = None) -> RequestView:
    row = _row(s.conn, request_id)
    return _view(row, _pauses(s.conn, row["id"]), s.policy, today or today_of(s))


def requests_of(s: Session, subject_id: str) -> list[RequestView]:
    """Every request of a subject, oldest first (no audit entry: callers audit their own view)."""
    rows = s.conn.execute(
        f"SELECT {_COLUMNS} FROM requests WHERE subject_id = ? ORDER BY received_on, id",
        (subject_id,),
    ).fetchall()
    today = today_of(s)
    return [_view(r, _pauses(s.conn, r["id"]), s.policy, today) for r in rows]


def open_request_subjects(conn: sqlite3.Connection) -> set[str]:
    """Ids of subjects with an open (or paused) request: their erasure must wait."""
    rows = conn.execute("SELECT DISTINCT subject_id FROM requests WHERE status = 'open'")
    return {r[0] for r in rows}


def has_open_request(conn: sqlite3.Connection, subject_id: str) -> bool:
    return conn.execute(
        "SELECT 1 FROM requests WHERE subject_id = ? AND status = 'open' LIMIT 1", (subject_id,)
    ).fetchone() is not None


def request_views(conn: sqlite3.Connection, policy: Policy, today: date, *,
                  open_only: bool = False) -> list[RequestView]:
    """Every request (or every open one) as a view, unaudited: for the status screen and the
    aggregated reports, which show no personal data."""
    sql = f"SELECT {_COLUMNS} FROM requests" + (" WHERE status = 'open'" if open_only else "")
    return [_view(r, _pauses(conn, r["id"]), policy, today) for r in conn.execute(sql).fetchall()]


def show_request(s: Session, request_id: str) -> RequestView:
    view = _current(s, request_id)
    s.audit("sar show", view.subject_id, request=view.id)
    return view


def list_requests(s: Session, *, open_only: bool = False, overdue_only: bool = False,
                  due_within: int | None = None) -> list[RequestView]:
    """Open (and paused) requests first, by due date, then closed ones, by due date (ties by id).
    `due_within` days keeps open requests due by today + that many days (overdue ones included);
    `overdue_only` keeps open requests past their due day."""
    today = today_of(s)
    sql = f"SELECT {_COLUMNS} FROM requests"
    if open_only or overdue_only or due_within is not None:
        sql += " WHERE status = 'open'"
    views = [_view(r, _pauses(s.conn, r["id"]), s.policy, today)
             for r in s.conn.execute(sql).fetchall()]
    if overdue_only:
        views = [v for v in views if v.overdue]
    if due_within is not None:
        limit = (today + timedelta(days=due_within)).isoformat()
        views = [v for v in views if v.due <= limit]
    views.sort(key=lambda v: (v.status == "closed", v.due, v.id))
    s.audit("sar list", listed=len(views), overdue=sum(v.overdue for v in views))
    return views


# --- the lifecycle -----------------------------------------------------------------------------


def _day(s: Session, text: str | None, what: str, not_before: date | None = None,
         after_what: str = "the request was received") -> date:
    """A step's date: given (not in the future, not before `not_before`) or today."""
    today = today_of(s)
    day = parse_date(text, what) if text else today
    if day > today:
        raise BadInput(f"{what} {day.isoformat()} is in the future (today is {today.isoformat()})")
    if not_before and day < not_before:
        raise BadInput(f"{what} {day.isoformat()} is before {after_what} ({not_before.isoformat()})")
    return day


def _open_row(s: Session, request_id: str) -> sqlite3.Row:
    row = _row(s.conn, request_id)
    if row["status"] == "closed":
        raise BadInput(f"request {row['id']} was closed on {row['closed_on']}; it cannot change")
    return row


def _reason(text: str, what: str) -> str:
    value = clean_text(text, what, multiline=True)
    if not value:
        raise BadInput(f"{what} is required and cannot be empty")
    return value


def open_request(s: Session, subject_id: str, *, received: str,
                 channel: str = "email") -> RequestView:
    """Record a request received on `received`; returns its view (id and due date)."""
    subject = get_subject(s.conn, subject_id)
    if channel not in REQUEST_CHANNELS:
        raise BadInput(f"unknown channel {channel!r}; use one of: {', '.join(REQUEST_CHANNELS)}")
    day = _day(s, received, "--received")
    request_id = fresh_id(s.conn, "R", "SELECT 1 FROM requests WHERE id = ?1")
    s.conn.execute(
        "INSERT INTO requests (id, subject_id, channel, received_on, status, created_at) "
        "VALUES (?, ?, ?, ?, 'open', ?)",
        (request_id, subject.id, channel, day.isoformat(), s.stamp),
    )
    s.audit("sar open", subject.id, request=request_id, channel=channel)
    return _current(s, request_id)


def _record_start_evidence(s: Session, request_id: str, on: str | None, column: str, what: str,
                           command: str) -> RequestView:
    row = _open_row(s, request_id)
    if row[column]:
        raise BadInput(f"request {row['id']} already has {what} recorded on {row[column]}")
    day = _day(s, on, "--on", date.fromisoformat(row["received_on"]))
    s.conn.execute(f"UPDATE requests SET {column} = ? WHERE id = ?", (day.isoformat(), row["id"]))
    s.audit(command, row["subject_id"], request=row["id"])
    return _current(s, row["id"])


def verify_id(s: Session, request_id: str, *, on: str | None = None) -> RequestView:
    """Record the day the requested proof of identity (or authority) arrived: the clock starts then
    if that is after receipt."""
    return _record_start_evidence(s, request_id, on, "id_verified_on", "identity evidence",
                                  "sar verify-id")


def fee_received(s: Session, request_id: str, *, on: str | None = None) -> RequestView:
    """Record the day a requested fee arrived: the clock starts then if that is the latest."""
    return _record_start_evidence(s, request_id, on, "fee_received_on", "a fee",
                                  "sar fee-received")


def pause(s: Session, request_id: str, *, reason: str, on: str | None = None) -> RequestView:
    """Stop the clock: clarification was asked for on `on`."""
    row = _open_row(s, request_id)
    text = _reason(reason, "--reason")
    pauses = _pauses(s.conn, row["id"])
    waiting = [p for p in pauses if p["resumed_on"] is None]
    if waiting:
        raise BadInput(f"request {row['id']} is already paused since {waiting[0]['paused_on']}; "
                       "resume it first")
    earliest = date.fromisoformat(row["received_on"])
    after = "the request was received"
    if pauses:
        earliest = max(earliest, max(date.fromisoformat(p["resumed_on"]) for p in pauses))
        after = "the end of the previous pause"
    day = _day(s, on, "--on", earliest, after)
    view = _current(s, row["id"], today=day)
    if day > date.fromisoformat(view.due):
        raise Refused(f"request {row['id']} was due on {view.due}; the clock cannot be "
                      "stopped after the deadline has passed")
    cur = s.conn.execute(
        "INSERT INTO request_pauses (request_id, reason, paused_on) VALUES (?, ?, ?)",
        (row["id"], text, day.isoformat()),
    )
    s.audit("sar pause", row["subject_id"], request=row["id"], pause=int(cur.lastrowid or 0))
    return _current(s, row["id"])


def resume(s: Session, request_id: str, *, on: str | None = None) -> RequestView:
    """Restart the clock: the clarification arrived on `on` (that day still counts as paused)."""
    row = _open_row(s, request_id)
    waiting = [p for p in _pauses(s.conn, row["id"]) if p["resumed_on"] is None]
    if not waiting:
        raise BadInput(f"request {row['id']} is not paused")
    paused = waiting[0]
    day = _day(s, on, "--on", date.fromisoformat(paused["paused_on"]), "the pause began")
    s.conn.execute("UPDATE request_pauses SET resumed_on = ? WHERE id = ?",
                   (day.isoformat(), paused["id"]))
    s.audit("sar resume", row["subject_id"], request=row["id"], pause=paused["id"])
    return _current(s, row["id"])


def extend(s: Session, request_id: str, *, reason: str, on: str | None = None) -> RequestView:
    """Extend to three months from the start (complex or numerous requests). Only once, and only
    while the one-month deadline is still running (the subject must be told within it)."""
    row = _open_row(s, request_id)
    if row["extended_on"]:
        raise BadInput(f"request {row['id']} was already extended on {row['extended_on']}; "
                       "a request can be extended once")
    text = _reason(reason, "--reason")
    day = _day(s, on, "--on", date.fromisoformat(row["received_on"]))
    view = _current(s, row["id"], today=day)
    if day > date.fromisoformat(view.one_month_due):
        raise Refused(f"request {row['id']}: its one-month deadline ({view.one_month_due}) has "
                      "passed; an extension must be decided and told to the subject within it")
    s.conn.execute("UPDATE requests SET extended_on = ?, extension_reason = ? WHERE id = ?",
                   (day.isoformat(), text, row["id"]))
    s.audit("sar extend", row["subject_id"], request=row["id"])
    return _current(s, row["id"])


def review(s: Session, request_id: str, *, by: str, outcome: str, note: str,
           on: str | None = None) -> RequestView:
    """Record an appropriate health professional's opinion on serious harm (DPA 2018 Sch. 3
    Part 2) before health data is released."""
    row = _open_row(s, request_id)
    if row["reviewed_on"]:
        raise BadInput(f"request {row['id']} was already reviewed on {row['reviewed_on']}")
    if outcome not in REVIEW_OUTCOMES:
        raise BadInput(f"unknown outcome {outcome!r}; use one of: {', '.join(REVIEW_OUTCOMES)}")
    reviewer = clean_text(by, "--by")
    if not reviewer:
        raise BadInput("--by is required: the health professional who gave the opinion")
    text = _reason(note, "--note")
    day = _day(s, on, "--on", date.fromisoformat(row["received_on"]))
    s.conn.execute(
        "UPDATE requests SET reviewed_on = ?, reviewer = ?, review_outcome = ?, review_note = ? "
        "WHERE id = ?", (day.isoformat(), reviewer, outcome, text, row["id"]),
    )
    s.audit("sar review", row["subject_id"], request=row["id"], outcome=outcome)
    return _current(s, row["id"])


def holds_health_data(s: Session, subject_id: str) -> bool:
    """Whether any of the subject's items is in a special (health) category of the policy."""
    rows = s.conn.execute("SELECT DISTINCT category FROM items WHERE subject_id = ?", (subject_id,))
    return any(s.policy.is_special_category(r[0]) for r in rows)


def close(s: Session, request_id: str, *, on: str | None = None,
          exported: bool = False) -> RequestView:
    """Close a request (answered). Refused while the subject's health data awaits a recorded
    review. `exported` records that the access package is written in the same transaction
    (`rights.package.close_and_export`)."""
    row = _open_row(s, request_id)
    earliest = date.fromisoformat(row["received_on"])
    waiting = [p for p in _pauses(s.conn, row["id"]) if p["resumed_on"] is None]
    after = "the request was received"
    if waiting:
        earliest, after = date.fromisoformat(waiting[0]["paused_on"]), "the pause began"
    day = _day(s, on, "--on", earliest, after)
    if not row["reviewed_on"] and holds_health_data(s, row["subject_id"]):
        raise Refused(
            f"request {row['id']}: the subject's data includes health data; record a health "
            f"professional's review first (pigment sar review {row['id']} --by NAME --outcome "
            "release --note TEXT)"
        )
    s.conn.execute("UPDATE requests SET status = 'closed', closed_on = ? WHERE id = ?",
                   (day.isoformat(), row["id"]))
    s.audit("sar close", row["subject_id"], request=row["id"], exported=exported)
    return _current(s, row["id"])
