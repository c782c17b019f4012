"""The register of requests: every right a person can exercise (access, rectification, erasure,
restriction, portability, objection: UK GDPR Art. 12(3), 15-21) and complaints to the clinic
(Data (Use and Access) Act 2025 s.103), each with its clock, its lifecycle and how it was closed.

- Rights requests share one clock: one month from the latest of receipt, proof of identity and a
  requested fee, pauses added, extendable once by two months (`pigment_cli.clock.sar_due_date`).
- A complaint must be acknowledged within the 30 days beginning with the day it is received (DPA
  2018 s.164A(3), inserted by DUAA 2025 s.103); then the clinic replies without
  undue delay (no statutory date: the policy's `requests.complaint_reply_days` after receipt,
  56 by default and never before the acknowledgement is due, is the clinic's own target, shown
  as the due date once acknowledged). A late acknowledgement stays on record (`ack_late`).
- A request is closed with an outcome. Closing one as done (or partly done) needs the action
  that answers it recorded first (`records.answers`: `erase --request`, `item correct --request`,
  `sar export --request`, ...).
- A request from someone the clinic holds nothing on has no subject: the person's name and email
  are kept with it. Closed requests of people no longer (or never) in the store are removed
  `requests.keep_closed` (default 2 years) after closing by the retention sweep.

`sar ...` is the access kind's short form. Audit entries carry request ids, kinds and counts only,
never reasons, notes, names or reviewer names.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Any

from pigment_cli.clock import (
    is_working_day,
    london_today,
    parse_date,
    sar_due_date,
    sar_raw_end,
)
from pigment_cli.errors import BadInput, NeedsConfirmation, NotFound, Refused
from pigment_cli.policy import Policy
from pigment_cli.records.answers import ACTION_KINDS, actions_of
from pigment_cli.records.ids import fresh_id
from pigment_cli.records.notices import notices_of
from pigment_cli.records.subjects import duplicate_matches, get_subject
from pigment_cli.records.validate import EMAIL, clean_text
from pigment_cli.store.session import Session

KINDS = ("access", "rectification", "erasure", "restriction", "portability", "objection",
         "complaint")
# What each kind is, in the words a person would use (letters, listings).
KIND_WORDS = {
    "access": "a copy of your personal data (subject access)",
    "rectification": "correction of your personal data",
    "erasure": "erasure of your personal data",
    "restriction": "restriction of the use of your personal data",
    "portability": "your personal data in a portable format",
    "objection": "objection to a use of your personal data",
    "complaint": "complaint about how we handle your personal data",
}
RIGHTS_OUTCOMES = ("done", "partly-done", "refused", "withdrawn")
COMPLAINT_OUTCOMES = ("upheld", "partly-upheld", "not-upheld", "withdrawn")
NOTHING_HELD = "nothing-held"  # the outcome for a person the clinic holds nothing on
# DPA 2018 s.164A(3) (inserted by DUAA 2025 s.103): acknowledge "within the period of 30 days
# beginning when the complaint is received": the day of receipt is the first of the 30.
COMPLAINT_ACK_DAYS = 30
DEFAULT_COMPLAINT_REPLY_DAYS = 56  # after receipt: the clinic's own target, not the law's
DEFAULT_KEEP_CLOSED = "2y"
CONTACT_KEEP_DAYS = 30  # an erased requester's contact details, kept after closing for the reply
WARN_WORKING_DAYS = 3  # opening a request due within this many working days warns
REQUEST_CHANNELS = ("email", "letter", "phone", "in_clinic", "web_form")
REVIEW_OUTCOMES = ("release", "withhold-part")
DEFAULT_TARGET_DAYS = 28
# An extended request's internal target: this many days before its (extended) due date.
EXTENDED_TARGET_MARGIN_DAYS = 3
_REQUEST_ID = re.compile(r"^R-[0-9A-Z]{5}$")
_COLUMNS = (
    "id, subject_id, channel, received_on, id_verified_on, fee_received_on, status, extended_on, "
    "extension_reason, reviewed_on, reviewer, review_outcome, review_note, closed_on, created_at, "
    "kind, purpose, note, acknowledged_on, outcome, outcome_reason, person_name, person_email"
)


# --- the clock ---------------------------------------------------------------------------------


def deadline(policy: Policy, start: date, *, extended: bool = False) -> date:
    """The due date of a request whose clock starts on `start` (what `sar deadline` prints)."""
    country, subdivision = policy.holiday_region()
    return sar_due_date(start, extended=extended, country=country, subdivision=subdivision)


def answering_actions(kind: str) -> tuple[str, ...]:
    """The actions that let a request of `kind` be closed as done (none for complaints). Lifting
    a restriction is recorded on a restriction request but never answers it."""
    return tuple(action for action, kinds in ACTION_KINDS.items()
                 if kind in kinds and action != "unrestrict")


def parse_within(text: str) -> int:
    """`7d`, `2w` or `7` -> a number of days (for `request list --due-within`)."""
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
    """A request as every command shows it: its dates, due date, days left, pauses, review.
    `actions` and `notices` (Art. 19 recipients, told or still to tell) are filled only by
    `get_request` and `show_request`; listings leave them empty."""

    id: str
    kind: str
    subject_id: str | None
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
    purpose: str | None = None
    note: str | None = None
    acknowledged_on: str | None = None
    ack_due: str | None = None  # complaints only
    ack_late: bool = False  # acknowledged (or still not) after ack_due
    outcome: str | None = None
    outcome_reason: str | None = None
    person_name: str | None = None  # someone not (or no longer) in the store
    person_email: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)

    @property
    def to_be_told(self) -> list[dict[str, Any]]:
        """Art. 19 notices not yet given."""
        return [n for n in self.notices if not n["notified_on"]]

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["pauses"] = [p.to_dict() for p in self.pauses]
        out["review"] = self.review.to_dict() if self.review else None
        out["to_be_told"] = self.to_be_told
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
    one_month = sar_due_date(start, paused_days=paused, country=country, subdivision=subdivision)
    ack_due = None
    if row["kind"] == "complaint":
        # 30 days to acknowledge, the day of receipt the first (no rolling: the Act counts
        # days), then the clinic's own target for the reply.
        ack_due = received + timedelta(days=COMPLAINT_ACK_DAYS - 1)
        if row["acknowledged_on"]:
            # The reply is owed "without undue delay" from receipt: a late acknowledgement never
            # moves the clinic's target for it.
            reply_days = policy.request_setting("complaint_reply_days",
                                                DEFAULT_COMPLAINT_REPLY_DAYS)
            due = max(received + timedelta(days=int(reply_days)), ack_due)
        else:
            due = ack_due
        target = due
    else:
        due = sar_due_date(start, extended=extended, paused_days=paused, country=country,
                           subdivision=subdivision)
        target_days = policy.internal_target_days(DEFAULT_TARGET_DAYS)
        if extended:
            target = due - timedelta(days=EXTENDED_TARGET_MARGIN_DAYS)
        else:
            target = min(start + timedelta(days=target_days + paused), due)
    waiting = any(p["resumed_on"] is None for p in pauses)
    status = "closed" if closed else ("paused" if waiting else "open")
    review = None
    if row["reviewed_on"]:
        review = Review(row["reviewed_on"], row["reviewer"], row["review_outcome"],
                        row["review_note"])
    return RequestView(
        id=row["id"],
        kind=row["kind"],
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
        purpose=row["purpose"],
        note=row["note"],
        acknowledged_on=row["acknowledged_on"],
        ack_due=ack_due.isoformat() if ack_due else None,
        ack_late=ack_due is not None and (
            (row["acknowledged_on"] or (row["closed_on"] if closed else today.isoformat()))
            > ack_due.isoformat()),
        outcome=row["outcome"],
        outcome_reason=row["outcome_reason"],
        person_name=row["person_name"],
        person_email=row["person_email"],
    )


def due_soon(policy: Policy, view: RequestView, today: date) -> str | None:
    """A warning when a request is already overdue, or due within three working days (said on
    stderr when it is opened, so a late-logged letter is not discovered the morning after)."""
    due = date.fromisoformat(view.due)
    if today > due:
        return f"{view.id} is already overdue: it was due on {view.due}"
    country, subdivision = policy.holiday_region()
    working, day = 0, today
    while day < due:
        day += timedelta(days=1)
        working += is_working_day(day, country, subdivision)
    if working <= WARN_WORKING_DAYS:
        return f"{view.id} is due on {view.due}, within {working} working day(s)"
    return None


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
        raise NotFound(f"no request {shown} (ids look like R-7K3Q9; see: pigment request list)")
    return row


def _command(kind: str, verb: str) -> str:
    """The audit trail's name for a step: `sar open` for the access kind, `request open` else."""
    return f"{'sar' if kind == 'access' else 'request'} {verb}"


