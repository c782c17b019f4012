"""Telling the recipients (UK GDPR Art. 19) through the domain API, on a real store: one notice
per disclosure per command, notices kept until their recipient has been told, and the subjects
whose data pigment's own reports may not use (Art. 18, 21)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

from pigment_cli.records.corrections import correct_item
from pigment_cli.records.disclosures import disclose
from pigment_cli.records.items import add_item
from pigment_cli.records.notices import note_recipients, notices_of
from pigment_cli.records.objections import object_to
from pigment_cli.records.restrictions import REPORTING, restrict, stopped_subjects
from pigment_cli.rights.requests import sweep_closed
from tests.conftest import domain


def _history(s, sid: str, value: str) -> int:  # noqa: ANN001
    return add_item(s, sid, category="medical_history", source="consultation",
                    purpose="medical_records", value=value).id


def test_one_command_notes_a_disclosure_once_however_many_changes_it_makes(
        store: Path, subject_id: str) -> None:
    with domain(store) as s:
        first, second = _history(s, subject_id, "Eczema"), _history(s, subject_id, "Acne")
        lab = disclose(s, subject_id, recipient="North Lab", recipient_type="laboratory",
                       purpose="medical_referral", items="identity,medical_history").id
    with domain(store) as s:  # one command, two corrections of data the lab received
        one = correct_item(s, first, value="Psoriasis")
        two = correct_item(s, second, value="Rosacea")
        assert [n.disclosure_id for n in one.notices] == [lab]
        assert two.notices == one.notices  # the same notice, not a second one
        again = note_recipients(s, subject_id, "rectification")
        assert again == one.notices
        assert len(notices_of(s.conn, subject_id=subject_id)) == 1
        # Another event is another notice.
        assert [n.event for n in note_recipients(s, subject_id, "erasure")] == ["erasure"]


def _notice(conn: sqlite3.Connection, created: str, notified: str | None) -> int:
    """A notice of a subject who has been erased (no subjects row), tied to no request."""
    cur = conn.execute(
        "INSERT INTO recipient_notices (subject_id, disclosure_id, recipient, recipient_type, "
        "event, created_at, notified_on) VALUES ('S-GONE1', 7, 'North Lab', 'laboratory', "
        "'erasure', ?, ?)", (created, notified))
    return int(cur.lastrowid or 0)


def test_the_sweep_removes_a_notice_only_two_years_after_its_recipient_was_told(
        store: Path) -> None:
    with domain(store) as s:
        pending = _notice(s.conn, "2020-01-10T09:00:00", None)  # never told: stays for good
        told_long_ago = _notice(s.conn, "2020-01-10T09:00:00", "2020-02-01")
        told_lately = _notice(s.conn, "2020-01-10T09:00:00", "2026-06-01")  # made long ago
        sweep_closed(s.conn, s.policy, date(2026, 11, 25), stamp=s.stamp, actor="t",
                     apply=True)
        left = {r[0] for r in s.conn.execute("SELECT id FROM recipient_notices")}
    assert left == {pending, told_lately}
    assert told_long_ago not in left


def test_the_subjects_pigment_may_not_report_on(store: Path, subject_id: str,
                                                cli) -> None:  # noqa: ANN001
    other = cli.ok("subject", "add", "--name", "Other Person").stdout.strip()
    third = cli.ok("subject", "add", "--name", "Third Person").stdout.strip()
    with domain(store) as s:
        assert stopped_subjects(s.conn, s.policy, REPORTING) == set()
        object_to(s, subject_id, REPORTING)
        restrict(s, other)  # every purpose: reports too
        restrict(s, third, purpose="newsletter")  # another purpose only
        object_to(s, third, "security")  # another purpose only
        assert stopped_subjects(s.conn, s.policy, REPORTING) == {subject_id, other}
