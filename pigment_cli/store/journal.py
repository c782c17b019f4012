"""The rights journal: every act on a person's rights that a restore must never undo, appended
(ids, keys and times only; mode 0600; fsynced before the transaction that does it commits) to
`<store>-erasures.jsonl`, outside the store file, so a restored backup is brought back to what has
been done since (see `pigment_cli.backup` and `pigment_cli.records.replay`).

One JSON object a line; `scope` says what it records:

- `subject`: a subject erased (`subject_id`, `created`: when that subject was added, so a replay
  never erases another person given the same id);
- `items`: items erased (`items`: ids, `fingerprints`: a hash of each item's facts that never
  change, checked before a replay erases anything);
- `withdrawal`: a consent withdrawn (`purpose`, `channel`; `recipient_key`, a keyed hash of the
  recipient a specific consent named, never the name);
- `suppression` / `unsuppression`: an email's keyed hash put on or taken off the suppression list;
- `rectification`: the names of the fields rectified on a subject (never the new values: a
  restore lists these for a person to redo);
- `restriction` / `unrestriction`: a restriction of processing (Art. 18) begun or lifted
  (`purpose`, None for every purpose; `started_at` names it; never its reason);
- `objection` / `objection_withdrawal`: an objection to a purpose (Art. 21) recorded, or every
  objection of the subject to that purpose withdrawn (the person changed their mind);
- `item_facts`: an item's category, source, purpose, basis or collection date corrected (keys
  and a date, never its value), with the fingerprint it had before (`fingerprint`), so a replay
  redoes the correction on that item and a later erasure of it still finds it;
- `request`: a request opened (its id, kind, subject, channel, dates and purpose; `texts` names
  its free text, never holds it; for someone not in the store neither name nor email: a restore
  lists it for a person to re-enter);
- `request_step`: a step of a request (`step`: verify-id, fee-received, acknowledge, extend,
  pause, resume, review, close; `on` its date; `outcome` for a review or a close; `texts` the
  names of the reasons, notes or reviewer it recorded, never their words);
- `request_action`: an action that answered a request (`detail`: ids and counts only);
- `notice`: an Art. 19 notice made (`disclosure_id`, `event`, `request_id`, `created_at`; a
  replay reads the recipient back from the disclosure in the restored backup);
- `notice_told`: the recipient of a disclosure told of its pending notices (`notified_on`).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from pigment_cli.errors import StoreError

JOURNAL_ENV = "PIGMENT_ERASURE_LOG"
# Each scope and the keys its entries must carry (a replay refuses a line missing one).
SCOPES: dict[str, tuple[str, ...]] = {
    "subject": ("subject_id", "rule", "at"),
    "items": ("subject_id", "category", "rule", "items", "at"),
    "withdrawal": ("subject_id", "purpose", "channel", "at"),
    "suppression": ("email_hmac", "at"),
    "unsuppression": ("email_hmac", "at"),
    "rectification": ("subject_id", "fields", "at"),
    "restriction": ("subject_id", "purpose", "started_at", "at"),
    "unrestriction": ("subject_id", "purpose", "started_at", "at"),
    "objection": ("subject_id", "purpose", "at"),
    "objection_withdrawal": ("subject_id", "purpose", "at"),
    "item_facts": ("subject_id", "item", "fingerprint", "at"),
    "request": ("request_id", "subject_id", "kind", "channel", "received_on", "purpose",
                "created_at", "at"),
    "request_step": ("request_id", "subject_id", "kind", "step", "on", "at"),
    "request_action": ("request_id", "subject_id", "kind", "action", "detail", "at"),
    "notice": ("subject_id", "disclosure_id", "event", "request_id", "created_at", "at"),
    "notice_told": ("subject_id", "disclosure_id", "notified_on", "at"),
}


def journal_path(store_path: Path | str) -> Path:
    """Where the journal is: $PIGMENT_ERASURE_LOG, else beside the store."""
    override = os.environ.get(JOURNAL_ENV)
    return Path(override).expanduser().resolve() if override else Path(f"{store_path}-erasures.jsonl")


def store_file(conn: sqlite3.Connection) -> Path:
    return Path(conn.execute("PRAGMA database_list").fetchone()[2])


def journal(conn: sqlite3.Connection, entries: list[dict[str, Any]]) -> None:
    """Append `entries` to the journal of the store `conn` has open, and fsync them, before the
    caller's transaction commits: a crash in between leaves an act to replay, never one lost."""
    if entries:
        append_entries(journal_path(store_file(conn)), entries)


def append_entries(path: Path, entries: list[dict[str, Any]]) -> None:
    """Append under an exclusive flock (writers of different commands never interleave). A torn
    last line (a crash mid-append, before its transaction could commit) is cut off first, so it
    never becomes an unreadable line in the middle of the journal."""
    for entry in entries:
        missing = [k for k in SCOPES.get(entry.get("scope", ""), ("scope",)) if k not in entry]
        if missing:
            raise ValueError(f"journal entry without {missing}")  # a bug in pigment
    text = "".join(json.dumps(e, separators=(",", ":"), sort_keys=True) + "\n" for e in entries)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        _cut_torn_tail(fd)
        view = memoryview(text.encode())
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the flock


def _cut_torn_tail(fd: int) -> None:
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            os.ftruncate(fd, start + newline + 1)
            return
        end = start
    os.ftruncate(fd, 0)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every entry, oldest first. A torn last line (no newline: a crash mid-append) is skipped;
    any other line that cannot be read, or names an unknown scope, is StoreError (exit 4) naming
    its line: a damaged journal must never be replayed in part without anyone knowing."""
    if not path.exists():
        return []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StoreError(f"cannot read the journal {path}: {exc.strerror}") from None
    lines = raw.split(b"\n")
    torn_tail = lines[-1]  # b"" when the file ends with a newline
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(lines[:-1], start=1):
        if not line.strip():
            continue
        entries.append(_entry(path, number, line))
    if torn_tail.strip():
        try:
            entries.append(_entry(path, len(lines), torn_tail))
        except StoreError:
            pass  # a crash mid-append: its transaction never committed
    return entries


def _entry(path: Path, number: int, line: bytes) -> dict[str, Any]:
    try:
        entry = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        entry = None
    if not isinstance(entry, dict):
        raise StoreError(f"the journal {path} is damaged at line {number} (not a journal entry); "
                         "nothing was restored: restore the journal from a copy, or ask for help")
    needed = SCOPES.get(str(entry.get("scope")))
    if needed is None or any(key not in entry for key in needed):
        raise StoreError(f"the journal {path} has an entry pigment does not know at line {number} "
                         f"(scope {str(entry.get('scope'))[:20]!r}: written by a newer pigment?); "
                         "nothing was restored")
    return entry
