"""Subjects: a person the clinic holds data on. Add, rectify, find, list.

The retention clock (`last_processed_at`) moves only when the clinic processes the person's data
for one of its purposes: an item added or processed again (`bump_processed`, called by
records.items and the importer). Rectifying a field, recording a consent or its withdrawal, a
rights request, a disclosure, a hold, an export or a report never moves it (UK GDPR Art. 5(1)(e)).
Every function is called inside the command's transaction."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from pigment_cli.clock import day_of, normalise_when
from pigment_cli.errors import BadInput, NotFound
from pigment_cli.records.ids import fresh_id
from pigment_cli.records.models import Subject
from pigment_cli.records.validate import clean_text, validated_fields
from pigment_cli.store.session import Session

_SUBJECT_ID = re.compile(r"^S-[0-9A-Z]{5}$")
# An erased subject's id is never given to anyone else: its tombstone keeps it taken.
SUBJECT_ID_TAKEN = "SELECT 1 FROM subjects WHERE id = ?1 UNION ALL SELECT 1 FROM tombstones WHERE subject_id = ?1"
# The one INSERT of a subject (the bulk importer and the demo batch it with executemany).
SUBJECT_INSERT = (
    "INSERT INTO subjects (id, external_id, name, title, dob, email, phone, address, created_at, "
    "updated_at, last_processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SUBJECT_COLUMNS = (
    "id, name, title, dob, email, phone, address, external_id, created_at, updated_at, "
    "last_processed_at"
)


def subject_from_row(row: sqlite3.Row) -> Subject:
    return Subject(
        id=row["id"], name=row["name"], title=row["title"], dob=row["dob"], email=row["email"],
        phone=row["phone"], address=row["address"], external_id=row["external_id"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        last_processed_at=row["last_processed_at"],
    )



def get_subject(conn: sqlite3.Connection, subject_id: str) -> Subject:
    """The subject with this id; NotFound (exit 2) says whether it was erased or never existed."""
    key = subject_id.strip().upper()
    row = conn.execute(f"SELECT {SUBJECT_COLUMNS} FROM subjects WHERE id = ?", (key,)).fetchone()
    if row is not None:
        return subject_from_row(row)
    erased = conn.execute(
        "SELECT erased_at FROM tombstones WHERE subject_id = ?", (key,)
    ).fetchone()
    if erased is not None:
        raise NotFound(f"subject {key} was erased on {erased[0][:10]}; nothing is held on them")
    shown = key if _SUBJECT_ID.match(key) else "with that id"
    raise NotFound(f"no subject {shown} (ids look like S-7K3Q9; find one with: pigment subject find)")


def bump_processed(conn: sqlite3.Connection, subject_id: str, when: str) -> None:
    """Record that the subject's data was processed at `when` (keeps the latest)."""
    conn.execute(
        "UPDATE subjects SET last_processed_at = max(last_processed_at, ?) WHERE id = ?",
        (when, subject_id),
    )


def add_subject(s: Session, *, name: str, processed_at: str | None = None,
                **fields: str | None) -> Subject:
    conn = s.conn
    values = validated_fields({"name": name, **fields}, s.today)
    if not values.get("name"):
        raise BadInput("--name is required and cannot be empty")
    if values.get("external_id") and conn.execute(
        "SELECT 1 FROM subjects WHERE external_id = ?", (values["external_id"],)
    ).fetchone():
        raise BadInput("another subject already has that external id")
    stamp = s.stamp
    processed = normalise_when(processed_at, "--processed") if processed_at else stamp
    if day_of(processed) > s.today:
        raise BadInput("--processed cannot be in the future")
    subject_id = fresh_id(conn, "S", SUBJECT_ID_TAKEN)
    conn.execute(SUBJECT_INSERT, (
        subject_id, values.get("external_id"), values["name"], values.get("title"),
        values.get("dob"), values.get("email"), values.get("phone"), values.get("address"), stamp,
        stamp, processed,
    ))
    s.audit("subject add", subject_id, fields=sorted(k for k, v in values.items() if v))
    return get_subject(conn, subject_id)


