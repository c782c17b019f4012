"""Items through the domain API: an item for a consent purpose needs the consent."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import domain

from pigment_cli.errors import Refused
from pigment_cli.records.consents import grant
from pigment_cli.records.items import add_item
from pigment_cli.records.subjects import add_subject


def test_domain_add_item_refuses_without_consent(store: Path) -> None:
    with domain(store) as s:
        sid = add_subject(s, name="Domain Person").id
    with pytest.raises(Refused, match="satisfaction_survey"), domain(store) as s:
        add_item(s, sid, category="marketing", source="survey", purpose="satisfaction_survey")
    with domain(store) as s:
        grant(s, sid, "satisfaction_survey", via="in_clinic")
        assert add_item(s, sid, category="marketing", source="survey",
                        purpose="satisfaction_survey").basis == "consent"
