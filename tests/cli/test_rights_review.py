"""Review fixes for the request features: a clinic's letter templates read only letter templates;
letters dated by their step or today, and an --out checked before anything is recorded; item
correct obeys objections and restrictions; an objection to direct marketing keeps the person out
of the audience by subject, until it is withdrawn; a restriction request for every purpose is
answered only by restricting every purpose; no control character from the command line is ever
echoed."""

from __future__ import annotations

import json
import os
import sqlite3
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import audit_entries as _audit
from conftest import edited_policy
from conftest import open_request as _open

from pigment_cli import clock
from pigment_cli.errors import ExitCode

# --- helpers -------------------------------------------------------------------------------------






def _rows(db: Path, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _one_line(result, code: int) -> str:  # noqa: ANN001
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pigment: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def _letters_folder(cli, tmp_path: Path) -> Path:  # noqa: ANN001
    own = tmp_path / "tpl"
    own.mkdir()
    policy = edited_policy(tmp_path, "[reports]", '[letters]\nfolder = "tpl"\n\n[reports]')
    cli.ok("policy", "apply", policy)
    return own


def _item(cli, subject_id: str, purpose: str = "care",  # noqa: ANN001
          category: str = "contact") -> int:
    cli.ok("item", "add", subject_id, "--category", category, "--source", "website",
           "--purpose", purpose)
    return int(cli.json("item", "list", subject_id)[-1]["id"])


# --- 1. a clinic's templates read only letter templates ----------------------------------------


@pytest.mark.parametrize("target", ["key", "passwd"])
def test_an_override_cannot_include_a_symlink_to_another_file(cli, subject_id: str, db: Path,
                                                              tmp_path: Path, target: str) -> None:
    own = _letters_folder(cli, tmp_path)
    pointed = Path(f"{db}-audit.key") if target == "key" else Path("/etc/passwd")
    secret = pointed.read_text()[:16]
    (own / "k").symlink_to(os.path.relpath(pointed, own))
    (own / "acknowledgement.txt.j2").write_text('KEY={% include "k" %}\n')
    rid = _open(cli, subject_id)
    result = cli("request", "letter", rid, "--template", "acknowledgement")
    line = _one_line(result, ExitCode.BAD_INPUT)
    assert "'k'" in line and secret not in result.stderr
    assert _audit(db, "request letter") == []


def test_an_override_cannot_include_a_plain_file_that_is_not_a_template(
        cli, subject_id: str, db: Path, tmp_path: Path) -> None:
    own = _letters_folder(cli, tmp_path)
    (own / "notes.txt").write_text("SECRET-NOTES\n")
    rid = _open(cli, subject_id)
    for tag in ('{% include "notes.txt" %}', '{% extends "notes.txt" %}',
                '{% import "notes.txt" as n %}', '{% include "../tpl/_ico.txt.j2" %}',
                '{% include "' + str(own / "notes.txt") + '" %}'):
        (own / "acknowledgement.txt.j2").write_text(tag + "\n")
        result = cli("request", "letter", rid, "--template", "acknowledgement")
        _one_line(result, ExitCode.BAD_INPUT)
        assert "SECRET" not in result.stderr
    assert _audit(db, "request letter") == []


def test_an_override_that_is_itself_a_link_is_refused(cli, subject_id: str, db: Path,
                                                      tmp_path: Path) -> None:
    own = _letters_folder(cli, tmp_path)
    rid = _open(cli, subject_id)
    (own / "acknowledgement.txt.j2").symlink_to(Path(f"{db}-audit.key"))
    key = Path(f"{db}-audit.key").read_text().strip()
    result = cli("request", "letter", rid, "--template", "acknowledgement")
    assert "symbolic link" in _one_line(result, ExitCode.BAD_INPUT)
    (own / "acknowledgement.txt.j2").unlink()
    os.link(Path(f"{db}-audit.key"), own / "acknowledgement.txt.j2")  # a hard link: same file
    result = cli("request", "letter", rid, "--template", "acknowledgement")
    assert "hard link" in _one_line(result, ExitCode.BAD_INPUT)
    assert key not in result.stdout + result.stderr
    assert _audit(db, "request letter") == []


def test_an_override_may_still_use_the_layout_and_partials(cli, subject_id: str,
                                                           tmp_path: Path) -> None:
    own = _letters_folder(cli, tmp_path)
    (own / "_ico.txt.j2").write_text("OUR OWN ICO PARAGRAPH\n")
    (own / "acknowledgement.txt.j2").write_text(
        '{% extends "_base.txt.j2" %}{% block body %}Got {{ request.id }}. '
        '{% include "_ico.txt.j2" %}{% endblock %}\n')
    rid = _open(cli, subject_id)
    text = cli.ok("request", "letter", rid, "--template", "acknowledgement").stdout
    assert f"Got {rid}." in text and "OUR OWN ICO PARAGRAPH" in text
    assert "Dear Ada Lovelace" in text  # the built-in layout


# --- 2. a letter's date; --out checked first ------------------------------------------------------


@pytest.mark.parametrize("day", ["2026-11-01", "2026-11-25", "2027-03-01"])
def test_request_letter_has_no_as_of(cli, subject_id: str, db: Path, day: str) -> None:
    rid = _open(cli, subject_id, received="2026-10-20")
    cli.ok("request", "extend", rid, "--reason", "Records in three systems", "--on", "2026-11-10")
    result = cli("request", "letter", rid, "--template", "extension", "--as-of", day)
    assert "--as-of" in _one_line(result, ExitCode.BAD_INPUT)
    assert _audit(db, "request letter") == []


def test_the_extension_letter_after_the_first_month_is_refused_today(cli, subject_id: str,
                                                                     db: Path) -> None:
    rid = _open(cli, subject_id, received="2026-10-20")  # the first month ended on 2026-11-20
    cli.ok("request", "extend", rid, "--reason", "Records in three systems", "--on", "2026-11-10")
    late = cli("request", "letter", rid, "--template", "extension")
    assert "first month ended on 2026-11-20" in _one_line(late, ExitCode.REFUSED)
    assert _audit(db, "request letter") == []


def test_a_letter_out_that_cannot_be_written_is_refused_before_the_audit_entry(
        cli, subject_id: str, db: Path, tmp_path: Path) -> None:
    rid = _open(cli, subject_id)
    afile = tmp_path / "a-file"
    afile.write_text("x")
    for out in (tmp_path / ("a" * 300 + ".txt"), tmp_path / "no-such-dir" / "x.txt",
                afile / "x.txt", tmp_path / ("b/" * 2100 + "x.txt"), tmp_path / ".."):
        result = cli("request", "letter", rid, "--template", "acknowledgement", "--out", out)
        _one_line(result, ExitCode.BAD_INPUT)
    assert _audit(db, "request letter") == []


def test_a_letter_out_in_a_folder_pigment_cannot_write_is_refused_first(
        cli, subject_id: str, db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = _open(cli, subject_id)
    shut = tmp_path / "shut"
    shut.mkdir()
    real_access = os.access
    # (root may write anywhere: the folder is made unwritable for this test through os.access)
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == shut
                        else real_access(p, mode, **kw))
    result = cli("request", "letter", rid, "--template", "acknowledgement", "--out",
                 shut / "ack.txt")
    assert "cannot write" in _one_line(result, ExitCode.BAD_INPUT)
    assert _audit(db, "request letter") == []
    assert not (shut / "ack.txt").exists()


# --- 3. item correct obeys objections and restrictions ------------------------------------------


def test_item_correct_cannot_move_an_item_into_an_objected_purpose(cli, subject_id: str,
                                                                   db: Path) -> None:
    item = _item(cli, subject_id, category="medical_history")  # care and reporting may hold it
    cli.ok("object", subject_id, "--purpose", "reporting")
    result = cli("item", "correct", str(item), "--purpose", "reporting")
    assert "objected to 'reporting'" in _one_line(result, ExitCode.REFUSED)
    assert _rows(db, "SELECT purpose FROM items WHERE id = ?", item) == [("care",)]
    assert _audit(db, "item correct") == []


@pytest.mark.parametrize("scope", [["--purpose", "reporting"], []])
def test_item_correct_cannot_move_an_item_into_a_restricted_purpose(cli, subject_id: str,
                                                                    db: Path,
                                                                    scope: list[str]) -> None:
    item = _item(cli, subject_id, category="medical_history")
    cli.ok("restrict", subject_id, *scope)
    rid = _open(cli, subject_id, "--kind", "rectification")
    result = cli("item", "correct", str(item), "--purpose", "reporting", "--request", rid)
    assert "restricted" in _one_line(result, ExitCode.REFUSED)
    assert _rows(db, "SELECT purpose FROM items WHERE id = ?", item) == [("care",)]
    assert _rows(db, "SELECT count(*) FROM request_actions WHERE request_id = ?", rid) == [(0,)]
    # Correcting the value of restricted data is what a restriction for accuracy is waiting for.
    cli.ok("item", "correct", str(item), "--value", "Eczema, 2018")


# --- 4. an objection to direct marketing keeps the person out, by subject ------------------------


def test_an_objection_to_direct_marketing_outlives_a_new_email_and_a_new_consent(
        cli, subject_id: str, db: Path) -> None:
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form")
    cli.ok("object", subject_id, "--purpose", "newsletter")
    cli.ok("subject", "update", subject_id, "--email", "new@example.org")
    granted = cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form",
                     "--evidence", "form 2026/200")
    assert "objected to newsletter" in granted.stderr and "--withdraw" in granted.stderr
    assert subject_id not in cli.ok("consent", "audience", "newsletter").stdout
    check = cli("consent", "check", subject_id, "newsletter")
    assert "objected" in _one_line(check, ExitCode.CHECK_FAILED)


