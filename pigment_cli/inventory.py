"""Subjects and the data items held on them: add, rectify, find, list, and the full holding view.

Every function takes an open connection and is called inside the command's transaction; times come
in as arguments (`now`), never from the clock.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from datetime import date, datetime
from typing import Any

from pigment_cli.clock import MAX_YEAR, MIN_YEAR, day_of, normalise_when, parse_date
from pigment_cli.errors import BadInput, NotFound, Refused
from pigment_cli.models import Item, Subject
from pigment_cli.policy import Policy
from pigment_cli.retention import item_due, subject_due
from pigment_cli.session import Session

ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_SUBJECT_ID = re.compile(r"^S-[0-9A-Z]{5}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{6,20}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SUBJECT_FIELDS = ("name", "title", "dob", "email", "phone", "address", "external_id")
_SUBJECT_COLUMNS = (
    "id, name, title, dob, email, phone, address, external_id, created_at, updated_at, "
    "last_processed_at"
)
_ITEM_COLUMNS = (
    "id, subject_id, category, source, purpose, basis, value, collected_at, processed_at"
)


def new_id(prefix: str) -> str:
    return prefix + "-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(5))


class FieldError(BadInput):
    """A bad value in one field. `message` is for the command line (it may quote what was typed);
    `column` and `reason` are for import reports, which never quote the value."""

    def __init__(self, message: str, column: str, reason: str) -> None:
        super().__init__(message)
        self.column = column
        self.reason = reason


MAX_LINE = 1_000  # a name, a title, a reason: one line
MAX_MULTILINE = 1_000_000  # an address, a clinical note


def clean_text(value: str | None, what: str, *, multiline: bool = False,
               column: str | None = None) -> str | None:
    """Strip a user-given text; refuse control characters (NUL, escapes) that no field needs."""
    if value is None:
        return None
    text = value.strip()
    # _CONTROL leaves out tab, line feed and carriage return: only single-line fields refuse those.
    if _CONTROL.search(text) or (not multiline and ("\n" in text or "\r" in text)):
        raise FieldError(f"{what} contains control characters; remove them and try again",
                         column or what, "contains control characters")
    limit = MAX_MULTILINE if multiline else MAX_LINE
    if len(text) > limit:
        raise FieldError(f"{what} is too long ({len(text):,} characters; at most {limit:,})",
                         column or what, f"longer than {limit:,} characters")
    return text or None


def subject_field(key: str, raw: str | None, today: date) -> str | None:
    """One subject field checked and normalised (ISO date, lower-case email); FieldError if bad."""
    if key not in SUBJECT_FIELDS:
        raise BadInput(f"unknown subject field {key!r}")
    value = clean_text(raw, f"--{key.replace('_', '-')}", multiline=key == "address", column=key)
    if key == "dob" and value is not None:
        try:
            born = parse_date(value, "--dob")
        except BadInput as exc:
            raise FieldError(exc.message, key, "is not a date; use ISO form such as 1985-04-12") from None
        if born > today:
            raise FieldError(f"--dob {born.isoformat()} is in the future", key, "is in the future")
        if born.year < 1890:
            raise FieldError(f"--dob {born.isoformat()} is before 1890; check the year", key,
                             "is before 1890; check the year")
        value = born.isoformat()
    elif key == "email" and value is not None:
        if not _EMAIL.match(value):
            raise FieldError("--email is not an email address (expected name@example.org)", key,
                             "is not an email address (expected name@example.org)")
        value = value.lower()
    elif key == "phone" and value is not None and not _PHONE.match(value):
        raise FieldError("--phone is not a telephone number (digits, spaces, + ( ) - only)", key,
                         "is not a telephone number (digits, spaces, + ( ) - only)")
    return value


def _validated_fields(fields: dict[str, str | None], today: date) -> dict[str, str | None]:
    return {key: subject_field(key, raw, today) for key, raw in fields.items()}


def _subject(row: sqlite3.Row) -> Subject:
    return Subject(
        id=row["id"], name=row["name"], title=row["title"], dob=row["dob"], email=row["email"],
        phone=row["phone"], address=row["address"], external_id=row["external_id"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        last_processed_at=row["last_processed_at"],
    )


def _item(row: sqlite3.Row) -> Item:
    return Item(
        id=row["id"], subject_id=row["subject_id"], category=row["category"],
        source=row["source"], purpose=row["purpose"], basis=row["basis"], value=row["value"],
        collected_at=row["collected_at"], processed_at=row["processed_at"],
    )


def get_subject(conn: sqlite3.Connection, subject_id: str) -> Subject:
    """The subject with this id; NotFound (exit 2) says whether it was erased or never existed."""
    key = subject_id.strip().upper()
    row = conn.execute(f"SELECT {_SUBJECT_COLUMNS} FROM subjects WHERE id = ?", (key,)).fetchone()
    if row is not None:
        return _subject(row)
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
    values = _validated_fields({"name": name, **fields}, s.today)
    if not values.get("name"):
        raise BadInput("--name is required and cannot be empty")
    if values.get("external_id") and conn.execute(
        "SELECT 1 FROM subjects WHERE external_id = ?", (values["external_id"],)
    ).fetchone():
        raise BadInput("another subject already has that external id")
    stamp = s.stamp
    processed = normalise_when(processed_at, "processed") if processed_at else stamp
    for _ in range(20):
        subject_id = new_id("S")
        taken = conn.execute(
            "SELECT 1 FROM subjects WHERE id = ? UNION ALL SELECT 1 FROM tombstones "
            "WHERE subject_id = ?", (subject_id, subject_id),
        ).fetchone()
        if not taken:
            break
    else:  # pragma: no cover - 33 million ids; twenty collisions in a row means a broken RNG
        raise RuntimeError("could not find a free subject id")
    conn.execute(
        "INSERT INTO subjects (id, name, title, dob, email, phone, address, external_id, "
        "created_at, updated_at, last_processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (subject_id, values["name"], values.get("title"), values.get("dob"), values.get("email"),
         values.get("phone"), values.get("address"), values.get("external_id"), stamp, stamp,
         processed),
    )
    s.audit("subject add", subject_id, fields=sorted(k for k, v in values.items() if v))
    return get_subject(conn, subject_id)


def update_subject(s: Session, subject_id: str, **fields: str | None) -> tuple[Subject, list[str]]:
    """Rectify the given fields (None = leave as is, "" = clear). Returns the subject and the
    names of the fields that changed."""
    conn = s.conn
    current = get_subject(conn, subject_id)
    given = {k: v for k, v in fields.items() if v is not None}
    if not given:
        raise BadInput("nothing to change; give at least one of --name --title --dob --email "
                       "--phone --address")
    values = _validated_fields(given, s.today)
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
        bump_processed(conn, current.id, stamp)
    s.audit("subject update", current.id, fields=changed)
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
        f"SELECT {_SUBJECT_COLUMNS} FROM subjects WHERE id = ? OR email = ? COLLATE NOCASE "
        "OR external_id = ? LIMIT ?",
        (query.upper(), query, query, limit),
    ).fetchall()
    if exact:
        s.audit("subject find", matches=len(exact))
        return [_subject(r) for r in exact]
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
        f"SELECT {_SUBJECT_COLUMNS} FROM subjects WHERE name LIKE ? ESCAPE '\\' "
        "OR email LIKE ? ESCAPE '\\' OR external_id LIKE ? ESCAPE '\\'"
        f"{phone_clause} ORDER BY name, id LIMIT ?",
        (*args, limit),
    ).fetchall()
    s.audit("subject find", matches=len(rows))
    return [_subject(r) for r in rows]


def list_subjects(s: Session, limit: int | None = None,
                  offset: int = 0) -> tuple[list[Subject], int]:
    conn = s.conn
    total = conn.execute("SELECT count(*) FROM subjects").fetchone()[0]
    rows = conn.execute(
        f"SELECT {_SUBJECT_COLUMNS} FROM subjects ORDER BY name, id LIMIT ? OFFSET ?",
        (-1 if limit is None else limit, offset),
    ).fetchall()
    s.audit("subject list", listed=len(rows))
    return [_subject(r) for r in rows], total


# --- items ------------------------------------------------------------------------------------

_CANONICAL_WHEN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2})?$")
# check_when's answers by text (it is a pure function): exports repeat their dates, and a bulk
# import checks two per row. Bounded, so memory stays flat.
_WHEN_SEEN: dict[str, str] = {}
_WHEN_SEEN_MAX = 8192


def check_when(text: str, what: str, column: str) -> str:
    """normalise_when, with a fast path for text already in stored form (bulk imports), raising
    FieldError (naming `column`, never the value) for anything that is not a date or time."""
    stored = _WHEN_SEEN.get(text)
    if stored is not None:
        return stored
    if _CANONICAL_WHEN.match(text) and MIN_YEAR <= int(text[:4]) <= MAX_YEAR:
        try:
            datetime.fromisoformat(text)
            stored = text
        except ValueError:
            pass
    if stored is None:
        try:
            stored = normalise_when(text, what)
        except BadInput as exc:
            raise FieldError(exc.message, column, "is not a date or time; use ISO form such as "
                             "2026-03-31 or 2026-03-31T14:05:00") from None
    if len(_WHEN_SEEN) >= _WHEN_SEEN_MAX:
        _WHEN_SEEN.clear()
    _WHEN_SEEN[text] = stored
    return stored


def _unknown(policy: Policy, kind: str, value: str, column: str) -> FieldError:
    try:
        policy.require(kind, value)
    except BadInput as exc:
        return FieldError(exc.message, column,
                          f"is not a {column} of the policy (see: pigment policy show)")
    raise AssertionError("unreachable: the value is known")  # pragma: no cover


def check_item(policy: Policy, today: str, stamp: str, *, category: str, source: str, purpose: str,
               basis: str | None = None, value: str | None = None, collected: str | None = None,
               processed: str | None = None) -> tuple[str, str, str, str, str | None, str, str]:
    """An item's fields checked against the policy and the calendar (`today` as YYYY-MM-DD):
    returns (category, source, purpose, basis, value, collected_at, processed_at) as stored, or
    raises FieldError. A missing `processed` means `stamp`; a missing `collected`, `processed`."""
    data = policy.data
    if category not in data["categories"]:
        raise _unknown(policy, "categories", category, "category")
    if source not in data["sources"]:
        raise _unknown(policy, "sources", source, "source")
    if purpose not in data["purposes"]:
        raise _unknown(policy, "purposes", purpose, "purpose")
    purpose_basis = str(data["purposes"][purpose]["basis"])
    if basis is None:
        basis = purpose_basis
    elif basis not in data["bases"]:
        raise _unknown(policy, "bases", basis, "basis")
    if (basis == "consent") != (purpose_basis == "consent"):
        if purpose_basis == "consent":
            raise FieldError(f"purpose {purpose!r} rests on consent; its basis must be 'consent'",
                             "basis", "must be 'consent': the purpose rests on consent")
        raise FieldError(f"purpose {purpose!r} rests on {purpose_basis!r}, not on consent",
                         "basis", f"cannot be 'consent': the purpose rests on {purpose_basis!r}")
    text = clean_text(value, "--value", multiline=True, column="value")
    processed_at = check_when(processed, "--processed", "processed_at") if processed else stamp
    collected_at = check_when(collected, "--collected", "collected_at") if collected else processed_at
    if processed_at[:10] > today or collected_at[:10] > today:
        raise FieldError("--collected/--processed cannot be in the future",
                         "processed_at" if processed_at[:10] > today else "collected_at",
                         "is in the future")
    if collected_at[:10] > processed_at[:10]:
        raise FieldError("--collected cannot be after --processed", "collected_at",
                         "is after processed_at")
    return category, source, purpose, basis, text, collected_at, processed_at



def add_item(s: Session, subject_id: str, *, category: str, source: str, purpose: str, basis: str | None = None,
             value: str | None = None, collected: str | None = None,
             processed: str | None = None) -> Item:
    conn = s.conn
    subject = get_subject(conn, subject_id)
    stamp = s.stamp
    category, source, purpose, basis, text, collected_at, processed_at = check_item(
        s.policy, s.today.isoformat(), stamp, category=category, source=source, purpose=purpose,
        basis=basis, value=value, collected=collected, processed=processed,
    )
    if basis == "consent":  # data for a consent purpose is held only while the consent stands
        from pigment_cli.consent import events_of, state_from  # consent imports this module

        consent = state_from(purpose, events_of(conn, subject.id, purpose))
        if not consent.granted:
            raise Refused(
                f"refused: {purpose!r} rests on consent and {subject.id}'s {purpose} consent is "
                f"not granted ({consent.state}); record the consent first (pigment consent grant "
                f"{subject.id} {purpose} --via ...). Nothing was recorded."
            )
    cur = conn.execute(
        "INSERT INTO items (subject_id, category, source, purpose, basis, value, collected_at, "
        "processed_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (subject.id, category, source, purpose, basis, text, collected_at, processed_at, stamp),
    )
    bump_processed(conn, subject.id, processed_at)
    item_id = int(cur.lastrowid or 0)
    s.audit("item add", subject.id, item=item_id, category=category, purpose=purpose)
    return get_item(conn, item_id)


def get_item(conn: sqlite3.Connection, item_id: int) -> Item:
    row = conn.execute(f"SELECT {_ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise NotFound(f"no item {item_id} (see the item ids with: pigment item list SUBJECT)")
    return _item(row)


def touch_item(s: Session, item_id: int, processed: str | None = None) -> Item:
    """Record a new processing of an item (it restarts the retention clock)."""
    conn = s.conn
    item = get_item(conn, item_id)
    when = normalise_when(processed, "--processed") if processed else s.stamp
    if day_of(when) > s.today:
        raise BadInput("--processed cannot be in the future")
    if when < item.processed_at:
        raise BadInput(f"item {item_id} was already processed later ({item.processed_at[:10]})")
    conn.execute("UPDATE items SET processed_at = ? WHERE id = ?", (when, item_id))
    bump_processed(conn, item.subject_id, when)
    s.audit("item touch", item.subject_id, item=item_id)
    return get_item(conn, item_id)


def _items_with_due(s: Session, subject: Subject, category: str | None = None) -> list[Item]:
    conn, policy = s.conn, s.policy
    if category:
        policy.require("categories", category)
    due_subject = subject_due(policy, subject.last_processed_at, subject.dob)
    sql = f"SELECT {_ITEM_COLUMNS} FROM items WHERE subject_id = ?"
    args: list[Any] = [subject.id]
    if category:
        sql += " AND category = ?"
        args.append(category)
    rows = conn.execute(sql + " ORDER BY category, collected_at, id", args).fetchall()
    out = []
    for row in rows:
        item = _item(row)
        due = item_due(policy, item.category, item.processed_at, due_subject)
        out.append(Item(**{**item.to_dict(), "erasure_due": due.isoformat()}))
    return out


def list_items(s: Session, subject_id: str, category: str | None = None) -> list[Item]:
    subject = get_subject(s.conn, subject_id)
    items = _items_with_due(s, subject, category)
    s.audit("item list", subject.id, items=len(items))
    return items


def holding(s: Session, subject_id: str) -> dict[str, Any]:
    """Everything held on a subject, as one JSON-ready document (the `subject show` view)."""
    from pigment_cli.consent import holding_rows as consent_rows  # they import this module
    from pigment_cli.disclosure import holding_rows as disclosure_rows
    from pigment_cli.sar import requests_of as _requests_of  # sar imports this module

    policy = s.policy
    subject = get_subject(s.conn, subject_id)
    items = _items_with_due(s, subject)
    s.audit("subject show", subject.id)
    categories: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        categories.setdefault(item.category, []).append(item.to_dict())
    return {
        "subject": subject.to_dict(),
        "retention": {
            "rule": policy.retention_label(),
            "erasure_due": subject_due(policy, subject.last_processed_at, subject.dob).isoformat(),
        },
        "items": categories,
        "item_count": len(items),
        # Filled in by the consent, disclosure, request and hold modules as they land.
        "consents": consent_rows(s.conn, policy, subject.id),
        "disclosures": disclosure_rows(s.conn, subject.id),
        "requests": [
            {"request": r["id"], "status": r["status"], "received": r["received_on"],
             "due": r["due"], "days_left": r["days_left"], "extended": r["extended_on"],
             "closed": r["closed_on"]}
            for r in _requests_of(s, subject.id)
        ],
        "holds": [
            {"hold": h["id"], "reason": h["reason"], "until": h["until"] or "until released",
             "since": h["created_at"][:10]}
            for h in s.conn.execute(
                "SELECT id, reason, until, created_at FROM holds WHERE subject_id = ? "
                "AND released_at IS NULL AND (until IS NULL OR until >= ?) ORDER BY created_at",
                (subject.id, s.today.isoformat()))
        ],
    }
