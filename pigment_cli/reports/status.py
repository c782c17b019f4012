"""The manager's one screen: what is held, what needs doing today, and the store's health."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pigment_cli.clock import london_today
from pigment_cli.policy import Policy
from pigment_cli.policy.rules import item_due, subject_due
from pigment_cli.records.breaches import breach_summary
from pigment_cli.records.consents import consent_counts
from pigment_cli.records.dpias import DUE_WITHIN_DAYS, dpias_due
from pigment_cli.records.holds import count_active
from pigment_cli.records.processors import contracts_ending
from pigment_cli.records.restrictions import count_restricted
from pigment_cli.retention.plan import plan as retention_plan
from pigment_cli.retention.sweep import last_sweep
from pigment_cli.rights.requests import request_views
from pigment_cli.store import anchor, audit
from pigment_cli.store.journal import store_file
from pigment_cli.store.session import Session


def next_due(conn: sqlite3.Connection, policy: Policy, today: date) -> str | None:
    """The first day after `today` on which anything falls due (ignoring holds)."""
    candidates = []
    row = conn.execute(
        "SELECT dob, last_processed_at FROM subjects WHERE last_processed_at >= ? "
        "ORDER BY last_processed_at LIMIT 50",
        ((today - policy.default_retention).isoformat(),),
    ).fetchall()
    candidates += [subject_due(policy, last, dob) for dob, last in row]
    for rule in policy.category_rules():
        first = conn.execute(
            "SELECT min(processed_at) FROM items WHERE category = ? AND processed_at >= ?",
            (rule.category, (today - rule.delta).isoformat()),
        ).fetchone()[0]
        if first:
            candidates.append(item_due(policy, rule.category, first, date.max))
    later = [d for d in candidates if d > today]
    return min(later).isoformat() if later else None


def registers(conn: sqlite3.Connection, now: datetime) -> dict[str, Any]:
    """The DPO's registers (UK GDPR Art. 28, 33, 35) as the status screen shows them, ids and
    dates only: open breaches with the hours left to tell the ICO, processor contracts ending
    within 30 days (or past), DPIAs to review within 30 days (or past)."""
    today = london_today(now)
    breaches = sorted(breach_summary(conn, now), key=lambda b: b["hours_left"])
    for b in breaches:
        # the 72-hour clock runs until the ICO is told, unless the assessment found no risk;
        # overdue from the first second past it (as `breach list --overdue`), rounded after
        b["clock_running"] = b["notifiable"] and not b["ico_notified"]
        b["overdue"] = b["clock_running"] and b["hours_left"] < 0
        b["hours_left"] = round(b["hours_left"], 1)
    dpias = dpias_due(conn, today)
    return {
        "breaches": {"open": len(breaches), "overdue": sum(b["overdue"] for b in breaches),
                     "list": breaches},
        "processors": {"contracts_ending": contracts_ending(conn, today, within_days=30)},
        "dpias": {"due_within_days": DUE_WITHIN_DAYS, "due": len(dpias),
                  "past_due": sum(d["past_due"] for d in dpias), "list": dpias},
    }


def status(s: Session) -> dict[str, Any]:
    conn, policy, today = s.conn, s.policy, s.today
    path = s.path or store_file(conn)
    subjects = conn.execute("SELECT count(*) FROM subjects").fetchone()[0]
    open_requests = [v for v in request_views(conn, policy, today, open_only=True)]
    plan = retention_plan(conn, policy, today)
    chain = anchor.verify_chain(conn, path, from_checkpoint=True)  # the anchor's last line only
    missing = audit.missing_triggers(conn)
    if chain.ok and missing:
        chain = audit.ChainReport(False, chain.entries, None,
                                  f"append-only trigger(s) missing or altered: {', '.join(missing)}")
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
            "overdue": sum(v.overdue for v in open_requests),
            "list": [{"id": v.id, "kind": v.kind, "subject_id": v.subject_id,
                      "status": v.status, "due": v.due, "days_left": v.days_left,
                      "overdue": v.overdue}
                     for v in sorted(open_requests, key=lambda v: v.due)],
        },
        "retention": {
            "due_subjects": len(plan.subjects), "due_items": len(plan.items),
            "held": len(plan.held), "next_due": next_due(conn, policy, today),
            "forecast": [m.to_dict() for m in plan.forecast],
            "last_sweep": last_sweep(conn),
        },
        "holds": count_active(conn, today),
        "restricted_subjects": count_restricted(conn),
        **registers(conn, s.now),
        "consents": {
            purpose: {**c, "rate": round(100 * c["granted"] / subjects, 1) if subjects else 0.0}
            for purpose, c in consents.items()
        },
        "audit": {"ok": chain.ok, "entries": chain.entries, "first_broken": chain.first_broken,
                  "reason": chain.reason,
                  "last_full_verification": audit.last_full_verification(conn)},
        "store": {"path_size_bytes": size},
    }
