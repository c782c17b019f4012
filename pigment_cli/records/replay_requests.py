"""Replaying the register's journal lines on a restored store: requests opened since the backup,
their steps and the actions that answered them, Art. 19 notices made and their recipients told.
The journal holds ids, kinds, dates and outcomes, never free text; what it cannot rebuild is
listed for a person to redo.

What replay matches on, and what it never touches:
- a request: its id, with the same subject and kind (an id that names another request in the
  backup is skipped and reported, with every later line about it). A request missing from the
  backup is recreated if its subject is there; one from someone not in the store (the journal
  never holds their name or email) or whose subject is not in the backup is listed instead, with
  its steps. A request added before the backup was taken and missing from it was removed before
  then (the register's retention): its lines are skipped;
- a step: done only where the restored request does not hold it yet (a date still empty, a pause
  not there, a request still open). Its texts (a note, a reason, the reviewer) are never in the
  journal: the restored request holds `RESTORED_TEXT` instead and the restore lists them;
- an action: the request, the action, its time and its detail (ids and counts);
- a notice: its disclosure, event and time; the recipient and its type are read from the
  backup's disclosure, as it was before any line was replayed (the replayed erasure of its
  subject deletes the disclosure), and the disclosure must be of the notice's subject. A notice
  whose disclosure the backup does not hold is listed;
- a notice told: the notices of that disclosure pending when it was recorded.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from pigment_cli.store import audit

SCOPES = ("request", "request_step", "request_action", "notice", "notice_told")
# What a restored request holds where the journal could not hold the text.
RESTORED_TEXT = "(not restored: the journal never holds this text; see the restore's list)"
# Each text a step records, and where it is kept.
_TEXTS = {
    "note": ("requests", "note"),
    "extension reason": ("requests", "extension_reason"),
    "reviewer": ("requests", "reviewer"),
    "review note": ("requests", "review_note"),
    "outcome reason": ("requests", "outcome_reason"),
    "pause reason": ("request_pauses", "reason"),
}
# The columns a dated step fills (once).
_DATES = {"verify-id": "id_verified_on", "fee-received": "fee_received_on",
          "acknowledge": "acknowledged_on"}
NOT_IN_STORE = "from someone not in the store: re-enter it with pigment request open --unknown"
NO_SUBJECT = "its subject is not in the backup"
NOT_IN_BACKUP = "not in the backup, and its opening is not in the journal"
ID_TAKEN = "its id names another request in the backup (another subject or kind)"


@dataclass
class RegisterReplay:
    requests: int = 0  # requests recreated
    steps: int = 0  # steps redone on requests of the restored store
    actions: int = 0
    notices: int = 0  # Art. 19 notices recreated
    notices_told: int = 0  # disclosures whose pending notices were marked told
    redo_requests: list[dict[str, Any]] = field(default_factory=list)
    redo_texts: list[dict[str, Any]] = field(default_factory=list)
    redo_notices: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "replayed_requests": self.requests, "replayed_request_steps": self.steps,
            "replayed_request_actions": self.actions, "replayed_notices": self.notices,
            "replayed_notices_told": self.notices_told, "redo_requests": self.redo_requests,
            "redo_request_texts": self.redo_texts, "redo_notices": self.redo_notices,
            "skipped_requests": self.skipped,
        }


class RegisterReplayer:
    """Replays the register's lines, one at a time, in the journal's order (`apply`), then
    works out what to list (`finish`). Call inside the restore's transaction."""

    def __init__(self, conn: sqlite3.Connection, entries: list[dict[str, Any]], *, stamp: str,
                 actor: str) -> None:
        self.conn, self.stamp, self.actor = conn, stamp, actor
        self.result = RegisterReplay()
        last = conn.execute("SELECT at FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        # Every request and notice is audited when it is made: one made before this moment and
        # missing from the backup was removed before the backup was taken.
        self.backup_at = str(last[0]) if last else ""
        self.disclosures = self._disclosures(entries)
        self.gone: set[str] = set()
        self.taken: set[str] = set()
        self.listed: dict[str, dict[str, Any]] = {}
        self.texts: dict[str, set[str]] = {}

    def _disclosures(self, entries: list[dict[str, Any]]) -> dict[int, tuple[str, str, str]]:
        """The backup's disclosures the journal's notices name (subject, recipient, type), read
        before any line is replayed: an erasure replayed first deletes them."""
        wanted = sorted({int(e["disclosure_id"]) for e in entries if e["scope"] == "notice"})
        found: dict[int, tuple[str, str, str]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self.conn.execute(
                "SELECT id, subject_id, recipient, recipient_type FROM disclosures WHERE id IN "
                f"({', '.join('?' * len(chunk))})", chunk).fetchall()
            found.update({int(r[0]): (str(r[1]), str(r[2]), str(r[3])) for r in rows})
        return found

    def apply(self, entry: dict[str, Any]) -> None:
        scope = entry["scope"]
        if scope == "request":
            self._request(entry)
        elif scope in ("request_step", "request_action"):
            row = self._matching(entry)
            if row is None:
                return
            if scope == "request_step":
                self._step(entry, row)
            else:
                self._action(entry)
        elif scope == "notice":
            self._notice(entry)
        elif scope == "notice_told":
            self._told(entry)

    # --- requests --------------------------------------------------------------------------

    def _request(self, entry: dict[str, Any]) -> None:
        request_id, subject_id, kind = self._keys(entry)
        row = self.conn.execute("SELECT subject_id, kind FROM requests WHERE id = ?",
                                (request_id,)).fetchone()
        if row is not None:
            if (row[0], row[1]) != (subject_id, kind):
                self._skip(request_id)
            return  # the backup holds it
        if str(entry["created_at"]) < self.backup_at:
            self.gone.add(request_id)  # removed before the backup was taken
            return
        if subject_id is None:
            self._list(entry, NOT_IN_STORE)
            return
        if self.conn.execute("SELECT 1 FROM subjects WHERE id = ?",
                             (subject_id,)).fetchone() is None:
            self._list(entry, NO_SUBJECT)
            return
        texts = [t for t in entry.get("texts") or [] if t in _TEXTS]
        self.conn.execute(
            "INSERT INTO requests (id, subject_id, channel, received_on, status, created_at, "
            "kind, purpose, note) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?)",
            (request_id, subject_id, entry["channel"], entry["received_on"], entry["created_at"],
             kind, entry["purpose"], RESTORED_TEXT if "note" in texts else None))
        self._texts(request_id, texts)
        self._audit("request open", subject_id, request=request_id, kind=kind)
        self.result.requests += 1

    def _keys(self, entry: dict[str, Any]) -> tuple[str, str | None, str]:
        subject = entry["subject_id"]
        return (str(entry["request_id"]), None if subject is None else str(subject),
                str(entry["kind"]))

    def _matching(self, entry: dict[str, Any]) -> sqlite3.Row | None:
        """The restored request a step or action line is about, or None (the line is then
        skipped, or noted with its listed request)."""
        request_id, subject_id, kind = self._keys(entry)
        if request_id in self.gone or request_id in self.taken:
            return None
        if request_id in self.listed:
            self.listed[request_id]["steps"].append(_step_of(entry))
            return None
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT id, subject_id, kind FROM requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            if str(entry["at"]) < self.backup_at:
                self.gone.add(request_id)  # removed before the backup was taken
            else:
                self._list(entry, NOT_IN_BACKUP)
                self.listed[request_id]["steps"].append(_step_of(entry))
            return None
        if (row["subject_id"], row["kind"]) != (subject_id, kind):
            self._skip(request_id)
            return None
        return row

    def _step(self, entry: dict[str, Any], row: sqlite3.Row) -> None:
        step, on, request_id = str(entry["step"]), str(entry["on"]), row["id"]
        texts = [t for t in entry.get("texts") or [] if t in _TEXTS]
        conn, changed = self.conn, 0
        if step in _DATES:
            column = _DATES[step]
            changed = conn.execute(f"UPDATE requests SET {column} = ? WHERE id = ? AND "
                                   f"{column} IS NULL", (on, request_id)).rowcount
        elif step == "extend":
            changed = conn.execute(
                "UPDATE requests SET extended_on = ?, extension_reason = ? WHERE id = ? AND "
                "extended_on IS NULL", (on, RESTORED_TEXT, request_id)).rowcount
        elif step == "pause":
            if conn.execute("SELECT 1 FROM request_pauses WHERE request_id = ? AND paused_on = ?",
                            (request_id, on)).fetchone() is None:
                changed = conn.execute("INSERT INTO request_pauses (request_id, reason, "
                                       "paused_on) VALUES (?, ?, ?)",
                                       (request_id, RESTORED_TEXT, on)).rowcount
        elif step == "resume":
            changed = conn.execute(
                "UPDATE request_pauses SET resumed_on = ? WHERE request_id = ? AND paused_on = ? "
                "AND resumed_on IS NULL", (on, request_id, entry.get("paused_on"))).rowcount
        elif step == "review":
            changed = conn.execute(
                "UPDATE requests SET reviewed_on = ?, review_outcome = ?, reviewer = ?, "
                "review_note = ? WHERE id = ? AND reviewed_on IS NULL",
                (on, entry.get("outcome"), RESTORED_TEXT, RESTORED_TEXT, request_id)).rowcount
        elif step == "close":
            changed = conn.execute(
                "UPDATE requests SET status = 'closed', closed_on = ?, outcome = ?, "
                "outcome_reason = ? WHERE id = ? AND status = 'open'",
                (on, entry.get("outcome"), RESTORED_TEXT if texts else None,
                 request_id)).rowcount
        if changed:
            self._texts(request_id, texts)
            self._audit(f"request {step}", row["subject_id"], request=request_id)
            self.result.steps += 1

    def _action(self, entry: dict[str, Any]) -> None:
        request_id, action, at = str(entry["request_id"]), str(entry["action"]), str(entry["at"])
        detail = json.dumps(entry["detail"], sort_keys=True)
        if self.conn.execute("SELECT 1 FROM request_actions WHERE request_id = ? AND action = ? "
                             "AND at = ? AND detail = ?",
                             (request_id, action, at, detail)).fetchone() is not None:
            return
        self.conn.execute("INSERT INTO request_actions (request_id, action, at, detail) VALUES "
                          "(?, ?, ?, ?)", (request_id, action, at, detail))
        self._audit("request action", entry["subject_id"], request=request_id, action=action)
        self.result.actions += 1

    def _list(self, entry: dict[str, Any], why: str) -> None:
        request_id, subject_id, kind = self._keys(entry)
        self.listed[request_id] = {
            "request_id": request_id, "kind": kind, "subject_id": subject_id,
            "received_on": entry.get("received_on"), "why": why, "steps": []}

    def _skip(self, request_id: str) -> None:
        if request_id not in self.taken:
            self.taken.add(request_id)
            self.result.skipped.append({"request_id": request_id, "why": ID_TAKEN})

    def _texts(self, request_id: str, texts: list[str]) -> None:
        if texts:
            self.texts.setdefault(request_id, set()).update(texts)

    # --- Art. 19 notices -------------------------------------------------------------------

    def _notice(self, entry: dict[str, Any]) -> None:
        subject_id, disclosure = str(entry["subject_id"]), int(entry["disclosure_id"])
        event, created = str(entry["event"]), str(entry["created_at"])
        if self.conn.execute("SELECT 1 FROM recipient_notices WHERE disclosure_id = ? AND "
                             "event = ? AND created_at = ? AND subject_id = ?",
                             (disclosure, event, created, subject_id)).fetchone() is not None:
            return  # the backup holds it
        if created < self.backup_at:
            return  # made before the backup, gone from it: dropped by a void, or swept once told
        if event != "erasure" and self.conn.execute(
                "SELECT 1 FROM subjects WHERE id = ?", (subject_id,)).fetchone() is None:
            return  # a correction or restriction of data since erased: moot, as erasure makes it
        held = self.disclosures.get(disclosure)
        if held is None or held[0] != subject_id:
            self.result.redo_notices.append({
                "subject_id": subject_id, "disclosure_id": disclosure, "event": event,
                "request_id": entry["request_id"], "noted_on": created[:10],
                "notified_on": None})
            return
        made = self.conn.execute(
            "INSERT INTO recipient_notices (subject_id, disclosure_id, recipient, recipient_type, "
            "event, request_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (subject_id, disclosure, held[1], held[2], event, entry["request_id"], created))
        self._audit("notice", subject_id, notice=made.lastrowid, disclosure=disclosure,
                    event=event)
        self.result.notices += 1

    def _told(self, entry: dict[str, Any]) -> None:
        subject_id, disclosure = str(entry["subject_id"]), int(entry["disclosure_id"])
        on, at = str(entry["notified_on"]), str(entry["at"])
        told = self.conn.execute(
            "UPDATE recipient_notices SET notified_on = ? WHERE disclosure_id = ? AND "
            "subject_id = ? AND notified_on IS NULL AND created_at <= ?",
            (on, disclosure, subject_id, at)).rowcount
        if told:
            self._audit("disclosure notified", subject_id, disclosure=disclosure, notices=told)
            self.result.notices_told += 1
        for listed in self.result.redo_notices:
            if (listed["disclosure_id"], listed["subject_id"]) == (disclosure, subject_id) and \
                    listed["notified_on"] is None and listed["noted_on"] <= at[:10]:
                listed["notified_on"] = on

    # --- the end ---------------------------------------------------------------------------

    def _audit(self, command: str, subject_id: str | None, **detail: Any) -> None:
        audit.record(self.conn, at=self.stamp, actor=self.actor,
                     command=f"restore: replay: {command}", subject_id=subject_id, **detail)

    def finish(self) -> RegisterReplay:
        """What to list: the requests not rebuilt (with their steps), and the texts the restored
        requests lack (not those a replayed erasure took: they went with the subject)."""
        self.result.redo_requests = list(self.listed.values())
        for request_id, names in sorted(self.texts.items()):
            missing = []
            for name in sorted(names):
                table, column = _TEXTS[name]
                key = "request_id" if table == "request_pauses" else "id"
                if self.conn.execute(f"SELECT 1 FROM {table} WHERE {key} = ? AND {column} = ?",
                                     (request_id, RESTORED_TEXT)).fetchone() is not None:
                    missing.append(name)
            if missing:
                self.result.redo_texts.append({"request_id": request_id, "fields": missing})
        return self.result


def _step_of(entry: dict[str, Any]) -> dict[str, Any]:
    """A listed request's step or action, as the restore lists it (dates, outcomes, ids)."""
    if entry["scope"] == "request_action":
        return {"step": f"action {entry['action']}", "on": str(entry["at"])[:10]}
    step = {"step": entry["step"], "on": entry["on"]}
    if entry.get("outcome"):
        step["outcome"] = entry["outcome"]
    return step