def update_subject(s: Session, subject_id: str, **fields: str | None) -> tuple[Subject, list[str]]:
    """Rectify the given fields (None = leave as is, "" = clear). Returns the subject and the
    names of the fields that changed. A rectification does not move the retention clock."""
    conn = s.conn
    current = get_subject(conn, subject_id)
    given = {k: v for k, v in fields.items() if v is not None}
    if not given:
        raise BadInput("nothing to change; give at least one of --name --title --dob --email "
                       "--phone --address")
    values = validated_fields(given, s.today)
    if "name" in values and not values["name"]:
        raise BadInput("--name cannot be cleared")
    changed = [k for k, v in values.items() if getattr(current, k) != v]
    if changed:
        stamp = s.stamp
        assignments = ", ".join(f"{k} = ?" for k in changed)
        conn.execute(
            f"UPDATE subjects SET {assignments}, updated_at = ? WHERE id = ?",
            (*(values[k] for k in changed), stamp, current.id),
        )
    s.audit("subject update", current.id, fields=changed)
    if changed:  # a restore lists it to redo: field names only, never the new values
        s.journal("rectification", subject_id=current.id, fields=changed)
    return get_subject(conn, current.id), changed


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def find_subjects(s: Session, text: str, limit: int = 50) -> list[Subject]:
    """Subjects whose id, external id, name, email or phone contains `text`, case-insensitively.

    Exact ids and emails answer from indexes; otherwise one pass over the subjects table (about
    30 ms for 100,000 subjects).
    """
    conn = s.conn
    query = clean_text(text, "search text")
    if not query:
        raise BadInput("give some text to search for (a name, email, phone or id)")
    exact = conn.execute(
        f"SELECT {SUBJECT_COLUMNS} FROM subjects WHERE id = ? OR email = ? COLLATE NOCASE "
        "OR external_id = ? LIMIT ?",
        (query.upper(), query, query, limit),
    ).fetchall()
    if exact:
        s.audit("subject find", matches=len(exact))
        return [subject_from_row(r) for r in exact]
    digits = re.sub(r"[^0-9]", "", query)
    phone_clause = ""
    args: list[Any] = [_like(query)] * 3
    if len(digits) >= 4 and re.fullmatch(r"[0-9 +()\-.]+", query):
        stripped = "replace(replace(replace(phone, ' ', ''), '-', ''), '+', '')"
        phone_clause = f" OR {stripped} LIKE ? ESCAPE '\\'"
        args.append(_like(digits))
        if digits.startswith("44") and len(digits) > 6:  # +44 7700 ... is 07700 ... at home
            phone_clause += f" OR {stripped} LIKE ? ESCAPE '\\'"
            args.append(_like("0" + digits[2:]))
    rows = conn.execute(
        f"SELECT {SUBJECT_COLUMNS} FROM subjects WHERE name LIKE ? ESCAPE '\\' "
        "OR email LIKE ? ESCAPE '\\' OR external_id LIKE ? ESCAPE '\\'"
        f"{phone_clause} ORDER BY name, id LIMIT ?",
        (*args, limit),
    ).fetchall()
    s.audit("subject find", matches=len(rows))
    return [subject_from_row(r) for r in rows]


def list_subjects(s: Session, limit: int | None = None,
                  offset: int = 0) -> tuple[list[Subject], int]:
    conn = s.conn
    total = conn.execute("SELECT count(*) FROM subjects").fetchone()[0]
    rows = conn.execute(
        f"SELECT {SUBJECT_COLUMNS} FROM subjects ORDER BY name, id LIMIT ? OFFSET ?",
        (-1 if limit is None else limit, offset),
    ).fetchall()
    s.audit("subject list", listed=len(rows))
    return [subject_from_row(r) for r in rows], total


