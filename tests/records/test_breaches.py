"""The breach register's domain (records.breaches) on a real store: London times in, UTC stored,
the 72 hours exact across daylight-saving changes and month ends, what an assessment makes
mandatory, and the status screen's summary."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import FIXED_NOW, domain

from pigment_cli.errors import BadInput, NotFound, Refused
from pigment_cli.records import breaches as br


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("aware", "deadline", "aware_utc"), [
    # last Sunday of March 2026 (29th): 10:00 GMT + 72 h = 11:00 BST, the same instant + 72 h
    ("2026-03-28T10:00", "2026-03-31T11:00+01:00", "2026-03-28T10:00:00"),
    # last Sunday of October 2026 (25th): 10:00 BST + 72 h = 09:00 GMT
    ("2026-10-24T10:00", "2026-10-27T09:00+00:00", "2026-10-24T09:00:00"),
    # inside the autumn fold, with the offset given: the second 01:30
    ("2026-10-25T01:30+00:00", "2026-10-28T01:30+00:00", "2026-10-25T01:30:00"),
    ("2026-10-25T01:30+01:00", "2026-10-28T00:30+00:00", "2026-10-25T00:30:00"),
    # month and year ends, and a leap day
    ("2026-01-30T15:00", "2026-02-02T15:00+00:00", "2026-01-30T15:00:00"),
    ("2024-02-27T23:59", "2024-03-01T23:59+00:00", "2024-02-27T23:59:00"),
    ("2025-12-30T18:45", "2026-01-02T18:45+00:00", "2025-12-30T18:45:00"),
    ("2026-06-29T09:30", "2026-07-02T09:30+01:00", "2026-06-29T08:30:00"),
    ("2026-08-30T12:00Z", "2026-09-02T13:00+01:00", "2026-08-30T12:00:00"),
])
def test_the_deadline_is_72_elapsed_hours_shown_in_london(
        store: Path, aware: str, deadline: str, aware_utc: str) -> None:
    with domain(store) as s:
        b = br.record_breach(s, aware_at=aware, nature="confidentiality", description="x")
    assert b.aware_at == aware_utc  # stored UTC
    assert b.deadline_text == deadline
    assert (b.deadline - _utc(b.aware_at)).total_seconds() == 72 * 3600


@pytest.mark.parametrize("typed", ["2026-03-29T01:00", "2026-03-29T01:30", "2026-03-29T01:59"])
def test_a_local_time_in_the_spring_gap_is_refused(typed: str) -> None:
    with pytest.raises(BadInput, match="does not exist in London"):
        br.parse_london_time(typed, "--aware-at")


@pytest.mark.parametrize("typed", ["2026-10-25T01:00", "2026-10-25T01:59:59", "2025-10-26T01:15"])
def test_an_ambiguous_local_time_is_refused(typed: str) -> None:
    with pytest.raises(BadInput, match="happened twice in London"):
        br.parse_london_time(typed, "--aware-at")


@pytest.mark.parametrize(("typed", "utc"), [
    ("2026-03-29T00:59", "2026-03-29T00:59:00"),  # just before the gap: GMT
    ("2026-03-29T02:00", "2026-03-29T01:00:00"),  # just after: BST
    ("2026-10-25T00:59", "2026-10-24T23:59:00"),  # before the fold: BST
    ("2026-10-25T02:00", "2026-10-25T02:00:00"),  # after: GMT
    ("2026-10-25 02:00:30", "2026-10-25T02:00:30"),
])
def test_times_either_side_of_a_change_are_london_time(typed: str, utc: str) -> None:
    assert br.parse_london_time(typed, "--on") == _utc(utc)


@pytest.mark.parametrize("typed", ["2026-11-24", "yesterday", "2026-02-30T10:00", "2026-11-24T25:00",
                                   "1700-01-01T10:00", ""])
def test_not_a_date_and_time(typed: str) -> None:
    with pytest.raises(BadInput):
        br.parse_london_time(typed, "--on")


def test_an_assessment_decides_what_is_mandatory(store: Path) -> None:
    with domain(store) as s:
        b = br.record_breach(s, aware_at="2026-11-24T09:00", nature="integrity",
                             description="wrong result filed")
        assert b.notifiable and b.risk is None and not b.subjects_required
        with pytest.raises(Refused, match="risk assessment"):
            br.close_breach(s, b.id)
        none = br.assess_breach(s, b.id, risk="none", reason="caught before anyone saw it")
        assert not none.notifiable and len(none.missing()) == 1
        with pytest.raises(Refused, match=r"Art\. 33\(5\)"):
            br.close_breach(s, b.id)
        assert br.update_breach(s, b.id, consequences="none", measures="refiled").missing() == []
        high = br.assess_breach(s, b.id, risk="HIGH", reason="health data posted")
        assert high.notifiable and high.subjects_required
        assert len(high.missing()) == 2
        with pytest.raises(Refused, match="ICO's notification.*telling the people"):
            br.close_breach(s, b.id)
        br.notify_ico(s, b.id, on="2026-11-25T09:00")
        with pytest.raises(Refused, match="telling the people"):
            br.close_breach(s, b.id)
        br.notify_subjects(s, b.id, on="2026-11-25T10:00")
        closed = br.close_breach(s, b.id)
        assert closed.closed_at is not None and not closed.is_open
        with pytest.raises(Refused, match="closed"):
            br.update_breach(s, b.id, measures="more")
        with pytest.raises(Refused, match="closed"):
            br.assess_breach(s, b.id, risk="none", reason="x")


def test_risk_needs_the_ico_only(store: Path) -> None:
    with domain(store) as s:
        b = br.record_breach(s, aware_at="2026-11-24T09:00", nature="availability",
                             description="diary server down")
        br.assess_breach(s, b.id, risk="risk", reason="appointments lost")
        with pytest.raises(Refused):
            br.close_breach(s, b.id)
        br.notify_ico(s, b.id, on="2026-11-24T17:00", reference="IC-1")
        br.update_breach(s, b.id, consequences="appointments lost", measures="server restored")
        assert br.close_breach(s, b.id).subjects_notified_at is None


def test_overdue_and_the_status_summary(store: Path) -> None:
    with domain(store) as s:  # FIXED_NOW: 2026-11-25 10:30 UTC
        past = br.record_breach(s, aware_at="2026-11-22T10:29", nature="confidentiality",
                                description="x")
        edge = br.record_breach(s, aware_at="2026-11-22T10:30", nature="confidentiality",
                                description="x")
        fresh = br.record_breach(s, aware_at="2026-11-25T08:30", nature="confidentiality",
                                 description="x")
        assert past.overdue(FIXED_NOW) and not edge.overdue(FIXED_NOW)
        assert br.overdue_breaches(s.conn, FIXED_NOW) == [past.id]
        summary = {row["id"]: row for row in br.breach_summary(s.conn, FIXED_NOW)}
        assert summary[fresh.id]["hours_left"] == pytest.approx(70.0)
        assert summary[past.id]["hours_left"] == pytest.approx(-1 / 60)
        assert summary[past.id]["notifiable"] and not summary[past.id]["ico_notified"]
        # assessed as no risk: not notifiable, never overdue
        br.assess_breach(s, past.id, risk="none", reason="encrypted laptop")
        assert br.overdue_breaches(s.conn, FIXED_NOW) == []
        # told late: no longer overdue, marked late
        br.assess_breach(s, past.id, risk="risk", reason="key was with it")
        told = br.notify_ico(s, past.id, on="2026-11-25T10:30", late_reason="weekend")
        assert told.ico_late and not told.overdue(FIXED_NOW)
        assert br.breach_summary(s.conn, FIXED_NOW)[0]["ico_notified"] is True


def test_bad_input(store: Path, subject_id: str) -> None:
    with domain(store) as s:
        for kwargs, message in [
            ({"aware_at": "2026-11-25T11:00"}, "in the future"),
            ({"aware_at": "2026-11-24T10:00", "occurred_at": "2026-11-24T10:01"}, "after"),
            ({"aware_at": "2026-11-24T10:00", "nature": "theft"}, "--nature"),
            ({"aware_at": "2026-11-24T10:00", "description": "  "}, "required"),
            ({"aware_at": "2026-11-24T10:00", "categories": "contact,secrets"}, "category"),
            ({"aware_at": "2026-11-24T10:00", "subjects": subject_id, "approx_subjects": 3},
             "not both"),
            ({"aware_at": "2026-11-24T10:00", "records": -1}, "--records"),
            ({"aware_at": "2026-11-24T10:00", "subjects": ","}, "empty"),
        ]:
            args = {"nature": "confidentiality", "description": "x", **kwargs}
            with pytest.raises(BadInput, match=message):
                br.record_breach(s, **args)
        with pytest.raises(NotFound):
            br.record_breach(s, aware_at="2026-11-24T10:00", nature="integrity",
                             description="x", subjects="S-ZZZZZ")
        with pytest.raises(NotFound):
            br.find_breach(s.conn, "B-ZZZZZ")
        b = br.record_breach(s, aware_at="2026-11-24T10:00", nature="integrity",
                             description="x", subjects=f"{subject_id},{subject_id.lower()}")
        assert b.subject_ids == (subject_id,) and b.approx_subjects == 1
        with pytest.raises(BadInput, match="--risk"):
            br.assess_breach(s, b.id, risk="medium", reason="x")
        with pytest.raises(BadInput, match="before"):
            br.notify_ico(s, b.id, on="2026-11-24T09:59")
        with pytest.raises(BadInput, match="future"):
            br.notify_subjects(s, b.id, on="2026-11-25T10:31")
        with pytest.raises(BadInput, match="fewer"):
            br.update_breach(s, b.id, approx_subjects=0)
        with pytest.raises(BadInput, match="nothing to update"):
            br.update_breach(s, b.id)
        br.notify_ico(s, b.id, on="2026-11-24T12:00")
        with pytest.raises(BadInput, match="already"):
            br.notify_ico(s, b.id, on="2026-11-24T12:00")


def test_a_subject_erased_leaves_the_breach_and_its_count(store: Path, subject_id: str) -> None:
    with domain(store) as s:
        b = br.record_breach(s, aware_at="2026-11-24T10:00", nature="integrity",
                             description="x", subjects=subject_id)
        assert [link.breach for link in br.breaches_of(s.conn, subject_id)] == [b.id]
    conn = sqlite3.connect(store)
    conn.execute("PRAGMA foreign_keys = ON")
    with conn:
        conn.execute("DELETE FROM subjects WHERE id = ?", (subject_id,))
    conn.close()
    with domain(store) as s:
        kept = br.find_breach(s.conn, b.id)
    assert kept.subject_ids == () and kept.approx_subjects == 1
