"""`pigment check`: the store's health in one list of findings (empty when all is well)."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

from pigment_cli.clock import london_today
from pigment_cli.records.dpias import dpias_due
from pigment_cli.records.erasure import scrub_pending
from pigment_cli.records.processors import register_findings
from pigment_cli.retention.plan import plan as retention_plan
from pigment_cli.rights.requests import request_views
from pigment_cli.store import anchor, audit, seal
from pigment_cli.store.copies import known_copies
from pigment_cli.store.journal import journal_path, store_file
from pigment_cli.store.migrations import SCHEMA_VERSION, migrate
from pigment_cli.store.session import Session, triggers_reason


def _finding(check: str, problem: str, fix: str) -> dict[str, str]:
    return {"check": check, "problem": problem, "fix": fix}


def _schema_objects(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    return {(kind, name) for kind, name in conn.execute(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}


def _expected_schema() -> set[tuple[str, str]]:
    """What this pigment's migrations make, read off a new store in memory."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn)
        return _schema_objects(conn)
    finally:
        conn.close()


def _dpias_past_review(s: Session) -> dict[str, str] | None:
    """A DPIA past its review date (Art. 35(11): review when the risk may have changed)."""
    late = [d["id"] for d in dpias_due(s.conn, london_today(s.now), within_days=0)
            if d["past_due"]]
    if not late:
        return None
    return _finding("dpias", f"{len(late)} DPIA(s) past their review date: "
                    + ", ".join(late[:10]) + (", ..." if len(late) > 10 else ""),
                    "review them, then: pigment dpia update DPIA --review-by DATE "
                    "(see: pigment dpia list --due)")


def check(s: Session) -> dict[str, Any]:
    conn, policy, today = s.conn, s.policy, s.today
    path = s.path or store_file(conn)
    findings: list[dict[str, str]] = []
    passed: list[str] = []

    integrity = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    if integrity != ["ok"]:
        findings.append(_finding("integrity", f"{len(integrity)} problem(s), first: {integrity[0]}",
                                 "restore the latest backup: pigment restore BACKUP --replace"))
    else:
        passed.append("integrity")
    orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    if orphans:
        tables = sorted({r[0] for r in orphans})
        findings.append(_finding("foreign keys", f"{len(orphans)} orphan row(s) in {', '.join(tables)}",
                                 "rows point at a subject that no longer exists; restore a backup"))
    else:
        passed.append("foreign keys")
    chain = anchor.verify_chain(conn, path)
    if not chain.ok:
        where = f"broken at entry {chain.first_broken}: " if chain.first_broken else ""
        findings.append(_finding("audit chain", where + chain.reason,
                                 "someone edited the store outside pigment; investigate, then restore"))
    else:
        passed.append("audit chain")
    missing = audit.missing_triggers(conn)
    if missing:
        findings.append(_finding("append-only triggers", triggers_reason(missing),
                                 "someone edited the store outside pigment; investigate, then restore"))
    else:
        passed.append("append-only triggers")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        findings.append(_finding("schema", f"schema {version}, this pigment expects {SCHEMA_VERSION}",
                                 "open the store with this pigment to migrate it"))
    else:
        passed.append("schema")
    # Tables, triggers, indexes or views that no migration made were added outside pigment: a
    # trigger can copy erased values aside or undo a withdrawal, so each one is a finding.
    unexpected = sorted(_schema_objects(conn) - _expected_schema())
    if unexpected:
        findings.append(_finding("schema objects", "not made by pigment: " + ", ".join(
            f"{kind} {name}" for kind, name in unexpected[:5]) + (
            f" (and {len(unexpected) - 5} more)" if len(unexpected) > 5 else ""),
            "someone changed the store outside pigment; investigate, then restore a backup"))
    else:
        passed.append("schema objects")
    # Problems this pigment refuses in a new policy but tolerates in one already in force (it was
    # valid when applied): a ground that does not exist, a purpose with no category list.
    stale = [p for p in policy.warnings if p.key.endswith((".keep_on_erasure", ".categories"))]
    if stale:
        findings.append(_finding("policy", f"the policy in force ({policy.version}): "
                                 f"{stale[0].key}: {stale[0].message}"
                                 + (f" (and {len(stale) - 1} more)" if len(stale) > 1 else ""),
                                 "fix the policy file and put it in force: pigment policy check "
                                 "FILE, then pigment policy apply FILE"))
    else:
        passed.append("policy")
    loose = []
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), journal_path(path),
                 anchor.anchor_path(path), seal.key_path(path)):
        if file.exists() and stat.S_IMODE(file.stat().st_mode) & 0o077:
            loose.append(f"{file.name} is {stat.S_IMODE(file.stat().st_mode):04o}")
    if loose:
        findings.append(_finding("permissions", "; ".join(loose), f"chmod 600 {path}*"))
    else:
        passed.append("permissions")
    plan = retention_plan(conn, policy, today, forecast=False)
    if plan.subjects or plan.items:
        findings.append(_finding(
            "retention", f"{len(plan.subjects)} subject(s) and {len(plan.items)} item(s) are past "
            "their retention date", "run: pigment retention sweep --apply (is the cron line installed?)"))
    else:
        passed.append("retention")
    overdue = [v for v in request_views(conn, policy, today, open_only=True) if v.overdue]
    if overdue:
        findings.append(_finding("requests", f"{len(overdue)} subject-access request(s) overdue: "
                                 + ", ".join(v.id for v in overdue[:10]),
                                 "answer them now: pigment sar list --overdue"))
    else:
        passed.append("requests")
    dpia_finding = _dpias_past_review(s)
    if dpia_finding:
        findings.append(dpia_finding)
    else:
        passed.append("dpias")
    # Processors (Art. 28: a contract in force) and transfers abroad (Art. 44-46: a safeguard).
    register = {name: (problem, fix) for name, problem, fix in
                register_findings(conn, london_today(s.now))}
    for name in ("processor contracts", "processor contract missing", "transfers"):
        if name in register:
            findings.append(_finding(name, *register[name]))
        else:
            passed.append(name)
    pending = scrub_pending(conn)
    if pending:
        findings.append(_finding(
            "wal", f"values erased at {pending} may still be in the write-ahead log (another "
            "program held the store open, so it could not be emptied)",
            "close other programs using the store (sqlite3 shells, long reports), then run: "
            "pigment retention sweep --apply"))
    else:
        passed.append("wal")
    copies = known_copies(path, today=today, keep=policy.copies_keep())
    due = [c for c in copies if c.expired]
    if due:
        names = ", ".join(f"{Path(c.path).name} ({c.kind}, {c.age_days} days)" for c in due[:5])
        findings.append(_finding(
            "copies", f"{len(due)} copies of personal data are past their retention "
            f"({policy.copies_keep()}) or were left by killed runs: {names}"
            + (", ..." if len(due) > 5 else ""),
            "see them with pigment copies list; remove them with: pigment copies prune --apply"))
    else:
        passed.append("copies")
    return {"ok": not findings, "findings": findings, "passed": passed,
            "copies": [c.to_dict() for c in copies]}
