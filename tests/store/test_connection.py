"""Opening the store: the pragmas on every connection, and migrations run once on an old store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pigment_cli.store import connection, migrations
from pigment_cli.store.connection import open_store


def test_pragmas_on_every_connection(store: Path) -> None:
    conn = open_store(store)
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_migrations_bring_an_old_store_forward(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "old.db"
    conn = connection.init_store(path)
    conn.close()
    calls = []

    def m2(conn: sqlite3.Connection) -> None:
        calls.append(2)
        conn.execute("CREATE TABLE added_later (x)")

    more = [*migrations.MIGRATIONS, m2]
    monkeypatch.setattr(migrations, "MIGRATIONS", more)
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", len(more))
    conn = connection.open_store(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(more)
    conn.close()
    connection.open_store(path).close()  # already migrated: runs nothing twice
    assert calls == [2]
