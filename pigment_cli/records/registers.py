"""The retention of the DPO's registers: a closed breach, an ended DPIA and an ended processor are
kept for the policy's `[registers]` durations (after closing or ending), then the retention sweep
erases them with their free text (which may describe people). Open breaches and DPIAs or
processors still in use are never erased."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime

from pigment_cli.clock import london_today
from pigment_cli.policy import Policy
from pigment_cli.policy.rules import after
from pigment_cli.store import audit

# register -> (the query of its closed or ended entries, the statements that erase one)
_REGISTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "breaches": ("SELECT id, closed_at FROM breaches WHERE closed_at IS NOT NULL",
                 ("DELETE FROM breach_subjects WHERE breach_id = ?",
                  "DELETE FROM breaches WHERE id = ?")),
    "dpias": ("SELECT id, ended_at FROM dpias WHERE ended_at IS NOT NULL",
              ("DELETE FROM dpias WHERE id = ?",)),
    "processors": ("SELECT id, ended_at FROM processors WHERE ended_at IS NOT NULL",
                   ("DELETE FROM processors WHERE id = ?",)),
}


def _day(stored: str) -> date:
    """The clinic's (London) day of a stored UTC timestamp, or a stored date as it is."""
    if len(stored) <= 10:
        return date.fromisoformat(stored)
    return london_today(datetime.fromisoformat(stored[:19]).replace(tzinfo=UTC))


def registers_due(conn: sqlite3.Connection, policy: Policy, today: date) -> dict[str, list[str]]:
    """register -> the ids of its closed (or ended) entries whose keep has passed on `today`."""
    due: dict[str, list[str]] = {}
    for name, (query, _) in _REGISTERS.items():
        keep = policy.register_keep(name)
        due[name] = [row[0] for row in conn.execute(query)
                     if after(_day(row[1]), keep) <= today]
    return due


def sweep_registers(conn: sqlite3.Connection, policy: Policy, today: date, *, stamp: str,
                    actor: str, apply: bool) -> dict[str, int]:
    """Erase (only with `apply`) the closed breaches (with their links to subjects), ended DPIAs
    and ended processors past their keep; returns how many of each are (or were) due, as
    `erased_breaches`, `erased_dpias`, `erased_processors`. Audited with counts only. Call inside
    a transaction."""
    due = registers_due(conn, policy, today)
    counts = {f"erased_{name}": len(ids) for name, ids in due.items()}
    if not apply or not any(counts.values()):
        return counts
    for name, ids in due.items():
        for statement in _REGISTERS[name][1]:
            conn.executemany(statement, [(i,) for i in ids])
    audit.record(conn, at=stamp, actor=actor, command="retention sweep: registers",
                 breaches=counts["erased_breaches"], dpias=counts["erased_dpias"],
                 processors=counts["erased_processors"])
    return counts
