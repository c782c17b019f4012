"""Copies of personal data pigment makes outside the store, so none lingers unseen: backups, stores
kept aside by a restore, import rejects files, and the temporaries a killed run leaves.

Each copy pigment makes is a line in `<store>-copies.jsonl` beside the store (kind, path, time;
mode 0600), which a restore never replaces. Copies have a retention (`[copies] keep` in the
policy, 35 days by default); `pigment copies list` and `pigment check` show each with its age,
and `pigment copies prune --apply` removes those past it. Temporaries are found by name in the
store's directory and in the directories of its copies.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pigment_cli.files import LEFTOVER_GRACE_SECONDS, in_use, remove_leftovers
from pigment_cli.policy import parse_duration

if TYPE_CHECKING:
    from pigment_cli.store.session import Session

BACKUP, REPLACED, REJECTS, TEMPORARY = "backup", "replaced store", "rejects file", "temporary"
# What killed runs leave: import and --out temporaries, exports, backups, restores.
TEMPORARY_PATTERNS = (".pigment-*.tmp", ".pigment-export-*", ".*.partial", ".*.partial-journal")


def index_path(store: Path | str) -> Path:
    return Path(f"{store}-copies.jsonl")


def restoring_path(store: Path | str) -> Path:
    """Where a restore builds the new store before it switches (one rename)."""
    store = Path(store)
    return store.with_name(f".{store.name}.restoring")


def replaced_pattern(store: Path) -> str:
    return f"{store.name}.replaced-*"


@dataclass(frozen=True)
class Copy:
    kind: str
    path: str
    made_at: str  # ISO time (from the index, else the file's modification time)
    age_days: int
    expires_on: str | None  # None for a temporary: it goes on the next run
    expired: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_copy(store: Path, path: Path, kind: str, at: str) -> None:
    """Note a copy pigment has just made (appended and fsynced under a lock)."""
    line = json.dumps({"kind": kind, "path": str(Path(path).resolve()), "at": at},
                      separators=(",", ":")) + "\n"
    fd = os.open(index_path(store), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _indexed(store: Path) -> dict[str, dict[str, str]]:
    """path -> its latest index entry (lines that cannot be read are ignored: the index only
    helps pigment find copies, it decides nothing)."""
    try:
        text = index_path(store).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return {}
    entries: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and {"kind", "path", "at"} <= set(entry):
            entries[str(entry["path"])] = {k: str(entry[k]) for k in ("kind", "path", "at")}
    return entries


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.lstat().st_mtime, UTC).replace(tzinfo=None).isoformat(
        timespec="seconds")


def known_copies(store: Path, *, today: date, keep: str, now: float | None = None) -> list[Copy]:
    """Every copy pigment knows of that still exists, oldest first: the indexed ones, stores kept
    aside beside the store, and temporaries in the store's directory and its copies'."""
    keep_for = parse_duration(keep)
    found: dict[str, tuple[str, str]] = {}  # path -> (kind, made at)
    for path, entry in _indexed(store).items():
        if Path(path).exists():
            found[path] = (entry["kind"], entry["at"])
    for kept in store.parent.glob(replaced_pattern(store)):
        if not kept.name.endswith(("-wal", "-shm")):
            found.setdefault(str(kept), (REPLACED, _mtime(kept)))
    directories = {store.parent} | {Path(p).parent for p, (k, _) in found.items() if k != TEMPORARY}
    patterns = (*TEMPORARY_PATTERNS, f"{restoring_path(store).name}*")
    now = datetime.now(UTC).timestamp() if now is None else now
    for directory in sorted(directories):
        for pattern in patterns:
            try:
                matches = sorted(directory.glob(pattern))
            except OSError:
                continue
            for leftover in matches:
                try:
                    if (now - leftover.lstat().st_mtime >= LEFTOVER_GRACE_SECONDS
                            and not leftover.is_symlink() and not in_use(leftover)):
                        found.setdefault(str(leftover), (TEMPORARY, _mtime(leftover)))
                except OSError:
                    continue
    copies = []
    for path, (kind, made_at) in found.items():
        made = date.fromisoformat(made_at[:10])
        age = max(0, (today - made).days)
        if kind == TEMPORARY:
            copies.append(Copy(kind, path, made_at, age, None, True))
            continue
        expires = made + keep_for
        copies.append(Copy(kind, path, made_at, age, expires.isoformat(), expires <= today))
    return sorted(copies, key=lambda c: (c.made_at, c.path))


@dataclass
class PruneResult:
    applied: bool
    keep: str
    due: list[Copy]
    removed: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "keep": self.keep,
                "due": [c.to_dict() for c in self.due], "removed": self.removed}


def list_copies(s: Session) -> list[Copy]:
    assert s.path is not None
    return known_copies(s.path, today=s.today, keep=s.policy.copies_keep())


def prune_copies(s: Session, *, apply: bool) -> PruneResult:
    """Copies past their retention (and temporaries left by killed runs): listed, and with
    `apply` removed and audited (counts only). A temporary a live run holds is left alone."""
    assert s.path is not None
    keep = s.policy.copies_keep()
    due = [c for c in known_copies(s.path, today=s.today, keep=keep) if c.expired]
    result = PruneResult(apply, keep, due, [])
    if not apply:
        return result
    for copy in due:
        path = Path(copy.path)
        if copy.kind == TEMPORARY:
            if remove_leftovers(path.parent, path.name):
                result.removed.append(copy.path)
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            for suffix in ("-wal", "-shm"):  # a store kept aside raw keeps its WAL beside it
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        except OSError:
            continue
        result.removed.append(copy.path)
    _forget_missing(s.path)
    counts: dict[str, int] = {}
    for copy in due:
        if copy.path in result.removed:
            counts[copy.kind] = counts.get(copy.kind, 0) + 1
    s.audit("copies prune", None, keep=keep, removed=len(result.removed), kinds=counts)
    return result


def _forget_missing(store: Path) -> None:
    """Rewrite the index without the copies that are gone (under its lock)."""
    path = index_path(store)
    if not path.exists():
        return
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        kept = [json.dumps(e, separators=(",", ":")) + "\n"
                for e in _indexed(store).values() if Path(e["path"]).exists()]
        body = "".join(kept).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, body, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
