"""Record ids: short, random, unambiguous (Crockford base32), never reused within a store."""

from __future__ import annotations

import secrets
import sqlite3

ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_id(prefix: str) -> str:
    return prefix + "-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(5))


def fresh_id(conn: sqlite3.Connection, prefix: str, taken_sql: str) -> str:
    """A new id that `taken_sql` (a query on the id as ?1) finds nowhere in the store."""
    for _ in range(20):
        candidate = new_id(prefix)
        if conn.execute(taken_sql, (candidate,)).fetchone() is None:
            return candidate
    # 33 million ids: twenty collisions in a row means a broken random source
    raise RuntimeError(f"could not find a free {prefix}- id")  # pragma: no cover
