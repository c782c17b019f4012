"""`pigment restrict`, `pigment unrestrict` and `pigment object` (UK GDPR Art. 18, 21): every path
a restriction or an objection blocks, what lifting it restores, what the screens say, exact exit
codes, and hostile input."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from pigment_cli import clock
from pigment_cli.errors import ExitCode
from pigment_cli.rights.requests import open_request
from tests.conftest import FIXED_NOW, backdate, domain

TOLD = ("--told-on", "2026-11-25")  # Art. 18(3): the day the person was told
LAB = ("--to", "North Lab Ltd", "--recipient-type", "laboratory", "--purpose",
       "medical_referral", "--items", "identity,medical_history")


def _audience(cli, purpose: str = "newsletter") -> list[str]:  # noqa: ANN001
    return [m["id"] for m in cli.json("consent", "audience", purpose)]


def _request(db: Path, subject_id: str, kind: str, purpose: str | None = None) -> str:
    with domain(db) as s:
        return open_request(s, subject_id, received="2026-11-20", kind=kind, purpose=purpose).id


def _item(cli, subject_id: str, purpose: str = "care", category: str = "contact"):  # noqa: ANN001, ANN202
    return cli("item", "add", subject_id, "--category", category, "--source", "phone",
               "--purpose", purpose)


# --- restriction -------------------------------------------------------------------------------


def test_restrict_blocks_every_path_and_unrestrict_restores_them(cli, store: Path,
                                                                 subject_id: str) -> None:
    item = cli.ok("item", "add", subject_id, "--category", "contact", "--source", "phone",
                  "--purpose", "care").stdout.strip()
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form")
    assert _audience(cli) == [subject_id]

    result = cli("restrict", subject_id, "--reason", "accuracy contested")
    assert result.exit_code == ExitCode.OK, result.stderr
    assert "restricted for all purposes" in result.stderr
    assert "nobody to tell" in result.stderr

    refused = cli("disclose", subject_id, *LAB)
    assert refused.exit_code == ExitCode.REFUSED
    assert "Art. 18" in refused.stderr and "--legal-requirement" in refused.stderr
    assert "North Lab" not in refused.stderr
    assert cli("disclose", subject_id, *LAB, "--legal-requirement",
               "court order 2026/123").exit_code == ExitCode.OK
    assert _audience(cli) == []
    assert cli("consent", "check", subject_id, "newsletter").exit_code == ExitCode.CHECK_FAILED
    assert _item(cli, subject_id).exit_code == ExitCode.REFUSED
    assert cli("item", "touch", item).exit_code == ExitCode.REFUSED
    assert cli("item", "list", subject_id).exit_code == ExitCode.OK  # reading is storing

    lifted = cli("unrestrict", subject_id, *TOLD)
    assert lifted.exit_code == ExitCode.OK
    assert "Art. 18(3)" in lifted.stderr and "told" in lifted.stderr
    assert cli("disclose", subject_id, *LAB[:-1], "identity").exit_code == ExitCode.OK
    assert _audience(cli) == [subject_id]
    assert _item(cli, subject_id).exit_code == ExitCode.OK
    assert cli("item", "touch", item).exit_code == ExitCode.OK


def test_restricting_twice_and_lifting_nothing_exit_2(cli, store: Path, subject_id: str) -> None:
    assert cli("unrestrict", subject_id, *TOLD).exit_code == ExitCode.BAD_INPUT
    cli.ok("restrict", subject_id, "--purpose", "newsletter")
    again = cli("restrict", subject_id, "--purpose", "newsletter")
    assert again.exit_code == ExitCode.BAD_INPUT and "already restricted" in again.stderr
    assert cli("unrestrict", subject_id, *TOLD).exit_code == ExitCode.BAD_INPUT  # all != newsletter
    cli.ok("restrict", subject_id)  # every purpose: a wider scope is a new restriction
    assert cli("restrict", subject_id, "--purpose", "cookies").exit_code == ExitCode.BAD_INPUT
    cli.ok("unrestrict", subject_id, *TOLD, "--purpose", "newsletter")
    assert cli("unrestrict", subject_id, *TOLD, "--purpose", "newsletter").exit_code == ExitCode.BAD_INPUT
    assert cli("restrict", subject_id, "--purpose", "nope").exit_code == ExitCode.BAD_INPUT
    assert cli("restrict", "S-NOONE").exit_code == ExitCode.BAD_INPUT


def test_restrict_lists_the_recipients_to_tell(cli, store: Path, subject_id: str) -> None:
    first = cli.ok("disclose", subject_id, *LAB, "--at", "2026-11-01").stdout.strip()
    data = cli.json("restrict", subject_id)
    assert data["restriction"]["scope"] == "all purposes"
    told = data["recipients_to_tell"]
    assert [(n["disclosure_id"], n["event"]) for n in told] == [(int(first), "restriction")]
    cli.ok("unrestrict", subject_id, *TOLD)
    table = cli.ok("restrict", subject_id, "--purpose", "medical_referral")
    assert "North Lab Ltd" in table.stdout and "disclosure notified" in table.stderr
    assert all(len(line) <= 80 for line in table.stdout.splitlines())


def test_restrict_and_unrestrict_answer_a_restriction_request(cli, store: Path,
                                                              subject_id: str) -> None:
    access = _request(store, subject_id, "access")
    asked = _request(store, subject_id, "restriction")
    assert cli("restrict", subject_id, "--request", access).exit_code == ExitCode.BAD_INPUT
    assert cli("restrict", subject_id, "--request", "R-NONE1").exit_code == ExitCode.BAD_INPUT
    assert cli.json("subject", "show", subject_id)["restrictions"] == []  # nothing changed
    made = cli.json("restrict", subject_id, "--request", asked)
    assert made["restriction"]["request_id"] == asked
    cli.ok("unrestrict", subject_id, *TOLD, "--request", asked)
    with domain(store) as s:
        from pigment_cli.records.answers import actions_of

        assert [a["action"] for a in actions_of(s.conn, asked)] == ["restrict", "unrestrict"]


@pytest.mark.parametrize("reason", ["line one\nline two", "bell\x07", "esc\x1b[31m"])
def test_a_reason_with_control_characters_is_refused(cli, store: Path, subject_id: str,
                                                      reason: str) -> None:
    result = cli("restrict", subject_id, "--reason", reason)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "control characters" in result.stderr and reason not in result.stderr
    assert cli.json("subject", "show", subject_id)["restrictions"] == []


def test_a_hostile_reason_is_shown_as_text_and_never_audited(cli, store: Path, subject_id: str,
                                                             tmp_path: Path) -> None:
    hostile = "[bold red]Mrs Hidden[/] <script>alert(1)</script> =cmd|' /C calc'!A0"
    cli.ok("restrict", subject_id, "--reason", hostile)
    shown = cli.ok("subject", "show", subject_id).stdout
    assert "[bold red]Mrs Hidden[/]" in shown  # Rich markup printed as typed, not applied
    assert cli.json("subject", "show", subject_id)["restrictions"][0]["reason"] == hostile
    conn = sqlite3.connect(store)
    try:
        entries = conn.execute("SELECT command, detail FROM audit").fetchall()
    finally:
        conn.close()
    assert "restrict" in [c for c, _ in entries]
    assert not [d for _, d in entries if "Hidden" in d or "script" in d]
    out = tmp_path / "package"
    cli.ok("sar", "export", subject_id, "--out", str(out))
    report = (out / "report.html").read_text()
    assert "<script>alert(1)</script>" not in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report  # shown to the person, as text


# --- what the screens say ----------------------------------------------------------------------


def test_subject_show_status_and_the_access_report_say_restricted(cli, store: Path,
                                                                  subject_id: str,
                                                                  tmp_path: Path) -> None:
    assert cli.json("status")["restricted_subjects"] == 0
    cli.ok("restrict", subject_id, "--purpose", "newsletter")
    view = cli.json("subject", "show", subject_id)
    assert [(r["purposes"], r["since"][:10]) for r in view["restrictions"]] == [
        ("newsletter", "2026-11-25")]
    shown = cli.ok("subject", "show", subject_id).stdout
    assert "RESTRICTED (Art. 18)" in shown and "newsletter since 2026-11-25" in shown
    assert cli.json("status")["restricted_subjects"] == 1
    assert "restricted (Art. 18)" in cli.ok("status").stdout

    out = tmp_path / "package"
    result = cli("sar", "export", subject_id, "--out", str(out))  # access is never restricted
    assert result.exit_code == ExitCode.OK, result.stderr
    report = (out / "report.html").read_text()
    assert "Restricted for: Electronic newsletters" in report and "Article 18" in report
    data = json.loads((out / "data.json").read_text())
    assert [(r["purpose"], r["active"]) for r in data["restrictions"]] == [("newsletter", True)]

    cli.ok("unrestrict", subject_id, *TOLD, "--purpose", "newsletter")
    assert cli.json("status")["restricted_subjects"] == 0
    lifted = cli.json("subject", "show", subject_id)["restrictions"]  # kept on record, ended
    assert [(r["purposes"], r["lifted"][:10], r["told_on"]) for r in lifted] == [
        ("newsletter", "2026-11-25", "2026-11-25")]
    assert "RESTRICTED" not in cli.ok("subject", "show", subject_id).stdout


def test_the_sweep_keeps_a_subject_restricted_for_every_purpose(cli, store: Path,
                                                                subject_id: str) -> None:
    backdate(store, subject_id, "2018-01-01T09:00:00")  # due since 2025
    cli.ok("restrict", subject_id, "--purpose", "newsletter")  # one purpose: still due
    assert cli.json("retention", "plan")["subjects_due"] == 1
    cli.ok("restrict", subject_id)
    plan = cli.json("retention", "plan")
    assert plan["subjects_due"] == 0
    assert [h["reasons"] for h in plan["held_subjects"]] == [["restriction 2 (UK GDPR Art. 18)"]]
    cli.ok("retention", "sweep", "--apply")
    assert cli.json("subject", "show", subject_id)["subject"]["id"] == subject_id
    cli.ok("unrestrict", subject_id, *TOLD)
    cli.ok("retention", "sweep", "--apply")
    assert cli("subject", "show", subject_id).exit_code == ExitCode.BAD_INPUT  # erased


# --- imports -----------------------------------------------------------------------------------


def test_import_rejects_rows_of_a_restricted_subject(cli, store: Path, tmp_path: Path) -> None:
    restricted = cli.ok("subject", "add", "--name", "Rae Stricted", "--external-id",
                        "PMS-R").stdout.strip()
    cli.ok("subject", "add", "--name", "Free Person", "--external-id", "PMS-F")
    cli.ok("restrict", restricted, "--purpose", "care")
    path = tmp_path / "items.csv"
    path.write_text("external_id,category,source,purpose,value,collected_at\n"
                    "PMS-R,contact,phone,care,Secret value,2026-11-01\n"
                    "PMS-R,payment,payment,payment,£10,2026-11-01\n"
                    "PMS-F,contact,phone,care,Fine,2026-11-01\n")
    refused = cli("import", "items", path)
    assert refused.exit_code == ExitCode.BAD_INPUT  # one bad row: nothing imported
    assert "Secret value" not in refused.stderr
    summary = cli.json("import", "items", path, "--skip-invalid")
    assert (summary["inserted"], summary["rejected"]) == (2, 1)
    with open(summary["rejects_file"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["line"], r["problem"]) for r in rows] == [
        ("2", "purpose: the subject's data is restricted (UK GDPR Art. 18): it may only be "
              "stored")]
    cli.ok("restrict", restricted)  # every purpose: payment rows go too
    again = tmp_path / "later.csv"
    again.write_text("external_id,category,source,purpose,collected_at\n"
                     "PMS-R,payment,payment,payment,2026-11-02\n")
    assert cli.json("import", "items", again, "--skip-invalid")["rejected"] == 1


# --- objection ---------------------------------------------------------------------------------


def test_objection_to_marketing_suppresses_until_a_later_written_consent_is_unsuppressed(
        cli, store: Path, subject_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "web_form", "--at",
           "2026-11-01")
    monkeypatch.setattr(clock, "system_now", lambda: FIXED_NOW - timedelta(days=1))
    result = cli("object", subject_id, "--purpose", "newsletter", "--via", "phone")
    assert result.exit_code == ExitCode.OK, result.stderr
    assert "Art. 21(3)" in result.stderr and "suppression list" in result.stderr
    assert "ada@example.org" not in result.stderr + result.stdout
    monkeypatch.setattr(clock, "system_now", lambda: FIXED_NOW)
    view = cli.json("subject", "show", subject_id)
    assert [o["purpose"] for o in view["objections"]] == ["newsletter"]
    assert {c["purpose"]: c["state"] for c in view["consents"]}["newsletter"] == "withdrawn"
    assert cli("object", subject_id, "--purpose", "newsletter").exit_code == ExitCode.BAD_INPUT

    # The person changes their mind: the new consent is recorded, the audience still leaves them
    # out until the objection is withdrawn and the email comes off the suppression list.
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form", "--evidence",
           "form 12")
    assert _audience(cli) == []
    cli.ok("consent", "unsuppress", subject_id)
    assert _audience(cli) == []  # the objection still stands
    cli.ok("object", subject_id, "--purpose", "newsletter", "--withdraw")
    assert _audience(cli) == [subject_id]


def test_objection_to_legitimate_interests_stops_the_purpose(cli, store: Path,
                                                             subject_id: str) -> None:
    data = cli.json("object", subject_id, "--purpose", "security")
    assert data["ground"] == "legitimate_interests" and data["suppressed"] is False
    assert _item(cli, subject_id, "security", "cctv").exit_code == ExitCode.REFUSED
    assert _item(cli, subject_id, "care").exit_code == ExitCode.OK
    assert cli("object", subject_id, "--purpose", "security").exit_code == ExitCode.BAD_INPUT


def test_objection_to_a_contract_purpose_exit_3(cli, store: Path, subject_id: str) -> None:
    result = cli("object", subject_id, "--purpose", "care")
    assert result.exit_code == ExitCode.REFUSED
    assert len(result.stderr.strip().splitlines()) == 1
    assert "erasure" in result.stderr and "restriction" in result.stderr
    assert cli.json("subject", "show", subject_id)["objections"] == []
    assert cli("object", subject_id, "--purpose", "nope").exit_code == ExitCode.BAD_INPUT
    assert cli("object", subject_id).exit_code == ExitCode.BAD_INPUT  # --purpose is required


def test_objection_answers_an_objection_request(cli, store: Path, subject_id: str) -> None:
    asked = _request(store, subject_id, "objection", "newsletter")
    wrong = cli("object", subject_id, "--purpose", "cookies", "--request", asked)
    assert wrong.exit_code == ExitCode.BAD_INPUT and "--purpose newsletter" in wrong.stderr
    made = cli.json("object", subject_id, "--purpose", "newsletter", "--request", asked)
    assert made["objection"]["request_id"] == asked
    with domain(store) as s:
        from pigment_cli.records.answers import actions_of

        assert [a["action"] for a in actions_of(s.conn, asked)] == ["object"]


# --- restores ----------------------------------------------------------------------------------


def test_a_restore_never_undoes_a_restriction_its_lifting_or_an_objection(
        cli, store: Path, subject_id: str, tmp_path: Path) -> None:
    cli.ok("restrict", subject_id, "--purpose", "newsletter")
    before = Path(cli.ok("backup", str(tmp_path / "b0.db")).stdout.strip())
    cli.ok("unrestrict", subject_id, *TOLD, "--purpose", "newsletter")
    cli.ok("restrict", subject_id, "--reason", "Private words")
    cli.ok("object", subject_id, "--purpose", "security")
    restored = cli.json("restore", str(before), "--replace")
    assert restored["replayed_restrictions"] == 3
    view = cli.json("subject", "show", subject_id)
    assert [(r["purposes"], r["reason"]) for r in view["restrictions"] if not r["lifted"]] == [
        ("all purposes", None)]  # the reason is never journalled
    assert [o["purpose"] for o in view["objections"]] == ["security"]
    assert _item(cli, subject_id).exit_code == ExitCode.REFUSED
    after = Path(cli.ok("backup", str(tmp_path / "b1.db")).stdout.strip())
    assert cli.json("restore", str(after), "--replace")["replayed_restrictions"] == 0
    assert "Private words" not in Path(f"{store}-erasures.jsonl").read_text()
    cli.ok("audit", "verify")
