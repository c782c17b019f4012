"""The policy in force: every version applied to a store is kept in its `policies` table."""

from __future__ import annotations

import sqlite3
import tomllib
from typing import Any

from pigment_cli.policy.load import default_policy, parse_policy
from pigment_cli.policy.model import Policy


def store_policy(conn: sqlite3.Connection, policy: Policy, applied_at: str, actor: str) -> int:
    """Record `policy` as the new version in force (call inside a transaction)."""
    cur = conn.execute(
        "INSERT INTO policies (applied_at, actor, sha256, source) VALUES (?, ?, ?, ?)",
        (applied_at, actor, policy.sha256, policy.source),
    )
    return int(cur.lastrowid or 0)


def policy_in_force(conn: sqlite3.Connection) -> Policy:
    row = conn.execute("SELECT source FROM policies ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        return default_policy()
    return parse_policy(row[0])


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
