"""The register of data protection impact assessments (UK GDPR Art. 35): what high-risk processing
was assessed, its risks and measures, when it is next reviewed, and whether the ICO was consulted
(Art. 36). Free text here may describe people: it is shown by `dpia show` only, never audited."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from pigment_cli.clock import london_today, parse_date
from pigment_cli.errors import BadInput, NotFound
from pigment_cli.policy import Policy
from pigment_cli.records.ids import fresh_id
from pigment_cli.records.validate import clean_text
from pigment_cli.store.session import Session

DUE_WITHIN_DAYS = 30  # `dpia list --due`, `status` and `check`: a review coming up within a month


@dataclass(frozen=True)
class Dpia:
    id: str
    processing: str
    purposes: list[str]
    risk: str
    measures: str
    review_by: str
    ico_consulted_on: str | None
    added_at: str
    updated_at: str
    ended_at: str | None
    days_left: int  # to the review date, from the clinic's today (negative: past due)

    @property
    def active(self) -> bool:
        return self.ended_at is None

    @property
    def past_due(self) -> bool:
        return self.active and self.days_left < 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "active": self.active, "past_due": self.past_due}


_COLUMNS = ("id, processing, purposes, risk, measures, review_by, ico_consulted_on, added_at, "
            "updated_at, ended_at")


def _dpia(row: Any, today: date) -> Dpia:
    return Dpia(row["id"], row["processing"], [p for p in row["purposes"].split(",") if p],
                row["risk"], row["measures"], row["review_by"], row["ico_consulted_on"],
                row["added_at"], row["updated_at"], row["ended_at"],
                (date.fromisoformat(row["review_by"]) - today).days)


def clinic_today(s: Session) -> date:
    """The day it is in the clinic (Europe/London), which review dates are counted from."""
    return london_today(s.now)


def _text(value: str | None, option: str, *, multiline: bool = False) -> str:
    text = clean_text(value, option, multiline=multiline)
    if not text:
        raise BadInput(f"{option} is required and cannot be empty")
    return text


def _purposes(policy: Policy, value: str) -> str:
    """A comma-separated list of the policy's purposes, as stored (each once, in given order)."""
    text = _text(value, "--purposes")
    keys: list[str] = []
    for part in text.split(","):
        key = part.strip()
        if key and key not in keys:
            keys.append(policy.require("purposes", key))
    if not keys:
        raise BadInput("--purposes is required: the policy's purposes this processing serves, "
                       "e.g. security")
    return ",".join(keys)


def _review_by(value: str, today: date) -> str:
    day = parse_date(value, "--review-by")
    if day < today:
        raise BadInput(f"--review-by {day.isoformat()} is already past: give the day of the next "
                       "review")
    return day.isoformat()


def _consulted(value: str, today: date) -> str:
    day = parse_date(value, "--ico-consulted")
    if day > today:
        raise BadInput(f"--ico-consulted {day.isoformat()} is in the future: record the day the "
                       "ICO was consulted once it has been")
    return day.isoformat()


