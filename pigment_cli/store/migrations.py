"""The store's schema: numbered, forward-only migrations, each in the same transaction as its
`user_version` bump. A store newer than `SCHEMA_VERSION` is refused by `connection`.

Writing migration N
-------------------
Append one function to MIGRATIONS; never edit, reorder or drop one that has shipped. `migrate` runs
it inside `transaction(conn)` (BEGIN IMMEDIATE, foreign keys on) and sets `user_version = N` in the
same transaction: a store is wholly at N-1 or wholly at N, and raising abandons the lot. So a
migration never runs BEGIN, COMMIT or ROLLBACK, and never `conn.executescript` (which COMMITs
first): plain DDL goes through `_run_script`. What one ALTER TABLE cannot do goes through
sqlite-utils on the migration's own connection, `db = _db(conn)`; sqlite_utils is imported there
and nowhere else, so no other command pays its ~100 ms import.

What sqlite-utils (4.2, read in sqlite_utils/db.py) does inside our open transaction:

- Safe: `db.table(t).add_column(name, type)` without `fk=` (one ALTER TABLE ADD COLUMN through
  `Database.execute`, which commits only a transaction it opened itself, never ours);
  `create_index`, `create`, `insert_all` and `db.atomic()` (nested as SAVEPOINTs when a
  transaction is open). (`db.table(t)`, not `db[t]`, which mypy types as table-or-view.)
- Safe only through `_transform(db, t, **changes)`: `Table.transform` rebuilds the table (create
  a copy, fill it, DROP the old one, rename the copy) and DROP TABLE takes the table's triggers
  with it; transform does not put them back, so the append-only triggers on `audit` and
  `consent_events` would silently vanish. `_transform` re-creates them. Never call
  `Table.transform`, `Table.add_foreign_key`, `Database.add_foreign_keys` or
  `add_column(fk=...)` directly (the last three are transforms too): pass
  `add_foreign_keys=[...]` to `_transform` instead.
- Needs `@_foreign_keys_off`: a transform of a table that others reference with ON DELETE CASCADE
  (`subjects`, `requests`). SQLite ignores `PRAGMA foreign_keys` inside a transaction, so
  dropping the old table would cascade-delete every child row; `Table.transform` sees the
  danger and raises `TransactionError` instead. A migration marked `@_foreign_keys_off` runs as
  SQLite's own 12-step ALTER recipe says: foreign keys off before BEGIN, `PRAGMA
  foreign_key_check` before COMMIT (an orphan aborts the migration), back on after. Tables
  nothing references (items, consent_events, audit...) need no mark: with foreign keys on
  inside a transaction, transform defers the checks and runs foreign_key_check itself.
- Never: `db.begin()`, `db.commit()`, `db.rollback()` (they would end our transaction),
  `db.vacuum()`, `enable_wal()`, `disable_wal()`, `ensure_autocommit_on()` (refused inside a
  transaction), or `sqlite_utils.Migrations` (its own bookkeeping table and a deferred BEGIN;
  the store counts in `user_version` under BEGIN IMMEDIATE).

An example, as the registers work might write it:

    def _m2_registers(conn: sqlite3.Connection) -> None:
        _run_script(conn, "CREATE TABLE registers (id TEXT PRIMARY KEY, name TEXT NOT NULL);")
        db = _db(conn)
        db.table("consent_events").add_column("withdrawn_via", str)
        db.table("items").add_column("register_id", str)
        _transform(db, "items", add_foreign_keys=[("register_id", "registers", "id")])

    @_foreign_keys_off  # subjects is referenced with ON DELETE CASCADE
    def _m3_subject_title_never_null(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE subjects SET title = '' WHERE title IS NULL")
        _transform(_db(conn), "subjects", not_null={"title"}, defaults={"title": ""})

    MIGRATIONS = [_m1_foundation, _m2_registers, _m3_subject_title_never_null]

tests/store/test_migrations.py runs migrations like these on a schema-1 store with data in every
table (tests/fixtures/store-schema1.sql): copy its tests for each new migration.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pigment_cli.errors import StoreError
from pigment_cli.store.tx import transaction

if TYPE_CHECKING:
    from sqlite_utils import Database

Migration = Callable[[sqlite3.Connection], None]


def _db(conn: sqlite3.Connection) -> Database:
    """sqlite-utils on the migration's connection, inside its transaction. No plugins (no
    third-party code sees clinic data, 13 ms saved) and no `PRAGMA recursive_triggers = ON`, which
    sqlite-utils sets by default and which would change how triggers run on our connection."""
    from sqlite_utils import Database

    return Database(conn, execute_plugins=False, recursive_triggers=False)


def _transform(db: Database, table: str, **changes: Any) -> None:
    """`db.table(table).transform(**changes)`, then the table's triggers again: the rebuild
    drops them with the old table (`keep_table=` is not for migrations: the old copy keeps them)."""
    triggers = [row[0] for row in db.conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name",
        (table,))]
    db.table(table).transform(**changes)
    for sql in triggers:
        db.conn.execute(sql)


def _foreign_keys_off(migration: Migration) -> Migration:
    """Mark a migration that rebuilds a table other tables reference with ON DELETE CASCADE: it
    runs with foreign keys off, and is checked with `PRAGMA foreign_key_check` before COMMIT."""
    migration.foreign_keys_off = True  # type: ignore[attr-defined]
    return migration


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run DDL statement by statement: `executescript` would COMMIT the migration's transaction."""
    statement = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError("incomplete SQL statement at the end of a migration")


