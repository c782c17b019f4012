"""`pigment erase`: erasure on request keeps what the law requires and says why, never extends
retention, and names the holds that keep a record."""

from __future__ import annotations

from pathlib import Path

from conftest import backdate

from pigment_cli.errors import ExitCode


def _rich_subject(cli) -> str:
    sid = cli.ok("subject", "add", "--name", "Eve Erasable", "--email", "eve@example.org").stdout.strip()
    for purpose in ("satisfaction_survey", "cookies", "personalised_ads"):  # their items need it
        cli.ok("consent", "grant", sid, purpose, "--via", "web_form")
    for category, source, purpose in (
        ("medical_history", "consultation", "medical_records"),
        ("payment", "payment", "debt_collection"),
        ("marketing", "survey", "satisfaction_survey"),
        ("web_activity", "website", "cookies"),
        ("social_media", "social_media", "personalised_ads"),
        ("cctv", "cctv", "security"),
    ):
        cli.ok("item", "add", sid, "--category", category, "--source", source, "--purpose", purpose,
               "--value", f"{category} value")
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    return sid


def test_erase_on_request_keeps_medical_and_debt_records_and_says_why(cli, store: Path) -> None:
    sid = _rich_subject(cli)
    preview = cli.json("erase", sid)
    assert preview["applied"] is False
    assert len(cli.json("item", "list", sid)) == 6  # a preview changes nothing
    result = cli.ok("erase", sid, "--reason", "objection", "--apply")
    assert "Kept, and why" in result.stdout and "17(3)" in result.stdout
    left = sorted(i["category"] for i in cli.json("item", "list", sid))
    assert left == ["medical_history", "payment"]
    status = {c["purpose"]: c["state"] for c in cli.json("consent", "status", sid)}
    assert status["newsletter"] == "withdrawn"
    audience = cli.ok("consent", "audience", "newsletter", "--format", "json").stdout
    assert sid not in audience
    commands = [e["command"] for e in cli.json("audit", "log", "--subject", sid)]
    assert "erase" in commands


def test_erase_with_nothing_to_keep_erases_the_whole_subject(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Newsletter Only", "--email", "n@example.org").stdout.strip()
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    cli.ok("item", "add", sid, "--category", "marketing", "--source", "email_interaction",
           "--purpose", "newsletter", "--value", "clicked")
    outcome = cli.json("erase", sid, "--apply")
    assert outcome["whole_subject"] is True
    assert cli("subject", "show", sid).exit_code == ExitCode.BAD_INPUT


def test_erase_errors(cli, subject_id: str) -> None:
    assert cli("erase", "S-ZZZZZ").exit_code == ExitCode.BAD_INPUT
    assert cli("erase", subject_id, "--reason", "because").exit_code == ExitCode.BAD_INPUT
    assert cli("erase", subject_id, "--via", "pigeon").exit_code == ExitCode.BAD_INPUT


def test_erase_never_extends_retention(cli, store: Path) -> None:
    sid = _rich_subject(cli)
    backdate(store, sid, "2025-01-15")
    before = cli.json("subject", "show", sid)["retention"]["erasure_due"]
    kept = cli.json("erase", sid, "--apply")["kept"]
    assert {k["until"] for k in kept} == {before}
    assert cli.json("subject", "show", sid)["retention"]["erasure_due"] == before


def test_an_enquirer_without_health_records_keeps_no_care_data(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Enquirer").stdout.strip()
    cli.ok("item", "add", sid, "--category", "contact", "--source", "information_request",
           "--purpose", "care", "--value", "asked for prices")
    outcome = cli.json("erase", sid, "--apply")
    assert outcome["whole_subject"] is True


def test_erase_names_the_holds_that_keep_the_record(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Held Enquirer").stdout.strip()
    hold = cli.ok("hold", "add", sid, "--reason", "legal claim").stdout.strip()
    result = cli.ok("erase", sid, "--apply")
    assert hold in result.stdout and "Held" in result.stdout
    cli.ok("subject", "show", sid)
