"""Disclosures through the domain API: refusals, validation, and a disclosure counts as processing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import domain

from pigment_cli.errors import BadInput, Refused
from pigment_cli.records import disclosures as disclosure
from pigment_cli.records.subjects import add_subject, get_subject


def test_a_disclosure_does_not_move_the_retention_clock(store: Path) -> None:
    with domain(store) as s:
        sid = add_subject(s, name="Old Patient", processed_at="2020-01-01").id
        disclosure.disclose(s, sid, recipient="Lab", recipient_type="laboratory", purpose="care",
                            items="medical_history", at="2026-11-20T09:00:00")
        assert get_subject(s.conn, sid).last_processed_at == "2020-01-01"


def test_domain_api(store: Path) -> None:
    with domain(store) as s:
        sid = add_subject(s, name="Domain Person").id
    with pytest.raises(Refused), domain(store) as s:
        disclosure.disclose(s, sid, recipient="X", recipient_type="other",
                            purpose="satisfaction_survey", items="contact")
    with pytest.raises(BadInput), domain(store) as s:
        disclosure.disclose(s, sid, recipient="X", recipient_type="other", purpose="care",
                            items=["identity", "nonsense"])
    with domain(store) as s:
        record = disclosure.disclose(s, sid, recipient="X", recipient_type="laboratory",
                                     purpose="care", items=["identity,medical_history"])
        assert record.categories == ["identity", "medical_history"]
        assert disclosure.disclosures_of(s.conn, sid) == [record]
