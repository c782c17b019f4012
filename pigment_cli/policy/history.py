"""The policy in force: every version applied to a store is kept in its `policies` table."""

from __future__ import annotations

import hashlib
import sqlite3
import tomllib
from typing import Any

from pigment_cli.errors import StoreError
from pigment_cli.policy.load import default_policy, parse_policy
from pigment_cli.policy.model import Policy


class PolicyTampered(StoreError):
    """The stored policy in force is not the one pigment put in force (exit 4): nothing may use it."""

    def __init__(self, version: int, problem: str) -> None:
        super().__init__(
            f"the policy in force (store version {version}) {problem}: it was changed outside "
            "pigment, so nothing was done; restore a backup, or put a reviewed policy in force "
            "with: pigment policy apply FILE")
        self.version = version


def store_policy(conn: sqlite3.Connection, policy: Policy, applied_at: str, actor: str) -> int:
    """Record `policy` as the new version in force (call inside a transaction)."""
    cur = conn.execute(
        "INSERT INTO policies (applied_at, actor, sha256, source) VALUES (?, ?, ?, ?)",
        (applied_at, actor, policy.sha256, policy.source),
    )
    return int(cur.lastrowid or 0)


def policy_in_force(conn: sqlite3.Connection) -> Policy:
    """The latest version put in force, once its text is shown to hash to its recorded SHA-256
    (PolicyTampered otherwise). The store ties it to the audit trail and its seal too
    (`pigment_cli.store.session`)."""
    row = conn.execute(
        "SELECT version, sha256, source FROM policies ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        return default_policy()
    version, sha256, source = int(row[0]), str(row[1]), str(row[2])
    if hashlib.sha256(source.encode()).hexdigest() != sha256:  # ~20 us for the built-in policy
        raise PolicyTampered(version, "does not match its recorded SHA-256")
    return parse_policy(source, stored=True)


def policy_history(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every policy the store has had in force: the store's own number, the policy's version."""
    rows = conn.execute(
        "SELECT version, applied_at, actor, sha256, source FROM policies ORDER BY version"
    ).fetchall()
    out = []
    for row in rows:
        try:
            policy_version = str(tomllib.loads(row["source"]).get("version", ""))
        except tomllib.TOMLDecodeError:
            policy_version = ""
        out.append({"version": row["version"], "policy_version": policy_version,
                    "applied_at": row["applied_at"], "actor": row["actor"], "sha256": row["sha256"]})
    return out


def policy_version_at(conn: sqlite3.Connection, at: str) -> str | None:
    """The version of the policy that was in force in this store at `at` (a stored UTC time): the
    last one applied at or before it, or None if the store had none yet."""
    row = conn.execute("SELECT source FROM policies WHERE applied_at <= ? "
                       "ORDER BY version DESC LIMIT 1", (at,)).fetchone()
    if row is None:
        return None
    try:
        return str(tomllib.loads(row[0]).get("version", "")) or None
    except tomllib.TOMLDecodeError:
        return None
