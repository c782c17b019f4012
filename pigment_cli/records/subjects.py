"""Subjects: a person the clinic holds data on. Add, rectify, find, list.

The retention clock (`last_processed_at`) moves only when the clinic processes the person's data
for one of its purposes: an item added or processed again (`bump_processed`, called by
records.items and the importer). Rectifying a field, recording a consent or its withdrawal, a
rights request, a disclosure, a hold, an export or a report never moves it (UK GDPR Art. 5(1)(e)).
Every function is called inside the command's transaction."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pigment_cli.clock import day_of, normalise_when
from pigment_cli.errors import BadInput, NeedsConfirmation, NotFound
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
                duplicate_ok: bool = False, **fields: str | None) -> Subject:
    """Add a subject. One who looks like someone already held (`likely_duplicates`) is refused
    with NeedsConfirmation (exit 3, ids only) unless `duplicate_ok` says a person confirmed it."""
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
    if not duplicate_ok:
        matches = duplicate_matches(conn, values["name"], values.get("dob"), values.get("email"))
        if matches:
            said = describe_duplicates(matches)
            raise NeedsConfirmation(f"{said}: nothing was added (check with: pigment subject "
                                    "show ID; give --yes to add anyway)", f"{said}; add anyway?")
    subject_id = fresh_id(conn, "S", SUBJECT_ID_TAKEN)
    conn.execute(SUBJECT_INSERT, (
        subject_id, values.get("external_id"), values["name"], values.get("title"),
        values.get("dob"), values.get("email"), values.get("phone"), values.get("address"), stamp,
        stamp, processed,
    ))
    s.audit("subject add", subject_id, fields=sorted(k for k, v in values.items() if v))
    return get_subject(conn, subject_id)


# --- likely duplicates: the same person entered twice ---------------------------------------

SAME_NAME_DOB = "name and date of birth"
SAME_EMAIL = "email"
SAME_BOTH = "name, date of birth and email"
NAME_KEY_SQL = "pigment_name_key"  # the SQL name of `name_key`, registered by `use_name_key`


def name_key(name: str | None) -> str | None:
    """A name as duplicates are matched: case-folded (any script), runs of spaces as one."""
    if not name:
        return None
    return " ".join(name.casefold().split()) or None


def use_name_key(conn: sqlite3.Connection) -> None:
    """Make `name_key` callable from SQL on this connection as pigment_name_key(name)."""
    conn.create_function(NAME_KEY_SQL, 1, name_key, deterministic=True)


@dataclass(frozen=True)
class DuplicateMatch:
    """A subject already held who looks like the person being added, and what they share
    (`same`: SAME_NAME_DOB, SAME_EMAIL or SAME_BOTH). Ids only: never a value."""

    subject_id: str
    same: str


def duplicate_matches(conn: sqlite3.Connection, name: str | None, dob: str | None,
                      email: str | None) -> list[DuplicateMatch]:
    """Subjects with the same name (case and spacing ignored) and date of birth, or the same
    email (case ignored), by id. A name alone, or a date of birth alone, is not a match: two
    people may share either. The email uses its index; name and date of birth take one pass over
    the subjects table (about 30 ms for 100,000 subjects)."""
    same: dict[str, list[str]] = {}
    key = name_key(name)
    if key and dob and dob.strip():
        use_name_key(conn)
        rows = conn.execute(f"SELECT id FROM subjects WHERE dob = ? AND {NAME_KEY_SQL}(name) = ?",
                            (dob.strip(), key)).fetchall()
        for (subject_id,) in rows:
            same.setdefault(subject_id, []).append(SAME_NAME_DOB)
    if email and email.strip():
        rows = conn.execute("SELECT id FROM subjects WHERE email = ? COLLATE NOCASE",
                            (email.strip(),)).fetchall()
        for (subject_id,) in rows:
            same.setdefault(subject_id, []).append(SAME_EMAIL)
    return [DuplicateMatch(sid, SAME_BOTH if len(what) > 1 else what[0])
            for sid, what in sorted(same.items())]


def likely_duplicates(conn: sqlite3.Connection, name: str | None, dob: str | None,
                      email: str | None) -> list[str]:
    """The ids of subjects who look like this person (see `duplicate_matches`), sorted."""
    return [m.subject_id for m in duplicate_matches(conn, name, dob, email)]


@dataclass(frozen=True)
class AddedDuplicate:
    """A subject added in bulk who looks like another (held before, or added with them):
    `rank` is their place among the subjects added (1 = the first), for the caller to turn into
    a line of its file. At most `MAX_LIKE` matches are kept."""

    rank: int
    subject_id: str
    like: list[DuplicateMatch]


MAX_LIKE = 5


def duplicates_added_after(conn: sqlite3.Connection, rowid: int) -> list[AddedDuplicate]:
    """The subjects added after `rowid` (the table's largest rowid before a bulk insert: SQLite
    numbers new rows upwards from it) who share a name and date of birth, or an email, with any
    other subject, in the order they were added. Two grouped passes, whatever the sizes: the
    email by its index; name and date of birth over the rows whose date of birth an added
    subject has."""
    use_name_key(conn)
    same: dict[int, dict[int, list[str]]] = {}
    for what, sql in (
        (SAME_NAME_DOB, f"SELECT group_concat(rowid) FROM subjects WHERE dob IN (SELECT dob FROM "
         f"subjects WHERE rowid > ?1 AND dob IS NOT NULL) GROUP BY dob, {NAME_KEY_SQL}(name) "
         "HAVING count(*) > 1 AND max(rowid) > ?1"),
        (SAME_EMAIL, "SELECT group_concat(rowid) FROM subjects WHERE email COLLATE NOCASE IN "
         "(SELECT email FROM subjects WHERE rowid > ?1 AND email IS NOT NULL) "
         "GROUP BY email COLLATE NOCASE HAVING count(*) > 1 AND max(rowid) > ?1"),
    ):
        for (members,) in conn.execute(sql, (rowid,)):
            group = sorted(int(m) for m in members.split(","))
            for member in group:
                if member > rowid:
                    for other in [o for o in group[:MAX_LIKE + 1] if o != member][:MAX_LIKE]:
                        same.setdefault(member, {}).setdefault(other, []).append(what)
    if not same:
        return []
    added = json.dumps(sorted(same))
    ranks = {r: (rank, sid) for r, rank, sid in conn.execute(
        "SELECT r, rank, id FROM (SELECT rowid AS r, id, row_number() OVER (ORDER BY rowid) AS "
        "rank FROM subjects WHERE rowid > ?) WHERE r IN (SELECT value FROM json_each(?))",
        (rowid, added))}
    others = json.dumps(sorted({o for like in same.values() for o in like}))
    ids = dict(conn.execute("SELECT rowid, id FROM subjects WHERE rowid IN "
                            "(SELECT value FROM json_each(?))", (others,)).fetchall())
    found = []
    for member, like in sorted(same.items()):
        matches = [DuplicateMatch(ids[o], SAME_BOTH if len(what) > 1 else what[0])
                   for o, what in sorted(like.items())][:MAX_LIKE]  # those held longest first
        rank, subject_id = ranks[member]
        found.append(AddedDuplicate(rank, subject_id, matches))
    return found


def describe_duplicates(matches: Iterable[DuplicateMatch], shown: int = 5) -> str:
    """ "S-7K3Q9 has the same name and date of birth; S-2PX4M and S-9QW3E have the same email":
    ids and what they share, never a value (at most `shown` ids for each)."""
    groups: dict[str, list[str]] = {same: [] for same in (SAME_BOTH, SAME_NAME_DOB, SAME_EMAIL)}
    for match in sorted(matches, key=lambda m: m.subject_id):
        groups[match.same].append(match.subject_id)
    parts = []
    for same, ids in groups.items():
        if not ids:
            continue
        named = ", ".join(ids[:shown]) + (f" and {len(ids) - shown} more" if len(ids) > shown
                                          else "")
        if 1 < len(ids) <= shown:
            named = ", ".join(ids[:-1]) + " and " + ids[-1]
        parts.append(f"{named} {'has' if len(ids) == 1 else 'have'} the same {same}")
    return "; ".join(parts)


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


