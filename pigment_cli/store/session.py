"""A unit of work on the store: the connection, the policy in force, the time, the actor.

Commands open one `Session`. In `write` mode it is one transaction (all or nothing); in `read` mode
the connection refuses every write (`query_only`), so a read command cannot change the store; in
`batched` mode the domain code runs its own short transactions (a sweep, a backup). Domain
functions take the session, do their work and append their own audit entries, so the audit trail
is the same whether the CLI or a test calls them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pigment_cli.clock import iso_now
from pigment_cli.policy import Policy, policy_in_force, store_policy
from pigment_cli.store import audit
from pigment_cli.store.connection import init_store, open_store
from pigment_cli.store.lock import StoreLock
from pigment_cli.store.migrations import SCHEMA_VERSION
from pigment_cli.store.tx import store_error_from, transaction

Mode = Literal["write", "read", "batched"]


@dataclass
class Session:
    conn: sqlite3.Connection
    now: datetime
    actor: str
    path: Path | None = None
    wall: datetime | None = None  # the real time, when `now` is an --as-of day
    _policy: Policy | None = field(default=None, repr=False)
    _after_commit: list[Callable[[], object]] = field(default_factory=list, repr=False)

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
    def today(self) -> date:
        return self.now.date()

    def audit(self, command: str, subject_id: str | None = None, **detail: Any) -> int:
        return audit.record(self.conn, at=self.stamp, actor=self.actor, command=command,
                            subject_id=subject_id, **detail)

    def after_commit(self, action: Callable[[], object]) -> None:
        """Run `action` once the session's transaction has committed (e.g. scrub the WAL); what it
        returns is ignored."""
        self._after_commit.append(action)


@contextmanager
def session(path: Path, *, now: datetime, actor: str, wall: datetime | None = None,
            mode: Mode = "write", lock: bool = False) -> Iterator[Session]:
    """Open the store at `path` for one command. With `lock`, hold the store's lock throughout
    (one sweep, erasure or restore at a time)."""
    with ExitStack() as stack:
        if lock:
            stack.enter_context(StoreLock(path))
        conn = open_store(path)
        stack.callback(conn.close)
        s = Session(conn, now, actor, path, wall)
        try:
            if mode == "write":
                with transaction(conn):
                    yield s
            elif mode == "read":
                conn.execute("PRAGMA query_only = ON")
                conn.execute("BEGIN")  # one snapshot for every query the command makes
                try:
                    yield s
                finally:
                    conn.execute("ROLLBACK")
            else:
                yield s
        except sqlite3.Error as exc:
            raise store_error_from(exc) from None
        for action in s._after_commit:
            action()


def create_store(path: Path, *, policy: Policy, now: datetime, actor: str) -> None:
    """Create a new store at `path` with `policy` in force (nothing is left on failure)."""
    conn = init_store(path)
    try:
        with transaction(conn):
            version = store_policy(conn, policy, iso_now(now), actor)
            audit.record(conn, at=iso_now(now), actor=actor, command="init",
                         schema=SCHEMA_VERSION, policy_version=version)
    except BaseException:
        conn.close()
        path.unlink(missing_ok=True)
        raise
    conn.close()


def apply_policy(s: Session, policy: Policy) -> int | None:
    """Put `policy` in force (older versions are kept); None if it already is."""
    if s.policy.sha256 == policy.sha256:
        return None
    version = store_policy(s.conn, policy, s.stamp, s.actor)
    s.audit("policy apply", policy_version=version, sha256=policy.sha256)
    s._policy = policy
    return version


def verify_audit(s: Session) -> audit.ChainReport:
    """Walk the whole audit chain and remember how far it held (for the status screen)."""
    report = audit.verify(s.conn)
    audit.mark_verified(s.conn, report, s.stamp)
    return report