def _journal_step(s: Session, row: sqlite3.Row, step: str, on: date, **extra: Any) -> None:
    """Journal a step for a restore to redo: its date and outcome, and the names (never the words)
    of the texts it recorded, which a restore lists for a person to re-enter."""
    s.journal("request_step", request_id=row["id"], subject_id=row["subject_id"],
              kind=row["kind"], step=step, on=on.isoformat(), **extra)


def london_day(stamp: str) -> date:
    """The clinic's day of a stored UTC timestamp."""
    return london_today(datetime.fromisoformat(stamp))


def today_of(s: Session) -> date:
    """The clinic's day for this session (deadlines end at midnight, Europe/London)."""
    return london_today(s.now)


def _current(s: Session, request_id: str, today: date | None = None) -> RequestView:
    row = _row(s.conn, request_id)
    return _view(row, _pauses(s.conn, row["id"]), s.policy, today or today_of(s))


def get_request(s: Session, request_id: str) -> RequestView:
    """A request with its actions and Art. 19 notices (unaudited: callers audit)."""
    view = _current(s, request_id)
    return replace(view, actions=actions_of(s.conn, view.id),
                   notices=[n.to_dict() for n in notices_of(s.conn, request_id=view.id)])


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
    rows = conn.execute("SELECT DISTINCT subject_id FROM requests WHERE status = 'open' "
                        "AND subject_id IS NOT NULL")
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
    view = get_request(s, request_id)
    s.audit(_command(view.kind, "show"), view.subject_id, request=view.id)
    return view


