"""The holding view: what the clinic holds on one subject, by category."""

from __future__ import annotations

from pathlib import Path

from conftest import domain

from pigment_cli.records.items import add_item
from pigment_cli.records.subjects import add_subject
from pigment_cli.reports.holding import holding


def test_domain_api_without_the_cli(store: Path) -> None:
    with domain(store) as s:
        subject = add_subject(s, name="Domain Person", email="d@example.org")
        add_item(s, subject.id, category="contact", source="email", purpose="care", value="x")
    with domain(store) as s:
        view = holding(s, subject.id)
    assert len(view.items) == 1 and view.items_by_category()["contact"][0].value == "x"
