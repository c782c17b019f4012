"""Transactions and the one-line errors a store problem becomes.

One writing command = one transaction, taken with BEGIN IMMEDIATE so it never has to be upgraded
from a read lock (which fails instantly under contention, busy_timeout or not).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from pigment_cli.errors import BadInput, StoreError

BUSY_TIMEOUT_MS = 5000


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

