"""The SQLite store's file: where it lives, creating it, opening it safely.

`init_store` is the only function that creates a file. `open_store` refuses a missing file, a file
that is not SQLite, a SQLite file that is not a pigment store, and a store written by a newer pigment.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from pigment_cli.errors import StoreError
from pigment_cli.files import SQLITE_HEADER, create_private
from pigment_cli.store import migrations, tx

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
    from platformdirs import user_data_path  # lazy for start-up: only without --db/$PIGMENT_DB

    return (user_data_path("pigment", appauthor=False) / "pigment.db").resolve()


# --- connections ------------------------------------------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=tx.BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {tx.BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    return conn


def missing_store(path: Path) -> StoreError:
    return StoreError(f"no store at {path}; create one with: pigment init --db {path}")


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and each missing parent owner-only (0700), whatever the umask."""
    missing = []
    for folder in (directory, *directory.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(folder, 0o700)


def init_store(path: Path | str) -> sqlite3.Connection:
    """Create a new store at `path` and return it open. Refuses an existing file."""
    path = Path(path)
    if path.exists():
        raise StoreError(f"{path} already exists; pigment init never overwrites a store")
    try:
        make_private_dirs(path.parent)
    except OSError as exc:
        raise StoreError(f"cannot create {path.parent}: {exc.strerror}") from None
    try:
        os.close(create_private(path))
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}") from None
    conn = _connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        migrations.migrate(conn)
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
    if version > migrations.SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"{path} has schema version {version}, newer than this pigment understands "
            f"({migrations.SCHEMA_VERSION}); upgrade pigment"
        )
    return conn


def open_store(path: Path | str) -> sqlite3.Connection:
    """Open an existing pigment store, migrating it forward if it is older than this tool."""
    path = Path(path)
    conn = _open_checked(path, _connect, missing_store(path).message)
    try:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        migrations.migrate(conn)
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

