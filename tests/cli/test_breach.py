"""`pigment breach ...` through the CLI: record -> assess -> notify -> close, the 72-hour deadline
printed in London time, the overdue alert (exit 1) for cron, the report for the ICO, the errors
and their exit codes, and hostile free text kept out of the audit trail and of every error."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from pigment_cli.cli import app
from pigment_cli.errors import ExitCode

HOSTILE = "Ada Lovelace <script>alert(1)</script> =cmd|' /C calc'!A0 ${jndi:x} ../../etc"


def _record(cli, *extra: str, aware: str = "2026-11-24T09:30") -> tuple[str, str]:  # noqa: ANN001
    out = cli.ok("breach", "record", "--aware-at", aware, "--nature", "confidentiality",
                 "--description", "letter to the wrong patient", *extra).stdout.split()
    assert len(out) == 2
    return out[0], out[1]


def test_record_prints_the_id_and_the_deadline_across_the_spring_change(cli, store: Path) -> None:
    breach, deadline = _record(cli, aware="2026-03-28T10:00")
    assert breach.startswith("B-") and len(breach) == 7
    assert deadline == "2026-03-31T11:00+01:00"
    shown = cli.json("breach", "show", breach)
    assert shown["aware_at"] == "2026-03-28T10:00+00:00"
    assert shown["ico_deadline"] == deadline and shown["status"] == "OVERDUE"


def test_the_deadline_across_the_autumn_change_and_with_an_offset(cli, store: Path) -> None:
    assert _record(cli, aware="2026-10-24T10:00")[1] == "2026-10-27T09:00+00:00"
    assert _record(cli, aware="2026-10-25T01:30+01:00")[1] == "2026-10-28T00:30+00:00"
    assert _record(cli, aware="2026-10-31T23:30")[1] == "2026-11-03T23:30+00:00"


@pytest.mark.parametrize(("aware", "why"), [
    ("2026-03-29T01:30", "does not exist in London"),
    ("2026-10-25T01:30", "happened twice in London"),
    ("2026-11-25T10:31", "in the future"),
    ("2026-11-24", "not a date and time"),
])
def test_record_refuses_times_it_cannot_place(cli, store: Path, aware: str, why: str) -> None:
    result = cli("breach", "record", "--aware-at", aware, "--nature", "integrity",
                 "--description", "x")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert why in result.stderr and result.stdout == ""


def test_the_full_lifecycle(cli, store: Path, subject_id: str) -> None:
    breach, _ = _record(cli, "--occurred-at", "2026-11-23T18:00", "--categories",
                        "contact,medical_history", "--subjects", subject_id, "--records", "2")
    listed = cli("breach", "list", "--open", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["hours_left"] == pytest.approx(47)
    assert cli("breach", "close", breach).exit_code == ExitCode.REFUSED  # not assessed
    assess = cli("breach", "assess", breach, "--risk", "high", "--reason", "health data")
    assert assess.exit_code == 0 and "HIGH risk" in assess.stderr
    refused = cli("breach", "close", breach)
    assert refused.exit_code == ExitCode.REFUSED
    assert "notify-ico" in refused.stderr and "notify-subjects" in refused.stderr
    told = cli("breach", "notify-ico", breach, "--on", "2026-11-25T09:00", "--reference",
               "IC-123456")
    assert told.exit_code == 0 and "LATE" not in told.stderr
    assert cli("breach", "close", breach).exit_code == ExitCode.REFUSED  # the people not told
    cli.ok("breach", "notify-subjects", breach, "--on", "2026-11-25T10:00")
    cli.ok("breach", "update", breach, "--consequences", "distress", "--measures",
           "letter retrieved", "--approx-subjects", "3", "--records", "4")
    cli.ok("breach", "close", breach)
    shown = cli.json("breach", "show", breach)
    assert shown["status"] == "closed" and shown["missing"] == []
    assert shown["ico_reference"] == "IC-123456" and shown["approx_subjects"] == 3
    assert shown["subject_ids"] == [subject_id] and shown["records"] == 4
    assert cli("breach", "close", breach).exit_code == ExitCode.REFUSED  # closed already
    assert cli("breach", "update", breach, "--measures", "x").exit_code == ExitCode.REFUSED
    assert cli.json("breach", "list", "--open") == []
    assert [b["id"] for b in cli.json("breach", "list")] == [breach]
    table = cli.ok("breach", "show", breach).stdout
    assert "letter retrieved" in table and "IC-123456" in table
    narrow = cli.runner.invoke(app, ["breach", "list"], env={"COLUMNS": "80"})
    assert any(breach in line and "closed" in line for line in narrow.stdout.splitlines())


def test_subject_show_lists_its_breaches_and_the_access_package_does_not(
        cli, store: Path, subject_id: str, tmp_path: Path) -> None:
    breach, _ = _record(cli, "--subjects", subject_id)
    shown = cli.json("subject", "show", subject_id)
    assert shown["breaches"] == [{"breach": breach, "aware": "2026-11-24", "status": "open"}]
    assert breach in cli.ok("subject", "show", subject_id).stdout
    cli.ok("sar", "export", subject_id, "--out", str(tmp_path / "package"))
    for file in (tmp_path / "package").iterdir():
        assert breach not in file.read_text(errors="replace"), file.name


def test_assessed_none_the_ico_is_voluntary(cli, store: Path) -> None:
    breach, _ = _record(cli, aware="2026-11-01T09:00")
    assert cli("breach", "list").exit_code == ExitCode.CHECK_FAILED
    none = cli("breach", "assess", breach, "--risk", "none", "--reason", "encrypted, key safe")
    assert none.exit_code == 0 and "need not be told" in none.stderr
    assert cli("breach", "list", "--overdue").exit_code == 0
    # nothing to notify, but Art. 33(5): effects and remedial action on record first
    assert cli("breach", "close", breach).exit_code == ExitCode.REFUSED
    cli.ok("breach", "update", breach, "--consequences", "none", "--measures", "key rotated")
    cli.ok("breach", "close", breach)
    assert cli.json("breach", "show", breach)["risk_reason"] == "encrypted, key safe"
    other, _ = _record(cli)
    cli.ok("breach", "assess", other, "--risk", "none", "--reason", "no risk")
    told = cli("breach", "notify-ico", other, "--on", "2026-11-25T09:00")
    assert told.exit_code == 0 and "voluntary" in told.stderr


def test_list_exits_1_when_a_notifiable_breach_is_past_its_72_hours(cli, store: Path) -> None:
    # FIXED_NOW is 2026-11-25 10:30 UTC: aware 10:29 three days before is one minute late
    late, _ = _record(cli, aware="2026-11-22T10:29")
    on_time, _ = _record(cli, aware="2026-11-22T10:30")
    for flags in ((), ("--open",), ("--overdue",)):
        result = cli("breach", "list", *flags, "--json")
        assert result.exit_code == ExitCode.CHECK_FAILED, flags
        assert late in result.stderr and on_time not in result.stderr
    assert [b["id"] for b in json.loads(cli("breach", "list", "--overdue", "--json").stdout)] \
        == [late]
    cli.ok("breach", "assess", late, "--risk", "risk", "--reason", "x")
    assert cli("breach", "list", "--overdue").exit_code == ExitCode.CHECK_FAILED  # still not told
    told = cli("breach", "notify-ico", late, "--on", "2026-11-25T10:30", "--late-reason",
               "found on a Sunday")
    assert told.exit_code == 0 and "LATE" in told.stderr
    assert cli("breach", "list").exit_code == 0
    assert cli.json("breach", "show", late)["ico_late"] is True
    report = cli.ok("breach", "report", late).stdout
    assert "LATE" in report


def test_report_has_what_the_ico_form_asks_for(cli, store: Path, tmp_path: Path) -> None:
    breach, deadline = _record(cli, "--categories", "medical_history", "--approx-subjects", "40",
                               "--records", "120")
    cli.ok("breach", "update", breach, "--consequences", "distress", "--measures", "recalled")
    md = cli.ok("breach", "report", breach).stdout
    for expected in ("Pigment.lab", "privacy@pigment.example", "Data Protection Officer",
                     deadline, "about 40", "about 120", "distress", "recalled",
                     "Special category (health) data involved\n\n> yes", "confidentiality",
                     "When the ICO was told\n\n> not yet"):
        assert expected in md, expected
    # free text never makes structure in the Markdown report
    cli.ok("breach", "update", breach, "--measures", "recalled\n## Fake heading")
    md = cli.ok("breach", "report", breach).stdout
    assert "\n## Fake heading" not in md and "> ## Fake heading" in md
    out = tmp_path / "breach.html"
    cli.ok("breach", "report", breach, "--format", "html", "--out", str(out))
    assert out.stat().st_mode & 0o777 == 0o600
    assert "<table>" in out.read_text() and "recalled" in out.read_text()
    assert cli("breach", "report", breach, "--format", "pdf").exit_code == ExitCode.BAD_INPUT
    assert cli("breach", "report", breach, "--out", str(store)).exit_code == ExitCode.BAD_INPUT


@pytest.mark.parametrize("args", [
    ("breach", "show", "B-ZZZZZ"), ("breach", "assess", "B-ZZZZZ", "--risk", "risk", "--reason", "x"),
    ("breach", "notify-ico", "B-ZZZZZ", "--on", "2026-11-25T09:00"),
    ("breach", "notify-subjects", "B-ZZZZZ", "--on", "2026-11-25T09:00"),
    ("breach", "update", "B-ZZZZZ", "--measures", "x"), ("breach", "close", "B-ZZZZZ"),
    ("breach", "report", "B-ZZZZZ"),
])
def test_an_unknown_breach_is_exit_2(cli, store: Path, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.exit_code == ExitCode.BAD_INPUT and "no breach B-ZZZZZ" in result.stderr


def test_bad_input_is_exit_2(cli, store: Path, subject_id: str) -> None:
    breach, _ = _record(cli)
    for args in [
        ("record", "--aware-at", "2026-11-24T09:00", "--nature", "theft", "--description", "x"),
        ("record", "--aware-at", "2026-11-24T09:00", "--occurred-at", "2026-11-24T09:01",
         "--nature", "integrity", "--description", "x"),
        ("record", "--aware-at", "2026-11-24T09:00", "--nature", "integrity", "--description",
         "x", "--subjects", subject_id, "--approx-subjects", "2"),
        ("record", "--aware-at", "2026-11-24T09:00", "--nature", "integrity", "--description",
         "x", "--subjects", "S-ZZZZZ"),
        ("record", "--aware-at", "2026-11-24T09:00", "--nature", "integrity", "--description",
         "x", "--categories", "gossip"),
        ("assess", breach, "--risk", "maybe", "--reason", "x"),
        ("assess", breach, "--risk", "risk", "--reason", " "),
        ("notify-ico", breach, "--on", "2026-11-24T09:00"),  # before awareness
        ("notify-subjects", breach, "--on", "2026-11-26T09:00"),  # future
        ("update", breach),
    ]:
        assert cli("breach", *args).exit_code == ExitCode.BAD_INPUT, args
    cli.ok("breach", "notify-ico", breach, "--on", "2026-11-24T10:00")
    again = cli("breach", "notify-ico", breach, "--on", "2026-11-24T10:00")
    assert again.exit_code == ExitCode.BAD_INPUT and "already" in again.stderr


def test_hostile_text_is_kept_but_never_audited_or_echoed(cli, store: Path) -> None:
    breach, _ = _record(cli)
    cli.ok("breach", "update", breach, "--description", HOSTILE, "--consequences", HOSTILE,
           "--measures", HOSTILE)
    cli.ok("breach", "assess", breach, "--risk", "risk", "--reason", HOSTILE)
    cli.ok("breach", "notify-ico", breach, "--on", "2026-11-25T09:00", "--reference", HOSTILE)
    shown = cli.json("breach", "show", breach)
    for key in ("description", "consequences", "measures", "risk_reason", "ico_reference"):
        assert shown[key] == HOSTILE
    html = cli.ok("breach", "report", breach, "--format", "html").stdout
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert HOSTILE not in cli.ok("breach", "list", "--json").stdout
    control = HOSTILE + "\x1b[2J"
    for args in [
        ("record", "--aware-at", "2026-11-24T09:00", "--nature", "integrity", "--description",
         control),
        ("update", breach, "--measures", control), ("update", breach, "--consequences", control),
        ("update", breach, "--description", control),
        ("assess", breach, "--risk", "high", "--reason", control),
        ("notify-subjects", breach, "--on", control),
        ("record", "--aware-at", control, "--nature", "integrity", "--description", "x"),
        ("record", "--aware-at", "2026-11-24T09:00", "--nature", control, "--description", "x"),
        ("record", "--aware-at", "2026-11-24T09:00", "--nature", "integrity", "--description",
         "x", "--categories", control),
    ]:
        result = cli("breach", *args)
        assert result.exit_code == ExitCode.BAD_INPUT, args
        assert "Lovelace" not in result.stderr and "alert(1)" not in result.stderr, args
    conn = sqlite3.connect(store)
    try:
        trail = " ".join(r[0] for r in conn.execute(
            "SELECT command || ' ' || coalesce(detail, '') FROM audit WHERE command LIKE 'breach%'"))
    finally:
        conn.close()
    assert "breach record" in trail and "breach notify-ico" in trail and breach in trail
    for fragment in ("Lovelace", "alert(1)", "jndi", "wrong patient"):
        assert fragment not in trail
