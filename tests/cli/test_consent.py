"""`pigment consent ...`: exit codes, output, files, the suppression list, and what the audit trail
keeps."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from conftest import EXAMPLES, row_count

from pigment_cli.errors import ExitCode


def _add(cli, name: str, email: str | None = None) -> str:
    args = ["subject", "add", "--name", name] + (["--email", email] if email else [])
    return cli.ok(*args).stdout.strip()


def test_grant_withdraw_grant_through_the_cli(cli, subject_id: str) -> None:
    first = cli.json("consent", "grant", subject_id, "newsletter", "--via", "paper_form",
                     "--evidence", "form 2026/114", "--notice", "2025-06", "--at", "2026-01-10")
    assert first["recorded"] and first["state"]["state"] == "granted"
    assert first["event"]["written"] is True and first["event"]["notice_version"] == "2025-06"
    result = cli.ok("consent", "withdraw", subject_id, "newsletter", "--via", "newsletter_link",
                    "--at", "2026-05-01T08:00:00+01:00")
    assert result.stdout == "" and "withdrawn at 2026-05-01T07:00:00" in result.stderr
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "phone")
    status = {s["purpose"]: s for s in cli.json("consent", "status", subject_id)}
    assert status["newsletter"] == {**status["newsletter"], "state": "granted",
                                    "since": "2026-11-25T10:30:00", "channel": "phone",
                                    "written": False, "notice_version": "2026-12"}
    assert status["cookies"]["state"] == "never asked"
    history = cli.json("consent", "history", subject_id)
    assert [(e["action"], e["channel"], e["recorded_by"]) for e in history] == [
        ("grant", "paper_form", "test-manager"), ("withdraw", "newsletter_link", "test-manager"),
        ("grant", "phone", "test-manager")]
    table = cli.ok("consent", "status", subject_id).stdout
    assert "newsletter" in table and "never asked" in table and "phone" in table
    assert "form 2026/114" in cli.ok("consent", "history", subject_id).stdout


def test_repeated_grant_says_nothing_was_recorded(cli, subject_id: str) -> None:
    cli.ok("consent", "grant", subject_id, "cookies", "--via", "web_form")
    again = cli.ok("consent", "grant", subject_id, "cookies", "--via", "web_form")
    assert "nothing recorded" in again.stderr and "already granted" in again.stderr
    assert len(cli.json("consent", "history", subject_id)) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["care", "--via", "email"], "rests on the treatment contract"),
    (["medical_records", "--via", "email"], "cannot be consented"),
    (["bogus", "--via", "email"], "consent purposes are: newsletter"),
    (["newsletter", "--via", "carrier_pigeon"], "unknown channel"),
    (["newsletter", "--via", "email", "--at", "next tuesday"], "ISO"),
    (["newsletter", "--via", "email", "--at", "2026-11-26"], "future"),
])
def test_bad_purpose_channel_or_date_is_exit_2_and_records_nothing(cli, subject_id: str, db: Path,
                                                                   args, message) -> None:
    for command in ("grant", "withdraw"):
        result = cli("consent", command, subject_id, *args)
        assert result.exit_code == ExitCode.BAD_INPUT, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
    assert row_count(db, "consent_events") == 0


def test_via_is_required(cli, subject_id: str) -> None:
    assert cli("consent", "grant", subject_id, "newsletter").exit_code == ExitCode.BAD_INPUT


def test_unknown_subject_is_exit_2(cli, store: Path) -> None:
    result = cli("consent", "grant", "S-00000", "newsletter", "--via", "email")
    assert result.exit_code == ExitCode.BAD_INPUT and "no subject S-00000" in result.stderr
    assert cli("consent", "status", "S-00000").exit_code == ExitCode.BAD_INPUT


def test_an_event_before_the_latest_is_exit_2(cli, subject_id: str) -> None:
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "email", "--at", "2026-06-01")
    result = cli("consent", "withdraw", subject_id, "newsletter", "--via", "email",
                 "--at", "2026-05-01")
    assert result.exit_code == ExitCode.BAD_INPUT and "cannot be dated before" in result.stderr


def test_check_exit_codes(cli, subject_id: str) -> None:
    def check(*extra: str):  # noqa: ANN202
        return cli("consent", "check", subject_id, "newsletter", *extra)

    never = check()
    assert never.exit_code == ExitCode.CHECK_FAILED and "not granted (never asked)" in never.stderr
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "phone")
    assert check().exit_code == ExitCode.OK
    written = check("--written")
    assert written.exit_code == ExitCode.CHECK_FAILED and "not written" in written.stderr
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form")
    assert check("--written").exit_code == ExitCode.OK
    cli.ok("consent", "withdraw", subject_id, "newsletter", "--via", "email")
    assert check().exit_code == ExitCode.CHECK_FAILED
    quiet = check("--quiet")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (ExitCode.CHECK_FAILED, "", "")
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "email")
    quiet = check("-q", "--written")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (ExitCode.OK, "", "")
    bad = cli("consent", "check", subject_id, "care", "--quiet")
    assert bad.exit_code == ExitCode.BAD_INPUT  # a wrong question is not a "no"


def test_audience_csv_lists_only_current_consents_and_is_formula_safe(cli, store: Path) -> None:
    keen = _add(cli, "=HYPERLINK(\"http://evil\")", "keen@example.org")
    gone = _add(cli, "Gone Away", "gone@example.org")
    _add(cli, "Never Asked", "never@example.org")
    cli.ok("consent", "grant", keen, "newsletter", "--via", "web_form", "--at", "2026-02-01")
    cli.ok("consent", "grant", gone, "newsletter", "--via", "web_form", "--at", "2026-02-01")
    cli.ok("consent", "withdraw", gone, "newsletter", "--via", "newsletter_link")
    result = cli.ok("consent", "audience", "newsletter")
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert rows == [{"id": keen, "email": "keen@example.org",
                     "name": "'=HYPERLINK(\"http://evil\")", "granted_since": "2026-02-01T00:00:00"}]
    assert "1 subject(s) consent to newsletter" in result.stderr
    members = json.loads(cli.ok("consent", "audience", "newsletter", "--format", "json").stdout)
    assert [m["id"] for m in members] == [keen]
    assert members[0]["name"] == "=HYPERLINK(\"http://evil\")"  # JSON is data, not a sheet


def test_audience_never_contains_a_suppressed_email(cli, store: Path, db: Path) -> None:
    from conftest import domain

    from pigment_cli.records.suppression import email_hmac

    sid = _add(cli, "Returning", "back@example.org")
    cli.ok("consent", "grant", sid, "newsletter", "--via", "email")
    with domain(db) as s:
        s.conn.execute("INSERT INTO suppression VALUES (?, ?)",
                       (email_hmac(s.conn, "Back@Example.org"), s.stamp))
    assert cli.ok("consent", "audience", "newsletter").stdout.splitlines() == [
        "id,email,name,granted_since"]
    granted = cli.json("consent", "grant", sid, "cookies", "--via", "email")
    assert granted["suppressed"] is True


def test_audience_to_a_private_file(cli, subject_id: str, tmp_path: Path) -> None:
    cli.ok("consent", "grant", subject_id, "satisfaction_survey", "--via", "in_clinic")
    out = tmp_path / "survey.csv"
    result = cli.ok("consent", "audience", "satisfaction_survey", "--out", out)
    assert result.stdout == "" and str(out) in result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert subject_id in out.read_text()
    assert cli.ok("consent", "audience", "satisfaction_survey", "--written").stdout.count("\n") == 1


def test_audience_of_a_contract_purpose_or_bad_format_is_exit_2(cli, store: Path) -> None:
    assert cli("consent", "audience", "care").exit_code == ExitCode.BAD_INPUT
    assert cli("consent", "audience", "newsletter", "--format", "xlsx").exit_code == ExitCode.BAD_INPUT


def test_audience_json_flag_is_format_json(cli, subject_id: str) -> None:
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "web_form")
    by_flag = cli.ok("consent", "audience", "newsletter", "--json").stdout
    assert by_flag == cli.ok("consent", "audience", "newsletter", "--format", "json").stdout
    assert [m["id"] for m in json.loads(by_flag)] == [subject_id]


UNSUBSCRIBES = (
    "\ufeffEMAIL ADDRESS;First Name;Unsub_Time\r\n"
    "ada@example.org;Ada;2026-10-01 10:00:00\r\n"
    "\r\n"
    "secret.stranger@example.net;Who;2026-10-02 10:00:00\r\n"
    "ADA@EXAMPLE.ORG;Ada;2026-10-01 10:00:00\r\n"
    ";;\r\n"
    "bo@example.org;Bo;\r\n"
)


def test_import_withdrawals_of_a_mailing_service_export(cli, subject_id: str, db: Path,
                                                        tmp_path: Path) -> None:
    bo = _add(cli, "Bo Peep", "bo@example.org")
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "web_form", "--at", "2026-01-01")
    cli.ok("consent", "grant", bo, "newsletter", "--via", "web_form", "--at", "2026-01-01")
    path = tmp_path / "unsubscribed.csv"
    path.write_text(UNSUBSCRIBES, encoding="utf-8")
    report = cli.json("consent", "import-withdrawals", path, "--purpose", "newsletter",
                      "--via", "newsletter_link")
    assert {k: report[k] for k in ("rows", "emails", "duplicates", "matched", "unknown",
                                   "withdrawn", "already_withdrawn")} == {
        "rows": 4, "emails": 3, "duplicates": 1, "matched": 2, "unknown": 1, "withdrawn": 2,
        "already_withdrawn": 0}
    assert report["unknown_lines"] == [4]
    result = cli("consent", "import-withdrawals", path, "--purpose", "newsletter",
                 "--via", "newsletter_link")
    assert result.exit_code == ExitCode.OK
    assert "0 withdrawn, 2 already withdrawn" in result.stderr
    assert "unknown email on line(s) 4" in result.stderr
    assert "stranger" not in result.stderr + result.stdout  # unknown emails are never echoed
    events = cli.json("consent", "history", subject_id)
    assert events[-1]["at"] == "2026-10-01T10:00:00" and events[-1]["channel"] == "newsletter_link"
    assert events[-1]["evidence"] == "unsubscribed.csv line 2"
    assert row_count(db, "consent_events") == 4
    assert cli.ok("consent", "audience", "newsletter").stdout.count("\n") == 1


def test_import_withdrawals_of_the_example_file(cli, store: Path, tmp_path: Path) -> None:
    jordan = _add(cli, "Jordan Reyes", "jordan.reyes@example.com")
    priya = _add(cli, "Priya Raman", "priya.raman@example.org")
    for sid in (jordan, priya):
        cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form", "--at", "2025-06-02")
    path = tmp_path / "mailchimp.csv"
    shutil.copy(EXAMPLES / "mailchimp-unsubscribes.csv", path)
    dry = cli.json("consent", "import-withdrawals", path, "--purpose", "newsletter",
                   "--via", "newsletter_link", "--dry-run")
    assert dry["withdrawn"] == 2 and dry["dry_run"]
    assert cli.ok("consent", "audience", "newsletter").stdout.count("\n") == 3  # still granted
    report = cli.json("consent", "import-withdrawals", path, "--purpose", "newsletter",
                      "--via", "newsletter_link")
    assert (report["matched"], report["withdrawn"], report["unknown"], report["duplicates"]) == (
        2, 2, 2, 1)
    status = {s["purpose"]: s for s in cli.json("consent", "status", priya)}
    assert status["newsletter"]["since"] == "2026-11-02T07:55:31"


def test_import_errors_are_exit_2_and_change_nothing(cli, subject_id: str, db: Path,
                                                     tmp_path: Path) -> None:
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "email", "--at", "2026-01-01")
    bad = tmp_path / "bad.csv"
    bad.write_text("email,unsub_time\nada@example.org,2026-10-01\nbo@example.org,yesterday\n")
    result = cli("consent", "import-withdrawals", bad, "--purpose", "newsletter",
                 "--via", "newsletter_link")
    assert result.exit_code == ExitCode.BAD_INPUT and "line 3" in result.stderr
    assert row_count(db, "consent_events") == 1
    missing = cli("consent", "import-withdrawals", tmp_path / "none.csv", "--purpose",
                  "newsletter", "--via", "newsletter_link")
    assert missing.exit_code == ExitCode.BAD_INPUT and "no file" in missing.stderr
    no_column = tmp_path / "names.csv"
    no_column.write_text("name,phone\nAda,0123\n")
    assert cli("consent", "import-withdrawals", no_column, "--purpose", "newsletter",
               "--via", "newsletter_link").exit_code == ExitCode.BAD_INPUT
    assert cli("consent", "import-withdrawals", bad, "--purpose", "care",
               "--via", "newsletter_link").exit_code == ExitCode.BAD_INPUT


def test_consent_audit_entries_hold_no_personal_data(cli, subject_id: str, db: Path,
                                                     tmp_path: Path) -> None:
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form",
           "--evidence", "Signed by Ada Lovelace", "--notice", "notice-Lovelace")
    cli.ok("consent", "status", subject_id)
    cli.ok("consent", "history", subject_id)
    cli.ok("consent", "check", subject_id, "newsletter")
    cli.ok("consent", "audience", "newsletter")
    path = tmp_path / "unsubscribed.csv"
    path.write_text("email\nada@example.org\nstranger@example.net\n")
    cli.ok("consent", "import-withdrawals", path, "--purpose", "newsletter", "--via",
           "newsletter_link")
    log = cli.json("audit", "log")
    commands = [e["command"] for e in log]
    for command in ("consent grant", "consent status", "consent history", "consent check",
                    "consent audience", "consent withdraw", "consent import-withdrawals"):
        assert command in commands
    withdraw = next(e for e in log if e["command"] == "consent withdraw")
    assert withdraw["subject_id"] == subject_id and withdraw["detail"]["purpose"] == "newsletter"
    conn = sqlite3.connect(db)
    trail = repr(conn.execute("SELECT * FROM audit").fetchall())
    conn.close()
    for personal in ("Ada", "Lovelace", "ada@example.org", "stranger", "Signed", "unsubscribed"):
        assert personal not in trail


# --- the suppression list: check, unsuppress, the grant warning -------------------------------


def _suppressed_patient(cli, monkeypatch: pytest.MonkeyPatch) -> str:
    """A subject erased on request at FIXED_NOW (medical records kept, so the subject stays) whose
    email is now on the suppression list; the clock then moves on an hour."""
    from conftest import FIXED_NOW

    from pigment_cli import clock

    sid = _add(cli, "Returning Patient", "back@example.org")
    cli.ok("item", "add", sid, "--category", "medical_history", "--source", "consultation",
           "--purpose", "medical_records", "--value", "note")
    cli.ok("consent", "grant", sid, "newsletter", "--via", "paper_form", "--at", "2026-01-05")
    cli.ok("erase", sid, "--apply")
    later = FIXED_NOW.replace(hour=11, minute=30)
    monkeypatch.setattr(clock, "system_now", lambda: later)
    return sid


def _suppression_rows(db: Path) -> int:
    return row_count(db, "suppression")


def test_check_says_no_for_a_suppressed_email(cli, store: Path, db: Path) -> None:
    from conftest import domain

    from pigment_cli.records.suppression import email_hmac

    sid = _add(cli, "Suppressed", "gone@example.org")
    for purpose in ("newsletter", "cookies"):
        cli.ok("consent", "grant", sid, purpose, "--via", "web_form", "--at", "2026-02-01")
    assert cli("consent", "check", sid, "newsletter", "--quiet").exit_code == ExitCode.OK
    with domain(db) as s:
        s.conn.execute("INSERT INTO suppression VALUES (?, ?)",
                       (email_hmac(s.conn, "GONE@example.org"), s.stamp))
    for purpose in ("newsletter", "cookies"):
        result = cli("consent", "check", sid, purpose)
        assert result.exit_code == ExitCode.CHECK_FAILED
        assert "suppression list" in result.stderr and f"consent unsuppress {sid}" in result.stderr
        assert "gone@" not in result.stderr
        assert sid not in cli.ok("consent", "audience", purpose).stdout
    quiet = cli("consent", "check", sid, "newsletter", "--written", "--quiet")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (ExitCode.CHECK_FAILED, "", "")
    assert cli.json("audit", "log")[-1]["detail"]["ok"] is False


def test_unsuppress_needs_a_written_grant_given_after_the_suppression(
        cli, store: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = _suppressed_patient(cli, monkeypatch)
    assert _suppression_rows(db) == 1
    audit_before = row_count(db, "audit")
    refused = cli("consent", "unsuppress", sid)
    assert refused.exit_code == ExitCode.REFUSED
    assert "since 2026-11-25T10:30:00" in refused.stderr and "written consent" in refused.stderr
    assert "Nothing was changed" in refused.stderr and "back@" not in refused.stderr
    assert (_suppression_rows(db), row_count(db, "audit")) == (1, audit_before)
    # Not written: a phone grant does not count. Dated before the suppression: nor does it.
    cli.ok("consent", "grant", sid, "satisfaction_survey", "--via", "phone")
    cli.ok("consent", "grant", sid, "cookies", "--via", "web_form", "--at", "2026-11-01")
    assert cli("consent", "unsuppress", sid).exit_code == ExitCode.REFUSED
    # A written grant now: recorded, with a warning pointing at unsuppress; it does not count yet.
    granted = cli.ok("consent", "grant", sid, "newsletter", "--via", "paper_form",
                     "--evidence", "form 2026/201")
    assert "warning" in granted.stderr and f"pigment consent unsuppress {sid}" in granted.stderr
    assert cli("consent", "check", sid, "newsletter").exit_code == ExitCode.CHECK_FAILED
    done = cli.json("consent", "unsuppress", sid)
    assert done["removed"] is True and done["purpose"] == "newsletter"
    assert done["suppressed_at"] == "2026-11-25T10:30:00"
    assert _suppression_rows(db) == 0
    cli.ok("consent", "check", sid, "newsletter", "--written")
    assert sid in cli.ok("consent", "audience", "newsletter").stdout
    entry = cli.json("audit", "log", "--subject", sid)
    unsuppressed = [e for e in entry if e["command"] == "consent unsuppress"]
    assert unsuppressed[-1]["detail"] == {"removed": True, "purpose": "newsletter",
                                          "event": done["event"]}
    trail = repr(sqlite3.connect(db).execute("SELECT * FROM audit").fetchall())
    assert "back@" not in trail
    again = cli.ok("consent", "unsuppress", sid)
    assert "not on the suppression list" in again.stderr


def test_unsuppress_needs_the_written_grant_to_be_in_force(
        cli, store: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = _suppressed_patient(cli, monkeypatch)
    cli.ok("consent", "grant", sid, "newsletter", "--via", "email")
    cli.ok("consent", "withdraw", sid, "newsletter", "--via", "newsletter_link")
    assert cli("consent", "unsuppress", sid).exit_code == ExitCode.REFUSED
    assert _suppression_rows(db) == 1


def test_unsuppress_errors(cli, store: Path) -> None:
    no_email = _add(cli, "No Email")
    result = cli("consent", "unsuppress", no_email)
    assert result.exit_code == ExitCode.BAD_INPUT and "no email address" in result.stderr
    assert cli("consent", "unsuppress", "S-00000").exit_code == ExitCode.BAD_INPUT