def check_kind(kind: str | None) -> str | None:
    if kind is not None and kind not in KINDS:
        raise BadInput(f"unknown kind {kind!r}; use one of: {', '.join(KINDS)}")
    return kind


def list_requests(s: Session, *, kind: str | None = None, open_only: bool = False,
                  overdue_only: bool = False, due_within: int | None = None) -> list[RequestView]:
    """Open (and paused) requests first, by due date, then closed ones, by due date (ties by id).
    `kind` keeps one kind; `due_within` days keeps open requests due by today + that many days
    (overdue ones included); `overdue_only` keeps open requests past their due day."""
    today = today_of(s)
    check_kind(kind)
    where, args = [], []
    if kind:
        where.append("kind = ?")
        args.append(kind)
    if open_only or overdue_only or due_within is not None:
        where.append("status = 'open'")
    sql = f"SELECT {_COLUMNS} FROM requests" + (f" WHERE {' AND '.join(where)}" if where else "")
    views = [_view(r, _pauses(s.conn, r["id"]), s.policy, today)
             for r in s.conn.execute(sql, args).fetchall()]
    if overdue_only:
        views = [v for v in views if v.overdue]
    if due_within is not None:
        limit = (today + timedelta(days=due_within)).isoformat()
        views = [v for v in views if v.due <= limit]
    views.sort(key=lambda v: (v.status == "closed", v.due, v.id))
    s.audit("sar list" if kind == "access" else "request list", listed=len(views),
            overdue=sum(v.overdue for v in views))
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


def _open_row(s: Session, request_id: str, step: str | None = None,
              kinds: tuple[str, ...] | None = None) -> sqlite3.Row:
    """The row of a request still open; with `kinds`, one of those kinds (else exit 2 naming
    `step`)."""
    row = _row(s.conn, request_id)
    if row["status"] == "closed":
        raise BadInput(f"request {row['id']} was closed on {row['closed_on']}; it cannot change")
    if kinds is not None and row["kind"] not in kinds:
        article = "an" if row["kind"][0] in "aeiou" else "a"
        raise BadInput(f"request {row['id']} is {article} {row['kind']} request: {step} applies to "
                       f"{', '.join(kinds)} requests only")
    return row


_CLOCKED = tuple(k for k in KINDS if k != "complaint")  # the one-month clock's kinds


