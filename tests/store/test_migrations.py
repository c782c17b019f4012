"""Migrations keep every row: a schema-1 store with data in every table (the fixture dump), taken
forward by sqlite-utils migrations of the kinds later issues will write, and rolled back whole
when one fails."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pigment_cli.errors import ExitCode, StoreError
from pigment_cli.store import audit, connection, migrations

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "store-schema1.sql"
TRIGGERS = {"consent_events_append_only", "audit_no_update", "audit_no_delete"}


def schema1_store(directory: Path) -> Path:
    """The fixture dump as a store file, with the two PRAGMAs a dump does not carry."""
    path = directory / "schema1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(FIXTURE.read_text())
    conn.execute(f"PRAGMA application_id = {connection.APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    path.chmod(0o600)
    return path


def add_migration(monkeypatch: pytest.MonkeyPatch, migration: Callable[[sqlite3.Connection], None]) -> int:
    """Make `migration` the next one after this pigment's own (2 while the schema is at 1)."""
    more = [*migrations.MIGRATIONS, migration]
    monkeypatch.setattr(migrations, "MIGRATIONS", more)
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", len(more))
    return len(more)


def rows(conn: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (sqlite_sequence included), in rowid order: rowids are ids here."""
    conn.row_factory = sqlite3.Row
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    # sqlite_sequence by name: a rebuilt table's counter moves to the end of it.
    return {t: [dict(r) for r in conn.execute(
        f'SELECT * FROM "{t}" ORDER BY {"name" if t == "sqlite_sequence" else "rowid"}')]
        for t in tables}


def schema(conn: sqlite3.Connection, kind: str) -> dict[str, str]:
    """{name: sql} of the named indexes or triggers."""
    return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = ? AND sql IS NOT NULL",
                             (kind,)).fetchall())


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def assert_sound(conn: sqlite3.Connection) -> None:
    """Integrity, references, the audit chain and the append-only triggers all hold."""
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert audit.verify(conn).ok
    assert set(schema(conn, "trigger")) >= TRIGGERS
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE consent_events SET channel = 'edited'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit")


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    return schema1_store(tmp_path)


@pytest.fixture
def current_store(old_store: Path) -> Path:
    """The fixture brought to this pigment's schema by its own migrations (none yet: schema 1)."""
    connection.open_store(old_store).close()
    return old_store


def test_the_fixture_is_a_full_schema1_store(old_store: Path) -> None:
    conn = sqlite3.connect(old_store)
    for table, table_rows in rows(conn).items():
        assert table_rows, f"the fixture has no {table} rows: add some, through the CLI"
    assert conn.execute("SELECT count(*) FROM request_pauses WHERE resumed_on IS NULL").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM holds WHERE released_at IS NOT NULL").fetchone()[0]


def test_this_pigment_opens_a_schema1_store_and_finds_it_healthy(cli, old_store: Path) -> None:
    # On conftest's fixed day (2026-11-25, before the fixture's sweep): nothing is due or overdue.
    # Its policy (pigment 0.1's built-in) cites Art. 17(3)(c) and "(h)": it still opens, and
    # `check` says that policy needs correcting (and nothing else).
    result = cli("check", "--db", old_store, "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    findings = json.loads(result.stdout)["findings"]
    assert [f["check"] for f in findings] == ["policy"]
    assert "17(3)" in findings[0]["problem"] and "(h) does not exist" in findings[0]["problem"]
    conn = connection.open_store(old_store)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    assert_sound(conn)


def test_migration_2_gives_consents_a_recipient_and_categories_and_loses_nothing(
        old_store: Path) -> None:
    conn = sqlite3.connect(old_store)
    before = rows(conn)
    conn.close()
    conn = connection.open_store(old_store)
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 2
    after = rows(conn)
    assert_sound(conn)
    conn.close()
    columns = {r[1] for r in sqlite3.connect(old_store).execute("PRAGMA table_info(consent_events)")}
    assert {"recipient", "categories"} <= columns
    for table, table_rows in before.items():
        added = LATER_COLUMNS.get(table, set())
        if table == "sqlite_sequence":  # migration 3: disclosures count their ids too
            assert [r for r in after[table] if r["name"] != "disclosures"] == table_rows
        elif table == "consent_events":
            assert [{k: v for k, v in r.items() if k not in ("recipient", "categories")}
                    for r in after[table]] == table_rows
            assert all(r["recipient"] is None and r["categories"] is None for r in after[table])
        else:
            assert [{k: v for k, v in r.items() if k not in added}
                    for r in after[table]] == table_rows, table


# Columns migration 3 adds (with their values for rows that existed before it).
LATER_COLUMNS = {
    "requests": {"kind", "purpose", "note", "acknowledged_on", "outcome", "outcome_reason",
                 "person_name", "person_email"},
    "disclosures": {"voided_at", "void_reason"},
}


def test_migration_3_puts_every_request_on_one_register_and_loses_nothing(
        old_store: Path) -> None:
    conn = sqlite3.connect(old_store)
    before = rows(conn)
    conn.close()
    conn = connection.open_store(old_store)
    after = rows(conn)
    assert_sound(conn)
    # Every request so far was an access request; nothing else about it changes.
    assert after["requests"] == [{**r, "kind": "access", "purpose": None, "note": None,
                                  "acknowledged_on": None, "outcome": None,
                                  "outcome_reason": None, "person_name": None,
                                  "person_email": None} for r in before["requests"]]
    assert after["request_pauses"] == before["request_pauses"]
    assert after["disclosures"] == [{**r, "voided_at": None, "void_reason": None}
                                    for r in before["disclosures"]]
    for table in ("request_actions", "restrictions", "objections", "recipient_notices"):
        assert after[table] == []
    # A disclosure's id is never given again, even after its subject's erasure.
    top = max(r["id"] for r in after["disclosures"])
    assert {"name": "disclosures", "seq": top} in after["sqlite_sequence"]
    conn.execute("DELETE FROM disclosures WHERE id = ?", (top,))
    conn.execute("INSERT INTO disclosures (subject_id, recipient, recipient_type, purpose, basis, "
                 "categories, at, recorded_by, recorded_at) SELECT id, 'x', 'other', "
                 "'care', 'contract', 'identity', created_at, 't', created_at FROM subjects LIMIT 1")
    assert conn.execute("SELECT max(id) FROM disclosures").fetchone()[0] == top + 1
    # A request outlives its subject's erasure: no cascade from subjects any more; its pauses
    # still go with it.
    assert not list(conn.execute("PRAGMA foreign_key_list(requests)"))
    assert ("request_id", "requests", "CASCADE") in {
        (fk["from"], fk["table"], fk["on_delete"])
        for fk in conn.execute("PRAGMA foreign_key_list(request_pauses)")}
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE requests SET status = 'lost'")


def test_a_sqlite_utils_migration_keeps_every_row(current_store: Path, monkeypatch) -> None:
    conn = sqlite3.connect(current_store)
    before, indexes = rows(conn), schema(conn, "index")
    conn.close()

    def m_registers(conn: sqlite3.Connection) -> None:
        migrations._run_script(conn, "CREATE TABLE t_registers (id TEXT PRIMARY KEY, name TEXT NOT NULL);")
        db = migrations._db(conn)
        db.table("consent_events").add_column("t_withdrawn_via", str)
        db.table("items").add_column("t_register_id", str)
        # Rebuilds of tables with foreign keys (and, for consent_events, a trigger).
        migrations._transform(db, "items", add_foreign_keys=[("t_register_id", "t_registers", "id")])
        migrations._transform(db, "consent_events", defaults={"written": 0})

    version = add_migration(monkeypatch, m_registers)
    conn = connection.open_store(current_store)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    after = rows(conn)
    assert set(after) == set(before) | {"t_registers"}
    assert after.pop("t_registers") == []
    assert after.pop("items") == [{**r, "t_register_id": None} for r in before.pop("items")]
    assert after.pop("consent_events") == [{**r, "t_withdrawn_via": None}
                                           for r in before.pop("consent_events")]
    assert after == before  # sqlite_sequence too: an erased item's id is never reused
    assert schema(conn, "index") == indexes
    assert ("t_register_id", "t_registers") in {
        (fk["from"], fk["table"]) for fk in conn.execute("PRAGMA foreign_key_list(items)")}
    assert ("subject_id", "subjects", "CASCADE") in {
        (fk["from"], fk["table"], fk["on_delete"]) for fk in conn.execute("PRAGMA foreign_key_list(items)")}
    written = {c["name"]: c for c in conn.execute("PRAGMA table_info(consent_events)")}["written"]
    assert written["dflt_value"] == "0"
    assert conn.execute("PRAGMA recursive_triggers").fetchone()[0] == 0  # sqlite-utils' default, not ours
    assert_sound(conn)
    conn.close()
    connection.open_store(current_store).close()  # migrated already: nothing runs twice


def test_rebuilding_a_parent_table_runs_with_foreign_keys_off(current_store: Path, monkeypatch) -> None:
    conn = sqlite3.connect(current_store)
    before = rows(conn)
    conn.close()

    @migrations._foreign_keys_off
    def m_subject_title_never_null(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE subjects SET title = '' WHERE title IS NULL")
        migrations._transform(migrations._db(conn), "subjects", not_null={"title"},
                              defaults={"title": ""})

    version = add_migration(monkeypatch, m_subject_title_never_null)
    conn = connection.open_store(current_store)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    assert rows(conn) == before  # no cascade emptied items, consents, disclosures, requests...
    title = {c["name"]: c for c in conn.execute("PRAGMA table_info(subjects)")}["title"]
    assert (title["notnull"], title["dflt_value"]) == (1, "''")
    assert_sound(conn)
    # The children's references bind to the new table: deleting a subject still cascades.
    subject = conn.execute("SELECT subject_id FROM items LIMIT 1").fetchone()[0]
    conn.execute("DELETE FROM subjects WHERE id = ?", (subject,))
    assert conn.execute("SELECT count(*) FROM items WHERE subject_id = ?", (subject,)).fetchone()[0] == 0


def _fails_after_doing_work(conn: sqlite3.Connection) -> None:
    db = migrations._db(conn)
    db.table("items").add_column("t_register_id", str)
    migrations._transform(db, "consent_events", defaults={"written": 0})
    conn.execute("DELETE FROM items")
    raise RuntimeError("the migration failed half-way")


def _rebuilds_a_parent_without_the_mark(conn: sqlite3.Connection) -> None:
    migrations._transform(migrations._db(conn), "subjects", not_null={"title"})


@migrations._foreign_keys_off
def _orphans_rows(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM subjects WHERE id IN (SELECT subject_id FROM items)")


@pytest.mark.parametrize(("migration", "error"), [
    (_fails_after_doing_work, "failed half-way"),
    # SQLite ignores PRAGMA foreign_keys inside a transaction, so the DROP of the old subjects would
    # cascade into every child table: sqlite-utils refuses (TransactionError).
    (_rebuilds_a_parent_without_the_mark, "ON DELETE"),
    (_orphans_rows, "pointing at nothing"),
])
def test_a_failing_migration_leaves_the_store_whole_at_the_version_before(
        current_store: Path, monkeypatch, migration: Callable[[sqlite3.Connection], None],
        error: str) -> None:
    before = dump(current_store)
    version = add_migration(monkeypatch, migration)
    with pytest.raises(Exception, match=error) as raised:
        connection.open_store(current_store)
    if migration is _orphans_rows:
        assert raised.type is StoreError
    assert dump(current_store) == before
    conn = sqlite3.connect(current_store)
    conn.execute("PRAGMA foreign_keys = ON")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version - 1  # 1 today
    assert_sound(conn)


def test_foreign_keys_come_back_on_after_a_marked_migration(current_store: Path, monkeypatch) -> None:
    add_migration(monkeypatch, _orphans_rows)
    conn = sqlite3.connect(current_store, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(StoreError):
        migrations.migrate(conn)
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert not conn.in_transaction


def test_sqlite_utils_is_not_imported_unless_a_migration_runs(current_store: Path) -> None:
    # `import sqlite_utils` costs ~100 ms: the per-subject read path must not pay it.
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pigment_cli", "subject", "show", "S-WXWCB",
         "--db", str(current_store)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "sqlite_utils" not in result.stderr
