"""The marketing suppression list: keyed hashes (HMAC-SHA256, key kept in the store) of emails
that must never be contacted again, whatever a later import or consent says."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3

from pigment_cli.store.journal import journal


def suppression_key(conn: sqlite3.Connection) -> bytes:
    row = conn.execute("SELECT value FROM meta WHERE key = 'suppression_key'").fetchone()
    return bytes.fromhex(row[0])


def email_hmac(conn: sqlite3.Connection, email: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 (key kept in the store) of the lower-cased, stripped email, as hex. Pass the
    key when hashing many (a sweep) to read it once."""
    return hmac_with(key or suppression_key(conn), email)


def hmac_with(key: bytes, email: str) -> str:
    return hmac.digest(key, email.strip().lower().encode("utf-8"), hashlib.sha256).hex()


def is_suppressed(conn: sqlite3.Connection, email: str | None) -> bool:
    return suppressed_at(conn, email) is not None


def suppressed_at(conn: sqlite3.Connection, email: str | None) -> str | None:
    """When `email` went on the suppression list, or None if it is not on it."""
    if not email:
        return None
    row = conn.execute(
        "SELECT added_at FROM suppression WHERE email_hmac = ?", (email_hmac(conn, email),)
    ).fetchone()
    return None if row is None else str(row[0])


def suppress_email(conn: sqlite3.Connection, email: str | None, stamp: str) -> None:
    """Put the keyed hash of `email` on the marketing suppression list, and journal it (fsynced
    before the caller's transaction commits) so a restore never lifts it."""
    if not email:
        return
    key = email_hmac(conn, email)
    conn.execute("INSERT OR IGNORE INTO suppression (email_hmac, added_at) VALUES (?, ?)",
                 (key, stamp))
    journal(conn, [{"scope": "suppression", "email_hmac": key, "at": stamp}])