def _reason(text: str, what: str) -> str:
    value = clean_text(text, what, multiline=True)
    if not value:
        raise BadInput(f"{what} is required and cannot be empty")
    return value


def held_like(conn: sqlite3.Connection, name: str | None, email: str | None) -> list[str]:
    """Subjects who may be the person behind a request "from someone not in the store": the same
    name (case and spacing ignored) or the same email. Before telling anyone the clinic holds
    nothing on them (an Art. 15 confirmation), a human must check these."""
    found = {m.subject_id for m in duplicate_matches(conn, None, None, email)}
    key = loose_name_key(name)
    if key:
        conn.create_function("pigment_loose_name", 1, loose_name_key, deterministic=True)
        found |= {r[0] for r in conn.execute(  # one pass: a rare command, ~0.1 s per 100,000
            "SELECT id FROM subjects WHERE pigment_loose_name(name) = ?", (key,))}
    return sorted(found)


_TITLES = frozenset(("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev", "lady",
                     "lord"))


def loose_name_key(name: str | None) -> str | None:
    """A name as "is this person perhaps already held?" compares it: accents, letter widths and
    case ignored, titles dropped, words in any order ("Dr Amára OKAFOR" and "Okafor Amara" are
    one key)."""
    if not name:
        return None
    plain = "".join(c for c in unicodedata.normalize("NFKD", name)
                    if not unicodedata.combining(c)).casefold()
    words = sorted(w for w in re.split(r"[\W_]+", plain) if w and w not in _TITLES)
    return " ".join(words) or None


def _refuse_held_like(conn: sqlite3.Connection, name: str | None, email: str | None,
                      doing: str) -> None:
    like = held_like(conn, name, email)
    if like:
        ids = ", ".join(like[:5]) + (f" and {len(like) - 5} more" if len(like) > 5 else "")
        said = f"{ids} {'has' if len(like) == 1 else 'have'} the same name or email"
        raise NeedsConfirmation(
            f"{said}: check (pigment subject show ID) before {doing}; nothing was changed "
            "(give --yes if it is someone else)", f"{said}; {doing} anyway?")


def open_request(s: Session, subject_id: str | None, *, received: str, channel: str = "email",
                 kind: str = "access", purpose: str | None = None, note: str | None = None,
                 person_name: str | None = None, person_email: str | None = None,
                 duplicate_ok: bool = False) -> RequestView:
    """Record a request received on `received`; returns its view (id and due date). Without a
    subject (`subject_id` None) it is the request of someone the clinic holds nothing on: their
    name (and email, if given) are kept with it; if a subject has the same name or email it is
    refused (NeedsConfirmation) unless `duplicate_ok`."""
    check_kind(kind)
    if channel not in REQUEST_CHANNELS:
        raise BadInput(f"unknown channel {channel!r}; use one of: {', '.join(REQUEST_CHANNELS)}")
    name = email = None
    if subject_id is None:
        name = clean_text(person_name, "--name")
        if not name:
            raise BadInput("--name is required for a request from someone not in the store")
        email = clean_text(person_email, "--email") or None
        if email and not EMAIL.match(email):
            raise BadInput("--email is not an email address")
        if not duplicate_ok:
            _refuse_held_like(s.conn, name, email, "recording it as someone not in the store")
    elif person_name is not None or person_email is not None:
        raise BadInput("--name and --email are only for a request from someone not in the store "
                       "(--unknown); the subject's own details are in their record")
    else:
        subject_id = get_subject(s.conn, subject_id).id
    if purpose is not None:
        if kind not in ("restriction", "objection"):
            raise BadInput("--purpose applies to restriction and objection requests only")
        s.policy.require("purposes", purpose)
    text = clean_text(note, "--note", multiline=True) or None
    day = _day(s, received, "--received")
    request_id = fresh_id(s.conn, "R", "SELECT 1 FROM requests WHERE id = ?1")
    s.conn.execute(
        "INSERT INTO requests (id, subject_id, channel, received_on, status, created_at, kind, "
        "purpose, note, person_name, person_email) "
        "VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)",
        (request_id, subject_id, channel, day.isoformat(), s.stamp, kind, purpose, text, name,
         email),
    )
    s.audit(_command(kind, "open"), subject_id, request=request_id, kind=kind, channel=channel,
            unknown_person=subject_id is None)
    s.journal("request", request_id=request_id, subject_id=subject_id, kind=kind,
              channel=channel, received_on=day.isoformat(), purpose=purpose,
              created_at=s.stamp, texts=["note"] if text else [])  # never the name or email
    return _current(s, request_id)


