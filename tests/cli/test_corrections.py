"""Corrections (UK GDPR Art. 16), wrong entries removed, disclosures voided, the recipients to tell
(Art. 19), and `erase --request`: through the CLI, with the store read straight from its files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import backdate

from pigment_cli.errors import ExitCode

MARKER = "ZQX-OLD-VALUE-7731"  # a value that appears nowhere else
HOSTILE_TEXT = [
    "line one\nline two",  # a newline in a one-line field
    "bell\x07and\x1b[31mescape",  # control characters
    "x" * 1_001,  # longer than a one-line field may be
]


# --- helpers -----------------------------------------------------------------------------------


def _item(cli, sid: str, value: str = "Eczema, 2019", *, category: str = "medical_history",
          source: str = "consultation", purpose: str = "medical_records",
          processed: str = "2025-03-04") -> int:
    return int(cli.ok("item", "add", sid, "--category", category, "--source", source,
                      "--purpose", purpose, "--value", value, "--processed", processed)
               .stdout.strip())


def _disclose(cli, sid: str, to: str = "North Lab", items: str = "identity,medical_history",
              *, purpose: str = "medical_referral", kind: str = "laboratory") -> int:
    return int(cli.ok("disclose", sid, "--to", to, "--recipient-type", kind, "--purpose",
                      purpose, "--items", items, "--yes").stdout.strip())


def _request(cli, sid: str, kind: str = "rectification") -> str:
    return cli.ok("request", "open", sid, "--kind", kind, "--received",
                  "2026-11-20").stdout.split()[0]


def _bytes(store: Path) -> bytes:
    """The store file and its write-ahead log, as they are on disk."""
    wal = Path(f"{store}-wal")
    return store.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _rows(store: Path, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(store)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _audit_text(store: Path) -> str:
    return json.dumps(_rows(store, "SELECT * FROM audit"))


def _actions(store: Path, request_id: str) -> list[tuple[str, dict]]:
    return [(a, json.loads(d)) for a, d in _rows(
        store, "SELECT action, detail FROM request_actions WHERE request_id = ?", request_id)]


@pytest.fixture
def observer(store: Path):
    """Another program with the store open (as a backup tool or a second terminal would be):
    the write-ahead log then outlives each command, so what a command leaves in it can be read."""
    conn = sqlite3.connect(store)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the WAL index
    yield conn
    conn.close()


# --- item correct ------------------------------------------------------------------------------


def test_a_corrected_value_is_left_nowhere(cli, store: Path, subject_id: str, observer) -> None:
    item = _item(cli, subject_id, MARKER)
    assert MARKER.encode() in _bytes(store)  # the check below can see it when it is there
    done = cli.json("item", "correct", str(item), "--value", "Eczema, 2018")
    assert done["changed"] == ["value"] and done["item"]["value"] == "Eczema, 2018"
    assert done["scrubbed"] is True
    assert Path(f"{store}-wal").exists()  # the observer kept it: it was scrubbed, not deleted
    assert MARKER.encode() not in _bytes(store)
    assert MARKER not in _audit_text(store)
    journal = Path(f"{store}-erasures.jsonl")
    assert MARKER not in (journal.read_text() if journal.exists() else "")
    entry = _rows(store, "SELECT detail FROM audit WHERE command = 'item correct'")
    assert json.loads(entry[-1][0])["fields"] == ["value"]


def test_a_correction_never_moves_the_retention_clock(cli, store: Path, subject_id: str) -> None:
    item = _item(cli, subject_id, processed="2024-06-01")
    backdate(store, subject_id, "2024-06-01")  # the item's processing is the subject's last
    before = cli.json("subject", "show", subject_id)
    cli.ok("item", "correct", str(item), "--value", "Psoriasis", "--source", "referral",
           "--collected", "2024-05-30")
    after = cli.json("subject", "show", subject_id)
    corrected = after["items"]["medical_history"][0]
    assert corrected["processed_at"] == before["items"]["medical_history"][0]["processed_at"]
    assert corrected["collected_at"] == "2024-05-30"
    assert corrected["source"] == "referral"
    assert after["subject"]["last_processed_at"] == "2024-06-01"
    assert after["retention"]["erasure_due"] == before["retention"]["erasure_due"] == "2031-06-01"


def test_correct_checks_fields_as_item_add_does(cli, subject_id: str) -> None:
    item = str(_item(cli, subject_id))
    assert cli("item", "correct", item).exit_code == ExitCode.BAD_INPUT  # no field given
    assert cli("item", "correct", "99999", "--value", "x").exit_code == ExitCode.BAD_INPUT
    assert cli("item", "correct", item, "--category", "bogus").exit_code == ExitCode.BAD_INPUT
    assert cli("item", "correct", item, "--source", "pigeon").exit_code == ExitCode.BAD_INPUT
    assert cli("item", "correct", item, "--collected", "2027-01-01").exit_code == ExitCode.BAD_INPUT
    # Collected after it was processed (2025-03-04): not possible.
    assert cli("item", "correct", item, "--collected", "2025-06-01").exit_code == ExitCode.BAD_INPUT
    # medical_records may not use marketing data (the purpose's categories): refused, as item add.
    assert cli("item", "correct", item, "--category", "marketing").exit_code == ExitCode.REFUSED
    # A purpose resting on consent the subject never gave: refused.
    result = cli("item", "correct", item, "--purpose", "satisfaction_survey", "--category",
                 "marketing")
    assert result.exit_code == ExitCode.REFUSED
    assert cli.json("item", "list", subject_id)[0]["category"] == "medical_history"
    assert cli.json("item", "list", subject_id)[0]["purpose"] == "medical_records"


def test_a_new_purpose_brings_its_basis(cli, subject_id: str) -> None:
    item = _item(cli, subject_id, "07700 900999", category="contact", source="phone",
                 purpose="care")
    cli.ok("consent", "grant", subject_id, "satisfaction_survey", "--via", "web_form")
    done = cli.json("item", "correct", str(item), "--purpose", "satisfaction_survey",
                    "--category", "marketing")
    assert done["item"]["basis"] == "consent"
    assert sorted(done["changed"]) == ["basis", "category", "purpose"]


@pytest.mark.parametrize("text", ["bell\x07here", "nul\x00here", "x" * 1_000_001])
def test_hostile_values_are_refused_and_never_echoed(cli, subject_id: str, text: str) -> None:
    item = str(_item(cli, subject_id, MARKER))
    result = cli("item", "correct", item, "--value", text)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert text[:20] not in result.stderr and MARKER not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert cli.json("item", "list", subject_id)[0]["value"] == MARKER


def test_a_value_may_span_lines_and_hold_markup(cli, subject_id: str) -> None:
    item = str(_item(cli, subject_id))
    text = "<script>alert(1)</script>\nline two & <b>more</b>"
    assert cli.json("item", "correct", item, "--value", text)["item"]["value"] == text
    assert cli.json("item", "correct", item, "--value", "")["item"]["value"] is None


def test_a_correction_that_changes_nothing_answers_nothing(cli, store: Path,
                                                           subject_id: str) -> None:
    item = str(_item(cli, subject_id, "same"))
    request = _request(cli, subject_id)
    done = cli.json("item", "correct", item, "--value", "same", "--request", request)
    assert done["changed"] == [] and done["request"] is None
    assert _actions(store, request) == []


# --- --request: what a correction may answer ---------------------------------------------------


def test_correct_answers_a_rectification_request(cli, store: Path, subject_id: str) -> None:
    item = str(_item(cli, subject_id))
    request = _request(cli, subject_id)
    done = cli.json("item", "correct", item, "--value", "Eczema, 2018", "--request",
                    request.lower())
    assert done["request"] == request
    assert _actions(store, request) == [("correct", {"item": int(item), "fields": ["value"]})]
    cli.ok("request", "close", request, "--outcome", "done")
    assert _rows(store, "SELECT status, outcome FROM requests WHERE id = ?", request) == [
        ("closed", "done")]


@pytest.mark.parametrize("command", [
    ["item", "correct", "{item}", "--value", "new"],
    ["item", "remove", "{item}", "--reason", "wrong"],
    ["subject", "update", "{sid}", "--phone", "07700 900000"],
    ["disclosure", "void", "{disclosure}", "--reason", "twice"],
])
def test_a_request_that_cannot_be_answered_changes_nothing(cli, store: Path, subject_id: str,
                                                           command: list[str]) -> None:
    item = _item(cli, subject_id, MARKER)
    disclosure = _disclose(cli, subject_id)
    other = cli.ok("subject", "add", "--name", "Someone Else").stdout.strip()
    access = _request(cli, subject_id, "access")  # the wrong kind for any of these
    theirs = _request(cli, other)  # about another subject
    closed = _request(cli, subject_id)
    cli.ok("item", "correct", str(item), "--value", MARKER + "!", "--request", closed)
    cli.ok("request", "close", closed, "--outcome", "done")
    cli.ok("item", "correct", str(item), "--value", MARKER)
    args = [a.format(item=item, sid=subject_id, disclosure=disclosure) for a in command]
    notices = _rows(store, "SELECT count(*) FROM recipient_notices")
    for request in (access, theirs, closed, "R-NONE0"):
        result = cli(*args, "--request", request)
        assert result.exit_code == ExitCode.BAD_INPUT, (request, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert cli.json("item", "list", subject_id)[0]["value"] == MARKER
    assert cli.json("disclosure", "list", subject_id)[0]["voided_at"] is None
    assert cli.json("subject", "show", subject_id)["subject"]["phone"] == "07700 900123"
    assert _rows(store, "SELECT count(*) FROM recipient_notices") == notices
    assert [a for a, _ in _actions(store, closed)] == ["correct"]


def test_subject_update_answers_a_rectification_request(cli, store: Path,
                                                        subject_id: str) -> None:
    disclosure = _disclose(cli, subject_id, items="identity")
    request = _request(cli, subject_id)
    done = cli.json("subject", "update", subject_id, "--name", "Ada King", "--request", request)
    assert done["changed"] == ["name"] and done["request"] == request
    assert [n["disclosure_id"] for n in done["recipients"]] == [disclosure]
    assert _actions(store, request) == [("update", {"fields": ["name"]})]
    # An email is contact data, which went to no one: nobody to tell.
    plain = cli.ok("subject", "update", subject_id, "--email", "ada.king@example.org")
    assert "Recipients to tell (Art. 19): none" in plain.stdout


# --- item remove -------------------------------------------------------------------------------


def test_remove_erases_a_wrong_entry_through_the_erasure_path(cli, store: Path, subject_id: str,
                                                             observer) -> None:
    item = _item(cli, subject_id, MARKER)
    keep = _item(cli, subject_id, "kept")
    reason = "entered on the wrong patient <b>R-KEEPOUT</b>"
    done = cli.json("item", "remove", str(item), "--reason", reason)
    assert done["item"] == item and done["rule"] == "removed:wrong-entry" and done["scrubbed"]
    assert [i["id"] for i in cli.json("item", "list", subject_id)] == [keep]
    assert _rows(store, "SELECT scope, category, count, rule FROM erasures") == [
        ("item", "medical_history", 1, "removed:wrong-entry")]
    on_disk = _bytes(store)
    assert MARKER.encode() not in on_disk and b"R-KEEPOUT" not in on_disk  # nor the reason
    assert "R-KEEPOUT" not in _audit_text(store) and MARKER not in _audit_text(store)
    journal = Path(f"{store}-erasures.jsonl").read_text()
    assert '"scope":"items"' in journal and "R-KEEPOUT" not in journal
    commands = [r[0] for r in _rows(store, "SELECT command FROM audit WHERE subject_id = ?",
                                    subject_id)]
    assert "item remove" in commands and "item remove: erase items" in commands


@pytest.mark.parametrize("reason", [*HOSTILE_TEXT, "", "   "])
def test_remove_refuses_a_hostile_or_empty_reason(cli, subject_id: str, reason: str) -> None:
    item = _item(cli, subject_id)
    result = cli("item", "remove", str(item), "--reason", reason)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert len(result.stderr.strip().splitlines()) == 1
    assert [i["id"] for i in cli.json("item", "list", subject_id)] == [item]


def test_remove_errors(cli, subject_id: str) -> None:
    assert cli("item", "remove", "99999", "--reason", "wrong").exit_code == ExitCode.BAD_INPUT
    assert cli("item", "remove", "1").exit_code == ExitCode.BAD_INPUT  # --reason is required


@pytest.mark.parametrize("kind", ["rectification", "erasure"])
def test_remove_answers_a_rectification_or_erasure_request(cli, store: Path, subject_id: str,
                                                          kind: str) -> None:
    item = _item(cli, subject_id)
    request = _request(cli, subject_id, kind)
    assert cli.json("item", "remove", str(item), "--reason", "duplicate", "--request",
                    request)["request"] == request
    assert _actions(store, request) == [("remove", {"item": item, "items": 1})]


# --- disclosure void ---------------------------------------------------------------------------


def test_void_keeps_the_disclosure_and_shows_it_void(cli, store: Path, subject_id: str) -> None:
    first = _disclose(cli, subject_id)
    twice = _disclose(cli, subject_id)
    reason = "recorded twice <script>x</script>"
    done = cli.json("disclosure", "void", str(twice), "--reason", reason)
    assert done["disclosure"]["voided_at"] == "2026-11-25T10:30:00"
    listed = {d["id"]: d for d in cli.json("disclosure", "list", subject_id)}
    assert listed[twice]["void_reason"] == reason and listed[first]["voided_at"] is None
    table = cli.ok("disclosure", "list", subject_id).stdout
    assert f"{twice} VOID" in table and "1 void" in table
    assert _rows(store, "SELECT count(*) FROM disclosures") == [(2,)]  # never deleted
    audit = _rows(store, "SELECT detail FROM audit WHERE command = 'disclosure void'")
    assert json.loads(audit[0][0]) == {"disclosure": twice, "notices_dropped": 0,
                                       "request": None}
    assert "script" not in _audit_text(store)
    # subject show lists what happened: the void one is left out.
    assert [d["id"] for d in cli.json("subject", "show", subject_id)["disclosures"]] == [first]


def test_void_errors(cli, subject_id: str) -> None:
    disclosure = str(_disclose(cli, subject_id))
    assert cli("disclosure", "void", "999", "--reason", "x").exit_code == ExitCode.BAD_INPUT
    for reason in [*HOSTILE_TEXT, ""]:
        result = cli("disclosure", "void", disclosure, "--reason", reason)
        assert result.exit_code == ExitCode.BAD_INPUT
        assert len(result.stderr.strip().splitlines()) == 1
    cli.ok("disclosure", "void", disclosure, "--reason", "twice")
    again = cli("disclosure", "void", disclosure, "--reason", "twice")
    assert again.exit_code == ExitCode.BAD_INPUT and "already voided" in again.stderr


def test_void_answers_a_rectification_request(cli, store: Path, subject_id: str) -> None:
    disclosure = _disclose(cli, subject_id)
    request = _request(cli, subject_id)
    cli.ok("disclosure", "void", str(disclosure), "--reason", "twice", "--request", request)
    assert _actions(store, request) == [("void", {"disclosure": disclosure})]


def test_a_void_disclosure_is_no_recipient(cli, subject_id: str, tmp_path: Path) -> None:
    real = _disclose(cli, subject_id, "Real Lab")
    mistake = _disclose(cli, subject_id, "Mistaken Lab")
    item = _item(cli, subject_id)
    cli.ok("item", "correct", str(item), "--value", "first fix")
    dropped = cli.json("disclosure", "void", str(mistake), "--reason", "wrong lab")
    assert dropped["notices_dropped"] == 1  # never told of a disclosure that did not happen
    done = cli.json("item", "correct", str(item), "--value", "second fix")
    assert [n["disclosure_id"] for n in done["recipients"]] == [real]
    notices = cli.json("disclosure", "notices", subject_id)
    assert {n["disclosure_id"] for n in notices} == {real}
    cli.ok("sar", "export", subject_id, "--out", str(tmp_path / "package"))
    data = json.loads((tmp_path / "package" / "data.json").read_text())
    assert [d["recipient"] for d in data["disclosures"]] == ["Real Lab"]
    assert "Mistaken Lab" not in (tmp_path / "package" / "report.html").read_text()
    assert "Mistaken Lab" not in (tmp_path / "package" / "disclosures.csv").read_text()


# --- Art. 19: the recipients to tell -----------------------------------------------------------


def test_correct_lists_the_recipients_of_the_old_and_new_category(cli, subject_id: str) -> None:
    medical = _disclose(cli, subject_id, "North Lab", "identity,medical_history")
    payment = _disclose(cli, subject_id, "Pay Co", "payment", purpose="payment",
                        kind="payment_processor")
    item = _item(cli, subject_id, "visit paid", category="payment", source="payment",
                 purpose="payment")
    done = cli.json("item", "correct", str(item), "--value", "visit refunded")
    assert [(n["disclosure_id"], n["recipient"], n["recipient_type"], n["event"])
            for n in done["recipients"]] == [(payment, "Pay Co", "payment_processor",
                                              "rectification")]
    table = cli.ok("item", "correct", str(item), "--value", "visit paid").stdout
    assert "Recipients to tell (Art. 19)" in table and "Pay Co" in table
    assert "North Lab" not in table
    # A new category's recipients are told too: care contact data moved to medical history.
    contact = _item(cli, subject_id, "note", category="contact", source="phone", purpose="care")
    moved = cli.json("item", "correct", str(contact), "--category", "medical_history",
                     "--purpose", "medical_records")
    assert [n["disclosure_id"] for n in moved["recipients"]] == [medical]


def test_no_recipients_is_said(cli, subject_id: str) -> None:
    item = _item(cli, subject_id)
    result = cli.ok("item", "correct", str(item), "--value", "fixed")
    assert result.stdout.startswith("Recipients to tell (Art. 19): none")
    assert cli.json("item", "correct", str(item), "--value", "fixed again")["recipients"] == []


def test_notified_records_when_the_recipient_was_told(cli, store: Path, subject_id: str) -> None:
    disclosure = str(_disclose(cli, subject_id))
    item = _item(cli, subject_id)
    cli.ok("item", "remove", str(item), "--reason", "wrong patient")
    pending = cli.json("disclosure", "notices", subject_id, "--pending")
    assert [(n["disclosure_id"], n["notified_on"]) for n in pending] == [(int(disclosure), None)]
    assert cli("disclosure", "notified", disclosure, "--on", "2026-11-26").exit_code == ExitCode.BAD_INPUT
    assert cli("disclosure", "notified", disclosure, "--on", "2026-11-24").exit_code == ExitCode.BAD_INPUT
    assert cli("disclosure", "notified", disclosure, "--on", "soon").exit_code == ExitCode.BAD_INPUT
    told = cli.json("disclosure", "notified", disclosure, "--on", "2026-11-25")
    assert [n["notified_on"] for n in told] == ["2026-11-25"]
    assert cli.json("disclosure", "notices", subject_id, "--pending") == []
    assert cli.json("disclosure", "notices", subject_id)[0]["notified_on"] == "2026-11-25"
    again = cli("disclosure", "notified", disclosure, "--on", "2026-11-25")
    assert again.exit_code == ExitCode.BAD_INPUT and "already told" in again.stderr
    assert cli("disclosure", "notified", "999", "--on", "2026-11-25").exit_code == ExitCode.BAD_INPUT
    audit = _rows(store, "SELECT subject_id, detail FROM audit WHERE command = "
                         "'disclosure notified'")
    assert [(s, json.loads(d)) for s, d in audit] == [
        (subject_id, {"disclosure": int(disclosure), "notices": 1})]


def test_notices_of_an_unknown_subject(cli, store: Path) -> None:
    assert cli("disclosure", "notices", "S-ZZZZZ").exit_code == ExitCode.BAD_INPUT


# --- erase --request ---------------------------------------------------------------------------


def test_erase_answers_the_erasure_request_and_the_request_survives(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Erin Erased", "--email",
                 "erin@example.org").stdout.strip()
    _item(cli, sid, MARKER, category="contact", source="phone", purpose="care")
    lab = _disclose(cli, sid, "North Lab", "identity")
    request = _request(cli, sid, "erasure")
    # Without --request, the open request itself holds the erasure back.
    preview = cli.json("erase", sid)
    assert preview["whole_subject"] is False and preview["held_by"] == [
        f"open erasure request {request}"]
    done = cli.json("erase", sid, "--request", request, "--apply")
    assert done["whole_subject"] is True and done["request"] == request
    assert [(n["disclosure_id"], n["event"]) for n in done["recipients"]] == [(lab, "erasure")]
    assert cli("subject", "show", sid).exit_code == ExitCode.BAD_INPUT  # erased
    assert MARKER.encode() not in _bytes(store)
    # The request stays, with the name and email its reply goes to, and what answered it.
    assert _rows(store, "SELECT subject_id, kind, status, person_name, person_email FROM "
                        "requests WHERE id = ?", request) == [
        (sid, "erasure", "open", "Erin Erased", "erin@example.org")]
    assert _actions(store, request) == [
        ("erase", {"erased_items": 1, "kept_categories": [], "kept_items": 0,
                   "whole_subject": True})]
    # The recipients are still to be told after the subject has gone.
    pending = cli.json("disclosure", "notices", sid, "--pending")
    assert [(n["disclosure_id"], n["recipient"]) for n in pending] == [(lab, "North Lab")]
    cli.ok("disclosure", "notified", str(lab), "--on", "2026-11-25")
    shown = cli.json("request", "show", request)
    assert shown["actions"][0]["action"] == "erase" and shown["to_be_told"] == []
    cli.ok("request", "close", request, "--outcome", "done")
    assert _rows(store, "SELECT status, outcome FROM requests WHERE id = ?", request) == [
        ("closed", "done")]


def test_other_open_requests_and_holds_still_hold(cli, store: Path, subject_id: str) -> None:
    _item(cli, subject_id, "asked for prices", category="contact", source="phone",
          purpose="care")
    erasure = _request(cli, subject_id, "erasure")
    access = _request(cli, subject_id, "access")
    done = cli.json("erase", subject_id, "--request", erasure, "--apply")
    assert done["whole_subject"] is False
    assert done["held_by"] == [f"open subject-access request {access}"]
    cli.ok("subject", "show", subject_id)  # the record stays while the access request is open
    assert _actions(store, erasure)[0][1]["whole_subject"] is False


def test_erase_with_a_request_it_cannot_answer_changes_nothing(cli, store: Path,
                                                               subject_id: str) -> None:
    _item(cli, subject_id, MARKER, category="contact", source="phone", purpose="care")
    _disclose(cli, subject_id, "North Lab", "identity")
    other = cli.ok("subject", "add", "--name", "Other Person").stdout.strip()
    rectification = _request(cli, subject_id)
    theirs = _request(cli, other, "erasure")
    closed = _request(cli, subject_id, "erasure")
    cli.ok("request", "close", closed, "--outcome", "refused", "--reason", "not verified")
    for request in (rectification, theirs, closed, "R-NONE0"):
        for apply in ([], ["--apply"]):
            result = cli("erase", subject_id, "--request", request, *apply)
            assert result.exit_code == ExitCode.BAD_INPUT, (request, result.stderr)
    assert cli.json("item", "list", subject_id)[0]["value"] == MARKER
    assert _rows(store, "SELECT count(*) FROM request_actions") == [(0,)]
    assert _rows(store, "SELECT count(*) FROM recipient_notices") == [(0,)]


def test_erase_tells_only_the_recipients_of_what_was_erased(cli, store: Path,
                                                           subject_id: str) -> None:
    _item(cli, subject_id, "Eczema")  # medical records: kept (Art. 17(3))
    _item(cli, subject_id, "web", category="web_activity", source="website",
          purpose="reporting")
    lab = _disclose(cli, subject_id, "North Lab", "identity,medical_history")
    done = cli.json("erase", subject_id, "--apply")
    assert done["whole_subject"] is False and done["recipients"] == []
    assert lab  # the lab received medical history, which stays: nothing to tell it
    plain = cli.ok("erase", subject_id, "--apply")
    assert "Recipients to tell (Art. 19): none" in plain.stdout


# --- a restore never undoes a correction or a removal ------------------------------------------


def test_a_restore_redoes_corrected_facts_and_the_removal_that_followed(cli, store: Path,
                                                                       subject_id: str,
                                                                       tmp_path: Path) -> None:
    moved = _item(cli, subject_id, "moved", category="contact", source="phone", purpose="care")
    wrong = _item(cli, subject_id, MARKER, category="contact", source="phone", purpose="care")
    backup = cli.ok("backup", str(tmp_path / "before.db")).stdout.strip()
    cli.ok("item", "correct", str(moved), "--category", "medical_history", "--purpose",
           "medical_records", "--collected", "2025-01-02", "--value", "moved, and fixed")
    cli.ok("item", "correct", str(wrong), "--category", "medical_history")
    cli.ok("item", "remove", str(wrong), "--reason", "another patient's note")
    result = cli.json("restore", backup, "--replace")
    assert result["replayed_item_corrections"] == 2 and result["replayed_items"] == 1
    items = {i["id"]: i for i in cli.json("item", "list", subject_id)}
    assert wrong not in items  # the removal found the item under its corrected category
    assert (items[moved]["category"], items[moved]["purpose"], items[moved]["basis"],
            items[moved]["collected_at"]) == ("medical_history", "medical_records", "contract",
                                              "2025-01-02")
    assert items[moved]["value"] == "moved"  # values are never journalled: listed to redo
    assert [(r["subject_id"], r["fields"]) for r in result["redo_rectifications"]] == [
        (subject_id, [f"item {moved} value"])]
    assert MARKER not in Path(f"{store}-erasures.jsonl").read_text()
