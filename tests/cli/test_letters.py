"""`pigment request letter`: printed or written to a new private file, audited with ids only,
and every refusal one line on stderr with its exit code."""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from conftest import audit_entries as _audit
from conftest import edited_policy
from conftest import open_request as _open

from pigment_cli import clock
from pigment_cli.errors import ExitCode


def _one_line(result, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pigment: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_letter_prints_to_stdout_and_is_audited_with_ids_only(cli, subject_id: str,
                                                              db: Path) -> None:
    rid = _open(cli, subject_id, "--note", "My records from 2024")
    result = cli.ok("request", "letter", rid, "--template", "acknowledgement")
    assert "Dear Ada Lovelace," in result.stdout
    assert "received on 20 November 2026" in result.stdout
    assert "25 November 2026" in result.stdout  # dated today (the fixed clock)
    assert "My records from 2024" not in result.stdout  # the note is internal: never quoted
    assert result.stderr == ""
    [(subject, detail)] = _audit(db, "request letter")
    assert subject == subject_id
    assert detail == {"request": rid, "template": "acknowledgement"}


def test_letter_out_writes_a_new_private_file_and_never_overwrites(cli, subject_id: str,
                                                                   db: Path, tmp_path: Path) -> None:
    rid = _open(cli, subject_id)
    out = tmp_path / "ack.html"
    result = cli.ok("request", "letter", rid, "--template", "acknowledgement", "--format", "html",
                    "--out", out)
    assert result.stdout == ""
    assert rid in result.stderr and "Ada" not in result.stderr  # ids, never the name
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "Dear Ada Lovelace," in text
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    again = cli("request", "letter", rid, "--template", "acknowledgement", "--out", out)
    assert "already exists" in _one_line(again, ExitCode.BAD_INPUT)
    assert out.read_text() == text
    assert len(_audit(db, "request letter")) == 1  # the refused one is not recorded


def test_letter_out_refuses_the_store_itself_and_a_missing_folder(cli, subject_id: str, db: Path,
                                                                   tmp_path: Path) -> None:
    rid = _open(cli, subject_id)
    result = cli("request", "letter", rid, "--template", "acknowledgement", "--out", db)
    assert "store's own files" in _one_line(result, ExitCode.BAD_INPUT)
    result = cli("request", "letter", rid, "--template", "acknowledgement", "--out",
                 tmp_path / "no-such-folder" / "ack.txt")
    assert "no folder" in _one_line(result, ExitCode.BAD_INPUT)
    assert _audit(db, "request letter") == []


@pytest.mark.parametrize("args, code, said", [
    (["--template", "threat"], ExitCode.BAD_INPUT, "unknown letter template"),
    (["--template", "acknowledgement", "--format", "pdf"], ExitCode.BAD_INPUT, "--format"),
    (["--template", "refusal"], ExitCode.BAD_INPUT, "not closed as refused"),
    (["--template", "completed"], ExitCode.BAD_INPUT, "still open"),
    (["--template", "extension"], ExitCode.BAD_INPUT, "not extended"),
    (["--template", "clarification"], ExitCode.BAD_INPUT, "not paused"),
    (["--template", "nothing-held"], ExitCode.BAD_INPUT, "holds nothing on"),
    (["--template", "acknowledgement", "--detail", "x"], ExitCode.BAD_INPUT, "clarification"),
    (["--template", "restriction-lifting", "--lift-on", "2026-12-10"], ExitCode.BAD_INPUT,
     "no restriction in force"),
    (["--template", "acknowledgement", "--lift-on", "2026-12-10"], ExitCode.BAD_INPUT,
     "--lift-on is for the restriction-lifting letter only"),
])
def test_letters_a_request_cannot_have_are_one_line_errors(cli, subject_id: str, db: Path,
                                                           args: list[str], code: int,
                                                           said: str) -> None:
    rid = _open(cli, subject_id)
    line = _one_line(cli("request", "letter", rid, *args), code)
    assert said in line and "Ada" not in line
    assert _audit(db, "request letter") == []


def test_an_unknown_request_is_exit_2(cli, store: Path) -> None:
    line = _one_line(cli("request", "letter", "R-ZZZZZ", "--template", "acknowledgement"),
                     ExitCode.BAD_INPUT)
    assert "no request R-ZZZZZ" in line


def _on_day(monkeypatch: pytest.MonkeyPatch, day: str) -> None:
    """Letters are dated today (no --as-of): move the clock instead."""
    when = datetime.combine(date.fromisoformat(day), time(10, 30), tzinfo=UTC)
    monkeypatch.setattr(clock, "system_now", lambda: when)


def test_the_extension_letter_after_the_first_month_is_exit_3(
        cli, subject_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = _open(cli, subject_id, received="2026-11-02")
    cli.ok("request", "extend", rid, "--reason", "Records in three systems")
    _on_day(monkeypatch, "2026-12-02")
    ok = cli.ok("request", "letter", rid, "--template", "extension")
    assert "Records in three systems" in ok.stdout and "2 February 2027" in ok.stdout
    _on_day(monkeypatch, "2026-12-03")
    late = cli("request", "letter", rid, "--template", "extension")
    assert "first month ended on 2026-12-02" in _one_line(late, ExitCode.REFUSED)


def test_a_refusal_letter_in_html(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "--kind", "objection")
    cli.ok("request", "close", rid, "--outcome", "refused", "--reason",
           "<b>We</b> must keep it for a legal claim")
    html = cli.ok("request", "letter", rid, "--template", "refusal", "--format", "html").stdout
    assert "&lt;b&gt;We&lt;/b&gt; must keep it for a legal claim" in html
    assert "<b>We</b>" not in html
    assert "judicial remedy" in html and "Information Commissioner" in html


def test_a_clarification_letter_uses_the_pause_reason(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id)
    cli.ok("request", "pause", rid, "--reason", "Which years do you mean?", "--on", "2026-11-24")
    text = cli.ok("request", "letter", rid, "--template", "clarification").stdout
    assert "Which years do you mean?" in text
    assert "paused from 24 November 2026" in text
    other = cli.ok("request", "letter", rid, "--template", "clarification", "--detail",
                   "Which clinic?").stdout
    assert "Which clinic?" in other and "Which years" not in other


def test_nothing_held_for_someone_not_in_the_store(cli, store: Path) -> None:
    rid = cli.ok("request", "open", "--unknown", "--name", "Alan Turing", "--received",
                 "2026-11-21").stdout.split()[0]
    cli.ok("request", "close", rid)  # as nothing-held, once nobody in the store matches
    text = cli.ok("request", "letter", rid, "--template", "nothing-held").stdout
    assert "Dear Alan Turing," in text
    flat = " ".join(text.split())
    assert "Apart from the record of this request, we hold no personal data about you" in flat
    assert "We keep it for 2 years after we answer your request" in flat


def test_a_hostile_name_is_escaped(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "<script>alert(1)</script> {{ 7*7 }}").stdout.strip()
    rid = _open(cli, sid)
    html = cli.ok("request", "letter", rid, "--template", "acknowledgement", "--format",
                  "html").stdout
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in html
    text = cli.ok("request", "letter", rid, "--template", "acknowledgement").stdout
    assert "Dear <script>alert(1)</script> {{ 7*7 }}," in text


def test_the_clinics_own_letters_folder(cli, subject_id: str, db: Path, tmp_path: Path) -> None:
    own = tmp_path / "letters"
    own.mkdir()
    (own / "refusal.txt.j2").write_text("Refused: {{ request.id }}\n")
    policy = edited_policy(tmp_path, "[reports]", '[letters]\nfolder = "letters"\n\n[reports]')
    cli.ok("policy", "apply", policy)
    rid = _open(cli, subject_id)
    cli.ok("request", "close", rid, "--outcome", "refused", "--reason", "Unfounded")
    assert cli.ok("request", "letter", rid, "--template", "refusal").stdout == f"Refused: {rid}\n"
    own.rename(tmp_path / "gone")
    line = _one_line(cli("request", "letter", rid, "--template", "refusal"), ExitCode.BAD_INPUT)
    assert "[letters] folder 'letters' is not a folder" in line


def test_letter_help_has_an_example(cli) -> None:
    result = cli.ok("request", "letter", "--help")
    assert "Example: pigment request letter R-4MX2P --template acknowledgement" in " ".join(
        result.stdout.split())
    assert "restriction-lifting" in result.stdout
    for option in ("--template", "--format", "--out", "--detail", "--lift-on"):
        assert option in result.stdout


def test_a_restriction_lifting_letter_before_unrestrict(cli, subject_id: str, db: Path) -> None:
    rid = _open(cli, subject_id, "--kind", "restriction", "--purpose", "newsletter")
    cli.ok("restrict", subject_id, "--purpose", "newsletter", "--request", rid)
    missing = cli("request", "letter", rid, "--template", "restriction-lifting")
    assert "--lift-on is required" in _one_line(missing, ExitCode.BAD_INPUT)
    today = cli("request", "letter", rid, "--template", "restriction-lifting", "--lift-on",
                "2026-11-25")
    assert "after the letter's date" in _one_line(today, ExitCode.BAD_INPUT)
    text = cli.ok("request", "letter", rid, "--template", "restriction-lifting", "--lift-on",
                  "2026-12-09", "--detail", "Your date of birth is now confirmed").stdout
    flat = " ".join(text.split())
    assert "Dear Ada Lovelace," in text and "Electronic newsletters" in flat
    assert "we will lift this restriction from 9 December 2026" in flat
    assert "Your date of birth is now confirmed" in flat and "Article 18(3)" in flat
    [(subject, detail)] = _audit(db, "request letter")
    assert subject == subject_id
    assert detail["request"] == rid and detail["template"] == "restriction-lifting"
    assert isinstance(detail["restriction"], int)  # ids only: never the reason
    assert "confirmed" not in json.dumps(detail)


def test_a_closed_requests_acknowledgement_and_extension_are_reprinted_as_dated(
        cli, subject_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = _open(cli, subject_id, "--kind", "rectification", "--note", "Wrong surname")
    cli.ok("request", "acknowledge", rid, "--on", "2026-11-21")
    cli.ok("request", "extend", rid, "--reason", "Records in two systems", "--on", "2026-11-23")
    cli.ok("subject", "update", subject_id, "--dob", "1985-12-01", "--request", rid)
    cli.ok("request", "close", rid)
    _on_day(monkeypatch, "2027-01-15")
    ack = cli.ok("request", "letter", rid, "--template", "acknowledgement").stdout
    assert "\n21 November 2026\n" in ack  # the letter's date: the day it was acknowledged
    assert "printed on 15 January 2027" in " ".join(ack.split())
    assert "Wrong surname" not in ack
    ext = cli.ok("request", "letter", rid, "--template",
                 "extension").stdout  # after the first month: a copy for the file is fine
    assert "\n23 November 2026\n" in ext and "Records in two systems" in ext
    never = _open(cli, subject_id, "--kind", "rectification")
    cli.ok("request", "close", never, "--outcome", "refused", "--reason", "Unfounded")
    line = _one_line(cli("request", "letter", never, "--template", "acknowledgement"),
                     ExitCode.BAD_INPUT)
    assert "no acknowledgement was recorded" in line
