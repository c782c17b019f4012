"""`pigment item ...`: the policy's vocabulary, dates, touch, consent purposes, and a failed command
that changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import row_count

from pigment_cli.errors import ExitCode


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [("--category", "bogus", "medical_history"), ("--source", "carrier_pigeon", "cctv"),
     ("--purpose", "fun", "newsletter"), ("--basis", "whim", "legal_obligation")],
)
def test_item_vocabulary_is_checked_against_the_policy(cli, subject_id, option, value, allowed) -> None:
    args = {"--category": "identity", "--source": "form", "--purpose": "care"}
    args[option] = value
    flat = [x for pair in args.items() for x in pair]
    result = cli("item", "add", subject_id, *flat)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert value in result.stderr and allowed in result.stderr and "allows" in result.stderr
    assert cli.json("item", "list", subject_id) == []


def test_item_dates_are_checked(cli, subject_id: str) -> None:
    base = ["item", "add", subject_id, "--category", "identity", "--source", "form",
            "--purpose", "care"]
    assert cli(*base, "--processed", "yesterday").exit_code == ExitCode.BAD_INPUT
    assert cli(*base, "--processed", "2027-01-01").exit_code == ExitCode.BAD_INPUT
    assert cli(*base, "--collected", "2025-01-02", "--processed", "2025-01-01").exit_code == ExitCode.BAD_INPUT
    assert cli.ok(*base, "--processed", "2025-01-01T09:15:00+01:00").stdout.strip()
    assert cli.json("item", "list", subject_id)[0]["processed_at"] == "2025-01-01T08:15:00"


def test_consent_purpose_items_must_rest_on_consent(cli, subject_id: str) -> None:
    result = cli("item", "add", subject_id, "--category", "marketing", "--source", "survey",
                 "--purpose", "newsletter", "--basis", "contract")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "consent" in result.stderr


def test_touch_refuses_going_back_in_time(cli, subject_id: str) -> None:
    item = cli.ok("item", "add", subject_id, "--category", "identity", "--source", "form",
                  "--purpose", "care", "--processed", "2025-06-01").stdout.strip()
    result = cli("item", "touch", item, "--processed", "2025-01-01")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert cli("item", "touch", "999").exit_code == ExitCode.BAD_INPUT


def test_a_failed_command_changes_nothing(cli, subject_id: str, db: Path) -> None:
    import sqlite3

    def snapshot() -> list:
        conn = sqlite3.connect(db)
        rows = [conn.execute(f"SELECT * FROM {t}").fetchall() for t in ("subjects", "items", "audit")]
        conn.close()
        return rows

    before = snapshot()
    result = cli("item", "add", subject_id, "--category", "identity", "--source", "form",
                 "--purpose", "care", "--processed", "2999-01-01")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert snapshot() == before


# --- items for a consent purpose need the consent ---------------------------------------------


def _consent_item(cli, sid: str):  # noqa: ANN202
    return cli("item", "add", sid, "--category", "marketing", "--source", "email_interaction",
               "--purpose", "newsletter", "--value", "clicked")


def test_item_for_a_consent_purpose_needs_the_consent(cli, subject_id: str, db: Path) -> None:
    never = _consent_item(cli, subject_id)
    assert never.exit_code == ExitCode.REFUSED, never.stderr
    assert "'newsletter'" in never.stderr and "never asked" in never.stderr
    assert "record the consent first" in never.stderr and never.stdout == ""
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "web_form", "--at", "2026-01-01")
    cli.ok("consent", "withdraw", subject_id, "newsletter", "--via", "newsletter_link")
    items_before = row_count(db, "items")
    withdrawn = _consent_item(cli, subject_id)
    assert withdrawn.exit_code == ExitCode.REFUSED and "(withdrawn)" in withdrawn.stderr
    assert row_count(db, "items") == items_before == 0
    cli.ok("item", "add", subject_id, "--category", "medical_history", "--source", "consultation",
           "--purpose", "medical_records")  # contract purposes need no consent
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "phone")
    item = int(_consent_item(cli, subject_id).stdout)
    assert [i["id"] for i in cli.json("item", "list", subject_id, "--category", "marketing")] == [
        item]
