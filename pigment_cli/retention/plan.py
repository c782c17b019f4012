"""The retention plan: what a sweep on a given day would erase (whole subjects, single items under a
category rule), what it would keep and why, and a 12-month forecast. Reads only.

Holds and open requests keep a subject's data, whatever the rules say (`records.holds`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta

from pigment_cli.clock import day_of
from pigment_cli.policy import Policy
from pigment_cli.policy.rules import SLACK, after, subject_due, subject_rule
from pigment_cli.records.consents import WITHDRAWN as WITHDRAWN_STATE
from pigment_cli.records.consents import events_of, state_from
from pigment_cli.records.erasure import ItemRef
from pigment_cli.records.holds import active_holds


@dataclass(frozen=True)
class DueSubject:
    """A subject whose whole record falls due under the default (or minors) rule."""

    subject_id: str
    due: str
    last_processed_at: str
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"subject_id": self.subject_id, "due": self.due,
                "last_processed_at": self.last_processed_at, "rule": self.rule}


@dataclass(frozen=True)
class DueItem(ItemRef):
    """A single item that falls due under its category's own rule."""

    due: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "subject_id": self.subject_id, "category": self.category,
                "due": self.due, "rule": self.rule}


@dataclass(frozen=True)
class Held:
    """Something due that a hold or an open request keeps, with the reasons."""

    entry: DueSubject | DueItem
    reasons: list[str]

    @property
    def subject_id(self) -> str:
        return self.entry.subject_id

    @property
    def due(self) -> str:
        return self.entry.due

    @property
    def rule(self) -> str:
        return self.entry.rule

    def to_dict(self) -> dict[str, Any]:
        return {**self.entry.to_dict(), "reasons": self.reasons}


@dataclass(frozen=True)
class ForecastMonth:
    month: str  # YYYY-MM
    subjects: int
    items: int

    def to_dict(self) -> dict[str, Any]:
        return {"month": self.month, "subjects": self.subjects, "items": self.items}


@dataclass
class Plan:
    as_of: date
    subjects: list[DueSubject] = field(default_factory=list)  # whole subjects due now
    items: list[DueItem] = field(default_factory=list)  # single items due now
    held: list[Held] = field(default_factory=list)  # due, but kept, with reasons
    forecast: list[ForecastMonth] = field(default_factory=list)  # next 12 months, by month

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "subjects_due": len(self.subjects),
            "items_due": len(self.items),
            "held": len(self.held),
            "subjects": [e.to_dict() for e in self.subjects],
            "items": [e.to_dict() for e in self.items],
            "held_subjects": [h.to_dict() for h in self.held],
            "forecast": [m.to_dict() for m in self.forecast],
        }


def _slack_cutoff(as_of: date, rule: relativedelta) -> str:
    """A text bound for an index range scan: every day whose due date is <= as_of lies below it
    (SLACK days for month-end clamping: 29-31 January + 13 months are all 28 February; the exact
    test is done in Python)."""
    return (as_of - rule + SLACK).isoformat()


def due_subjects(conn: sqlite3.Connection, policy: Policy, as_of: date) -> list[DueSubject]:
    rows = conn.execute(
        "SELECT id, dob, last_processed_at FROM subjects WHERE last_processed_at < ? "
        "ORDER BY last_processed_at, id",
        (_slack_cutoff(as_of, policy.default_retention),),
    ).fetchall()
    due = []
    for subject_id, dob, last in rows:
        on = subject_due(policy, last, dob)
        if on <= as_of:
            due.append(DueSubject(subject_id, on.isoformat(), last,
                                  subject_rule(policy, last, dob, on)))
    return due


def due_items(conn: sqlite3.Connection, policy: Policy, as_of: date) -> list[DueItem]:
    due = []
    for rule in policy.category_rules():
        rows = conn.execute(
            "SELECT id, subject_id, processed_at FROM items WHERE category = ? AND processed_at < ? "
            "ORDER BY processed_at, id",
            (rule.category, _slack_cutoff(as_of, rule.delta)),
        ).fetchall()
        for item_id, subject_id, processed in rows:
            on = after(day_of(processed), rule.after)
            if on <= as_of:
                due.append(DueItem(item_id, subject_id, rule.category, rule.name, on.isoformat()))
    return due


WITHDRAWN = "withdrawn:"  # the rule of data held only for a consent that was withdrawn