def _record_start_evidence(s: Session, request_id: str, on: str | None, column: str, what: str,
                           step: str) -> RequestView:
    row = _open_row(s, request_id, step, _CLOCKED)
    if row[column]:
        raise BadInput(f"request {row['id']} already has {what} recorded on {row[column]}")
    day = _day(s, on, "--on", date.fromisoformat(row["received_on"]))
    s.conn.execute(f"UPDATE requests SET {column} = ? WHERE id = ?", (day.isoformat(), row["id"]))
    s.audit(_command(row["kind"], step), row["subject_id"], request=row["id"])
    _journal_step(s, row, step, day)
    return _current(s, row["id"])


def verify_id(s: Session, request_id: str, *, on: str | None = None) -> RequestView:
    """Record the day the requested proof of identity (or authority) arrived: the clock starts then
    if that is after receipt."""
    return _record_start_evidence(s, request_id, on, "id_verified_on", "identity evidence",
                                  "verify-id")


def fee_received(s: Session, request_id: str, *, on: str | None = None) -> RequestView:
    """Record the day a requested fee arrived: the clock starts then if that is the latest."""
    return _record_start_evidence(s, request_id, on, "fee_received_on", "a fee", "fee-received")


def acknowledge(s: Session, request_id: str, *, on: str | None = None) -> RequestView:
    """Record the day the request was acknowledged (a complaint must be within 30 days)."""
    row = _open_row(s, request_id)
    if row["acknowledged_on"]:
        raise BadInput(f"request {row['id']} was already acknowledged on {row['acknowledged_on']}")
    day = _day(s, on, "--on", date.fromisoformat(row["received_on"]))
    s.conn.execute("UPDATE requests SET acknowledged_on = ? WHERE id = ?",
                   (day.isoformat(), row["id"]))
    s.audit(_command(row["kind"], "acknowledge"), row["subject_id"], request=row["id"])
    _journal_step(s, row, "acknowledge", day)
    return _current(s, row["id"])


def pause(s: Session, request_id: str, *, reason: str, on: str | None = None) -> RequestView:
    """Stop the clock: clarification was asked for on `on`."""
    row = _open_row(s, request_id, "pause (stopping the clock for clarification)", ("access",))
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
    s.audit(_command(row["kind"], "pause"), row["subject_id"], request=row["id"], pause=int(cur.lastrowid or 0))
    _journal_step(s, row, "pause", day, texts=["pause reason"])
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
    s.audit(_command(row["kind"], "resume"), row["subject_id"], request=row["id"], pause=paused["id"])
    _journal_step(s, row, "resume", day, paused_on=paused["paused_on"])
    return _current(s, row["id"])


def extend(s: Session, request_id: str, *, reason: str, on: str | None = None) -> RequestView:
    """Extend to three months from the start (complex or numerous requests). Only once, and only
    while the one-month deadline is still running (the subject must be told within it)."""
    row = _open_row(s, request_id, "extend", _CLOCKED)
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
    s.audit(_command(row["kind"], "extend"), row["subject_id"], request=row["id"])
    _journal_step(s, row, "extend", day, texts=["extension reason"])
    return _current(s, row["id"])


def review(s: Session, request_id: str, *, by: str, outcome: str, note: str,
           on: str | None = None) -> RequestView:
    """Record an appropriate health professional's opinion on serious harm (DPA 2018 Sch. 3
    Part 2) before health data is released."""
    row = _open_row(s, request_id, "a health professional's review", ("access", "portability"))
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
    s.audit(_command(row["kind"], "review"), row["subject_id"], request=row["id"], outcome=outcome)
    _journal_step(s, row, "review", day, outcome=outcome, texts=["reviewer", "review note"])
    return _current(s, row["id"])


def holds_health_data(s: Session, subject_id: str | None) -> bool:
    """Whether any of the subject's items is in a special (health) category of the policy."""
    if subject_id is None:
        return False
    rows = s.conn.execute("SELECT DISTINCT category FROM items WHERE subject_id = ?", (subject_id,))
    return any(s.policy.is_special_category(r[0]) for r in rows)


