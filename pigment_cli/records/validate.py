"""Shared validators: free text, subject fields, dates as stored, and an item's fields against the
policy. A `FieldError` names the field (and, for imports, the column) but never quotes the value."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime

from pigment_cli.clock import MAX_YEAR, MIN_YEAR, normalise_when, parse_date
from pigment_cli.errors import BadInput, Refused
from pigment_cli.policy import Policy

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{6,20}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SUBJECT_FIELDS = ("name", "title", "dob", "email", "phone", "address", "external_id")


class FieldRefused(Refused):
    """A value the policy refuses (exit 3), e.g. a category its purpose may not use. Like
    FieldError, `column` and `reason` are for import reports and never quote the value."""

    def __init__(self, message: str, column: str, reason: str) -> None:
        super().__init__(message)
        self.column = column
        self.reason = reason


def category_refused(purpose: str, allowed: tuple[str, ...], column: str,
                     outside: list[str]) -> FieldRefused:
    """A purpose uses only the categories the policy lists for it (UK GDPR Art. 5(1)(b)-(c))."""
    listed = ", ".join(allowed)
    return FieldRefused(
        f"refused: purpose {purpose!r} may use only these categories of data: {listed} (the "
        f"policy's purposes.{purpose}.categories), not {', '.join(outside)}. Nothing was "
        "recorded.", column, f"is not a category purpose {purpose!r} may use ({listed})")


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
            raise FieldError("--dob is in the future", key, "is in the future")  # never echo it
        if born.year < 1890:
            raise FieldError("--dob is before 1890; check the year", key,
                             "is before 1890; check the year")
        value = born.isoformat()
    elif key == "email" and value is not None:
        if not EMAIL.match(value):
            raise FieldError("--email is not an email address (expected name@example.org)", key,
                             "is not an email address (expected name@example.org)")
        value = value.lower()
    elif key == "phone" and value is not None and not _PHONE.match(value):
        raise FieldError("--phone is not a telephone number (digits, spaces, + ( ) - only)", key,
                         "is not a telephone number (digits, spaces, + ( ) - only)")
    return value


def validated_fields(fields: Mapping[str, str | None], today: date) -> dict[str, str | None]:
    return {key: subject_field(key, raw, today) for key, raw in fields.items()}


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
    if not policy.knows("categories", category):
        raise _unknown(policy, "categories", category, "category")
    if not policy.knows("sources", source):
        raise _unknown(policy, "sources", source, "source")
    the_purpose = policy.find_purpose(purpose)
    if the_purpose is None:
        raise _unknown(policy, "purposes", purpose, "purpose")
    if the_purpose.categories and category not in the_purpose.categories:
        raise category_refused(purpose, the_purpose.categories, "category", [category])
    purpose_basis = the_purpose.basis
    if basis is None:
        basis = purpose_basis
    elif not policy.knows("bases", basis):
        raise _unknown(policy, "bases", basis, "basis")
    if (basis == "consent") != (purpose_basis == "consent"):
        if purpose_basis == "consent":
            raise FieldError(f"purpose {purpose!r} rests on consent; its basis must be 'consent'",
                             "basis", "must be 'consent': the purpose rests on consent")
        raise FieldError(f"purpose {purpose!r} rests on {purpose_basis!r}, not on consent",
                         "basis", f"cannot be 'consent': the purpose rests on {purpose_basis!r}")
    text = clean_text(value, "--value", multiline=True, column="value")
    # Data collected on a past day and not processed since was last processed when collected:
    # entering it today is record-keeping, not new processing for a purpose.
    if processed:
        processed_at = check_when(processed, "--processed", "processed_at")
    elif collected:
        processed_at = check_when(collected, "--collected", "collected_at")
    else:
        processed_at = stamp
    collected_at = check_when(collected, "--collected", "collected_at") if collected else processed_at
    if processed_at[:10] > today or collected_at[:10] > today:
        raise FieldError("--collected/--processed cannot be in the future",
                         "processed_at" if processed_at[:10] > today else "collected_at",
                         "is in the future")
    if collected_at[:10] > processed_at[:10]:
        raise FieldError("--collected cannot be after --processed", "collected_at",
                         "is after processed_at")
    return category, source, purpose, basis, text, collected_at, processed_at


