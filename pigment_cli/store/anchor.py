"""The audit chain's anchor: after each command that appended to the audit trail, the chain's new
head (seq, hash) is appended to a file outside the store (`<store>-audit-anchor.jsonl`, or
`$PIGMENT_AUDIT_ANCHOR`; mode 0600; fsynced), and `verify_chain` requires the chain to hold every
anchored head. With the key's seal on the head (`seal`), an edit made to the store file alone
shows: a cut tail or a store rolled back to an older copy (the anchor), a rewritten, recomputed or
extended chain (the seal), dropped append-only triggers (the schema).

Why append-only lines, not one small file rewritten: one write and one fsync per command (no
temporary file, no rename, nothing left behind by a crash), a history an investigator can read,
and a file that can be made append-only (`chattr +a`) or kept on another disk.

Why after the commit: an anchored head is always one the store committed, so a crash never makes
a false alarm; a crash between commit and anchor loses one line, and the next command's head
(which the chain links to everything before it) covers it. Two writers: the append takes a flock
and never writes a head older than the last line, so the anchor never goes backwards.

A restore starts a new stretch: a `"restore": true` line names the backup's head (which the chain
links to everything before it); the lines before it stay as history but no longer bind (`heads`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import NamedTuple

from pigment_cli.errors import StoreError
from pigment_cli.files import create_private
from pigment_cli.store import audit, seal
from pigment_cli.store.tx import transaction

ANCHOR_ENV = "PIGMENT_AUDIT_ANCHOR"
_TAIL_BYTES = 4096  # more than any one line


def anchor_path(store_path: Path | str) -> Path:
    """Where the store's anchor is: $PIGMENT_AUDIT_ANCHOR, else beside the store."""
    override = os.environ.get(ANCHOR_ENV)
    return (Path(override).expanduser().resolve() if override
            else Path(f"{store_path}-audit-anchor.jsonl"))


def files_outside(store_path: Path | str) -> list[Path]:
    """The files outside the store that this module and `seal` write (the anchor, the key)."""
    return [anchor_path(store_path), seal.key_path(store_path)]


class Line(NamedTuple):  # a NamedTuple, not a dataclass: a sixth of the import time, every command
    seq: int
    hash: str
    restore: bool = False


def _parse(raw: bytes) -> Line | None:
    try:
        data = json.loads(raw)
        return Line(int(data["seq"]), str(data["hash"]), bool(data.get("restore", False)))
    except (ValueError, KeyError, TypeError):
        return None  # a torn line from a crash mid-append (it anchored nothing)


def _text(line: Line) -> str:
    body = {"seq": line.seq, "hash": line.hash, **({"restore": True} if line.restore else {})}
    return json.dumps(body, separators=(",", ":")) + "\n"