def outcomes_for(kind: str, unknown_person: bool) -> tuple[str, ...]:
    """The outcomes a request of `kind` may be closed with."""
    if kind == "complaint":
        return COMPLAINT_OUTCOMES
    if unknown_person:
        return (NOTHING_HELD, "refused", "withdrawn")
    return RIGHTS_OUTCOMES


def close(s: Session, request_id: str, *, on: str | None = None, outcome: str | None = None,
          reason: str | None = None, exported: bool = False,
          duplicate_ok: bool = False) -> RequestView:
    """Close a request with its outcome (default: done; a complaint's must be given).

    - done / partly-done need the action that answers the request recorded first (for access
      and portability: the package written, `exported` when it is written in this transaction);
      refused needs the reasons (they go in the refusal letter, Art. 12(4)).
    - A request releasing health data needs a health professional's review recorded first.
    - A complaint must have been acknowledged, unless it is closed within its 30 days.
    - Never closed before the day of the last action that answers it, or its acknowledgement.
    - An erasure that kept data (Art. 17(3)) is partly done, not done.
    - A person the clinic holds nothing on: `nothing-held` (the default for them)."""
    row = _open_row(s, request_id)
    kind, unknown = row["kind"], row["subject_id"] is None
    if outcome is None:
        if kind == "complaint":
            raise BadInput(f"request {row['id']} is a complaint: give --outcome "
                           f"({', '.join(COMPLAINT_OUTCOMES)})")
        outcome = NOTHING_HELD if unknown else "done"
    allowed = outcomes_for(kind, unknown)
    if outcome not in allowed:
        raise BadInput(f"unknown outcome {outcome!r} for a {kind} request"
                       f"{' from someone not in the store' if unknown else ''}; use one of: "
                       f"{', '.join(allowed)}")
    if outcome == NOTHING_HELD and not duplicate_ok:  # a subject may have been added since
        _refuse_held_like(s.conn, row["person_name"], row["person_email"],
                          "answering that nothing is held")
    text = clean_text(reason, "--reason", multiline=True) or None
    if outcome in ("refused", "not-upheld", "partly-upheld", "partly-done") and not text:
        raise BadInput(f"--reason is required to close a request as {outcome}: it goes in the "
                       "letter to the person")
    earliest = date.fromisoformat(row["received_on"])
    waiting = [p for p in _pauses(s.conn, row["id"]) if p["resumed_on"] is None]
    after = "the request was received"
    if waiting:
        earliest, after = date.fromisoformat(waiting[0]["paused_on"]), "the pause began"
    if row["acknowledged_on"] and date.fromisoformat(row["acknowledged_on"]) > earliest:
        earliest, after = date.fromisoformat(row["acknowledged_on"]), "it was acknowledged"
    actions = actions_of(s.conn, row["id"])
    if actions:  # a request is never closed before the work that answers it
        last = max(london_day(a["at"]) for a in actions)
        if last > earliest:
            earliest, after = last, f"its last action ({actions[-1]['action']})"
    day = _day(s, on, "--on", earliest, after)
    if kind == "complaint" and not row["acknowledged_on"]:
        ack_due = _current(s, row["id"]).ack_due or ""
        if day.isoformat() > ack_due:  # an outcome within the 30 days acknowledges it too
            raise Refused(f"request {row['id']}: a complaint not answered within its 30 days "
                          f"must be acknowledged before it is closed (pigment request "
                          f"acknowledge {row['id']} --on DATE)")
    releases = kind in ("access", "portability") and outcome in ("done", "partly-done")
    if releases and not row["reviewed_on"] and holds_health_data(s, row["subject_id"]):
        raise Refused(
            f"request {row['id']}: the subject's data includes health data; record a health "
            f"professional's review first (pigment sar review {row['id']} --by NAME --outcome "
            "release --note TEXT)"
        )
    if outcome in ("done", "partly-done"):
        needed = answering_actions(kind)
        done = {a["action"] for a in actions}
        if exported:
            done.add("export")
        if not done & set(needed):
            raise Refused(f"request {row['id']}: nothing answering this {kind} request is "
                          f"recorded yet ({_how_to_answer(kind, row['id'])}); close it as "
                          "refused or withdrawn otherwise")
    erasures = [a["detail"] for a in actions if a["action"] == "erase"]
    if kind == "erasure" and outcome == "done" and erasures and not any(
            d.get("whole_subject") for d in erasures):
        kept = sum(int(d.get("kept_items") or 0) for d in erasures)
        why = (f"kept {kept} item(s) a legal duty keeps (UK GDPR Art. 17(3))" if kept else
               "kept the subject's record (a hold or another open request stands)")
        raise Refused(f"request {row['id']}: the erasure {why}; close it as partly-done with "
                      "--reason saying what was kept and why (the letter must tell the person, "
                      "Art. 12(4)), or erase again once nothing holds it")
    s.conn.execute("UPDATE requests SET status = 'closed', closed_on = ?, outcome = ?, "
                   "outcome_reason = ? WHERE id = ?", (day.isoformat(), outcome, text, row["id"]))
    s.audit(_command(kind, "close"), row["subject_id"], request=row["id"], outcome=outcome,
            exported=exported)
    _journal_step(s, row, "close", day, outcome=outcome, texts=["outcome reason"] if text else [])
    return _current(s, row["id"])


