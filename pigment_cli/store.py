"""The SQLite store: where it lives, creating it, opening it safely, migrations, transactions.

`init_store` is the only function that creates a file. `open_store` refuses a missing file, a file
that is not SQLite, a SQLite file that is not a pigment store, and a store written by a newer pigment.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pigment_cli.errors import BadInput, StoreError

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000
APPLICATION_ID = 0x50474D54  # "PGMT": marks a SQLite file as a pigment store


def resolve_path(db: Path | str | None) -> Path:
    """--db, else $PIGMENT_DB (Typer passes it in as `db`), else the per-user data directory."""
    # Resolved (symlinks followed) so that the store's lock and erasure journal sit beside the
    # real file, however the path is spelled.
    if db:
        return Path(db).expanduser().resolve()
    env = os.environ.get("PIGMENT_DB")
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_data_path

    return (user_data_path("pigment", appauthor=False) / "pigment.db").resolve()


# --- migrations -------------------------------------------------------------------------------
# Numbered, forward only. Each runs in the same transaction as its user_version bump.


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


def _migrate(conn: sqlite3.Connection) -> None:
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


# --- connections ------------------------------------------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    return conn


def _create_private_file(path: Path) -> None:
    """Create an empty file readable by its owner only, whatever the umask; fail if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    os.close(fd)


def init_store(path: Path | str) -> sqlite3.Connection:
    """Create a new store at `path` and return it open. Refuses an existing file."""
    path = Path(path)
    if path.exists():
        raise StoreError(f"{path} already exists; pigment init never overwrites a store")
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        _create_private_file(path)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}") from None
    conn = _connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        _migrate(conn)
    except BaseException:
        conn.close()
        path.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        raise
    return conn


def _open_checked(path: Path, connect: Callable[[Path], sqlite3.Connection],
                  missing: str) -> sqlite3.Connection:
    """Open `path` with `connect` only if it is a pigment store this tool understands."""
    if not path.exists():
        raise StoreError(missing)
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a pigment store")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    if header != SQLITE_HEADER:
        raise StoreError(f"{path} is not a SQLite database (not a pigment store)")
    try:
        conn = connect(path)
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} cannot be read as a store: {exc}") from None
    if app_id != APPLICATION_ID:
        conn.close()
        raise StoreError(f"{path} is a SQLite database but not a pigment store")
    if version > SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"{path} has schema version {version}, newer than this pigment understands "
            f"({SCHEMA_VERSION}); upgrade pigment"
        )
    return conn


def open_store(path: Path | str) -> sqlite3.Connection:
    """Open an existing pigment store, migrating it forward if it is older than this tool."""
    path = Path(path)
    conn = _open_checked(path, _connect,
                         f"no store at {path}; create one with: pigment init --db {path}")
    try:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        _migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def open_readonly(path: Path | str) -> sqlite3.Connection:
    """Open a pigment store (a backup) without ever writing to it: no migration, no WAL switch,
    so a backup on read-only media or with an immutable flag can be restored."""
    path = Path(path)
    return _open_checked(
        path, lambda p: sqlite3.connect(f"{p.as_uri()}?mode=ro&immutable=1", uri=True),
        f"no store at {path}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One writing command = one transaction, taken with BEGIN IMMEDIATE so it never has to be
    upgraded from a read lock (which fails instantly under contention, busy_timeout or not)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise _store_error(exc) from None
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        conn.execute("ROLLBACK")
        raise _store_error(exc) from None


def _store_error(exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the store is busy (another pigment is writing) and stayed busy for "
            f"{BUSY_TIMEOUT_MS // 1000} s; try again"
        )
    return StoreError(f"store problem: {text}")


def store_error_from(exc: sqlite3.Error) -> StoreError | BadInput:
    """Translate an sqlite3 error that escaped the domain into a one-line pigment error."""
    if isinstance(exc, sqlite3.IntegrityError):
        return BadInput(f"the store refused the change: {exc}")
    return _store_error(exc)


def suppression_key(conn: sqlite3.Connection) -> bytes:
    row = conn.execute("SELECT value FROM meta WHERE key = 'suppression_key'").fetchone()
    return bytes.fromhex(row[0])
