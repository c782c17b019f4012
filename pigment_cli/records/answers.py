"""What was done to answer a request: `erase --request`, `item correct --request`, `restrict
--request`, ... record their action against the request they answer, so a request cannot be
closed as done while its action is missing (`rights.requests.close`).

The register of requests itself (its kinds, clock and lifecycle) is `pigment_cli.rights.requests`;
this module only reads a request's row to check that an action may answer it, and writes the
action. Actions hold ids and counts, never values, and are journalled so a restore redoes them.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from pigment_cli.errors import BadInput, NotFound
from pigment_cli.store.session import Session

# Which actions answer which kinds of request (an action answers any of the kinds listed).
ACTION_KINDS: dict[str, tuple[str, ...]] = {
    "export": ("access", "portability"),
    "erase": ("erasure",),
    "correct": ("rectification",),
    "update": ("rectification",),
    "remove": ("rectification", "erasure"),
    "void": ("rectification",),
    "restrict": ("restriction",),
    "unrestrict": ("restriction",),
    "object": ("objection",),
}


def request_row(conn: sqlite3.Connection, request_id: str) -> sqlite3.Row:
    """The request's row (id, subject_id, kind, status), or NotFound."""
    key = (request_id or "").strip().upper()
    row: sqlite3.Row | None = conn.execute(
        "SELECT id, subject_id, kind, status, closed_on FROM requests WHERE id = ?", (key,)
    ).fetchone()
    if row is None:
        shown = key if re.fullmatch(r"R-[0-9A-Z]{5}", key) else "with that id"
        raise NotFound(f"no request {shown} (ids look like R-7K3Q9; see: pigment request list)")
    return row


def check_answerable(conn: sqlite3.Connection, request_id: str, subject_id: str,
                     action: str) -> sqlite3.Row:
    """Raise BadInput unless `action` on `subject_id` can answer the request: it is open, of a
    kind the action answers, and about this subject. Returns the request's row."""
    row = request_row(conn, request_id)
    kinds = ACTION_KINDS[action]
    if row["status"] == "closed":
        raise BadInput(f"request {row['id']} was closed on {row['closed_on']}; it cannot be "
                       "answered again")
    if row["kind"] not in kinds:
        raise BadInput(f"request {row['id']} is a {row['kind']} request; {action} answers "
                       f"{' or '.join(kinds)} requests")
    if row["subject_id"] != subject_id:
        raise BadInput(f"request {row['id']} is not about {subject_id}")
    return row


def record_answer(s: Session, request_id: str | None, subject_id: str, action: str,
                  **detail: Any) -> str | None:
    """Record that `action` answered the request (when one is given); returns its id. Call inside
    the session's transaction, after checking with `check_answerable` before changing anything."""
    if request_id is None:
        return None
    row = check_answerable(s.conn, request_id, subject_id, action)
    s.conn.execute("INSERT INTO request_actions (request_id, action, at, detail) VALUES "
                   "(?, ?, ?, ?)", (row["id"], action, s.stamp,
                                    json.dumps(detail, sort_keys=True)))
    s.journal("request_action", request_id=row["id"], subject_id=subject_id, kind=row["kind"],
              action=action, detail=detail, at=s.stamp)  # a restore replays it
    return str(row["id"])


def actions_of(conn: sqlite3.Connection, request_id: str) -> list[dict[str, Any]]:
    """A request's actions, oldest first: {"action", "at", "detail"}."""
    rows = conn.execute("SELECT action, at, detail FROM request_actions WHERE request_id = ? "
                        "ORDER BY id", (request_id,)).fetchall()
    return [{"action": r[0], "at": r[1], "detail": json.loads(r[2])} for r in rows]