def _m1_foundation(conn: sqlite3.Connection) -> None:
    _run_script(conn,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        CREATE TABLE policies (
            version INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL,
            actor TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            source TEXT NOT NULL
        );

        CREATE TABLE subjects (
            id TEXT PRIMARY KEY,
            external_id TEXT UNIQUE,
            name TEXT NOT NULL,
            title TEXT,
            dob TEXT,
            email TEXT,
            phone TEXT,
            address TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_processed_at TEXT NOT NULL
        );
        CREATE INDEX subjects_email ON subjects (email COLLATE NOCASE);
        CREATE INDEX subjects_last_processed ON subjects (last_processed_at, id, dob);

        -- AUTOINCREMENT: an erased item's id is never given to another item, so the erasure
        -- journal (which names item ids) can never point at someone else's data.
        CREATE TABLE items (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
            category TEXT NOT NULL,
            source TEXT NOT NULL,
            purpose TEXT NOT NULL,
            basis TEXT NOT NULL,
            value TEXT,
            collected_at TEXT NOT NULL,
            processed_at TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX items_subject ON items (subject_id, category);
        -- Covering indexes for the retention plan: no table lookups across a large store.
        CREATE INDEX items_category_processed ON items (category, processed_at, subject_id);

        CREATE TABLE consent_events (
            id INTEGER PRIMARY KEY,
            subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
            purpose TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('grant', 'withdraw')),
            channel TEXT NOT NULL,
            written INTEGER NOT NULL CHECK (written IN (0, 1)),
            evidence TEXT,
            notice_version TEXT,
            at TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX consent_subject ON consent_events (subject_id, purpose, at);
        CREATE INDEX consent_purpose ON consent_events (purpose, subject_id);
        CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON consent_events
        BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;

        CREATE TABLE disclosures (
            id INTEGER PRIMARY KEY,
            subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
            recipient TEXT NOT NULL,
            recipient_type TEXT NOT NULL,
            purpose TEXT NOT NULL,
            basis TEXT NOT NULL,
            categories TEXT NOT NULL,
            legal_requirement TEXT,
            at TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX disclosures_subject ON disclosures (subject_id, at);

        CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
            channel TEXT NOT NULL,
            received_on TEXT NOT NULL,
            id_verified_on TEXT,
            fee_received_on TEXT,
            status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
            extended_on TEXT,
            extension_reason TEXT,
            reviewed_on TEXT,
            reviewer TEXT,
            review_outcome TEXT,
            review_note TEXT,
            closed_on TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX requests_subject ON requests (subject_id);
        CREATE INDEX requests_status ON requests (status);

        CREATE TABLE request_pauses (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
            reason TEXT NOT NULL,
            paused_on TEXT NOT NULL,
            resumed_on TEXT
        );
        CREATE INDEX request_pauses_request ON request_pauses (request_id);

        CREATE TABLE holds (
            id TEXT PRIMARY KEY,
            subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
            reason TEXT NOT NULL,
            until TEXT,
            created_at TEXT NOT NULL,
            released_at TEXT
        );
        CREATE INDEX holds_subject ON holds (subject_id);

        -- What remains of an erased subject: no personal data.
        CREATE TABLE tombstones (
            subject_id TEXT PRIMARY KEY,
            erased_at TEXT NOT NULL,
            rule TEXT NOT NULL
        );
        -- Single erasures (items under a shorter category rule, whole subjects): counts, no values.
        CREATE TABLE erasures (
            id INTEGER PRIMARY KEY,
            subject_id TEXT NOT NULL,
            scope TEXT NOT NULL CHECK (scope IN ('subject', 'item')),
            category TEXT,
            count INTEGER NOT NULL DEFAULT 1,
            rule TEXT NOT NULL,
            erased_at TEXT NOT NULL
        );
        CREATE INDEX erasures_at ON erasures (erased_at);
        -- HMAC-SHA256 of erased or opted-out emails (key in meta): never re-subscribe them.
        CREATE TABLE suppression (
            email_hmac TEXT PRIMARY KEY,
            added_at TEXT NOT NULL
        );
        CREATE TABLE sweeps (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            as_of TEXT NOT NULL,
            erased_subjects INTEGER NOT NULL DEFAULT 0,
            erased_items INTEGER NOT NULL DEFAULT 0,
            held INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL
        );

        -- The audit trail: ids only, never personal data; hash-chained.
        CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            command TEXT NOT NULL,
            subject_id TEXT,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE INDEX audit_subject ON audit (subject_id, seq);
        CREATE INDEX audit_at ON audit (at);
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        """,
    )
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('suppression_key', ?)", (secrets.token_hex(32),)
    )


def _m2_specific_consent(conn: sqlite3.Connection) -> None:
    """A consent to a non-medical disclosure names who may receive what (UK GDPR Art. 4(11)):
    its recipient (a name, or a recipient type) and the categories of data it covers."""
    db = _db(conn)
    db.table("consent_events").add_column("recipient", str)
    db.table("consent_events").add_column("categories", str)  # comma-separated category keys


@_foreign_keys_off  # request_pauses references requests with ON DELETE CASCADE
def _m3_every_right(conn: sqlite3.Connection) -> None:
    """Every right on the clock (UK GDPR Art. 12(3), 16-21; complaints, DUAA 2025 s.103).

    - `requests` holds every kind of request, not only access. A request outlives its subject's
      erasure (it is the record that the erasure was asked for and done): its subject id is no
      longer a foreign key, and is NULL for a person the clinic holds nothing on (their name and
      email are then kept with the request until the request register's retention sweeps it).
    - `request_actions`: what was done to answer a request (ids and counts, never values).
    - `restrictions` (Art. 18) and `objections` (Art. 21) of a subject, for all or one purpose.
    - `disclosures.voided_at`: a disclosure recorded twice is voided, never deleted.
    - `recipient_notices` (Art. 19): recipients to tell of a rectification, erasure or
      restriction, and when they were told; kept after the subject's erasure, like requests.
    """
    db = _db(conn)
    _transform(db, "requests", not_null={"subject_id": False}, drop_foreign_keys=["subject_id"])
    requests = db.table("requests")
    requests.add_column("kind", str, not_null_default="access")
    requests.add_column("purpose", str)  # restriction or objection to one purpose (NULL: all)
    requests.add_column("note", str)  # free text: personal data, scrubbed when the subject goes
    requests.add_column("acknowledged_on", str)
    requests.add_column("outcome", str)  # how it was closed (done, refused, upheld, ...)
    requests.add_column("outcome_reason", str)  # free text, as note
    requests.add_column("person_name", str)  # someone not (or no longer) in the store
    requests.add_column("person_email", str)
    _run_script(conn, """
        CREATE INDEX requests_kind ON requests (kind, status);
        CREATE TABLE request_actions (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
            action TEXT NOT NULL,
            at TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX request_actions_request ON request_actions (request_id);
        CREATE TABLE restrictions (
            id INTEGER PRIMARY KEY,
            subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
            purpose TEXT,
            request_id TEXT,
            reason TEXT,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            told_on TEXT  -- Art. 18(3): the day the person was told it would be lifted
        );
        CREATE INDEX restrictions_subject ON restrictions (subject_id);
        CREATE TABLE objections (
            id INTEGER PRIMARY KEY,
            subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
            purpose TEXT NOT NULL,
            request_id TEXT,
            at TEXT NOT NULL,
            withdrawn_at TEXT  -- the person changed their mind (object --withdraw)
        );
        CREATE INDEX objections_subject ON objections (subject_id, purpose);
        CREATE TABLE recipient_notices (
            id INTEGER PRIMARY KEY,
            subject_id TEXT NOT NULL,
            disclosure_id INTEGER NOT NULL,
            recipient TEXT NOT NULL,
            recipient_type TEXT NOT NULL,
            event TEXT NOT NULL CHECK (event IN ('rectification', 'erasure', 'restriction')),
            request_id TEXT,
            created_at TEXT NOT NULL,
            notified_on TEXT
        );
        CREATE INDEX recipient_notices_subject ON recipient_notices (subject_id);
        CREATE INDEX recipient_notices_disclosure ON recipient_notices (disclosure_id);
    """)
    # Disclosures gain voiding, and AUTOINCREMENT: a notice (and the journal) names a disclosure
    # by id, so an erased subject's disclosure id is never given to another's. (sqlite-utils
    # cannot declare AUTOINCREMENT: the table is rebuilt by hand, as `_transform` would.)
    _run_script(conn, """
        CREATE TABLE disclosures_m3 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
            recipient TEXT NOT NULL,
            recipient_type TEXT NOT NULL,
            purpose TEXT NOT NULL,
            basis TEXT NOT NULL,
            categories TEXT NOT NULL,
            legal_requirement TEXT,
            at TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            voided_at TEXT,
            void_reason TEXT
        );
        INSERT INTO disclosures_m3 (id, subject_id, recipient, recipient_type, purpose, basis,
            categories, legal_requirement, at, recorded_by, recorded_at)
            SELECT id, subject_id, recipient, recipient_type, purpose, basis, categories,
                legal_requirement, at, recorded_by, recorded_at FROM disclosures;
        DROP TABLE disclosures;
        ALTER TABLE disclosures_m3 RENAME TO disclosures;
        CREATE INDEX disclosures_subject ON disclosures (subject_id, at);
    """)


def _m4_dpo_registers(conn: sqlite3.Connection) -> None:
    """The registers a DPO keeps beside the data (issue 16): personal-data breaches (UK GDPR
    Art. 33-34) and the subjects they touched, processors and transfers abroad (Art. 28, 44-46),
    and DPIAs (Art. 35). Times are UTC; free text (descriptions, measures, reasons) may describe
    people and is erased by each register's retention rule, never audited."""
    _run_script(conn, """
        CREATE TABLE breaches (
            id TEXT PRIMARY KEY,
            occurred_at TEXT,
            aware_at TEXT NOT NULL,
            nature TEXT NOT NULL,
            description TEXT NOT NULL,
            categories TEXT NOT NULL DEFAULT '',
            approx_subjects INTEGER,
            records INTEGER,
            risk TEXT CHECK (risk IN ('none', 'risk', 'high')),
            risk_reason TEXT,
            assessed_at TEXT,
            consequences TEXT,
            measures TEXT,
            ico_notified_at TEXT,
            ico_reference TEXT,
            late_reason TEXT,  -- Art. 33(1): why the ICO was told after 72 hours
            subjects_notified_at TEXT,
            closed_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE breach_subjects (
            breach_id TEXT NOT NULL REFERENCES breaches (id) ON DELETE CASCADE,
            subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
            PRIMARY KEY (breach_id, subject_id)
        );
        CREATE INDEX breach_subjects_subject ON breach_subjects (subject_id);
        CREATE TABLE processors (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            purposes TEXT NOT NULL DEFAULT '',
            categories TEXT NOT NULL DEFAULT '',
            country TEXT NOT NULL DEFAULT 'GB',
            safeguard TEXT,
            contract_until TEXT,
            note TEXT,
            added_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            ended_at TEXT
        );
        CREATE TABLE dpias (
            id TEXT PRIMARY KEY,
            processing TEXT NOT NULL,
            purposes TEXT NOT NULL DEFAULT '',
            risk TEXT NOT NULL,
            measures TEXT NOT NULL,
            review_by TEXT NOT NULL,
            ico_consulted_on TEXT,
            added_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            ended_at TEXT
        );
    """)


MIGRATIONS: list[Migration] = [_m1_foundation, _m2_specific_consent, _m3_every_right,
                               _m4_dpo_registers]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the store up to `SCHEMA_VERSION`, one migration (and one transaction) at a time."""
    current = _version(conn)
    for number, migration in enumerate(MIGRATIONS, start=1):
        if number > current:
            _apply(conn, number, migration)


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _apply(conn: sqlite3.Connection, number: int, migration: Migration) -> None:
    foreign_keys_off = bool(getattr(migration, "foreign_keys_off", False))
    if foreign_keys_off:  # before BEGIN: inside a transaction SQLite ignores it
        conn.execute("PRAGMA foreign_keys = OFF")
    try:
        with transaction(conn):
            # Re-read inside the write lock: another process may have migrated meanwhile.
            if _version(conn) >= number:
                return
            migration(conn)
            if foreign_keys_off:
                orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
                if orphans:
                    tables = ", ".join(sorted({row[0] for row in orphans}))
                    raise StoreError(
                        f"schema migration {number} not applied: it would leave {len(orphans)} "
                        f"row(s) in {tables} pointing at nothing"
                    )
            conn.execute(f"PRAGMA user_version = {number}")
    finally:
        if foreign_keys_off:
            conn.execute("PRAGMA foreign_keys = ON")