def _last_line(fd: int) -> tuple[Line | None, bool]:
    """The last readable line, and whether the file ends with a newline (a torn tail does not)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None, True
    start = max(0, size - _TAIL_BYTES)
    tail = os.pread(fd, size - start, start)
    clean = tail.endswith(b"\n")
    for raw in reversed(tail.split(b"\n")):
        if raw.strip() and (line := _parse(raw)) is not None:
            return line, clean
    return None, clean


def last_line(store_path: Path | str) -> Line | None:
    """The anchor's last line only (for the status screen); None if there is no anchor."""
    try:
        fd = os.open(anchor_path(store_path), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return _last_line(fd)[0]
    finally:
        os.close(fd)


def heads(store_path: Path | str) -> dict[int, str] | None:
    """The heads the chain must hold (seq -> hash), or None if there is no anchor."""
    try:
        raw = anchor_path(store_path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read the audit anchor {anchor_path(store_path)}: "
                         f"{exc.strerror}") from None
    binding: dict[int, str] = {}
    for text in raw.split(b"\n"):
        line = _parse(text) if text.strip() else None
        if line is None:
            continue
        if line.restore:  # the store is now the backup's chain: its head vouches for all of it
            binding = {}
        binding[line.seq] = line.hash
    return binding


def _append(path: Path, line: Line, *, only_forward: bool) -> None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)  # never creates: see `start` and `check`
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for one small write
        last, clean = _last_line(fd)
        if only_forward and last is not None and line.seq <= last.seq:
            return  # a later head is anchored already, and the chain links it to this one
        data = ("" if clean else "\n") + _text(line)
        os.write(fd, data.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _committed_head(conn: sqlite3.Connection) -> Line | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
    if row is None:
        return None
    seq, _, digest = str(row[0]).partition(":")
    return Line(int(seq), digest)


def anchor_head(conn: sqlite3.Connection, store_path: Path | str) -> None:
    """Anchor the chain's committed head (call with no transaction open, after the commit). A
    store with no anchor file is left to `check`, which reports it; nothing is created here."""
    head = _committed_head(conn)
    if head is None:
        return
    if conn.execute("PRAGMA synchronous").fetchone()[0] < 2:
        # synchronous=NORMAL (a sweep) leaves the last commits in the OS's cache: make them as
        # durable as the anchor line, so a power cut never leaves a head the store lost.
        _fsync_if_exists(Path(f"{store_path}-wal"))
    path = anchor_path(store_path)
    try:
        _append(path, head, only_forward=True)
    except OSError as exc:
        raise StoreError(f"the command's changes were saved, but the audit anchor {path} could "
                         f"not be written ({exc.strerror}); fix it, then run pigment check") from None


def _fsync_if_exists(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def mark_restore(store_path: Path | str, seq: int, digest: str) -> None:
    """Before a restore switches the store: the backup's head starts a new stretch (the anchor is
    created if it was lost). The restored store's own new head is anchored after its commit."""
    path = anchor_path(store_path)
    line = Line(seq, digest, restore=True)
    try:
        _create(path, "")
        _append(path, line, only_forward=False)
    except OSError as exc:
        raise StoreError(f"cannot write the audit anchor {path}: {exc.strerror}; "
                         "nothing was restored") from None


def _create(path: Path, text: str) -> bool:
    """Create `path` (0600) holding `text`, unless it exists. True if it was created."""
    try:
        fd = create_private(path)
    except FileExistsError:
        return False
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


# --- starting: a new store, or one made before anchors and seals ------------------------------


def prepare_new(store_path: Path | str) -> bytes:
    """For `init`: a new key and an empty anchor; refuses to take over ones left by another store."""
    path = anchor_path(store_path)
    if path.exists():
        raise StoreError(f"an audit anchor already exists at {path} (from an earlier store?); "
                         "move it aside first")
    key = seal.create_key(store_path)
    _create(path, "")
    return key


def start(conn: sqlite3.Connection, store_path: Path | str) -> None:
    """At the start of a writing command: a store that has neither a seal nor a key (made before
    either existed) gets a key, an anchor holding its head and a seal, so the rest of its life is
    covered. A sealed store whose key or anchor is missing is left as it is: `check` reports it,
    and sealing again would bless whatever was done meanwhile."""
    if seal.is_sealed(conn) or seal.key_path(store_path).exists():
        return  # the usual case: one SELECT and one stat
    # Under the write lock, so no other command appends or starts meanwhile; the key is made only
    # once the lock is held (a busy store leaves nothing behind), and committed with its seals.
    with transaction(conn):
        if seal.is_sealed(conn) or seal.key_path(store_path).exists():
            return  # another command started it while we waited
        key = seal.create_key(store_path)
        head = _committed_head(conn)
        _create(anchor_path(store_path), _text(head) if head else "")
        seal.seal_head(conn, key, f"{head.seq}:{head.hash}" if head else "")
        policy = conn.execute(
            "SELECT version, sha256 FROM policies ORDER BY version DESC LIMIT 1").fetchone()
        if policy is not None:
            seal.seal_policy(conn, key, int(policy[0]), str(policy[1]))


def unseal(conn: sqlite3.Connection) -> None:
    """Drop a store's seals (a restore's copy of the backup, before its replay appends to the chain
    at a temporary path with no key beside it; `reseal` seals the result)."""
    conn.execute("DELETE FROM meta WHERE key IN (?, ?)", (seal.HEAD_SEAL, seal.POLICY_SEAL))


# --- verification -----------------------------------------------------------------------------


def verify_chain(conn: sqlite3.Connection, store_path: Path | str, *,
                 from_checkpoint: bool = False) -> audit.ChainReport:
    """The chain, held to what lies outside the store: every anchored head (all of them; or, with
    `from_checkpoint`, the anchor's last line only), the key's seal on the head, the anchor's and
    key's presence. Append-only triggers are `audit.missing_triggers`."""
    key_file = seal.key_path(store_path)
    key = seal.load_key(store_path)
    if from_checkpoint:
        last = last_line(store_path)
        anchored = None if last is None else {last.seq: last.hash}
        present = last is not None or anchor_path(store_path).exists()
    else:
        anchored = heads(store_path)
        present = anchored is not None
    report = audit.verify(conn, from_checkpoint=from_checkpoint, anchored=anchored)
    if not report.ok:
        return report
    if not present and (key is not None or seal.is_sealed(conn)):
        return _broken(report, f"the audit anchor {anchor_path(store_path)} is missing "
                       "(put back the copy kept with your backups)")
    problem = seal.head_problem(conn, key, key_file)
    if problem:
        return _broken(report, problem)
    return report


def _broken(report: audit.ChainReport, reason: str) -> audit.ChainReport:
    return audit.ChainReport(False, report.entries, None, reason, anchored=report.anchored)


# --- restores ---------------------------------------------------------------------------------


def vouch_for_backup(backup: sqlite3.Connection, store_path: Path | str, source: Path) -> str:
    """Before a restore copies anything: the backup's chain must hold together, and if this store
    has a key and the backup a seal, the key must vouch for the backup's head and policy (a backup
    whose chain or policy was rewritten, or another store's, is refused: StoreError). Returns what
    could be vouched for, for the restore's audit entry."""
    chain = audit.verify(backup)
    if not chain.ok:
        raise StoreError(f"{source}'s audit trail does not hold ({chain.message}); nothing was "
                         "restored: choose another backup")
    key = seal.load_key(store_path)
    if key is None:
        return "not vouched for: no audit key here (a new one is made)"
    if not seal.is_sealed(backup):
        return "not vouched for: the backup was made before audit seals"
    row = backup.execute("SELECT version, sha256 FROM policies ORDER BY version DESC LIMIT 1").fetchone()
    problem = seal.head_problem(backup, key, seal.key_path(store_path)) or (
        row is not None and seal.policy_problem(backup, key, int(row[0]), str(row[1])))
    if problem:
        raise StoreError(f"{source} is not vouched for by this store's audit key "
                         f"({seal.key_path(store_path)}): it was altered, or it is another store's "
                         "backup; nothing was restored (to restore it anyway, move the key and the "
                         "audit anchor aside first)")
    return "vouched for by the audit key"


def reseal(conn: sqlite3.Connection, key: bytes | None) -> None:
    """Seal a restored store's head and policy with the store's key (inside the restore's
    transaction, after its audit entry). With no key here (a restore onto a new machine), the
    backup's seals are dropped instead: the restored store is then like one made before seals, and
    `start` gives it a new key once it is in place (never before: a restore killed half-way must
    not leave a key that vouches for nothing). A policy whose text does not match its SHA-256 is
    refused."""
    row = conn.execute(
        "SELECT version, sha256, source FROM policies ORDER BY version DESC LIMIT 1").fetchone()
    if row is not None and hashlib.sha256(str(row[2]).encode()).hexdigest() != row[1]:
        raise StoreError(f"the backup's policy (store version {row[0]}) does not match its "
                         "recorded SHA-256: it was altered; nothing was restored")
    if key is None:
        unseal(conn)
        return
    head = conn.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
    seal.seal_head(conn, key, "" if head is None else str(head[0]))
    if row is not None:
        seal.seal_policy(conn, key, int(row[0]), str(row[1]))
