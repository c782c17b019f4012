"""Issue 14: one register for every kind of request, each on its clock (UK GDPR Art. 12(3);
complaints: DUAA 2025 s.103), closed with an outcome, and never closed as done without the action
that answers it."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import domain

from pigment_cli.errors import ExitCode
from pigment_cli.rights.requests import sweep_closed

RIGHTS = ("access", "rectification", "erasure", "restriction", "portability", "objection")


def _open(cli, *args: str) -> dict:
    result = cli("request", "open", *args, "--json")
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    return json.loads(result.stdout)


@pytest.mark.parametrize("kind", RIGHTS)
def test_every_right_has_the_one_month_clock(cli, subject_id: str, kind: str) -> None:
    # Received Monday 25 November 2024: one month is 25 December, a bank holiday, and so is the
    # 26th: due Friday 27 December (legal-notes, deadlines 5).
    view = _open(cli, subject_id, "--kind", kind, "--received", "2024-11-25")
    assert (view["kind"], view["due"], view["ack_due"]) == (kind, "2024-12-27", None)
    assert cli.json("request", "show", view["id"])["kind"] == kind


def test_extension_for_every_right_pauses_for_access_only(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "--kind", "erasure", "--received", "2026-01-31")["id"]
    # The clock stops for clarification of an access request only (legal-notes, deadlines 4).
    result = cli("request", "pause", rid, "--reason", "which records?", "--on", "2026-02-02",
                 "--as-of", "2026-02-02")
    assert result.exit_code == ExitCode.BAD_INPUT and "access requests only" in result.stderr
    cli.ok("request", "extend", rid, "--reason", "three clinics", "--on", "2026-02-10",
           "--as-of", "2026-02-10")
    view = cli.json("request", "show", rid)
    assert view["extended"] is True and view["due"] == "2026-04-30"  # 3 months, clamped
    access = _open(cli, subject_id, "--kind", "access", "--received", "2026-01-31")["id"]
    cli.ok("request", "pause", access, "--reason", "which years?", "--on", "2026-02-02",
           "--as-of", "2026-02-02")
    cli.ok("request", "resume", access, "--on", "2026-02-03", "--as-of", "2026-02-03")
    view = cli.json("request", "show", access)
    assert view["paused_days"] == 2 and view["due"] == "2026-03-02"  # 28 Feb + 2 days, rolled


def test_a_complaint_is_acknowledged_within_30_days_then_answered(cli, subject_id: str) -> None:
    view = _open(cli, subject_id, "--kind", "complaint", "--received", "2026-11-02",
                 "--note", "unhappy with a marketing email")
    # "within the period of 30 days beginning when the complaint is received" (DPA 2018
    # s.164A(3)): 2 November is day 1, 1 December day 30; a Tuesday, but days are not rolled.
    assert view["ack_due"] == "2026-12-01" and view["due"] == "2026-12-01"
    rid = view["id"]
    # The one-month clock's steps do not apply to a complaint.
    for step in (["extend", rid, "--reason", "x"], ["pause", rid, "--reason", "x"],
                 ["fee-received", rid], ["verify-id", rid]):
        result = cli("request", *step)
        assert result.exit_code == ExitCode.BAD_INPUT, step
        assert "complaint request" in result.stderr
    cli.ok("request", "acknowledge", rid, "--on", "2026-11-05")
    result = cli("request", "close", rid, "--outcome", "upheld", "--on", "2026-11-04")
    assert result.exit_code == ExitCode.BAD_INPUT and "acknowledged" in result.stderr
    assert cli("request", "acknowledge", rid).exit_code == ExitCode.BAD_INPUT  # twice
    # Then the clinic's own reply target: 56 days after receipt (policy key).
    shown = cli.json("request", "show", rid)
    assert (shown["due"], shown["ack_late"]) == ("2026-12-28", False)
    assert cli("request", "close", rid).exit_code == ExitCode.BAD_INPUT  # outcome required
    assert cli("request", "close", rid, "--outcome", "done").exit_code == ExitCode.BAD_INPUT
    result = cli("request", "close", rid, "--outcome", "not-upheld")
    assert result.exit_code == ExitCode.BAD_INPUT and "--reason" in result.stderr
    cli.ok("request", "close", rid, "--outcome", "upheld", "--on", "2026-11-20")
    shown = cli.json("request", "show", rid)
    assert (shown["status"], shown["outcome"]) == ("closed", "upheld")


def test_a_complaint_not_acknowledged_in_30_days_is_overdue(cli, subject_id: str) -> None:
    # Received 26 October: day 30 is 24 November; on the 25th it is overdue.
    rid = _open(cli, subject_id, "--kind", "complaint", "--received", "2026-10-26")["id"]
    assert cli.json("request", "show", rid)["ack_due"] == "2026-11-24"
    result = cli("request", "list", "--overdue")
    assert result.exit_code == ExitCode.CHECK_FAILED and rid in result.stdout
    assert cli("request", "list", "--overdue", "--as-of", "2026-11-24").exit_code == ExitCode.OK
    # Acknowledged late: it stays on record, and the reply target does not move.
    cli.ok("request", "acknowledge", rid, "--on", "2026-11-25")
    shown = cli.json("request", "show", rid)
    assert shown["ack_late"] is True and shown["due"] == "2026-12-21"  # 26 Oct + 56 days
    assert "acknowledged late" in cli.ok("request", "show", rid).stdout


def test_done_needs_the_action_that_answers_the_request(cli, subject_id: str,
                                                       tmp_path: Path) -> None:
    for kind in ("rectification", "erasure", "restriction", "objection", "portability"):
        rid = _open(cli, subject_id, "--kind", kind, "--received", "2026-11-20")["id"]
        result = cli("request", "close", rid)
        assert result.exit_code == ExitCode.REFUSED, kind
        assert "nothing answering" in result.stderr and "--request " + rid in result.stderr
        assert cli.json("request", "show", rid)["status"] == "open"
        result = cli("request", "close", rid, "--outcome", "refused")
        assert result.exit_code == ExitCode.BAD_INPUT and "--reason" in result.stderr
        cli.ok("request", "close", rid, "--outcome", "refused", "--reason",
               "manifestly unfounded")
    # Portability is answered by the package, written for the request.
    rid = _open(cli, subject_id, "--kind", "portability", "--received", "2026-11-20")["id"]
    cli.ok("sar", "export", subject_id, "--out", str(tmp_path / "pkg"), "--request", rid)
    cli.ok("request", "close", rid)
    actions = cli.json("request", "show", rid)["actions"]
    assert [a["action"] for a in actions] == ["export"]


def test_an_action_only_answers_an_open_request_of_its_kind_and_subject(
        cli, subject_id: str, tmp_path: Path) -> None:
    other = cli.ok("subject", "add", "--name", "Other Person").stdout.strip()
    erasure = _open(cli, subject_id, "--kind", "erasure", "--received", "2026-11-20")["id"]
    theirs = _open(cli, other, "--kind", "access", "--received", "2026-11-20")["id"]
    result = cli("sar", "export", subject_id, "--out", str(tmp_path / "a"), "--request", erasure)
    assert result.exit_code == ExitCode.BAD_INPUT and "erasure request" in result.stderr
    result = cli("sar", "export", subject_id, "--out", str(tmp_path / "b"), "--request", theirs)
    assert result.exit_code == ExitCode.BAD_INPUT and "not about" in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    result = cli("sar", "export", subject_id, "--out", str(tmp_path / "c"), "--request", "R-NOPE0")
    assert result.exit_code == ExitCode.BAD_INPUT


def test_sar_is_the_access_kind(cli, subject_id: str) -> None:
    access = cli.json("sar", "open", subject_id, "--received", "2026-11-20")["id"]
    other = _open(cli, subject_id, "--kind", "erasure", "--received", "2026-11-20")["id"]
    assert [v["id"] for v in cli.json("sar", "list")] == [access]
    assert {v["id"] for v in cli.json("request", "list")} == {access, other}
    assert [v["id"] for v in cli.json("request", "list", "--kind", "erasure")] == [other]
    assert cli("request", "list", "--kind", "nonsense").exit_code == ExitCode.BAD_INPUT
    assert cli.json("request", "show", access)["kind"] == "access"


def test_due_within_and_overdue_exit_1_for_cron(cli, subject_id: str) -> None:
    assert cli("request", "list", "--due-within", "7d").exit_code == ExitCode.OK
    assert cli("request", "list", "--overdue").exit_code == ExitCode.OK
    rid = _open(cli, subject_id, "--kind", "rectification", "--received", "2026-10-28")["id"]
    result = cli("request", "list", "--due-within", "7d")  # due 30 Nov: 5 days ahead
    assert result.exit_code == ExitCode.CHECK_FAILED and rid in result.stdout
    assert "due within 7 day(s)" in result.stderr
    assert cli("request", "list", "--overdue").exit_code == ExitCode.OK
    result = cli("request", "list", "--overdue", "--as-of", "2026-12-01")
    assert result.exit_code == ExitCode.CHECK_FAILED and "OVERDUE" in result.stdout


def test_opening_a_request_already_late_or_nearly_due_warns(cli, subject_id: str) -> None:
    result = cli("request", "open", subject_id, "--kind", "erasure", "--received", "2026-10-20")
    assert result.exit_code == ExitCode.OK
    assert "warning" in result.stderr and "already overdue" in result.stderr
    # Received 27 October: due 27 November, two working days after 25 November.
    result = cli("sar", "open", subject_id, "--received", "2026-10-27")
    assert result.exit_code == ExitCode.OK and "within 2 working day(s)" in result.stderr
    result = cli("request", "open", subject_id, "--kind", "access", "--received", "2026-11-20")
    assert result.exit_code == ExitCode.OK and result.stderr == ""


def test_a_request_from_someone_not_in_the_store(cli, db: Path) -> None:
    cli.ok("init")
    result = cli("request", "open", "--unknown", "--name", "Pat <b>Nobody</b>", "--email",
                 "pat@example.org", "--received", "2026-11-20", "--json")
    assert result.exit_code == ExitCode.OK
    view = json.loads(result.stdout)
    assert view["subject_id"] is None and view["person_name"] == "Pat <b>Nobody</b>"
    rid = view["id"]
    assert "(not held)" in cli.ok("request", "list").stdout
    # Nothing to export; answered with the nothing-held letter and outcome.
    result = cli("sar", "close", rid, "--export", str(db.parent / "pkg"))
    assert result.exit_code == ExitCode.BAD_INPUT and "nothing-held" in result.stderr
    assert cli("request", "close", rid, "--outcome", "done").exit_code == ExitCode.BAD_INPUT
    cli.ok("request", "close", rid)  # nothing-held by default
    assert cli.json("request", "show", rid)["outcome"] == "nothing-held"
    # The audit trail holds neither the name nor the email.
    conn = sqlite3.connect(db)
    detail = " ".join(r[0] for r in conn.execute("SELECT detail FROM audit"))
    assert "Nobody" not in detail and "pat@" not in detail
    # Kept for two years after closing, then the retention sweep removes it.
    cli.ok("retention", "sweep", "--apply", "--as-of", "2026-11-25")
    assert conn.execute("SELECT count(*) FROM requests").fetchone()[0] == 1
    plan = cli("retention", "sweep", "--as-of", "2028-11-25", "--json")
    assert json.loads(plan.stdout)["erased_requests"] == 1


@pytest.mark.parametrize("args, needle", [
    (["--unknown", "--received", "2026-11-20"], "--name"),
    (["--unknown", "--name", "A", "--email", "not-an-email", "--received", "2026-11-20"],
     "email"),
    (["--received", "2026-11-20"], "SUBJECT"),
    (["--unknown", "--name", "A"], "--received"),
])
def test_unknown_person_errors(cli, store: Path, args: list[str], needle: str) -> None:
    result = cli("request", "open", *args)
    assert result.exit_code == ExitCode.BAD_INPUT and needle in result.stderr
    assert "not-an-email" not in result.stderr


def test_purpose_only_for_restriction_and_objection(cli, subject_id: str) -> None:
    result = cli("request", "open", subject_id, "--kind", "erasure", "--purpose", "newsletter",
                 "--received", "2026-11-20")
    assert result.exit_code == ExitCode.BAD_INPUT
    view = _open(cli, subject_id, "--kind", "objection", "--purpose", "newsletter",
                 "--received", "2026-11-20")
    assert view["purpose"] == "newsletter"
    result = cli("request", "open", subject_id, "--kind", "objection", "--purpose", "nonsense",
                 "--received", "2026-11-20")
    assert result.exit_code == ExitCode.BAD_INPUT


def test_a_request_outlives_its_subjects_erasure_without_its_free_text(
        cli, subject_id: str, db: Path) -> None:
    rid = _open(cli, subject_id, "--kind", "erasure", "--received", "2026-11-20",
                "--note", "PRIVATE-NOTE about eczema")["id"]
    cli.ok("request", "extend", rid, "--reason", "PRIVATE-EXTENSION", "--on", "2026-11-21")
    cli.ok("erase", subject_id, "--request", rid, "--apply")
    view = cli.json("request", "show", rid)
    assert view["subject_id"] == subject_id and view["note"] is None
    assert view["person_name"]  # the reply still has someone to go to
    assert view["extension_reason"] == "(erased with the subject)"
    cli.ok("request", "close", rid)
    # A month after closing, the sweep drops the contact details kept for the reply.
    cli.ok("retention", "sweep", "--apply")
    assert cli.json("request", "show", rid)["person_name"]
    with domain(db, datetime(2026, 12, 26, 10, 0, tzinfo=UTC)) as s:
        sweep_closed(s.conn, s.policy, date(2026, 12, 26), stamp=s.stamp, actor="t", apply=True)
    view = cli.json("request", "show", rid)
    assert view["person_name"] is None and view["person_email"] is None
    assert view["status"] == "closed"
    raw = db.read_bytes() + (Path(f"{db}-wal").read_bytes() if Path(f"{db}-wal").exists() else b"")
    assert b"PRIVATE-NOTE" not in raw and b"PRIVATE-EXTENSION" not in raw


def test_a_complaint_answered_within_30_days_needs_no_separate_acknowledgement(
        cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "--kind", "complaint", "--received", "2026-11-20")["id"]
    cli.ok("request", "close", rid, "--outcome", "withdrawn", "--on", "2026-11-25")
    assert cli.json("request", "show", rid)["outcome"] == "withdrawn"


def test_never_closed_before_the_action_that_answers_it(cli, subject_id: str,
                                                        tmp_path: Path) -> None:
    rid = _open(cli, subject_id, "--kind", "portability", "--received", "2026-11-20")["id"]
    cli.ok("sar", "export", subject_id, "--out", str(tmp_path / "pkg"), "--request", rid)
    result = cli("request", "close", rid, "--on", "2026-11-24")  # the export was on the 25th
    assert result.exit_code == ExitCode.BAD_INPUT and "last action (export)" in result.stderr
    cli.ok("request", "close", rid, "--on", "2026-11-25")


def test_an_erasure_that_kept_data_is_partly_done(cli, subject_id: str) -> None:
    cli.ok("item", "add", subject_id, "--category", "payment", "--source", "payment",
           "--purpose", "payment", "--value", "Invoice 12")
    rid = _open(cli, subject_id, "--kind", "erasure", "--received", "2026-11-20")["id"]
    cli.ok("erase", subject_id, "--request", rid, "--apply")
    result = cli("request", "close", rid)
    assert result.exit_code == ExitCode.REFUSED and "partly-done" in result.stderr
    cli.ok("request", "close", rid, "--outcome", "partly-done", "--reason",
           "Payment records are kept for 7 years (tax law)")
    assert cli.json("request", "show", rid)["outcome"] == "partly-done"


def test_lifting_a_restriction_never_answers_a_restriction_request(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "--kind", "restriction", "--received", "2026-11-20")["id"]
    cli.ok("restrict", subject_id, "--reason", "accuracy contested")
    cli.ok("unrestrict", subject_id, "--request", rid, "--told-on", "2026-11-25")
    assert cli("request", "close", rid).exit_code == ExitCode.REFUSED


def test_a_complaint_past_its_30_days_is_acknowledged_before_it_is_closed(
        cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "--kind", "complaint", "--received", "2026-10-20")["id"]
    result = cli("request", "close", rid, "--outcome", "upheld")
    assert result.exit_code == ExitCode.REFUSED and "acknowledge" in result.stderr
    cli.ok("request", "acknowledge", rid)
    cli.ok("request", "close", rid, "--outcome", "upheld")


def test_request_steps_are_never_dated_in_the_future(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "--kind", "access", "--received", "2026-11-20")["id"]
    for step in (["request", "open", subject_id, "--received", "2199-12-31"],
                 ["request", "close", rid, "--outcome", "withdrawn", "--on", "2199-12-31"],
                 ["sar", "extend", rid, "--reason", "x"], ["request", "acknowledge", rid]):
        result = cli(*step, "--as-of", "2199-12-31")
        assert result.exit_code == ExitCode.BAD_INPUT and "future" in result.stderr, step
    assert cli.json("request", "show", rid)["status"] == "open"


def test_nothing_held_is_never_said_to_someone_the_clinic_holds(cli, subject_id: str) -> None:
    cli.ok("subject", "update", subject_id, "--email", "held@example.org")
    result = cli("request", "open", "--unknown", "--name", "Somebody Else", "--email",
                 "HELD@example.org", "--received", "2026-11-20")
    assert result.exit_code == ExitCode.REFUSED and subject_id in result.stderr
    assert "--yes" in result.stderr and "held@" not in result.stderr.lower()
    rid = cli.ok("request", "open", "--unknown", "--name", "Somebody Else", "--email",
                 "HELD@example.org", "--received", "2026-11-20", "--yes").stdout.split()[0]
    result = cli("request", "close", rid)
    assert result.exit_code == ExitCode.REFUSED and "nothing is held" in result.stderr
    cli.ok("request", "close", rid, "--yes")


@pytest.mark.parametrize("name", ["Dr Amara Okafor", "Okafor Amara", "Amára Okafor",
                                  "\uff21mara OKAFOR"])
def test_nothing_held_sees_through_titles_order_accents_and_widths(cli, store: Path,
                                                                  name: str) -> None:
    held = cli.ok("subject", "add", "--name", "Amara Okafor").stdout.strip()
    result = cli("request", "open", "--unknown", "--name", name, "--received", "2026-11-20")
    assert result.exit_code == ExitCode.REFUSED and held in result.stderr


def test_the_nothing_held_letter_waits_for_the_checked_close(cli, store: Path) -> None:
    rid = cli.ok("request", "open", "--unknown", "--name", "Zed Later", "--received",
                 "2026-11-20").stdout.split()[0]
    cli.ok("subject", "add", "--name", "Zed Later")
    result = cli("request", "letter", rid, "--template", "nothing-held")
    assert result.exit_code == ExitCode.BAD_INPUT and "close it as nothing-held" in result.stderr
    assert cli("request", "close", rid).exit_code == ExitCode.REFUSED


def test_an_erasure_request_answered_by_removing_items(cli, subject_id: str, db: Path) -> None:
    item = cli.ok("item", "add", subject_id, "--category", "contact", "--source", "form",
                  "--purpose", "care", "--value", "old address").stdout.strip()
    rid = _open(cli, subject_id, "--kind", "erasure", "--received", "2026-11-20",
                "--note", "remove my old address")["id"]
    cli.ok("item", "remove", item, "--reason", "asked", "--request", rid)
    cli.ok("request", "close", rid)
    letter = cli.ok("request", "letter", rid, "--template", "completed").stdout
    assert "the personal data you asked us to erase" in letter
    assert "as you asked" not in letter
    # Erased on request, not as a wrong entry, in the erasure log and the journal.
    rules = [r[0] for r in sqlite3.connect(db).execute("SELECT rule FROM erasures")]
    assert rules == ["request:item"]


def test_restricted_data_cannot_be_moved_to_another_purpose(cli, subject_id: str) -> None:
    item = cli.ok("item", "add", subject_id, "--category", "contact", "--source", "form",
                  "--purpose", "care", "--value", "x").stdout.strip()
    cli.ok("restrict", subject_id, "--purpose", "care", "--reason", "contested")
    result = cli("item", "correct", item, "--purpose", "medical_records")
    assert result.exit_code == ExitCode.REFUSED and "Art. 18" in result.stderr
    assert cli.json("item", "list", subject_id)[0]["purpose"] == "care"
