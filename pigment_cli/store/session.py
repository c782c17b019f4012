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
from pigment_cli.policy import Policy, PolicyTampered, policy_in_force, store_policy
from pigment_cli.store import anchor, audit, seal
from pigment_cli.store.connection import init_store, missing_store, open_store
from pigment_cli.store.journal import journal
from pigment_cli.store.lock import AccessLock, StoreLock
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
    _journal: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = checked_policy(self.conn, self.path or seal.store_path_of(self.conn))
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

    def journal(self, scope: str, **entry: Any) -> None:
        """Journal an act on a person's rights (ids, keys and times only) that a restore must
        replay or list: written and fsynced just before the session's transaction commits."""
        self._journal.append({"scope": scope, **entry, "at": entry.get("at") or self.stamp})

    def flush_journal(self) -> None:
        entries, self._journal = self._journal, []
        journal(self.conn, entries)

    def commit_so_far(self) -> None:
        """Commit what the command has done so far and go on in a new transaction: for what must
        be on record before an effect outside the store (an export's audit entry before the
        package appears)."""
        self.flush_journal()
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
            self.conn.execute("BEGIN IMMEDIATE")


@contextmanager
def session(path: Path, *, now: datetime, actor: str, wall: datetime | None = None,
            mode: Mode = "write", lock: bool = False) -> Iterator[Session]:
    """Open the store at `path` for one command. With `lock`, hold the store's lock throughout
    (one sweep, erasure or restore at a time). Every session holds the access lock shared, so a
    restore (which takes it exclusively) never replaces the store under it."""
    path = Path(path)
    if not path.exists():  # before any lock file is made beside a store that is not there
        raise missing_store(path)
    with ExitStack() as stack:
        if lock:
            stack.enter_context(StoreLock(path))
        stack.enter_context(AccessLock(path))
        conn = open_store(path)
        stack.callback(conn.close)
        s = Session(conn, now, actor, path, wall)
        if mode != "read":
            anchor.start(conn, path)  # a store from before anchors and seals gets both
        try:
            if mode == "write":
                with transaction(conn):
                    yield s
                    s.flush_journal()  # on disk before the transaction commits
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
        s.flush_journal()  # a batched session's domain code flushes its own; this is a backstop
        if mode != "read":
            anchor.anchor_head(conn, path)  # committed: anchor the chain's new head, if it moved
        for action in s._after_commit:
            action()


def create_store(path: Path, *, policy: Policy, now: datetime, actor: str) -> None:
    """Create a new store at `path` with `policy` in force, with its audit key and anchor beside
    it (nothing is left on failure)."""
    conn = init_store(path)
    made: list[Path] = []
    try:
        key = anchor.prepare_new(path)
        made = anchor.files_outside(path)
        with transaction(conn):
            version = store_policy(conn, policy, iso_now(now), actor)
            audit.record(conn, at=iso_now(now), actor=actor, command="init",
                         schema=SCHEMA_VERSION, policy_version=version, sha256=policy.sha256)
            seal.seal_policy(conn, key, version, policy.sha256)
        anchor.anchor_head(conn, path)
    except BaseException:
        conn.close()
        for file in (path, *made):
            file.unlink(missing_ok=True)
        raise
    conn.close()


def checked_policy(conn: sqlite3.Connection, path: Path) -> Policy:
    """The policy in force, once shown to be the one pigment put in force: its text hashes to its
    recorded SHA-256 (`policy_in_force`), the audit entry that put it in force records that hash,
    and the store's seal (made with the key outside the store) vouches for it. PolicyTampered
    (exit 4, naming the store version) otherwise, before anything uses it."""
    policy = policy_in_force(conn)
    row = conn.execute(
        "SELECT version, applied_at, sha256 FROM policies ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        return policy
    version, applied_at, sha256 = int(row[0]), str(row[1]), str(row[2])
    problem = (audit.policy_entry_problem(conn, version, applied_at, sha256)
               or seal.policy_problem(conn, seal.load_key(path), version, sha256))
    if problem:
        raise PolicyTampered(version, problem)
    return policy


def apply_policy(s: Session, policy: Policy) -> int | None:
    """Put `policy` in force (older versions are kept); None if it already is. A policy in force
    that fails its checks can be replaced this way (the audit entry says which version failed)."""
    detail: dict[str, Any] = {}
    try:
        if s.policy.sha256 == policy.sha256:
            return None
    except PolicyTampered as exc:
        detail["replaced_failing_version"] = exc.version
    version = store_policy(s.conn, policy, s.stamp, s.actor)
    s.audit("policy apply", None, policy_version=version, sha256=policy.sha256, **detail)
    key = seal.load_key(s.path or seal.store_path_of(s.conn))
    if key is not None:
        seal.seal_policy(s.conn, key, version, policy.sha256)
    s._policy = policy
    return version


def verify_audit(s: Session) -> audit.ChainReport:
    """Check the whole audit chain against what lies outside the store (the anchor, the key's
    seal) and the append-only triggers; remember how far it held (for the status screen)."""
    report = anchor.verify_chain(s.conn, s.path or seal.store_path_of(s.conn))
    missing = audit.missing_triggers(s.conn)
    if report.ok and missing:
        report = audit.ChainReport(False, report.entries, None, triggers_reason(missing),
                                   anchored=report.anchored)
    audit.mark_verified(s.conn, report, s.stamp)
    return report


def triggers_reason(missing: list[str]) -> str:
    return (f"the append-only trigger{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} missing or altered, so the store no longer "
            "refuses edits (changed outside pigment)")
