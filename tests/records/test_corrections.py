"""Corrections, removals and voids through the domain API on a real store: what they journal for a
restore, the request that does not hold its own erasure, and Art. 19 notices that outlive the
subject."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXED_NOW, domain

from pigment_cli.errors import BadInput, NotFound, Refused
from pigment_cli.records.corrections import (
    REMOVED_RULE,
    correct_item,
    rectify_subject,
    remove_item,
    void_disclosure,
)
from pigment_cli.records.disclosures import disclose
from pigment_cli.records.holds import active_holds
from pigment_cli.records.items import add_item, get_item
from pigment_cli.records.notices import mark_notified, note_recipients, subject_notices
from pigment_cli.records.replay import replay
from pigment_cli.records.subjects import add_subject
from pigment_cli.rights.erasure import erase_on_request
from pigment_cli.rights.requests import open_request


def _setup(db: Path) -> tuple[str, int, int]:
    """A subject with a medical item and a disclosure of it to a laboratory."""
    with domain(db) as s:
        sid = add_subject(s, name="Dom Tester", email="dom@example.org").id
        item = add_item(s, sid, category="medical_history", source="consultation",
                        purpose="medical_records", value="Eczema", processed="2025-02-01").id
        lab = disclose(s, sid, recipient="North Lab", recipient_type="laboratory",
                       purpose="medical_referral", items="identity,medical_history").id
    return sid, item, lab


def _request(db: Path, sid: str, kind: str) -> str:
    with domain(db) as s:
        return open_request(s, sid, received="2026-11-20", kind=kind).id


def _journal(db: Path) -> list[dict]:
    path = Path(f"{db}-erasures.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_correction_is_journalled_for_a_restore_to_list(store: Path) -> None:
    sid, item, _ = _setup(store)
    with domain(store) as s:
        done = correct_item(s, item, value="Psoriasis", source="referral")
    assert done.changed == ["value", "source"] and done.item.processed_at == "2025-02-01"
    lines = [e for e in _journal(store) if e["scope"] in ("rectification", "item_facts")]
    # Its facts (keys and dates) are journalled to be redone, with the fingerprint it had.
    assert [(e["scope"], e.get("source"), e.get("fields")) for e in lines] == [
        ("item_facts", "referral", None), ("rectification", None, [f"item {item} value"])]
    assert "Psoriasis" not in Path(f"{store}-erasures.jsonl").read_text()
    # On the store as it is, the facts are already there (another fingerprint): nothing redone;
    # the value is listed for a person to correct again.
    with domain(store) as s:
        result = replay(s.conn, lines, stamp=s.stamp, actor=s.actor)
    assert result.item_corrections == 0
    assert result.rectifications == [{"subject_id": sid, "fields": [f"item {item} value"],
                                      "at": "2026-11-25T10:30:00"}]


def test_a_removal_is_journalled_as_an_erasure_without_its_reason(store: Path) -> None:
    sid, item, _ = _setup(store)
    with domain(store) as s:
        done = remove_item(s, item, reason="another patient's result")
    assert done.category == "medical_history"
    lines = [e for e in _journal(store) if e["scope"] == "items"]
    assert [(e["subject_id"], e["items"], e["rule"]) for e in lines] == [
        (sid, [item], REMOVED_RULE)]
    assert "patient" not in Path(f"{store}-erasures.jsonl").read_text()
    with domain(store) as s, pytest.raises(NotFound):
        get_item(s.conn, item)


def test_errors_leave_the_item_as_it_was(store: Path) -> None:
    sid, item, _ = _setup(store)
    access = _request(store, sid, "access")
    with domain(store) as s:
        with pytest.raises(BadInput):
            correct_item(s, item)
        with pytest.raises(BadInput):
            correct_item(s, item, value="x", request_id=access)
        with pytest.raises(Refused):
            correct_item(s, item, category="payment")
        with pytest.raises(BadInput):
            remove_item(s, item, reason="  ")
        assert get_item(s.conn, item).value == "Eczema"


def test_the_answered_request_never_holds_its_own_erasure(store: Path) -> None:
    sid, _, _ = _setup(store)
    erasure = _request(store, sid, "erasure")
    with domain(store) as s:
        assert active_holds(s.conn, FIXED_NOW.date(), [sid]) == {
            sid: [f"open erasure request {erasure}"]}
        assert active_holds(s.conn, FIXED_NOW.date(), [sid], answering=erasure) == {}
        assert active_holds(s.conn, FIXED_NOW.date(), answering=erasure).get(sid) is None
    access = _request(store, sid, "access")
    with domain(store) as s:
        assert active_holds(s.conn, FIXED_NOW.date(), [sid], answering=erasure) == {
            sid: [f"open subject-access request {access}"]}


def test_notices_outlive_the_erased_subject(store: Path) -> None:
    with domain(store) as s:
        sid = add_subject(s, name="Gone Soon", email="gone@example.org").id
        add_item(s, sid, category="contact", source="phone", purpose="care", value="x")
        lab = disclose(s, sid, recipient="North Lab", recipient_type="laboratory",
                       purpose="medical_referral", items="identity").id
    erasure = _request(store, sid, "erasure")
    with domain(store) as s:
        outcome = erase_on_request(s, sid, apply=True, request_id=erasure)
    assert outcome.whole_subject and [n.disclosure_id for n in outcome.notices] == [lab]
    with domain(store) as s:
        assert s.conn.execute("SELECT count(*) FROM disclosures WHERE subject_id = ?",
                              (sid,)).fetchone()[0] == 0  # gone with the subject
        pending = subject_notices(s, sid, pending_only=True)
        assert [(n.event, n.request_id) for n in pending] == [("erasure", erasure)]
        told = mark_notified(s, lab, "2026-11-25")
        assert [n.notified_on for n in told] == ["2026-11-25"]
        assert subject_notices(s, sid, pending_only=True) == []


def test_a_void_disclosure_gets_no_notice(store: Path) -> None:
    sid, _, lab = _setup(store)
    with domain(store) as s:
        twice = disclose(s, sid, recipient="North Lab", recipient_type="laboratory",
                         purpose="medical_referral", items="identity,medical_history",
                         duplicate_ok=True).id
        note_recipients(s, sid, "rectification")
        voided = void_disclosure(s, twice, reason="recorded twice")
        assert voided.notices_dropped == 1 and voided.disclosure.void_reason == "recorded twice"
        assert [n.disclosure_id for n in note_recipients(s, sid, "rectification")] == [lab]
        with pytest.raises(BadInput):
            void_disclosure(s, twice, reason="again")
        with pytest.raises(NotFound):
            void_disclosure(s, 12345, reason="x")


def test_a_subject_rectification_tells_the_recipients_of_the_fields_changed(store: Path) -> None:
    sid, _, lab = _setup(store)  # the lab received identity and medical history
    request = _request(store, sid, "rectification")
    with domain(store) as s:
        contact = rectify_subject(s, sid, phone="07700 900555")
        assert contact.changed == ["phone"] and contact.notices == []
        named = rectify_subject(s, sid, name="Dom Tester-Smith", request_id=request)
        assert [n.disclosure_id for n in named.notices] == [lab]
        assert named.request_id == request
        unchanged = rectify_subject(s, sid, name="Dom Tester-Smith", request_id=request)
        assert unchanged.changed == [] and unchanged.request_id is None
