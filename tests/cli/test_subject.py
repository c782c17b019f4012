"""`pigment subject ...`: add, show, update (rectify), find, list, and their errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pigment_cli.errors import ExitCode


def test_add_prints_the_new_id_alone(cli, store: Path) -> None:
    result = cli.ok("subject", "add", "--name", "Grace Hopper")
    assert re.fullmatch(r"S-[0-9A-HJKMNP-TV-Z]{5}\n", result.stdout)


def test_round_trip_add_then_show_json(cli, subject_id: str) -> None:
    view = cli.json("subject", "show", subject_id)
    assert view["subject"] == {
        **view["subject"],
        "id": subject_id, "name": "Ada Lovelace", "title": "Ms", "dob": "1985-12-10",
        "email": "ada@example.org", "phone": "07700 900123", "address": "1 Test Street",
    }
    assert view["items"] == {}
    assert view["retention"]["erasure_due"] == "2033-11-25"


def test_show_lists_every_item_with_its_erasure_date(cli, subject_id: str) -> None:
    cli.ok("item", "add", subject_id, "--category", "medical_history", "--source", "consultation",
           "--purpose", "medical_records", "--value", "Eczema", "--processed", "2024-02-29")
    cli.ok("item", "add", subject_id, "--category", "cctv", "--source", "cctv",
           "--purpose", "security", "--value", "clip", "--processed", "2026-11-20")
    view = cli.json("subject", "show", subject_id)
    medical = view["items"]["medical_history"][0]
    assert medical["value"] == "Eczema" and medical["basis"] == "contract"
    # the subject was processed today (added), so the 7-year rule runs from today
    assert medical["erasure_due"] == "2033-11-25"
    # CCTV carries its own 30-day rule from the item's own processing
    assert view["items"]["cctv"][0]["erasure_due"] == "2026-12-20"
    table = cli.ok("subject", "show", subject_id).stdout
    assert "Eczema" in table and "2033-11-25" in table and "special category" in table


def test_erasure_date_follows_last_processing(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Old Patient").stdout.strip()
    view = cli.json("subject", "show", sid)
    assert view["retention"]["erasure_due"] == "2033-11-25"
    item = cli.ok("item", "add", sid, "--category", "identity", "--source", "form",
                  "--purpose", "care").stdout.strip()
    cli.ok("item", "touch", item, "--processed", "2026-11-25T11:00:00")
    assert cli.json("item", "list", sid)[0]["processed_at"] == "2026-11-25T11:00:00"


def test_subject_show_lists_consents_and_disclosures(cli, subject_id: str) -> None:
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form")
    cli.ok("disclose", subject_id, "--to", "North Lab", "--recipient-type", "laboratory",
           "--purpose", "medical_referral", "--items", "identity,medical_history")
    view = cli.json("subject", "show", subject_id)
    consents = {c["purpose"]: c for c in view["consents"]}
    assert consents["newsletter"]["state"] == "granted" and consents["newsletter"]["written"]
    assert consents["cookies"]["state"] == "never asked"
    assert view["disclosures"] == [{
        "id": 1, "at": "2026-11-25T10:30:00", "to": "North Lab", "type": "laboratory",
        "purpose": "medical_referral", "basis": "contract",
        "categories": "identity, medical_history"}]
    table = cli.ok("subject", "show", subject_id).stdout
    assert "Consents" in table and "Disclosures" in table and "North Lab" in table


def test_subject_show_lists_requests(cli, subject_id: str) -> None:
    rid = cli.ok("sar", "open", subject_id, "--received", "2026-11-02").stdout.split()[0]
    view = cli.json("subject", "show", subject_id)
    assert view["requests"][0]["request"] == rid and view["requests"][0]["due"] == "2026-12-02"
    assert rid in cli.ok("subject", "show", subject_id).stdout


def test_update_rectifies_and_reports_changed_fields(cli, subject_id: str) -> None:
    result = cli.json("subject", "update", subject_id, "--email", "ADA@new.example.org",
                      "--phone", "")
    assert result["changed"] == ["email", "phone"]
    view = cli.json("subject", "show", subject_id)
    assert view["subject"]["email"] == "ada@new.example.org"
    assert view["subject"]["phone"] is None


def test_update_needs_something_to_change(cli, subject_id: str) -> None:
    result = cli("subject", "update", subject_id)
    assert result.exit_code == ExitCode.BAD_INPUT


@pytest.mark.parametrize("query", ["lovelace", "ADA@EXAMPLE.ORG", "900123", "ada", "ms-not"])
def test_find_is_case_insensitive_on_name_email_phone(cli, subject_id: str, query: str) -> None:
    cli.ok("subject", "add", "--name", "Charles Babbage", "--email", "cb@example.org")
    found = cli.json("subject", "find", query)
    if query == "ms-not":
        assert found == []
    else:
        assert [s["id"] for s in found] == [subject_id]


def test_find_by_id_in_lower_case(cli, subject_id: str) -> None:
    assert cli.json("subject", "find", subject_id.lower())[0]["id"] == subject_id


def test_find_treats_wildcards_literally(cli, subject_id: str) -> None:
    assert cli.json("subject", "find", "%") == []
    assert cli.json("subject", "find", "_") == []


def test_find_says_when_there_are_more_matches(cli, store) -> None:
    for n in range(3):
        cli.ok("subject", "add", "--name", f"Smith {n}")
    result = cli("subject", "find", "smith", "--limit", "2", "--json")
    assert result.exit_code == ExitCode.OK and len(json.loads(result.stdout)) == 2
    assert "there are more" in result.stderr
    assert "there are more" not in cli.ok("subject", "find", "smith").stderr


def test_find_an_international_phone_number(cli, subject_id: str) -> None:
    assert cli.json("subject", "find", "+44 7700 900123")[0]["id"] == subject_id


def test_list(cli, subject_id: str) -> None:
    cli.ok("subject", "add", "--name", "Alan Turing")
    listing = cli.json("subject", "list")
    assert listing["total"] == 2
    assert [s["name"] for s in listing["subjects"]] == ["Ada Lovelace", "Alan Turing"]
    page = cli.json("subject", "list", "--limit", "1", "--offset", "1")
    assert page["subjects"][0]["name"] == "Alan Turing"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", ""], "--name"),
        (["--name", "X", "--dob", "10/12/1985"], "2026-03-31"),
        (["--name", "X", "--dob", "1985-02-30"], "not a real day"),
        (["--name", "X", "--dob", "2030-01-01"], "future"),
        (["--name", "X", "--email", "not-an-email"], "--email"),
        (["--name", "X", "--phone", "call me"], "--phone"),
        (["--name", "X\x00Y"], "control characters"),
    ],
)
def test_add_rejects_bad_input_with_exit_2(cli, store: Path, args: list[str], message: str) -> None:
    result = cli("subject", "add", *args)
    assert result.exit_code == ExitCode.BAD_INPUT, result.stderr
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert cli.json("subject", "list")["total"] == 0


def test_unknown_subject_is_exit_2(cli, store: Path) -> None:
    for args in (["subject", "show", "S-ZZZZZ"], ["item", "list", "S-ZZZZZ"],
                 ["subject", "update", "S-ZZZZZ", "--name", "X"],
                 ["item", "add", "S-ZZZZZ", "--category", "identity", "--source", "form",
                  "--purpose", "care"]):
        result = cli(*args)
        assert result.exit_code == ExitCode.BAD_INPUT, args
        assert "no subject S-ZZZZZ" in result.stderr


def test_unknown_subject_message_never_echoes_a_name(cli, store: Path) -> None:
    result = cli("subject", "show", "Ada Lovelace")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "Lovelace" not in result.stderr
