"""The sweep through the domain API: it re-reads each subject inside its transaction."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from conftest import domain

from pigment_cli.policy import default_policy
from pigment_cli.records.items import add_item
from pigment_cli.records.subjects import add_subject
from pigment_cli.retention import sweep as retention
from pigment_cli.store.connection import open_store


def test_a_subject_processed_after_the_plan_is_not_erased(store: Path) -> None:
    """The sweep re-reads each subject inside its transaction: new processing since the plan
    (the manager adding an item while cron sweeps) keeps the subject."""
    with domain(store) as s:
        stays = add_subject(s, name="Comes Back", processed_at="2018-01-10")
        goes = add_subject(s, name="Stays Away", processed_at="2018-01-10")
    conn = open_store(store)
    policy = default_policy()
    original = retention.plan

    def plan_then_visit(*args, **kwargs):  # the manager records a visit right after the plan
        made = original(*args, **kwargs)
        with domain(store) as s:
            add_item(s, stays.id, category="identity", source="form", purpose="care")
        return made

    retention.plan = plan_then_visit
    try:
        result = retention.sweep(conn, policy, date(2026, 11, 25), stamp="2026-11-25T10:00:00",
                                 actor="test", apply=True)
    finally:
        retention.plan = original
        conn.close()
    assert result.erased_subjects == 1
    with domain(store) as s:
        assert s.conn.execute("SELECT id FROM subjects").fetchall()[0][0] == stays.id
    assert goes.id != stays.id
