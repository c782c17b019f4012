"""A unit of work on the store: the connection, the policy in force, the time, the actor.

Commands open one `Session` (one transaction); domain functions take it, do their work and append
their own audit entries, so the audit trail is the same whether the CLI or a test calls them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pigment_cli import audit
from pigment_cli.clock import iso_now
from pigment_cli.policy import Policy, policy_in_force
from pigment_cli.store import open_store, store_error_from, transaction


@dataclass
class Session:
    conn: sqlite3.Connection
    now: datetime
    actor: str
    path: Path | None = None
    wall: datetime | None = None  # the real time, when `now` is an --as-of day
    _policy: Policy | None = field(default=None, repr=False)

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = policy_in_force(self.conn)
        return self._policy

    @property
    def stamp(self) -> str:
        """The time this happened, as stored text: the wall clock, even under --as-of (the audit
        trail and `recorded_at` columns record when things were done, not the day acted as)."""
        return iso_now(self.wall or self.now)

    @property
    def today(self) -> Any:
        return self.now.date()

    def audit(self, command: str, subject_id: str | None = None, **detail: Any) -> int:
        return audit.record(self.conn, at=self.stamp, actor=self.actor, command=command,
                            subject_id=subject_id, **detail)


@contextmanager
def session(path: Path, *, now: datetime, actor: str,
            wall: datetime | None = None) -> Iterator[Session]:
    """Open the store at `path` and run the block as one transaction (all or nothing)."""
    conn = open_store(path)
    try:
        with transaction(conn):
            try:
                yield Session(conn, now, actor, path, wall)
            except sqlite3.Error as exc:
                raise store_error_from(exc) from None
    finally:
        conn.close()
