"""The injectable "now", strict ISO date parsing, and date arithmetic helpers.

Domain functions take `now`/`today` as arguments; only the CLI reads the system clock (through
`system_now`, which tests may replace).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from pigment_cli.errors import BadInput

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
DATE_EXAMPLE = "2026-03-31"
TIMESTAMP_EXAMPLE = "2026-03-31T14:05:00"


MIN_YEAR, MAX_YEAR = 1850, 2199  # far enough for birth dates and retention dates, and no overflow


def _in_range(day: date, what: str) -> date:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise BadInput(f"{what} is out of range (years {MIN_YEAR} to {MAX_YEAR})")
    return day


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
        raise BadInput(f"{what} is not a date; use ISO form such as {DATE_EXAMPLE}")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{what} is not a real day; use ISO form such as {DATE_EXAMPLE}") from None
    return _in_range(day, what)


def parse_timestamp(text: str, what: str = "time") -> datetime:
    """Parse an ISO date or timestamp; a bare date means midnight. Offsets are converted to UTC."""
    value = text.strip()
    if _ISO_DATE.match(value):
        return datetime.combine(parse_date(value, what), datetime.min.time())
    if not _ISO_TIMESTAMP.match(value):
        raise BadInput(
            f"{what} is not a date or time; use ISO form such as {DATE_EXAMPLE} or {TIMESTAMP_EXAMPLE}"
        )
    from dateutil.parser import isoparse  # ~7 ms to import: only when a full time is parsed

    try:
        parsed = isoparse(value.replace(" ", "T"))
    except ValueError:
        raise BadInput(f"{what} is not a real time; use ISO form such as {TIMESTAMP_EXAMPLE}") from None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise BadInput(f"{what} is out of range (years {MIN_YEAR} to {MAX_YEAR})") from None
    _in_range(parsed.date(), what)
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


# --- subject-access deadlines (UK GDPR Art. 12(3); ICO right-of-access guidance) ---------------
# The rules are spelled out in README.md ("Subject-access requests"). Bank holidays come from the
# `holidays` library for the policy's country and subdivision, never from a hand-kept list.

LONDON = "Europe/London"


def london_today(now: datetime) -> date:
    """The day it is in the clinic (a deadline is the end of its day, Europe/London).

    A naive `now` (e.g. from --as-of) is taken as UTC; if no time-zone data is installed the UTC
    day is used."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    aware = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    try:
        return aware.astimezone(ZoneInfo(LONDON)).date()
    except ZoneInfoNotFoundError:  # pragma: no cover - minimal systems without tzdata
        return aware.astimezone(UTC).date()


@lru_cache(maxsize=32)
def bank_holidays(country: str, subdivision: str | None, first_year: int,
                  last_year: int) -> frozenset[date]:
    """The bank holidays (substitute days included) of a region for a range of years, cached."""
    import holidays  # lazy for start-up: a large package, needed only for working-day deadlines

    try:
        table = holidays.country_holidays(
            country, subdiv=subdivision or None, years=range(first_year, last_year + 1)
        )
    except NotImplementedError:
        region = f"{country}/{subdivision}" if subdivision else country
        raise BadInput(
            f"the policy's bank-holiday region {region!r} is not known to the holidays library "
            "(requests.holidays_country / requests.holidays_subdivision)"
        ) from None
    return frozenset(table.keys())


def is_working_day(day: date, country: str = "GB", subdivision: str | None = "ENG") -> bool:
    return day.weekday() < 5 and day not in bank_holidays(country, subdivision, day.year, day.year)


def roll_to_working_day(day: date, country: str = "GB", subdivision: str | None = "ENG") -> date:
    """`day` itself if it is a working day, else the next one (weekends, bank holidays)."""
    closed = bank_holidays(country, subdivision, day.year, day.year + 1)
    while day.weekday() >= 5 or day in closed:
        day += timedelta(days=1)
    return day


def sar_raw_end(start: date, *, extended: bool = False, paused_days: int = 0) -> date:
    """The same day-number one month (three if extended) after `start`, clamped to the month's
    last day (31 Jan -> 28/29 Feb), plus the days the clock was stopped; not yet rolled."""
    months = 3 if extended else 1
    return start + relativedelta(months=months) + timedelta(days=paused_days)


def sar_due_date(start: date, *, extended: bool = False, paused_days: int = 0,
                 country: str = "GB", subdivision: str | None = "ENG") -> date:
    """The statutory due date of a subject-access request whose clock started on `start`."""
    raw = sar_raw_end(start, extended=extended, paused_days=paused_days)
    return roll_to_working_day(raw, country, subdivision)
