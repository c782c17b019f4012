"""`pigment breach notify-ico --late-reason`: a notification after the 72 hours must give the
reasons for the delay (UK GDPR Art. 33(1)); they are kept, shown to the manager and in the ICO
report, and never audited."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pigment_cli.errors import ExitCode

HOSTILE = "Ada Lovelace <script>alert(1)</script> =cmd|' /C calc'!A0"
# FIXED_NOW is 2026-11-25 10:30 UTC; aware 2026-11-21 09:00 -> deadline 2026-11-24 09:00 (GMT)
AWARE, DEADLINE = "2026-11-21T09:00", "2026-11-24T09:00+00:00"


def _late_breach(cli) -> str:  # noqa: ANN001
    breach = cli.ok("breach", "record", "--aware-at", AWARE, "--nature", "confidentiality",
                    "--description", "letter to the wrong patient").stdout.split()[0]
    cli.ok("breach", "assess", breach, "--risk", "risk", "--reason", "health data")
    return breach


def test_told_late_without_a_reason_is_refused_citing_art_33_1(cli, store: Path) -> None:
    breach = _late_breach(cli)
    result = cli("breach", "notify-ico", breach, "--on", "2026-11-24T09:01")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "Art. 33(1)" in result.stderr and "--late-reason" in result.stderr
    assert DEADLINE in result.stderr and len(result.stderr.strip().splitlines()) == 1
    blank = cli("breach", "notify-ico", breach, "--on", "2026-11-24T09:01", "--late-reason", " ")
    assert blank.exit_code == ExitCode.BAD_INPUT
    assert cli.json("breach", "show", breach)["ico_notified_at"] is None  # nothing recorded


def test_the_reason_is_kept_shown_and_reported_never_audited(cli, store: Path, db: Path) -> None:
    breach = _late_breach(cli)
    told = cli("breach", "notify-ico", breach, "--on", "2026-11-24T09:01", "--reference",
               "IC-1", "--late-reason", f"found on a bank holiday; {HOSTILE}")
    assert told.exit_code == 0 and "LATE" in told.stderr and HOSTILE not in told.stderr
    shown = cli.json("breach", "show", breach)
    assert shown["late_reason"] == f"found on a bank holiday; {HOSTILE}" and shown["ico_late"]
    assert "late reason" in cli.ok("breach", "show", breach).stdout
    report = cli.ok("breach", "report", breach).stdout
    assert "## Reasons for the delay" in report and f"bank holiday; {HOSTILE}" in report
    html = cli.ok("breach", "report", breach, "--format", "html").stdout
    assert "Reasons for the delay" in html and "<script>alert" not in html
    conn = sqlite3.connect(db)
    detail = " ".join(r[0] for r in conn.execute("SELECT detail FROM audit"))
    assert "bank holiday" not in detail and "Lovelace" not in detail


def test_on_time_needs_no_reason_and_refuses_one(cli, store: Path) -> None:
    breach = _late_breach(cli)
    # exactly at the deadline is on time
    extra = cli("breach", "notify-ico", breach, "--on", "2026-11-24T09:00", "--late-reason", "x")
    assert extra.exit_code == ExitCode.BAD_INPUT and "only for a notification after" in extra.stderr
    cli.ok("breach", "notify-ico", breach, "--on", "2026-11-24T09:00")
    shown = cli.json("breach", "show", breach)
    assert shown["late_reason"] is None and shown["ico_late"] is False
    assert "Reasons for the delay" not in cli.ok("breach", "report", breach).stdout


def test_the_72_hours_are_exact_across_the_autumn_change(cli, store: Path) -> None:
    # aware 10:00 BST on Sat 24 Oct 2026: the deadline is 09:00 GMT on Tue 27 Oct
    breach = cli.ok("breach", "record", "--aware-at", "2026-10-24T10:00", "--nature",
                    "availability", "--description", "server down").stdout.split()[0]
    late = cli("breach", "notify-ico", breach, "--on", "2026-10-27T09:30")
    assert late.exit_code == ExitCode.BAD_INPUT and "Art. 33(1)" in late.stderr
    cli.ok("breach", "notify-ico", breach, "--on", "2026-10-27T09:00")  # on time, no reason
