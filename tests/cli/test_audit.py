"""`pigment audit ...`: entries for reads and writes, ids only, the actor, and a chain that catches
edits, removals and reordering (by `audit verify`, and by `status` from the last verification)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pigment_cli.errors import ExitCode


def _tamper(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


def test_every_subject_command_is_audited_with_ids_only(cli, subject_id: str, db: Path) -> None:
    item = cli.ok("item", "add", subject_id, "--category", "medical_history", "--source",
                  "consultation", "--purpose", "medical_records", "--value", "Secret diagnosis")
    cli.ok("item", "touch", item.stdout.strip())
    cli.ok("subject", "show", subject_id)
    cli.ok("subject", "update", subject_id, "--email", "changed@example.org")
    cli.ok("subject", "find", "Lovelace")
    log = cli.json("audit", "log", "--subject", subject_id)
    assert [e["command"] for e in log] == [
        "subject add", "item add", "item touch", "subject show", "subject update"]
    assert all(e["actor"] == "test-manager" for e in log)
    conn = sqlite3.connect(db)
    trail = repr(conn.execute("SELECT * FROM audit").fetchall())
    for personal in ("Ada", "Lovelace", "ada@example.org", "changed@example", "900123",
                     "Secret diagnosis", "Test Street"):
        assert personal not in trail
    assert "Secret diagnosis" in repr(conn.execute("SELECT value FROM items").fetchall())


def test_actor_option_overrides_environment(cli, subject_id: str) -> None:
    cli.ok("subject", "show", subject_id, "--actor", "dr.who")
    assert cli.json("audit", "log", "--limit", "1")[-1]["actor"] == "dr.who"


def test_actor_with_control_characters_is_refused(cli, store) -> None:
    assert cli("subject", "add", "--name", "X", "--actor", "bad\x1factor").exit_code == ExitCode.BAD_INPUT


def test_audit_log_since(cli, subject_id: str) -> None:
    assert [e["command"] for e in cli.json("audit", "log", "--since", "2026-11-25")] == ["subject add"]
    assert len(cli.json("audit", "log", "--since", "2015-01-05")) == 2  # and the store's init
    assert cli.json("audit", "log", "--since", "2026-11-26") == []
    assert cli("audit", "log", "--since", "soon").exit_code == ExitCode.BAD_INPUT


def test_verify_passes_on_an_untouched_chain(cli, subject_id: str) -> None:
    result = cli.ok("audit", "verify")
    assert "intact" in result.stderr
    assert cli.json("audit", "verify")["ok"] is True


@pytest.mark.parametrize(
    ("statements", "broken"),
    [
        (["UPDATE audit SET actor = 'mallory' WHERE seq = 2"], 2),
        (["UPDATE audit SET subject_id = 'S-00000' WHERE seq = 3"], 3),
        (["DELETE FROM audit WHERE seq = 2"], 2),
        (["UPDATE audit SET seq = 100 WHERE seq = 2", "UPDATE audit SET seq = 2 WHERE seq = 3",
          "UPDATE audit SET seq = 3 WHERE seq = 100"], 2),
        (["DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)"], None),
    ],
    ids=["edited-actor", "edited-subject", "removed", "reordered", "tail-cut"],
)
def test_verify_names_the_first_broken_entry(cli, subject_id, db, statements, broken) -> None:
    cli.ok("subject", "show", subject_id)
    cli.ok("subject", "show", subject_id)
    _tamper(db, *statements)
    result = cli("audit", "verify")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "audit chain broken at entry" in result.stderr
    if broken is not None:
        assert f"entry {broken}:" in result.stderr


def test_status_checks_the_chain_from_the_last_full_verification(cli, subject_id, db) -> None:
    cli.ok("audit", "verify")  # marks the checkpoint
    cli.ok("subject", "show", subject_id)
    assert cli.json("status")["audit"]["ok"] is True
    assert cli.json("status")["audit"]["last_full_verification"]
    last = cli.json("audit", "log")[-1]["seq"]
    _tamper(db, f"UPDATE audit SET actor = 'mallory' WHERE seq = {last}")
    assert cli.json("status")["audit"]["ok"] is False  # written after the checkpoint: caught


def test_an_edit_to_the_checkpoint_entry_is_caught_by_status(cli, subject_id, db) -> None:
    cli.ok("audit", "verify")
    head = cli.json("audit", "log")[-1]["seq"]
    _tamper(db, f"UPDATE audit SET hash = 'x' WHERE seq = {head}")
    assert cli.json("status")["audit"]["ok"] is False
    assert cli("audit", "verify").exit_code == ExitCode.CHECK_FAILED
