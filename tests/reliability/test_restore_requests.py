"""A restore never undoes the register: requests opened since the backup, their steps, the
actions that answered them, Art. 19 notices and their recipients told are replayed from the
journal (ids, kinds, dates and outcomes only); what it cannot rebuild (someone not in the
store, texts) is listed for a person to redo."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from conftest import FIXED_NOW, Cli

from pigment_cli import clock
from pigment_cli.errors import ExitCode
from pigment_cli.records.replay import replay
from pigment_cli.records.replay_requests import RESTORED_TEXT
from pigment_cli.store.connection import open_store
from pigment_cli.store.journal import append_entries, read_journal
from pigment_cli.store.tx import transaction

REGISTER = ("requests", "request_actions", "request_pauses", "recipient_notices")


def _backup(cli: Cli, path: Path) -> Path:
    return Path(cli.ok("backup", str(path)).stdout.strip())


def _journal(store: Path) -> list[dict[str, Any]]:
    return read_journal(Path(f"{store}-erasures.jsonl"))


def _disclose(cli: Cli, subject: str, to: str = "North Lab Ltd") -> int:
    return int(cli.ok("disclose", subject, "--to", to, "--recipient-type", "laboratory",
                      "--purpose", "medical_referral", "--items", "identity").stdout.strip())


def _open(cli: Cli, *args: str) -> str:
    return str(cli.json("request", "open", *args)["id"])


def _tables(store: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(store)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in REGISTER}
    finally:
        conn.close()


def _restore(cli: Cli, backup: Path) -> dict[str, Any]:
    result = cli("restore", str(backup), "--replace", "--json")
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    data: dict[str, Any] = json.loads(result.stdout)
    data["stderr"] = result.stderr
    return data


# --- the review's three reproductions ----------------------------------------------------------


def test_a_pending_art19_notice_survives_the_restore_of_an_erasure(cli, store, tmp_path) -> None:
    """(a) The erasure was replayed but its notice was lost, and with the subject and the
    disclosure erased nothing could rebuild who must be told."""
    subject = cli.ok("subject", "add", "--name", "Told Later").stdout.strip()
    disclosure = _disclose(cli, subject)
    backup = _backup(cli, tmp_path / "bk.db")
    cli.ok("erase", subject, "--apply")
    before = cli.json("disclosure", "notices", subject, "--pending")
    assert [n["disclosure_id"] for n in before] == [disclosure]
    data = _restore(cli, backup)
    assert data["replayed_subjects"] == 1 and data["replayed_notices"] == 1
    assert cli("subject", "show", subject).exit_code == ExitCode.BAD_INPUT  # still erased
    after = cli.json("disclosure", "notices", subject, "--pending")
    assert [(n["disclosure_id"], n["recipient"], n["recipient_type"], n["event"],
             n["created_at"]) for n in after] == [
        (disclosure, "North Lab Ltd", "laboratory", "erasure", before[0]["created_at"])]
    # ... and it can be given, after the restore as before it.
    cli.ok("disclosure", "notified", str(disclosure))
    assert cli.json("disclosure", "notices", subject, "--pending") == []


def test_an_erasure_request_answered_and_closed_stays_closed(cli, store, tmp_path) -> None:
    """(b) R came back open with no actions, could never be closed as done, and went overdue."""
    subject = cli.ok("subject", "add", "--name", "Asked To Go").stdout.strip()
    rid = _open(cli, subject, "--kind", "erasure", "--received", "2026-11-20")
    backup = _backup(cli, tmp_path / "bk.db")
    cli.ok("erase", subject, "--request", rid, "--apply")
    cli.ok("request", "close", rid)
    expected = cli.json("request", "show", rid)
    data = _restore(cli, backup)
    assert (data["replayed_request_actions"], data["replayed_request_steps"]) == (1, 1)
    view = cli.json("request", "show", rid)
    assert (view["status"], view["outcome"], view["closed_on"]) == ("closed", "done",
                                                                    "2026-11-25")
    assert [a["action"] for a in view["actions"]] == ["erase"]
    assert view["actions"] == expected["actions"]
    assert cli.json("request", "list", "--overdue") == []


def test_a_request_opened_after_the_backup_comes_back(cli, store, tmp_path, subject_id,
                                                      monkeypatch) -> None:
    """(c) It disappeared entirely. (The clock moves on here: what was done after the backup is
    later than anything in it, and the restore later still.)"""
    backup = _backup(cli, tmp_path / "bk.db")
    monkeypatch.setattr(clock, "system_now", lambda: FIXED_NOW + timedelta(hours=1))
    rid = _open(cli, subject_id, "--kind", "access", "--received", "2026-11-23", "--via",
                "letter")
    cli.ok("request", "verify-id", rid, "--on", "2026-11-24")
    expected = cli.json("request", "show", rid)
    monkeypatch.setattr(clock, "system_now", lambda: FIXED_NOW + timedelta(hours=2))
    data = _restore(cli, backup)
    assert (data["replayed_requests"], data["replayed_request_steps"]) == (1, 1)
    view = cli.json("request", "show", rid)
    for key in ("kind", "subject_id", "channel", "received_on", "id_verified_on", "start",
                "due", "status"):
        assert view[key] == expected[key], key
    assert [r["id"] for r in cli.json("request", "list", "--open")] == [rid]


# --- what the journal cannot rebuild is listed ------------------------------------------------


def test_a_request_from_someone_not_in_the_store_is_listed_not_recreated(cli, store,
                                                                          tmp_path) -> None:
    backup = _backup(cli, tmp_path / "bk.db")
    rid = _open(cli, "--unknown", "--name", "Unheld Person", "--email", "unheld@example.org",
                "--kind", "access", "--received", "2026-11-24")
    cli.ok("request", "close", rid, "--outcome", "nothing-held")
    data = _restore(cli, backup)
    assert data["replayed_requests"] == 0
    assert cli("request", "show", rid).exit_code == ExitCode.BAD_INPUT
    assert data["redo_requests"] == [{
        "request_id": rid, "kind": "access", "subject_id": None, "received_on": "2026-11-24",
        "why": "from someone not in the store: re-enter it with pigment request open --unknown",
        "steps": [{"step": "close", "on": "2026-11-25", "outcome": "nothing-held"}]}]
    assert f"{rid} (access, received 2026-11-24" in data["stderr"]
    assert "Unheld" not in data["stderr"] and "unheld@" not in data["stderr"]


def test_no_free_text_ever_reaches_the_journal_and_texts_are_listed(cli, store,
                                                                    tmp_path) -> None:
    subject = cli.ok("subject", "add", "--name", "Zqmarker Subject", "--email",
                     "zqmarker-subject@example.org").stdout.strip()
    _disclose(cli, subject, to="Zqmarker Lab Ltd")
    backup = _backup(cli, tmp_path / "bk.db")
    access = _open(cli, subject, "--kind", "access", "--received", "2026-11-02",
                   "--note", "zqmarker note")
    cli.ok("request", "acknowledge", access, "--on", "2026-11-03")
    cli.ok("request", "pause", access, "--reason", "zqmarker pause", "--on", "2026-11-04")
    cli.ok("request", "resume", access, "--on", "2026-11-06")
    cli.ok("request", "extend", access, "--reason", "zqmarker extension", "--on", "2026-11-10")
    cli.ok("request", "review", access, "--by", "Dr Zqmarker", "--outcome", "release",
           "--note", "zqmarker review")
    cli.ok("request", "close", access, "--outcome", "refused", "--reason", "zqmarker refusal")
    rect = _open(cli, subject, "--kind", "restriction", "--received", "2026-11-20")
    cli.ok("restrict", subject, "--request", rect, "--reason", "zqmarker restriction")
    _open(cli, "--unknown", "--name", "Zqmarker Unknown", "--email", "zqmarker-u@example.org",
          "--received", "2026-11-24", "--note", "zqmarker unknown note")
    raw = Path(f"{store}-erasures.jsonl").read_bytes()
    assert b"zqmarker" not in raw.lower()
    scopes = {e["scope"] for e in _journal(store)}
    assert {"request", "request_step", "request_action", "notice"} <= scopes
    expected = cli.json("request", "show", access)
    data = _restore(cli, backup)
    view = cli.json("request", "show", access)
    for key in ("status", "outcome", "closed_on", "acknowledged_on", "extended_on", "due",
                "paused_days", "closed_late"):
        assert view[key] == expected[key], key
    assert view["review"]["outcome"] == "release"
    assert view["note"] == view["outcome_reason"] == RESTORED_TEXT
    assert data["redo_request_texts"] == [
        {"request_id": access, "fields": ["extension reason", "note", "outcome reason",
                                          "pause reason", "review note", "reviewer"]}]
    assert f"{access} (extension reason, note" in data["stderr"]
    # The restriction's notice came back, with the recipient read from the backup.
    notices = cli.json("disclosure", "notices", subject, "--pending")
    assert [(n["recipient"], n["event"], n["request_id"]) for n in notices] == [
        ("Zqmarker Lab Ltd", "restriction", rect)]
    assert [a["action"] for a in cli.json("request", "show", rect)["actions"]] == ["restrict"]


def test_a_notice_whose_disclosure_is_not_in_the_backup_is_listed(cli, store, tmp_path) -> None:
    backup = _backup(cli, tmp_path / "bk.db")
    subject = cli.ok("subject", "add", "--name", "Came Later").stdout.strip()
    disclosure = _disclose(cli, subject)
    cli.ok("erase", subject, "--apply")
    cli.ok("disclosure", "notified", str(disclosure), "--on", "2026-11-25")
    data = _restore(cli, backup)
    assert data["tombstoned"] == 1 and data["replayed_notices"] == 0
    assert data["redo_notices"] == [{
        "subject_id": subject, "disclosure_id": disclosure, "event": "erasure",
        "request_id": None, "noted_on": "2026-11-25", "notified_on": "2026-11-25"}]
    assert f"disclosure {disclosure} of {subject} (erasure" in data["stderr"]


def test_a_request_id_held_by_another_request_is_skipped_and_reported(cli, store, tmp_path,
                                                                      subject_id) -> None:
    rid = _open(cli, subject_id, "--kind", "access", "--received", "2026-11-20")
    backup = _backup(cli, tmp_path / "bk.db")
    before = _tables(store)
    journal = Path(f"{store}-erasures.jsonl")
    # Lines of another history naming the same id for another subject and kind.
    append_entries(journal, [
        {"scope": "request", "request_id": rid, "subject_id": "S-OTHER", "kind": "erasure",
         "channel": "email", "received_on": "2026-11-21", "purpose": None,
         "created_at": "2026-11-25T10:30:00", "at": "2026-11-25T10:30:00"},
        {"scope": "request_step", "request_id": rid, "subject_id": "S-OTHER", "kind": "erasure",
         "step": "close", "on": "2026-11-25", "outcome": "done", "at": "2026-11-25T10:30:00"}])
    data = _restore(cli, backup)
    assert data["skipped_requests"] == [
        {"request_id": rid, "why": "its id names another request in the backup (another "
                                   "subject or kind)"}]
    assert _tables(store) == before
    assert cli.json("request", "show", rid)["status"] == "open"
    assert f"not replayed: {rid}" in data["stderr"]


def test_a_request_removed_before_the_backup_is_not_brought_back(cli, store, tmp_path) -> None:
    """The register's retention removed it before the backup was taken: its lines are older
    than the backup's last act, so a replay leaves it gone and lists nothing."""
    cli.ok("subject", "add", "--name", "Last Act")  # the backup's last act: after the request
    backup = _backup(cli, tmp_path / "bk.db")
    append_entries(Path(f"{store}-erasures.jsonl"), [
        {"scope": "request", "request_id": "R-SWEPT", "subject_id": None, "kind": "access",
         "channel": "email", "received_on": "2020-01-02", "purpose": None,
         "created_at": "2020-01-02T09:00:00", "at": "2020-01-02T09:00:00"},
        {"scope": "request_step", "request_id": "R-SWEPT", "subject_id": None, "kind": "access",
         "step": "close", "on": "2020-01-20", "outcome": "nothing-held",
         "at": "2020-01-20T09:00:00"}])
    data = _restore(cli, backup)
    assert data["redo_requests"] == [] and data["replayed_requests"] == 0
    assert cli("request", "show", "R-SWEPT").exit_code == ExitCode.BAD_INPUT


