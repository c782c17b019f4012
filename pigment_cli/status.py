"""The manager's one screen: what is held, what needs doing today, and the store's health."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

from pigment_cli import audit, retention
from pigment_cli.policy import Policy


def consent_counts(conn: sqlite3.Connection, policy: Policy,
                   until: str | None = None) -> dict[str, dict[str, int]]:
    """State per consent purpose (on the day `until`, else now): how many subjects have it
    granted, and how many withdrawn."""
    counts = {p: {"granted": 0, "withdrawn": 0} for p in policy.consent_purposes()}
    # The latest event per subject and purpose, by (at, id): SQLite takes the bare column
    # `action` from the row holding the max(), which is faster here than a window function.
    for purpose, granted, withdrawn in conn.execute(
        """
        SELECT purpose, sum(action = 'grant'), sum(action = 'withdraw') FROM (
            SELECT purpose, action, max(at || printf('%012d', id)) FROM consent_events
            WHERE substr(at, 1, 10) <= ? GROUP BY subject_id, purpose
        ) GROUP BY purpose
        """,
        (until or "9999-12-31",),
    ):
        counts[purpose] = {"granted": granted, "withdrawn": withdrawn}
    return counts


def next_due(conn: sqlite3.Connection, policy: Policy, today: date) -> str | None:
    """The first day after `today` on which anything falls due (ignoring holds)."""
    candidates = []
    row = conn.execute(
        "SELECT dob, last_processed_at FROM subjects WHERE last_processed_at >= ? "
        "ORDER BY last_processed_at LIMIT 50",
        ((today - policy.default_retention).isoformat(),),
    ).fetchall()
    candidates += [retention.subject_due(policy, last, dob) for dob, last in row]
    for category in policy.data["retention"]["categories"]:
        rule = policy.category_retention(category)
        assert rule is not None
        first = conn.execute(
            "SELECT min(processed_at) FROM items WHERE category = ? AND processed_at >= ?",
            (category, (today - rule).isoformat()),
        ).fetchone()[0]
        if first:
            candidates.append(retention.item_due(policy, category, first, date.max))
    later = [d for d in candidates if d > today]
    return min(later).isoformat() if later else None


def status(conn: sqlite3.Connection, policy: Policy, today: date, path: Path) -> dict[str, Any]:
    from pigment_cli.sar import request_views

    subjects = conn.execute("SELECT count(*) FROM subjects").fetchone()[0]
    open_requests = [v for v in request_views(conn, policy, today, open_only=True)]
    plan = retention.plan(conn, policy, today)
    chain = audit.verify(conn, from_checkpoint=True)
    consents = consent_counts(conn, policy)
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    return {
        "as_of": today.isoformat(),
        "policy_version": policy.version,
        "subjects": subjects,
        "items": conn.execute("SELECT count(*) FROM items").fetchone()[0],
        "erased_subjects": conn.execute("SELECT count(*) FROM tombstones").fetchone()[0],
        "requests": {
            "open": len(open_requests),
            "overdue": sum(v["overdue"] for v in open_requests),
            "list": [{"id": v["id"], "subject_id": v["subject_id"], "status": v["status"],
                      "due": v["due"], "days_left": v["days_left"], "overdue": v["overdue"]}
                     for v in sorted(open_requests, key=lambda v: v["due"])],
        },
        "retention": {
            "due_subjects": len(plan.subjects), "due_items": len(plan.items),
            "held": len(plan.held), "next_due": next_due(conn, policy, today),
            "forecast": plan.forecast,
            "last_sweep": retention.last_sweep(conn),
        },
        "holds": conn.execute(
            "SELECT count(*) FROM holds WHERE released_at IS NULL AND (until IS NULL OR until >= ?)",
            (today.isoformat(),)).fetchone()[0],
        "consents": {
            purpose: {**c, "rate": round(100 * c["granted"] / subjects, 1) if subjects else 0.0}
            for purpose, c in consents.items()
        },
        "audit": {"ok": chain.ok, "entries": chain.entries, "first_broken": chain.first_broken,
                  "reason": chain.reason,
                  "last_full_verification": audit.last_full_verification(conn)},
        "store": {"path_size_bytes": size},
    }
