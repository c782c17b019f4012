"""The audit trail: who did what to which subject id, when. Ids only, never personal data.

Each entry carries the SHA-256 of the previous one, so `verify` finds any entry that was edited,
removed or reordered; the head hash and count are kept in `meta` so a cut-off tail shows too.
What lives outside the store file and makes a rewritten chain show (the key that seals its head,
the anchor of heads) is in `seal` and `anchor`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pigment_cli.errors import BadInput
from pigment_cli.store import seal

GENESIS = "0" * 64
_FIELDS = ("seq", "at", "actor", "command", "subject_id", "detail", "prev_hash", "hash")
# The append-only triggers, as the schema wrote them (whitespace aside): one dropped, or replaced
# by one that does nothing, and the store no longer refuses edits.
APPEND_ONLY_TRIGGERS = {
    "audit_no_update": "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT "
                       "RAISE(ABORT, 'the audit trail is append-only'); END",
    "audit_no_delete": "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT "
                       "RAISE(ABORT, 'the audit trail is append-only'); END",
    "consent_events_append_only": "CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON "
                                  "consent_events BEGIN SELECT RAISE(ABORT, 'the consent ledger "
                                  "is append-only'); END",
}


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
    anchored: int | None = None  # the latest head anchored outside the store that was held to

    @property
    def message(self) -> str:
        if self.first_broken is None:
            return f"audit trail not intact: {self.reason}"
        return f"audit chain broken at entry {self.first_broken}: {self.reason}"


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
    old_head = f"{seq}:{prev}" if head else None
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
    key = seal.key_for_append(conn)  # None: a store from before seals (`anchor.start` seals it)
    # Seal the new head only if the old one was sealed (or there was none): a head that lost its
    # seal (entries edited or added outside pigment) keeps showing, never blessed by the next
    # command.
    if key is not None and seal.carries_seal(conn, key, old_head):
        seal.seal_head(conn, key, f"{seq}:{prev}")
    return seq


def missing_triggers(conn: sqlite3.Connection) -> list[str]:
    """The append-only triggers that are missing or not as the schema wrote them."""
    found = {name: " ".join(sql.split()) for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}
    return [name for name, sql in APPEND_ONLY_TRIGGERS.items() if found.get(name) != sql]


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


def verify(conn: sqlite3.Connection, *, from_checkpoint: bool = False,
           anchored: Mapping[int, str] | None = None) -> ChainReport:
    """Walk the chain from the first entry; report the first entry that does not hold.

    With `from_checkpoint`, start after the entry a full verification last reached (`mark`): fast
    enough for the status screen, and still catches anything written, cut or edited since.
    `anchored` maps seq to hash for heads recorded outside the store: the chain must hold each."""
    anchored = anchored or {}
    latest = max(anchored, default=None)
    prev, expected_seq, count = GENESIS, 1, 0
    checkpoint = conn.execute("SELECT value FROM meta WHERE key = 'audit_verified'").fetchone()
    if from_checkpoint and checkpoint is not None:
        cp_seq, cp_hash = checkpoint[0].split(":")[:2]
        row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (int(cp_seq),)).fetchone()
        if row is None or row[0] != cp_hash:
            return ChainReport(False, 0, int(cp_seq), f"entry {cp_seq} changed after it was verified")
        prev, expected_seq = cp_hash, int(cp_seq) + 1
        count = int(cp_seq)
        for seq in sorted(s for s in anchored if s < expected_seq):  # before the checkpoint
            row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
            if row is None or row[0] != anchored[seq]:
                return ChainReport(False, count, seq, _not_anchored(seq, latest), anchored=latest)
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
        if seq in anchored and anchored[seq] != digest:
            return ChainReport(False, count, seq, _not_anchored(seq, latest), anchored=latest)
        prev, expected_seq = digest, seq + 1
    if latest is not None and latest >= expected_seq:
        return ChainReport(False, count, expected_seq,
                           f"entries after {expected_seq - 1} are missing: entry {latest} was "
                           "anchored outside the store", anchored=latest)
    head = conn.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
    if head is not None:
        head_seq, head_hash = head[0].split(":", 1)
        if int(head_seq) != expected_seq - 1 or head_hash != prev:
            return ChainReport(False, count, expected_seq,
                               f"entries after {expected_seq - 1} are missing "
                               f"(the chain's head is entry {head_seq})")
    elif count:
        return ChainReport(False, count, 1, "the chain's head record is missing")
    return ChainReport(True, count, head_hash=prev, anchored=latest)


def _not_anchored(seq: int, latest: int | None) -> str:
    return (f"entry {seq} is not the entry anchored outside the store: the chain was rewritten "
            f"up to here (anchored up to entry {latest})")


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


def policy_entry_problem(conn: sqlite3.Connection, version: int, applied_at: str,
                         sha256: str) -> str | None:
    """Why the audit trail does not record store version `version` with `sha256` being put in
    force (by `init` or `policy apply`, in the transaction that stored it), or None if it does.
    One indexed lookup (`audit_at`): cheap enough for every command."""
    rows = conn.execute("SELECT detail FROM audit WHERE at = ? AND command IN ('init', 'policy apply')",
                        (applied_at,)).fetchall()
    for (detail,) in rows:
        try:
            data = json.loads(detail)
        except ValueError:
            continue
        if data.get("policy_version") != version:
            continue
        if "sha256" in data and data["sha256"] != sha256:
            return "is not the text the audit trail records being put in force"
        return None  # an `init` entry from before entries carried the SHA-256: the row's own hash
    return "has no audit entry recording it being put in force"
