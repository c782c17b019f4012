"""The root app, whatever the command: --version, the documented errors for a missing, foreign,
newer, corrupt or busy store, and an internal error as one line with exit 70."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pigment_cli.errors import ExitCode
from pigment_cli.store.migrations import SCHEMA_VERSION


def test_missing_store_is_exit_4_and_nothing_is_created(cli, db: Path) -> None:
    result = cli("subject", "list")
    assert result.exit_code == ExitCode.STORE
    assert "no store" in result.stderr and "pigment init" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not db.exists()


def test_non_sqlite_file_is_exit_4(cli, db: Path) -> None:
    db.write_text("name,email\nnot,a database\n")
    result = cli("subject", "list")
    assert result.exit_code == ExitCode.STORE
    assert "not a SQLite database" in result.stderr
    assert db.read_text() == "name,email\nnot,a database\n"


def test_foreign_sqlite_file_is_exit_4(cli, db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    result = cli("subject", "list")
    assert result.exit_code == ExitCode.STORE
    assert "not a pigment store" in result.stderr


def test_newer_schema_is_refused(cli, store: Path) -> None:
    conn = sqlite3.connect(store)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    result = cli("subject", "list")
    assert result.exit_code == ExitCode.STORE
    assert "newer than this pigment" in result.stderr


def test_corrupt_store_is_exit_4_without_traceback(cli, store: Path) -> None:
    data = bytearray(store.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # scribble over the schema page
    store.write_bytes(bytes(data))
    Path(f"{store}-wal").unlink(missing_ok=True)
    result = cli("subject", "list")
    assert result.exit_code == ExitCode.STORE, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_locked_store_is_exit_4_with_a_clear_message(cli, store: Path, monkeypatch) -> None:
    from pigment_cli.store import tx

    monkeypatch.setattr(tx, "BUSY_TIMEOUT_MS", 100)
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = cli("subject", "add", "--name", "Blocked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == ExitCode.STORE
    assert "busy" in result.stderr


def test_version_flag(cli) -> None:
    from pigment_cli import __version__

    assert cli.ok("--version").stdout.strip() == f"pigment {__version__}"


def test_internal_error_is_one_line_exit_70(cli, store: Path, monkeypatch) -> None:
    from pigment_cli.records import subjects

    def boom(*args, **kwargs):
        raise ZeroDivisionError("secret patient detail")

    monkeypatch.setattr(subjects, "list_subjects", boom)
    result = cli("subject", "list")
    assert result.exit_code == ExitCode.INTERNAL
    assert "internal error" in result.stderr and "nothing was changed" in result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr
