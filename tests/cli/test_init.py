"""`pigment init`: a private WAL store, never over an existing one, with the built-in policy or a
file's."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from conftest import edited_policy

from pigment_cli.errors import ExitCode
from pigment_cli.store.migrations import SCHEMA_VERSION


def test_init_creates_a_private_wal_store(cli, db: Path) -> None:
    result = cli.ok("init")
    assert "created store" in result.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_init_is_private_even_under_a_permissive_umask(cli, db: Path) -> None:
    import os

    old = os.umask(0)
    try:
        cli.ok("init")
        cli.ok("subject", "add", "--name", "Someone")
    finally:
        os.umask(old)
    for path in (db, Path(f"{db}-wal")):
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_init_refuses_an_existing_store(cli, store: Path) -> None:
    result = cli("init")
    assert result.exit_code == ExitCode.STORE
    assert "already exists" in result.stderr


def test_db_option_wins_over_environment(cli, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.db"
    cli.ok("init", "--db", other)
    assert other.exists()
    assert not (tmp_path / "pigment.db").exists()


def test_init_with_a_policy_file(cli, tmp_path: Path) -> None:
    path = edited_policy(tmp_path, 'version = "2026-12"', 'version = "custom-1"')
    cli.ok("init", "--policy", str(path))
    assert cli.json("policy", "show")["version"] == "custom-1"