def _how_to_answer(kind: str, request_id: str) -> str:
    return {
        "access": f"write the package: pigment sar close {request_id} --export DIR",
        "portability": f"pigment sar export SUBJECT --request {request_id} --out DIR",
        "erasure": f"pigment erase SUBJECT --request {request_id} --apply",
        "rectification": f"pigment item correct ITEM --request {request_id} ..., or subject "
                         "update / item remove / disclosure void with --request",
        "restriction": f"pigment restrict SUBJECT --request {request_id}",
        "objection": f"pigment object SUBJECT --purpose P --request {request_id}",
    }.get(kind, "")


def sweep_closed(conn: sqlite3.Connection, policy: Policy, today: date, *, stamp: str,
                 actor: str, apply: bool) -> int:
    """The closed requests of people no longer (or never) in the store whose
    `requests.keep_closed` (after closing) has passed: removed with `apply` (with their actions
    and pauses), and the Art. 19 notices of erased subjects no longer tied to a kept request
    whose recipient was told (`notified_on`) longer ago than that; a notice not yet given is
    never removed. Returns how many requests are (or were) due. Requests of a subject still held stay
    with the subject's record. Call inside a transaction."""
    from pigment_cli.policy.rules import after

    keep = str(policy.request_setting("keep_closed", DEFAULT_KEEP_CLOSED))
    rows = conn.execute(
        "SELECT id, closed_on FROM requests WHERE status = 'closed' AND "
        "(subject_id IS NULL OR subject_id NOT IN (SELECT id FROM subjects))").fetchall()
    gone = [r[0] for r in rows if after(date.fromisoformat(r[1]), keep) <= today]
    if not apply:
        return len(gone)
    conn.executemany("DELETE FROM requests WHERE id = ?", [(g,) for g in gone])
    # An erased subject's name and email were kept on their open requests only to address the
    # reply: a month after closing, the request's id (and the tombstone) is record enough.
    cutoff = (today - timedelta(days=CONTACT_KEEP_DAYS)).isoformat()
    conn.execute(
        "UPDATE requests SET person_name = NULL, person_email = NULL WHERE status = 'closed' "
        "AND closed_on <= ? AND subject_id IS NOT NULL AND person_name IS NOT NULL "
        "AND subject_id NOT IN (SELECT id FROM subjects)", (cutoff,))
    # Art. 19: a notice stays until its recipient has been told, then as long as a request.
    notices = conn.execute(
        "SELECT id, notified_on FROM recipient_notices WHERE notified_on IS NOT NULL AND "
        "subject_id NOT IN (SELECT id FROM subjects) AND (request_id IS NULL OR request_id NOT "
        "IN (SELECT id FROM requests))").fetchall()
    old = [r[0] for r in notices if after(date.fromisoformat(r[1][:10]), keep) <= today]
    conn.executemany("DELETE FROM recipient_notices WHERE id = ?", [(n,) for n in old])
    if gone or old:
        from pigment_cli.store import audit

        audit.record(conn, at=stamp, actor=actor, command="retention sweep: requests",
                     requests=len(gone), notices=len(old))
    return len(gone)
