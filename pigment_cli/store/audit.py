"""The audit trail: who did what to which subject id, when. Ids only, never personal data.

Each entry carries the SHA-256 of the previous one, so `verify` finds any entry that was edited,
removed or reordered; the head hash and count are kept in `meta` so a cut-off tail shows too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from pigment_cli.errors import BadInput

GENESIS = "0" * 64
_FIELDS = ("seq", "at", "actor", "command", "subject_id", "detail", "prev_hash", "hash")


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    command: str
    subject_id: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    first_broken: int | None = None
    reason: str = ""
    head_hash: str = ""


def _digest(prev_hash: str, seq: int, at: str, actor: str, command: str,
            subject_id: str | None, detail: str) -> str:
    # Fields joined by the unit separator, which none can hold: `detail` is ASCII JSON (control
    # characters escaped), ids, times and commands are pigment's own, and actors are checked.
    payload = "\x1f".join((prev_hash, str(seq), at, actor, command, subject_id or "\x00", detail))
    return hashlib.sha256(payload.encode()).hexdigest()


def record(conn: sqlite3.Connection, *, at: str, actor: str, command: str,
           subject_id: str | None = None, **detail: Any) -> int:
    """Append one entry (call inside the command's transaction). `detail` holds ids, keys and
    counts only: callers never pass names, emails, phone numbers, addresses or free text."""
    return record_many(conn, at=at, actor=actor, entries=[(command, subject_id, detail)])


def record_many(conn: sqlite3.Connection, *, at: str, actor: str,
                entries: list[tuple[str, str | None, dict[str, Any]]]) -> int:
    """Append entries (command, subject id, detail) in order, reading and writing the chain's
    head once: what a sweep erasing thousands of subjects needs. Returns the last seq."""
    if any(ord(c) < 32 or c == "\x7f" for c in actor):
        raise BadInput("the actor name contains control characters")
    head = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS)
    rows = []
    for command, subject_id, detail in entries:
        seq += 1
        detail_text = json.dumps(detail, sort_keys=True, separators=(",", ":"))
        digest = _digest(prev, seq, at, actor, command, subject_id, detail_text)
        rows.append((seq, at, actor, command, subject_id, detail_text, prev, digest))
        prev = digest
    if not rows:
        return seq
    conn.executemany(
        "INSERT INTO audit (seq, at, actor, command, subject_id, detail, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('audit_head', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (f"{seq}:{prev}",),
    )
    return seq


def entries(conn: sqlite3.Connection, *, subject_id: str | None = None,
            since: str | None = None, limit: int | None = None) -> list[AuditEntry]:
    sql = f"SELECT {', '.join(_FIELDS)} FROM audit WHERE 1 = 1"
    args: list[Any] = []
    if subject_id:
        sql += " AND subject_id = ?"
        args.append(subject_id)
    if since:
        sql += " AND at >= ?"
        args.append(since)
    sql += " ORDER BY seq"
    if limit:
        sql = f"SELECT * FROM ({sql.replace('ORDER BY seq', 'ORDER BY seq DESC')} LIMIT ?) ORDER BY seq"
        args.append(limit)
    return [
        AuditEntry(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7])
        for row in conn.execute(sql, args)
    ]


def verify(conn: sqlite3.Connection, *, from_checkpoint: bool = False) -> ChainReport:
    """Walk the chain from the first entry; report the first entry that does not hold.

    With `from_checkpoint`, start after the entry a full verification last reached (`mark`): fast
    enough for the status screen, and still catches anything written, cut or edited since."""
    prev, expected_seq, count = GENESIS, 1, 0
    checkpoint = conn.execute("SELECT value FROM meta WHERE key = 'audit_verified'").fetchone()
    if from_checkpoint and checkpoint is not None:
        cp_seq, cp_hash = checkpoint[0].split(":")[:2]
        row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (int(cp_seq),)).fetchone()
        if row is None or row[0] != cp_hash:
            return ChainReport(False, 0, int(cp_seq), f"entry {cp_seq} changed after it was verified")
        prev, expected_seq = cp_hash, int(cp_seq) + 1
        count = int(cp_seq)
    for row in conn.execute(f"SELECT {', '.join(_FIELDS)} FROM audit WHERE seq >= ? ORDER BY seq",
                            (expected_seq,)):
        seq, at, actor, command, subject_id, detail, prev_hash, digest = row
        count += 1
        if seq != expected_seq:
            return ChainReport(False, count, expected_seq,
                               f"entry {expected_seq} is missing (next entry is {seq})")
        if prev_hash != prev:
            return ChainReport(False, count, seq,
                               f"entry {seq} does not follow entry {seq - 1} (removed or reordered)")
        if _digest(prev_hash, seq, at, actor, command, subject_id, detail) != digest:
            return ChainReport(False, count, seq, f"entry {seq} was edited after it was written")
        prev, expected_seq = digest, seq + 1
    head = conn.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
    if head is not None:
        head_seq, head_hash = head[0].split(":", 1)
        if int(head_seq) != expected_seq - 1 or head_hash != prev:
            return ChainReport(False, count, expected_seq,
                               f"entries after {expected_seq - 1} are missing "
                               f"(the chain's head is entry {head_seq})")
    elif count:
        return ChainReport(False, count, 1, "the chain's head record is missing")
    return ChainReport(True, count, head_hash=prev)


def mark_verified(conn: sqlite3.Connection, report: ChainReport, at: str) -> None:
    """Remember how far a full verification reached (call inside a transaction)."""
    if report.ok and report.entries:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('audit_verified', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (f"{report.entries}:{report.head_hash}:{at}",),
        )


def last_full_verification(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'audit_verified'").fetchone()
    return row[0].split(":", 2)[2] if row else None