def add_dpia(s: Session, *, processing: str, purposes: str, risk: str, measures: str,
             review_by: str, ico_consulted: str | None = None) -> Dpia:
    """Record a DPIA; its id (D-...) is new."""
    today = clinic_today(s)
    values = (
        _text(processing, "--processing"),
        _purposes(s.policy, purposes),
        _text(risk, "--risk", multiline=True),
        _text(measures, "--measures", multiline=True),
        _review_by(review_by, today),
        _consulted(ico_consulted, today) if ico_consulted is not None else None,
    )
    dpia_id = fresh_id(s.conn, "D", "SELECT 1 FROM dpias WHERE id = ?1")
    s.conn.execute(
        "INSERT INTO dpias (id, processing, purposes, risk, measures, review_by, ico_consulted_on, "
        "added_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (dpia_id, *values, s.stamp, s.stamp))
    s.audit("dpia add", None, dpia=dpia_id, review_by=values[4],
            ico_consulted=values[5] is not None)
    return get_dpia(s.conn, dpia_id, today)


def get_dpia(conn: sqlite3.Connection, dpia_id: str, today: date) -> Dpia:
    key = dpia_id.strip().upper()
    row = conn.execute(f"SELECT {_COLUMNS} FROM dpias WHERE id = ?", (key,)).fetchone()
    if row is None:
        raise NotFound(f"no DPIA {key[:12]} (see: pigment dpia list --all)")
    return _dpia(row, today)


def show_dpia(s: Session, dpia_id: str) -> Dpia:
    """One DPIA with its free text (the manager's view: the reading is audited, by id)."""
    dpia = get_dpia(s.conn, dpia_id, clinic_today(s))
    s.audit("dpia show", None, dpia=dpia.id)
    return dpia


def update_dpia(s: Session, dpia_id: str, *, processing: str | None = None,
                purposes: str | None = None, risk: str | None = None, measures: str | None = None,
                review_by: str | None = None, ico_consulted: str | None = None) -> Dpia:
    """Change what is given (at least one field) of a DPIA still in use."""
    today = clinic_today(s)
    dpia = get_dpia(s.conn, dpia_id, today)
    if not dpia.active:
        raise BadInput(f"DPIA {dpia.id} was ended on {dpia.ended_at[:10] if dpia.ended_at else ''}"
                       ": record a new one (pigment dpia add)")
    changes: dict[str, str] = {}
    if processing is not None:
        changes["processing"] = _text(processing, "--processing")
    if purposes is not None:
        changes["purposes"] = _purposes(s.policy, purposes)
    if risk is not None:
        changes["risk"] = _text(risk, "--risk", multiline=True)
    if measures is not None:
        changes["measures"] = _text(measures, "--measures", multiline=True)
    if review_by is not None:
        changes["review_by"] = _review_by(review_by, today)
    if ico_consulted is not None:
        changes["ico_consulted_on"] = _consulted(ico_consulted, today)
    if not changes:
        raise BadInput("nothing to change: give at least one of --processing, --purposes, --risk, "
                       "--measures, --review-by, --ico-consulted")
    sets = ", ".join(f"{column} = :{column}" for column in changes)
    s.conn.execute(f"UPDATE dpias SET {sets}, updated_at = :stamp WHERE id = :id",
                   {**changes, "stamp": s.stamp, "id": dpia.id})
    s.audit("dpia update", None, dpia=dpia.id, fields=sorted(changes),
            review_by=changes.get("review_by"))
    return get_dpia(s.conn, dpia.id, today)


def end_dpia(s: Session, dpia_id: str) -> Dpia:
    """The processing it assessed has stopped: the DPIA is kept, marked ended, and no longer due."""
    today = clinic_today(s)
    dpia = get_dpia(s.conn, dpia_id, today)
    if not dpia.active:
        raise BadInput(f"DPIA {dpia.id} was already ended on "
                       f"{dpia.ended_at[:10] if dpia.ended_at else ''}")
    s.conn.execute("UPDATE dpias SET ended_at = ?, updated_at = ? WHERE id = ?",
                   (s.stamp, s.stamp, dpia.id))
    s.audit("dpia end", None, dpia=dpia.id)
    return get_dpia(s.conn, dpia.id, today)


def list_dpias(conn: sqlite3.Connection, today: date, *, include_ended: bool = False,
               due_only: bool = False, within_days: int = DUE_WITHIN_DAYS) -> list[Dpia]:
    """DPIAs by review date: those in use (`include_ended`: all); `due_only`: in use and to be
    reviewed within `within_days` of `today`, or past their review date."""
    sql = f"SELECT {_COLUMNS} FROM dpias"
    where = []
    if not include_ended or due_only:
        where.append("ended_at IS NULL")
    if due_only:
        where.append("review_by <= :last")
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = conn.execute(sql + " ORDER BY review_by, id",
                        {"last": (today + timedelta(days=within_days)).isoformat()}).fetchall()
    return [_dpia(row, today) for row in rows]


def dpias_due(conn: sqlite3.Connection, today: date,
              within_days: int = DUE_WITHIN_DAYS) -> list[dict[str, Any]]:
    """For the status screen and the health check: the DPIAs in use due for review within
    `within_days` or past it, as ids and dates only (no free text: reports never show it)."""
    return [{"id": d.id, "review_by": d.review_by, "days_left": d.days_left,
             "past_due": d.past_due}
            for d in list_dpias(conn, today, due_only=True, within_days=within_days)]


def dpias_for_ropa(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The DPIAs in use as the record of processing references them: id, the processing assessed,
    its purposes, the next review and the ICO's prior consultation (never the risks or measures)."""
    rows = conn.execute("SELECT id, processing, purposes, review_by, ico_consulted_on FROM dpias "
                        "WHERE ended_at IS NULL ORDER BY processing, id").fetchall()
    return [{"id": r["id"], "processing": r["processing"],
             "purposes": [p for p in r["purposes"].split(",") if p], "review_by": r["review_by"],
             "ico_consulted_on": r["ico_consulted_on"]} for r in rows]