# --- idempotence ---------------------------------------------------------------------------------


def _people(cli: Cli) -> tuple[str, str]:
    """Two subjects, each with a disclosure (before any backup)."""
    subject = cli.ok("subject", "add", "--name", "To Be Erased").stdout.strip()
    other = cli.ok("subject", "add", "--name", "To Be Kept").stdout.strip()
    _disclose(cli, subject)
    _disclose(cli, other, to="South Lab Ltd")
    return subject, other


def _acts(cli: Cli, subject: str, other: str) -> None:
    """A bit of everything the register journals."""
    access = _open(cli, other, "--kind", "access", "--received", "2026-11-10", "--note", "n")
    cli.ok("request", "pause", access, "--reason", "which years", "--on", "2026-11-11")
    cli.ok("request", "resume", access, "--on", "2026-11-12")
    erasure = _open(cli, subject, "--kind", "erasure", "--received", "2026-11-20")
    cli.ok("erase", subject, "--request", erasure, "--apply")
    cli.ok("request", "close", erasure)
    rect = _open(cli, other, "--kind", "restriction", "--received", "2026-11-21")
    cli.ok("restrict", other, "--request", rect, "--reason", "disputed")
    disclosures = cli.json("disclosure", "notices", other, "--pending")
    cli.ok("disclosure", "notified", str(disclosures[0]["disclosure_id"]))


