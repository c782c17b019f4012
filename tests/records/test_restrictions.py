"""Restriction (UK GDPR Art. 18) and objection (Art. 21) through the domain API, on a real store:
what each blocks, what it leaves alone, what it records (ids only), and the requests it answers."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from pigment_cli.errors import BadInput, ExitCode, Refused
from pigment_cli.records import consents, restrictions
from pigment_cli.records.answers import actions_of
from pigment_cli.records.disclosures import disclose
from pigment_cli.records.holds import active_holds
from pigment_cli.records.items import add_item, touch_item
from pigment_cli.records.notices import notices_of
from pigment_cli.records.objections import object_to, withdraw_objection
from pigment_cli.records.suppression import is_suppressed
from pigment_cli.rights.requests import open_request
from tests.conftest import FIXED_NOW, domain

EARLIER = FIXED_NOW - timedelta(days=2)


def _item(s, sid: str, purpose: str = "care", category: str = "contact") -> int:  # noqa: ANN001
    return add_item(s, sid, category=category, source="phone", purpose=purpose).id


def _audit(db: Path, command: str) -> list[dict]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT subject_id, detail FROM audit WHERE command = ? "
                            "ORDER BY seq", (command,)).fetchall()
    finally:
        conn.close()
    return [{"subject_id": r[0], **json.loads(r[1])} for r in rows]


def test_a_restriction_of_every_purpose_stops_new_data_touches_and_disclosures(
        store: Path, subject_id: str) -> None:
    with domain(store, EARLIER) as s:
        item = _item(s, subject_id)
        restrictions.restrict(s, subject_id, reason="accuracy contested")
    with domain(store) as s:
        with pytest.raises(Refused) as refused:
            _item(s, subject_id, "payment", "payment")
        assert refused.value.exit_code == ExitCode.REFUSED
        assert "restricted for all purposes" in refused.value.message
        assert f"pigment unrestrict {subject_id}" in refused.value.message
        with pytest.raises(Refused):
            touch_item(s, item)
        with pytest.raises(Refused) as no_disclosure:
            disclose(s, subject_id, recipient="North Lab", recipient_type="laboratory",
                     purpose="medical_referral", items="identity")
        assert "--legal-requirement" in no_disclosure.value.message
        assert "North Lab" not in no_disclosure.value.message
        kept = disclose(s, subject_id, recipient="Coroner", recipient_type="authority",
                        purpose="care", items="identity",
                        legal_requirement="Coroners and Justice Act 2009 Sch. 5")
        assert kept.basis == "legal_obligation"
        # A disclosure made before the restriction began is history: it can still be recorded.
        past = disclose(s, subject_id, recipient="North Lab", recipient_type="laboratory",
                        purpose="medical_referral", items="identity",
                        at=(EARLIER - timedelta(days=1)).isoformat())
        assert past.basis == "contract"


def test_a_restriction_of_one_purpose_leaves_the_others_alone(store: Path,
                                                              subject_id: str) -> None:
    with domain(store) as s:
        consents.grant(s, subject_id, "newsletter", via="paper_form")
        restrictions.restrict(s, subject_id, purpose="newsletter")
        with pytest.raises(Refused) as refused:
            _item(s, subject_id, "newsletter", "marketing")
        assert "restricted for newsletter" in refused.value.message
        assert _item(s, subject_id, "care")  # care goes on
        assert consents.audience(s, "newsletter") == []
        check = consents.check(s, subject_id, "newsletter")
        assert not check.ok and "restricted" in check.reason
        assert restrictions.count_restricted(s.conn) == 1
        # A restriction of one purpose does not hold the whole record past its retention date.
        assert subject_id not in active_holds(s.conn, s.today)


def test_unrestrict_restores_everything(store: Path, subject_id: str) -> None:
    with domain(store) as s:
        consents.grant(s, subject_id, "newsletter", via="paper_form")
        restrictions.restrict(s, subject_id)
        assert consents.audience(s, "newsletter") == []
        assert subject_id in active_holds(s.conn, s.today)  # erasing is processing too
        lifted = restrictions.unrestrict(s, subject_id, told_on="2026-11-25")
        assert lifted.ended_at == s.stamp and not lifted.active
        assert [m.id for m in consents.audience(s, "newsletter")] == [subject_id]
        assert _item(s, subject_id, "newsletter", "marketing")
        assert subject_id not in active_holds(s.conn, s.today)
        assert restrictions.count_restricted(s.conn) == 0
        assert len(restrictions.restrictions_of(s.conn, subject_id)) == 1  # kept, ended


def test_restricting_the_same_scope_twice_or_lifting_nothing_is_bad_input(
        store: Path, subject_id: str) -> None:
    with domain(store) as s:
        restrictions.restrict(s, subject_id)
        for scope in (None, "newsletter"):  # every purpose already covers newsletter
            with pytest.raises(BadInput) as twice:
                restrictions.restrict(s, subject_id, purpose=scope)
            assert twice.value.exit_code == ExitCode.BAD_INPUT
        with pytest.raises(BadInput) as nothing:
            restrictions.unrestrict(s, subject_id, told_on="2026-11-25", purpose="newsletter")
        assert "restrictions in force: all purposes" in nothing.value.message
        with pytest.raises(BadInput):
            restrictions.restrict(s, subject_id, purpose="no_such_purpose")
        restrictions.unrestrict(s, subject_id, told_on="2026-11-25")
        with pytest.raises(BadInput):
            restrictions.unrestrict(s, subject_id, told_on="2026-11-25")


def test_restrict_notes_every_recipient_and_audits_ids_only(store: Path,
                                                            subject_id: str) -> None:
    with domain(store, EARLIER) as s:
        sent = disclose(s, subject_id, recipient="North Lab", recipient_type="laboratory",
                        purpose="medical_referral", items="identity,medical_history")
    with domain(store) as s:
        result = restrictions.restrict(s, subject_id, reason="Mrs Secretname disputes <b>it</b>")
        assert [(n.disclosure_id, n.event) for n in result.notices] == [(sent.id, "restriction")]
        assert [n.id for n in notices_of(s.conn, subject_id=subject_id)] == [
            n.id for n in result.notices]
    entry = _audit(store, "restrict")[-1]
    assert entry["subject_id"] == subject_id
    assert entry["restriction"] == result.restriction.id and entry["notices"] == 1
    assert entry["purpose"] is None and entry["request"] is None
    assert "Secretname" not in json.dumps(entry)


def test_a_request_is_checked_before_anything_changes_and_then_answered(
        store: Path, subject_id: str) -> None:
    with domain(store) as s:
        access = open_request(s, subject_id, received="2026-11-20").id
        restriction = open_request(s, subject_id, received="2026-11-20", kind="restriction",
                                   purpose="newsletter").id
    with domain(store) as s:
        with pytest.raises(BadInput):  # an access request is not answered by a restriction
            restrictions.restrict(s, subject_id, purpose="newsletter", request_id=access)
        with pytest.raises(BadInput) as other:  # the request is about newsletter only
            restrictions.restrict(s, subject_id, request_id=restriction)
        assert "--purpose newsletter" in other.value.message
        assert restrictions.restrictions_of(s.conn, subject_id) == []
        made = restrictions.restrict(s, subject_id, purpose="newsletter",
                                     request_id=restriction.lower())
        assert made.restriction.request_id == restriction
        restrictions.unrestrict(s, subject_id, told_on="2026-11-25", purpose="newsletter",
                                request_id=restriction)
        assert [a["action"] for a in actions_of(s.conn, restriction)] == ["restrict",
                                                                          "unrestrict"]
    assert _audit(store, "restrict")[-1]["request"] == restriction
    assert _audit(store, "unrestrict")[-1]["request"] == restriction


def test_an_objection_to_direct_marketing_withdraws_suppresses_and_is_recorded(
        store: Path, subject_id: str) -> None:
    with domain(store, EARLIER) as s:
        consents.grant(s, subject_id, "newsletter", via="web_form")
        _item(s, subject_id, "newsletter", "marketing")
        result = object_to(s, subject_id, "newsletter", via="phone")
        assert result.ground == "direct_marketing" and result.suppressed
        assert result.withdrawal is not None and result.withdrawal.recorded
        assert result.withdrawal.erased_items == 1  # held only for the withdrawn consent
        assert is_suppressed(s.conn, "ada@example.org")
        assert [o.purpose for o in restrictions.objections_of(s.conn, subject_id)] == [
            "newsletter"]
        with pytest.raises(BadInput):  # it still stands: nothing to do
            object_to(s, subject_id, "newsletter")
    with domain(store) as s:
        # The person changed their mind: a new consent is recorded, but the audience leaves them
        # out until the objection is withdrawn and the email comes off the suppression list
        # (each needs a written consent given after the objection).
        consents.grant(s, subject_id, "newsletter", via="paper_form")
        assert consents.audience(s, "newsletter") == []
        assert consents.unsuppress(s, subject_id).removed
        assert consents.audience(s, "newsletter") == []  # the objection still stands
        assert withdraw_objection(s, subject_id, "newsletter").objections
        assert [m.id for m in consents.audience(s, "newsletter")] == [subject_id]
    entry = _audit(store, "object")[-1]
    assert entry["purpose"] == "newsletter" and entry["ground"] == "direct_marketing"
    assert "ada@example.org" not in json.dumps(entry)


def test_an_objection_to_legitimate_interests_stops_that_purpose_only(store: Path,
                                                                      subject_id: str) -> None:
    with domain(store) as s:
        result = object_to(s, subject_id, "security")
        assert result.ground == "legitimate_interests" and result.withdrawal is None
        assert not result.suppressed
        with pytest.raises(Refused) as refused:
            _item(s, subject_id, "security", "cctv")
        assert "objected to 'security'" in refused.value.message
        assert "unrestrict" not in refused.value.message
        with pytest.raises(Refused):
            disclose(s, subject_id, recipient="Police", recipient_type="authority",
                     purpose="security", items="cctv")
        assert _item(s, subject_id, "care")
        with pytest.raises(BadInput):
            object_to(s, subject_id, "security")
        assert not is_suppressed(s.conn, "ada@example.org")


def test_an_objection_to_a_contract_purpose_is_refused_and_records_nothing(
        store: Path, subject_id: str) -> None:
    with domain(store) as s:
        for purpose in ("care", "payment"):
            with pytest.raises(Refused) as refused:
                object_to(s, subject_id, purpose)
            assert refused.value.exit_code == ExitCode.REFUSED
            assert "erasure" in refused.value.message and "restriction" in refused.value.message
        assert restrictions.objections_of(s.conn, subject_id) == []
        with pytest.raises(BadInput):
            object_to(s, subject_id, "no_such_purpose")
        with pytest.raises(BadInput):
            object_to(s, subject_id, "newsletter", via="pigeon")
        assert restrictions.objections_of(s.conn, subject_id) == []


def test_an_objection_to_another_consent_purpose_withdraws_it(store: Path,
                                                               subject_id: str) -> None:
    with domain(store) as s:
        consents.grant(s, subject_id, "cookies", via="web_form")
        result = object_to(s, subject_id, "cookies")
        assert result.ground == "consent" and not result.suppressed
        state = consents.state_from("cookies", consents.events_of(s.conn, subject_id))
        assert state.state == consents.WITHDRAWN
        assert not is_suppressed(s.conn, "ada@example.org")
        # The objection itself does not block: a new consent starts the purpose again.
        consents.grant(s, subject_id, "cookies", via="web_form", evidence="again")
        assert _item(s, subject_id, "cookies", "web_activity")


def test_the_importer_sees_every_block_at_once(store: Path, subject_id: str) -> None:
    with domain(store) as s:
        assert not restrictions.blocked(s.conn, s.policy)
        restrictions.restrict(s, subject_id, purpose="care")
        object_to(s, subject_id, "security")
        found = restrictions.blocked(s.conn, s.policy)
        assert found.reason(subject_id, "care") == ("purpose", restrictions.RESTRICTED_REASON)
        assert found.reason(subject_id, "security") == ("purpose", restrictions.OBJECTED_REASON)
        assert found.reason(subject_id, "payment") is None
        restrictions.restrict(s, subject_id)
        assert restrictions.blocked(s.conn, s.policy).reason(subject_id, "payment") == (
            "external_id", restrictions.RESTRICTED_REASON)


def test_restrictions_and_objections_are_journalled_for_a_restore(store: Path,
                                                                  subject_id: str) -> None:
    with domain(store) as s:
        restrictions.restrict(s, subject_id, purpose="care", reason="private words")
        restrictions.unrestrict(s, subject_id, told_on="2026-11-25", purpose="care")
        object_to(s, subject_id, "security")
        entries = [e for e in s._journal
                   if e["scope"] in ("restriction", "unrestriction", "objection")]
    assert [e["scope"] for e in entries] == ["restriction", "unrestriction", "objection"]
    assert all(e["subject_id"] == subject_id for e in entries)
    assert "private words" not in json.dumps(entries)