def test_an_objection_without_an_email_still_keeps_the_person_out(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "No Email").stdout.strip()
    cli.ok("object", sid, "--purpose", "newsletter")
    cli.ok("subject", "update", sid, "--email", "later@example.org")
    cli.ok("consent", "grant", sid, "newsletter", "--via", "paper_form")
    assert sid not in cli.ok("consent", "audience", "newsletter").stdout
    assert cli("consent", "check", sid, "newsletter", "--quiet").exit_code == ExitCode.CHECK_FAILED


def _clock(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setattr(clock, "system_now", lambda: when)


def test_withdrawing_an_objection_is_recorded_audited_and_journalled(
        cli, subject_id: str, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clock(monkeypatch, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form")
    cli.ok("object", subject_id, "--purpose", "newsletter")
    _clock(monkeypatch, datetime(2026, 11, 25, 10, 30, tzinfo=UTC))
    cli.ok("subject", "update", subject_id, "--email", "new@example.org")
    # Direct marketing: only once a written consent given after the objection is in force.
    early = cli("object", subject_id, "--purpose", "newsletter", "--withdraw")
    assert "written consent" in _one_line(early, ExitCode.REFUSED)
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "phone", "--at",
           "2026-11-21T09:00:00")
    spoken = cli("object", subject_id, "--purpose", "newsletter", "--withdraw")
    assert "written consent" in _one_line(spoken, ExitCode.REFUSED)
    assert _rows(db, "SELECT count(*) FROM objections") == [(1,)]
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form", "--evidence", "f2")
    done = cli.ok("object", subject_id, "--purpose", "newsletter", "--withdraw")
    assert "withdrawn" in done.stderr
    assert _rows(db, "SELECT count(*) FROM objections WHERE withdrawn_at IS NULL") == [(0,)]
    # the record of it stays, marked withdrawn
    assert _rows(db, "SELECT count(*) FROM objections WHERE withdrawn_at IS NOT NULL") == [(1,)]
    [(subject, detail)] = _audit(db, "object withdraw")
    assert subject == subject_id and detail["purpose"] == "newsletter"
    assert isinstance(detail["objections"], list) and len(detail["objections"]) == 1
    journal = [json.loads(line) for line in Path(f"{db}-erasures.jsonl").read_text().splitlines()]
    assert journal[-1]["scope"] == "objection_withdrawal"
    assert journal[-1]["subject_id"] == subject_id and journal[-1]["purpose"] == "newsletter"
    assert subject_id in cli.ok("consent", "audience", "newsletter").stdout  # the new email
    cli.ok("consent", "check", subject_id, "newsletter")
    again = cli("object", subject_id, "--purpose", "newsletter", "--withdraw")
    assert "no objection" in _one_line(again, ExitCode.BAD_INPUT)


def test_withdrawing_an_objection_to_reporting_lets_it_start_again(cli, subject_id: str,
                                                                   db: Path) -> None:
    cli.ok("object", subject_id, "--purpose", "reporting")
    refused = cli("item", "add", subject_id, "--category", "medical_history", "--source",
                  "website", "--purpose", "reporting")
    assert refused.exit_code == ExitCode.REFUSED
    with_request = cli("object", subject_id, "--purpose", "reporting", "--withdraw",
                       "--request", "R-ZZZZZ")
    assert "--request" in _one_line(with_request, ExitCode.BAD_INPUT)
    cli.ok("object", subject_id, "--purpose", "reporting", "--withdraw")
    cli.ok("item", "add", subject_id, "--category", "medical_history", "--source", "website",
           "--purpose", "reporting")


def test_a_restore_replays_the_withdrawal_of_an_objection(cli, subject_id: str, db: Path,
                                                          tmp_path: Path) -> None:
    cli.ok("object", subject_id, "--purpose", "reporting")
    backup = tmp_path / "backup.db"
    cli.ok("backup", backup)
    cli.ok("object", subject_id, "--purpose", "reporting", "--withdraw")
    cli.ok("restore", backup, "--replace")
    assert _rows(db, "SELECT count(*) FROM objections WHERE withdrawn_at IS NULL") == [(0,)]


# --- 5. a restriction request for every purpose ---------------------------------------------------


def test_a_request_for_every_purpose_is_not_answered_by_one_purpose(cli, subject_id: str,
                                                                     db: Path) -> None:
    rid = _open(cli, subject_id, "--kind", "restriction")
    result = cli("restrict", subject_id, "--purpose", "reporting", "--request", rid)
    line = _one_line(result, ExitCode.BAD_INPUT)
    assert "every purpose" in line and "--purpose" in line
    assert _rows(db, "SELECT count(*) FROM restrictions") == [(0,)]
    assert cli("request", "close", rid).exit_code != 0  # nothing answered it
    cli.ok("restrict", subject_id, "--request", rid)
    cli.ok("request", "close", rid)


# --- 6. no control character from the command line is echoed --------------------------------------


_HOSTILE = ["\x1b]0;X\x07", "S-\x1b[31m", "R-ABCDE\x1b[2J", "1\x1b", "\u202eS-AAAAA", "5\x07"]


def _clean(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n"
                   for ch in text)


def test_no_command_echoes_a_control_character(cli, subject_id: str, tmp_path: Path) -> None:
    item = str(_item(cli, subject_id))
    rid = _open(cli, subject_id, "--kind", "restriction")
    cli.ok("disclose", subject_id, "--to", "City Lab", "--recipient-type", "laboratory",
           "--purpose", "care", "--items", "contact")
    for bad in _HOSTILE:
        for args in (
            ["restrict", bad], ["restrict", subject_id, "--purpose", bad],
            ["restrict", subject_id, "--request", bad],
            ["unrestrict", bad, "--told-on", "2026-11-25"],
            ["unrestrict", subject_id, "--purpose", bad, "--told-on", "2026-11-25"],
            ["unrestrict", subject_id, "--request", bad, "--told-on", "2026-11-25"],
            ["object", bad, "--purpose", "newsletter"], ["object", subject_id, "--purpose", bad],
            ["object", subject_id, "--purpose", "newsletter", "--via", bad],
            ["object", subject_id, "--purpose", "newsletter", "--request", bad],
            ["object", subject_id, "--purpose", bad, "--withdraw"],
            ["object", bad, "--purpose", "newsletter", "--withdraw"],
            ["item", "correct", bad, "--value", "x"],
            ["item", "correct", item, "--purpose", bad], ["item", "correct", item, "--source", bad],
            ["item", "correct", item, "--category", bad],
            ["item", "correct", item, "--collected", bad],
            ["item", "correct", item, "--value", "y", "--request", bad],
            ["item", "remove", bad, "--reason", "x"],
            ["item", "remove", item, "--reason", "x", "--request", bad],
            ["disclosure", "void", bad, "--reason", "x"],
            ["disclosure", "void", "1", "--reason", "x", "--request", bad],
            ["disclosure", "notified", bad], ["disclosure", "notified", "1", "--on", bad],
            ["disclosure", "notices", bad],
            ["request", "letter", bad, "--template", "acknowledgement"],
            ["request", "letter", rid, "--template", bad],
            ["request", "letter", rid, "--template", "acknowledgement", "--format", bad],
            ["request", "letter", rid, "--template", "restriction-lifting", "--lift-on", bad],
            ["request", "letter", rid, "--template", "acknowledgement", "--out",
             tmp_path / "no-such-dir" / f"{bad}.txt"],
            ["request", "open", bad, "--received", "2026-11-20"],
            ["request", "open", subject_id, "--received", "2026-11-20", "--kind", bad],
            ["request", "open", subject_id, "--received", "2026-11-20", "--kind",
             "restriction", "--purpose", bad],
            ["request", "open", subject_id, "--received", bad],
            ["request", "open", subject_id, "--received", "2026-11-20", "--via", bad],
            ["request", "show", bad], ["request", "close", bad],
            ["request", "close", rid, "--outcome", bad],
            ["request", "acknowledge", bad], ["request", "acknowledge", rid, "--on", bad],
            ["request", "pause", bad, "--reason", "x"], ["request", "resume", bad],
            ["request", "extend", bad, "--reason", "x"], ["request", "verify-id", bad],
            ["request", "fee-received", bad], ["request", "list", "--kind", bad],
            ["request", "list", "--due-within", bad],
        ):
            result = cli(*args)
            assert result.exit_code != 0, args
            assert _clean(result.stdout + result.stderr), (args, result.stderr)


def test_no_reason_is_echoed_either(cli, subject_id: str) -> None:
    item = str(_item(cli, subject_id))
    for bad in _HOSTILE:
        rid = _open(cli, subject_id, "--kind", "rectification", "--yes")
        for args in (["request", "pause", rid, "--reason", bad],
                     ["request", "extend", rid, "--reason", bad],
                     ["restrict", subject_id, "--reason", bad],
                     ["item", "remove", item, "--reason", bad, "--request", "R-0000"],
                     ["disclosure", "void", "1", "--reason", bad],
                     ["request", "close", rid, "--outcome", "refused", "--reason", bad]):
            result = cli(*args)
            assert _clean(result.stdout + result.stderr), (args, result.stderr)


def test_fixed_clock_is_in_force() -> None:
    assert clock.system_now() == datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