# Items held for a consent purpose whose subject's latest event for it is a withdrawal (driven by
# the consent_purpose index; a withdrawal erases such items at once, so this finds only what a
# hold kept, or what an import of consent history left).
_WITHDRAWN_ITEMS = """
SELECT i.id, i.subject_id, i.category, substr(w.at, 1, 10), w.recipient
FROM (SELECT DISTINCT subject_id FROM consent_events WHERE purpose = ?1 AND action = 'withdraw') d
JOIN consent_events w ON w.id = (
    SELECT id FROM consent_events WHERE subject_id = d.subject_id AND purpose = ?1
    ORDER BY at DESC, id DESC LIMIT 1)
JOIN items i ON i.subject_id = d.subject_id AND i.purpose = ?1 AND i.basis = 'consent'
WHERE w.action = 'withdraw'
ORDER BY i.id
"""


def due_withdrawn(conn: sqlite3.Connection, policy: Policy) -> list[DueItem]:
    """Data held only for a consent that has been withdrawn: due at once (UK GDPR Art. 7(3),
    17(1)(b)), from the day of the withdrawal."""
    return [DueItem(item_id, subject_id, category, f"{WITHDRAWN}{purpose}", day)
            for purpose in policy.consent_purposes()
            for item_id, subject_id, category, day, recipient in conn.execute(
                _WITHDRAWN_ITEMS, (purpose,))
            # a withdrawal naming one recipient ends the consent only if no other grant stands
            if recipient is None or consent_withdrawn(conn, subject_id, purpose)]


def consent_withdrawn(conn: sqlite3.Connection, subject_id: str, purpose: str) -> bool:
    """Is the subject's consent to `purpose` withdrawn now (for a specific consent: to every
    recipient)?"""
    state = state_from(purpose, events_of(conn, subject_id, purpose))
    return state.state == WITHDRAWN_STATE


def _forecast(conn: sqlite3.Connection, policy: Policy, as_of: date,
              months: int = 12) -> list[ForecastMonth]:
    horizon = as_of + relativedelta(months=months)
    buckets: dict[str, Counter[str]] = {}
    for offset in range(months):
        month = (as_of + relativedelta(months=offset)).strftime("%Y-%m")
        buckets[month] = Counter()
    rows = conn.execute(
        "SELECT dob, last_processed_at FROM subjects WHERE last_processed_at >= ? "
        "AND last_processed_at < ?",
        ((as_of - policy.default_retention - SLACK).isoformat(),
         (horizon - policy.default_retention + SLACK).isoformat()),
    ).fetchall()
    minors = policy.minors
    if minors:  # children kept past the default rule fall due on a birthday instead
        oldest = max(minors.until_age, minors.until_age_if_17 or 0)
        rows += conn.execute(
            "SELECT dob, last_processed_at FROM subjects WHERE dob >= ? AND last_processed_at < ?",
            ((as_of - relativedelta(years=oldest) - SLACK).isoformat(),
             (as_of - policy.default_retention - SLACK).isoformat()),
        ).fetchall()
    for dob, last in rows:
        on = subject_due(policy, last, dob)
        if as_of < on <= horizon:
            buckets.get(on.strftime("%Y-%m"), Counter())["subjects"] += 1
    for rule in policy.category_rules():
        for (processed,) in conn.execute(
            "SELECT processed_at FROM items WHERE category = ? AND processed_at >= ? "
            "AND processed_at < ?",
            (rule.category, (as_of - rule.delta - SLACK).isoformat(),
             (horizon - rule.delta + SLACK).isoformat()),
        ):
            on = after(day_of(processed), rule.after)
            if as_of < on <= horizon:
                buckets.get(on.strftime("%Y-%m"), Counter())["items"] += 1
    return [ForecastMonth(month, c["subjects"], c["items"]) for month, c in buckets.items()]


def plan(conn: sqlite3.Connection, policy: Policy, as_of: date, *,
         forecast: bool = True) -> Plan:
    """What a sweep on `as_of` would erase, what it would keep and why. Reads only."""
    result = Plan(as_of)
    reasons = active_holds(conn, as_of)
    for subject in due_subjects(conn, policy, as_of):
        if subject.subject_id in reasons:
            result.held.append(Held(subject, reasons[subject.subject_id]))
        else:
            result.subjects.append(subject)
    erasing = {e.subject_id for e in result.subjects}
    held_ids = {h.subject_id for h in result.held}
    seen: set[int] = set()
    for item in [*due_items(conn, policy, as_of), *due_withdrawn(conn, policy)]:
        if item.item in seen:
            continue
        seen.add(item.item)
        subject_id = item.subject_id
        if subject_id in erasing:
            continue  # goes with its subject
        if subject_id in reasons:
            if subject_id not in held_ids:
                held_ids.add(subject_id)
                result.held.append(Held(item, reasons[subject_id]))
            continue
        result.items.append(item)
    if forecast:
        result.forecast = _forecast(conn, policy, as_of)
    return result
