"""The injectable "now", strict ISO date parsing, and date arithmetic helpers.

Domain functions take `now`/`today` as arguments; only the CLI reads the system clock (through
`system_now`, which tests may replace).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from dateutil.parser import isoparse

from pigment_cli.errors import BadInput

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
DATE_EXAMPLE = "2026-03-31"
TIMESTAMP_EXAMPLE = "2026-03-31T14:05:00"


def system_now() -> datetime:
    """The wall clock, in UTC, to the second. The only place pigment reads the time."""
    return datetime.now(UTC).replace(microsecond=0)


def iso_now(now: datetime) -> str:
    """Stored timestamps are UTC without an offset: YYYY-MM-DDTHH:MM:SS (they sort as text)."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now.replace(microsecond=0).isoformat()


def parse_date(text: str, what: str = "date") -> date:
    """Parse YYYY-MM-DD strictly (a full ISO timestamp is accepted and cut to its day)."""
    value = text.strip()
    if _ISO_TIMESTAMP.match(value):
        return parse_timestamp(value, what).date()
    if not _ISO_DATE.match(value):
        raise BadInput(f"{what} {text!r} is not a date; use ISO form such as {DATE_EXAMPLE}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{what} {text!r} is not a real day; use ISO form such as {DATE_EXAMPLE}") from None


def parse_timestamp(text: str, what: str = "time") -> datetime:
    """Parse an ISO date or timestamp; a bare date means midnight. Offsets are converted to UTC."""
    value = text.strip()
    if _ISO_DATE.match(value):
        return datetime.combine(parse_date(value, what), datetime.min.time())
    if not _ISO_TIMESTAMP.match(value):
        raise BadInput(
            f"{what} {text!r} is not a date or time; use ISO form such as "
            f"{DATE_EXAMPLE} or {TIMESTAMP_EXAMPLE}"
        )
    try:
        parsed = isoparse(value.replace(" ", "T"))
    except ValueError:
        raise BadInput(f"{what} {text!r} is not a real time; use ISO form such as {TIMESTAMP_EXAMPLE}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.replace(microsecond=0)


def normalise_when(text: str, what: str = "date") -> str:
    """The canonical stored text of a user-given date or time: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS."""
    value = text.strip()
    if _ISO_DATE.match(value):
        return parse_date(value, what).isoformat()
    return parse_timestamp(value, what).isoformat()


def day_of(stored: str) -> date:
    """The day of a stored date or timestamp."""
    return date.fromisoformat(stored[:10])
