"""The store's schema: numbered, forward-only migrations, each in the same transaction as its
`user_version` bump. A store newer than `SCHEMA_VERSION` is refused by `connection`."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable

from pigment_cli.store.tx import transaction


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


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m1_foundation]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, migration in enumerate(MIGRATIONS, start=1):
        if number <= current:
            continue
        with transaction(conn):
            # Re-read inside the write lock: another process may have migrated meanwhile.
            if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                continue
            migration(conn)
            conn.execute(f"PRAGMA user_version = {number}")

