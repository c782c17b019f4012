"""The request lifecycle through the domain API: the clock's start, pauses, extension, review,
closing, the impossible steps, the erasure block, and what the audit trail records."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import domain

from pigment_cli.errors import BadInput, NotFound, Refused
from pigment_cli.records.items import add_item
from pigment_cli.records.subjects import add_subject, get_subject
from pigment_cli.rights import requests as sar


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=UTC)


@pytest.fixture
def person(store: Path) -> str:
    with domain(store, at("2026-01-05")) as s:
        return add_subject(s, name="Domain Patient", email="dp@example.org").id


def _open(store: Path, person: str, received: str, today: str | None = None) -> dict:
    with domain(store, at(today or received)) as s:
        return sar.open_request(s, person, received=received, channel="letter")


def test_open_computes_the_due_date_and_id(store: Path, person: str) -> None:
    view = _open(store, person, "2026-03-06", "2026-03-10")
    assert view.id.startswith("R-") and len(view.id) == 7
    assert view.due == "2026-04-07"  # Easter Monday 6 Apr 2026
    assert view.status == "open" and view.days_left == 28
    assert view.internal_target == "2026-04-03"  # 28 days, never later than the due date
    with domain(store) as s:
        assert sar.has_open_request(s.conn, person)
        assert sar.open_request_subjects(s.conn) == {person}


def test_identity_evidence_arriving_later_starts_the_clock(store: Path, person: str) -> None:
    view = _open(store, person, "2026-06-01")
    with domain(store, at("2026-06-20")) as s:
        view = sar.verify_id(s, view.id, on="2026-06-10")
    assert view.start == "2026-06-10" and view.due == "2026-07-10"
    with domain(store, at("2026-06-20")) as s:
        view = sar.fee_received(s, view.id, on="2026-06-15")
    assert view.start == "2026-06-15" and view.due == "2026-07-15"


def test_start_is_the_latest_of_receipt_id_and_fee(store: Path, person: str) -> None:
    view = _open(store, person, "2026-06-01")
    with domain(store, at("2026-06-20")) as s:
        sar.fee_received(s, view.id, on="2026-06-12")
        view = sar.verify_id(s, view.id, on="2026-06-03")
    assert view.start == "2026-06-12"


def test_pause_and_resume_move_the_due_date_by_the_days_both_included(store: Path, person: str) -> None:
    rid = _open(store, person, "2026-10-20").id  # due 20 Nov 2026 (Friday)
    with domain(store, at("2026-10-23")) as s:
        paused = sar.pause(s, rid, reason="which years?", on="2026-10-22")
    assert paused.status == "paused"
    assert paused.paused_days == 2 and paused.overdue is False  # 22 and 23 so far
    with domain(store, at("2026-10-26")) as s:
        view = sar.resume(s, rid, on="2026-10-25")
    assert view.paused_days == 4 and view.due == "2026-11-24"
    assert view.to_dict()["pauses"] == [{"paused_on": "2026-10-22", "resumed_on": "2026-10-25",
                               "reason": "which years?"}]
    with domain(store, at("2026-11-03")) as s:  # a second pause, touching the first: no day twice
        sar.pause(s, rid, reason="and which clinic?", on="2026-10-25")
        view = sar.resume(s, rid, on="2026-10-26")
    assert view.paused_days == 5 and view.due == "2026-11-25"


def test_paused_days_before_the_clock_started_do_not_count(store: Path, person: str) -> None:
    rid = _open(store, person, "2026-06-01").id
    with domain(store, at("2026-06-20")) as s:
        sar.pause(s, rid, reason="r", on="2026-06-02")
        sar.resume(s, rid, on="2026-06-05")
        view = sar.verify_id(s, rid, on="2026-06-10")
    assert view.paused_days == 0 and view.due == "2026-07-10"


def test_extension_is_three_months_from_the_start(store: Path, person: str) -> None:
    rid = _open(store, person, "2026-01-31", "2026-02-01").id
    with domain(store, at("2026-02-10")) as s:
        view = sar.extend(s, rid, reason="many records")
    assert view.extended and view.extended_on == "2026-02-10"
    assert view.due == "2026-04-30" and view.one_month_due == "2026-03-02"  # 28 Feb is a Saturday
    assert view.internal_target == "2026-04-27"  # 3 days before the extended due date


def test_extension_after_the_first_month_is_refused(store: Path, person: str) -> None:
    rid = _open(store, person, "2026-01-31", "2026-02-01").id
    with domain(store, at("2026-03-10")) as s:
        with pytest.raises(Refused, match="2026-03-02"):
            sar.extend(s, rid, reason="late")
        view = sar.extend(s, rid, reason="decided in time", on="2026-03-02")  # last day: allowed
    assert view.due == "2026-04-30"


def test_extending_twice_is_bad_input(store: Path, person: str) -> None:
    rid = _open(store, person, "2026-11-02", "2026-11-02").id
    with domain(store) as s:
        sar.extend(s, rid, reason="complex")
        with pytest.raises(BadInput, match="already extended"):
            sar.extend(s, rid, reason="again")


def test_a_pause_after_the_deadline_is_refused(store: Path, person: str) -> None:
    rid = _open(store, person, "2026-09-01", "2026-09-01").id  # due 1 Oct 2026
    with domain(store) as s:
        with pytest.raises(Refused):
            sar.pause(s, rid, reason="too late", on="2026-10-02")


@pytest.mark.parametrize(("step", "message"), [
    (lambda s, r: sar.resume(s, r, on="2026-11-20"), "not paused"),
    (lambda s, r: sar.verify_id(s, r, on="2026-11-01"), "before the request was received"),
    (lambda s, r: sar.pause(s, r, reason="x", on="2026-11-30"), "in the future"),
    (lambda s, r: sar.pause(s, r, reason="  ", on="2026-11-20"), "--reason is required"),
    (lambda s, r: sar.close(s, r, on="2026-11-09"), "before the request was received"),
    (lambda s, r: sar.review(s, r, by="Dr X", outcome="maybe", note="n"), "release, withhold-part"),
    (lambda s, r: sar.review(s, r, by=" ", outcome="release", note="n"), "--by is required"),
    (lambda s, r: sar.extend(s, r, reason="x", on="2026/11/20"), "2026-03-31"),
])
def test_impossible_steps_are_bad_input(store: Path, person: str, step, message: str) -> None:
    rid = _open(store, person, "2026-11-10", "2026-11-10").id
    with domain(store) as s:
        with pytest.raises(BadInput, match=message):
            step(s, rid)


def test_steps_on_a_closed_request_are_bad_input(store: Path, person: str) -> None:
    rid = _open(store, person, "2026-11-10", "2026-11-10").id
    with domain(store) as s:
        view = sar.close(s, rid, on="2026-11-20", outcome="withdrawn")
    assert view.status == "closed" and view.days_left is None
    with domain(store) as s:
        assert not sar.has_open_request(s.conn, person)
        for step in (lambda: sar.close(s, rid, on="2026-11-21"),
                     lambda: sar.pause(s, rid, reason="x", on="2026-11-21"),
                     lambda: sar.extend(s, rid, reason="x"),
                     lambda: sar.review(s, rid, by="Dr", outcome="release", note="n")):
            with pytest.raises(BadInput, match="closed on 2026-11-20"):
                step()


def test_double_pause_and_double_review_are_bad_input(store: Path, person: str) -> None:
    rid = _open(store, person, "2026-11-10", "2026-11-10").id
    with domain(store) as s:
        sar.pause(s, rid, reason="x", on="2026-11-11")
        with pytest.raises(BadInput, match="already paused"):
            sar.pause(s, rid, reason="y", on="2026-11-12")
        with pytest.raises(BadInput, match="before the pause began"):
            sar.resume(s, rid, on="2026-11-10")
        sar.review(s, rid, by="Dr A", outcome="release", note="ok")
        with pytest.raises(BadInput, match="already reviewed"):
            sar.review(s, rid, by="Dr B", outcome="release", note="ok")


def test_close_needs_a_review_when_health_data_is_held(store: Path, person: str) -> None:
    with domain(store) as s:
        add_item(s, person, category="medical_history", source="consultation",
                 purpose="medical_records", value="Psoriasis")
    rid = _open(store, person, "2026-11-10", "2026-11-10").id
    with domain(store) as s:
        with pytest.raises(Refused, match="review"):
            sar.close(s, rid)
    with domain(store) as s:
        sar.review(s, rid, by="Dr Shah", outcome="withhold-part", note="one letter held back")
        view = sar.close(s, rid, exported=True)
    assert view.status == "closed" and view.review is not None
    assert view.review.outcome == "withhold-part"


def test_unknown_request_is_not_found(store: Path) -> None:
    with domain(store) as s:
        with pytest.raises(NotFound, match="no request R-ZZZZZ"):
            sar.show_request(s, "r-zzzzz")
        with pytest.raises(NotFound, match="with that id"):
            sar.show_request(s, "Amara Okafor")


def test_unknown_subject_and_channel(store: Path, person: str) -> None:
    with domain(store) as s:
        with pytest.raises(NotFound):
            sar.open_request(s, "S-ZZZZZ", received="2026-11-01")
        with pytest.raises(BadInput, match="in_clinic"):
            sar.open_request(s, person, received="2026-11-01", channel="pigeon")


def test_steps_never_move_the_clock_and_audit_ids_only(store: Path, person: str) -> None:
    with domain(store) as s:
        before = get_subject(s.conn, person).last_processed_at
    rid = _open(store, person, "2026-02-01", "2026-02-01").id
    with domain(store, at("2026-02-05")) as s:
        assert get_subject(s.conn, person).last_processed_at == before
        sar.pause(s, rid, reason="SECRET-REASON", on="2026-02-03")
        sar.resume(s, rid, on="2026-02-04")
        sar.extend(s, rid, reason="SECRET-EXTENSION")
        sar.review(s, rid, by="SECRET-REVIEWER", outcome="release", note="SECRET-NOTE")
        sar.close(s, rid, exported=True)
        assert get_subject(s.conn, person).last_processed_at == before  # UK GDPR Art. 5(1)(e)
    conn = sqlite3.connect(store)
    rows = conn.execute("SELECT command, subject_id, detail FROM audit WHERE command LIKE 'sar %'"
                        ).fetchall()
    assert [r[0] for r in rows] == ["sar open", "sar pause", "sar resume", "sar extend",
                                    "sar review", "sar close"]
    for _command, subject, detail in rows:
        assert subject == person and json.loads(detail)["request"] == rid
        assert "SECRET" not in detail and "Domain" not in detail


def test_list_filters_and_orders_by_due_date(store: Path, person: str) -> None:
    late = _open(store, person, "2026-09-01", "2026-09-01").id  # due 1 Oct 2026
    soon = _open(store, person, "2026-10-28", "2026-10-28").id  # due 30 Nov 2026
    later = _open(store, person, "2026-11-20", "2026-11-20").id  # due 21 Dec 2026
    with domain(store) as s:  # today 25 Nov 2026
        assert [v.id for v in sar.list_requests(s)] == [late, soon, later]
        assert [v.id for v in sar.list_requests(s, overdue_only=True)] == [late]
        assert [v.id for v in sar.list_requests(s, due_within=7)] == [late, soon]
        sar.close(s, late, outcome="withdrawn")
        assert [v.id for v in sar.list_requests(s, open_only=True)] == [soon, later]
        assert [v.id for v in sar.list_requests(s)] == [soon, later, late]


def test_parse_within() -> None:
    assert sar.parse_within("7d") == 7 and sar.parse_within("2w") == 14
    assert sar.parse_within("10") == 10
    with pytest.raises(BadInput, match="7d"):
        sar.parse_within("soon")


def test_holding_view_lists_requests(store: Path, person: str) -> None:
    from pigment_cli.reports.holding import holding

    rid = _open(store, person, "2026-11-02", "2026-11-02").id
    with domain(store) as s:
        view = holding(s, person)
    assert view.to_dict()["requests"] == [{"request": rid, "kind": "access", "status": "open",
                                           "received": "2026-11-02", "due": "2026-12-02",
                                           "days_left": 7, "closed": None}]