def test_replaying_twice_changes_nothing(cli, store, tmp_path) -> None:
    subject, other = _people(cli)
    backup = _backup(cli, tmp_path / "bk.db")
    _acts(cli, subject, other)
    live = _tables(store)
    first = _restore(cli, backup)
    assert first["replayed_requests"] == 3 and first["replayed_notices"] == 2
    assert first["replayed_notices_told"] == 1
    once = _tables(store)
    assert {t: len(rows) for t, rows in once.items()} == {t: len(r) for t, r in live.items()}
    conn = open_store(store)  # the same journal replayed again on the restored store
    try:
        with transaction(conn):
            again = replay(conn, _journal(store), stamp="2026-11-25T11:00:00", actor="test")
    finally:
        conn.close()
    counts = {k: v for k, v in again.to_dict().items() if k.startswith("replayed_")}
    assert set(counts.values()) == {0}
    assert again.register.redo_requests == again.register.skipped == []
    assert _tables(store) == once


def test_a_backup_taken_after_the_acts_restores_to_the_same_state(cli, store, tmp_path) -> None:
    subject, other = _people(cli)
    _acts(cli, subject, other)
    backup = _backup(cli, tmp_path / "after.db")
    live = _tables(store)
    data = _restore(cli, backup)
    assert {k: v for k, v in data.items() if k.startswith("replayed_") and v} == {}
    assert (data["redo_requests"], data["redo_request_texts"], data["redo_notices"],
            data["skipped_requests"]) == ([], [], [], [])
    assert _tables(store) == live
