"""Subject-access deadline arithmetic (legal-notes rules 1-8): a table of cases derived by hand from
the rules, the bank holidays, and hypothesis properties. (`pigment sar deadline` is in
cli/test_sar.py.)"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pigment_cli.clock import bank_holidays, roll_to_working_day, sar_due_date, sar_raw_end
from pigment_cli.errors import BadInput

# (received, extended, paused days, due, why). England & Wales bank holidays.
CASES = [
    ("2024-09-03", False, 0, "2024-10-03", "same day-number next month (ICO example)"),
    ("2024-11-25", False, 0, "2024-12-27", "25 and 26 Dec 2024 are bank holidays (ICO example)"),
    ("2023-01-31", False, 0, "2023-02-28", "no 31 Feb: last day of February"),
    ("2024-01-31", False, 0, "2024-02-29", "leap year: 29 Feb"),
    ("2025-03-31", False, 0, "2025-04-30", "no 31 April: 30 April"),
    ("2024-03-31", False, 0, "2024-04-30", "no 31 April, leap year makes no difference"),
    ("2025-08-31", False, 0, "2025-09-30", "no 31 September"),
    ("2026-05-31", False, 0, "2026-06-30", "no 31 June"),
    ("2023-02-28", False, 0, "2023-03-28", "28 Feb -> 28 Mar, not the month's end"),
    ("2026-10-07", False, 0, "2026-11-09", "raw end Saturday 7 Nov -> Monday"),
    ("2026-10-08", False, 0, "2026-11-09", "raw end Sunday 8 Nov -> Monday"),
    ("2025-03-18", False, 0, "2025-04-22", "Good Friday 18 Apr, weekend, Easter Monday 21 Apr"),
    ("2026-03-03", False, 0, "2026-04-07", "Good Friday 3 Apr 2026 -> Tuesday after Easter"),
    ("2026-03-06", False, 0, "2026-04-07", "Easter Monday 6 Apr 2026"),
    ("2024-02-29", False, 0, "2024-04-02", "leap day -> 29 Mar 2024 is Good Friday"),
    ("2026-04-04", False, 0, "2026-05-05", "early May bank holiday 4 May 2026"),
    ("2025-04-26", False, 0, "2025-05-27", "spring bank holiday 26 May 2025"),
    ("2026-07-31", False, 0, "2026-09-01", "summer bank holiday 31 Aug 2026"),
    ("2026-11-25", False, 0, "2026-12-29", "Christmas Fri, Boxing Day Sat, substitute Mon 28 Dec"),
    ("2027-11-25", False, 0, "2027-12-29", "Christmas on a weekend: substitutes 27 and 28 Dec 2027"),
    ("2026-12-01", False, 0, "2027-01-04", "New Year's Day Friday, then a weekend: across the year"),
    ("2025-12-31", False, 0, "2026-02-02", "31 Jan 2026 is a Saturday"),
    ("2026-11-28", False, 0, "2026-12-29", "received on a Saturday: any day starts the clock"),
    ("2025-12-25", False, 0, "2026-01-26", "received on Christmas Day; 25 Jan 2026 is a Sunday"),
    ("2024-01-31", True, 0, "2024-04-30", "extended: 3 months from start, not 29 Feb + 2 months"),
    ("2025-01-31", True, 0, "2025-04-30", "extended, not a leap year: still 30 Apr, not 28 Apr"),
    ("2023-11-30", True, 0, "2024-02-29", "extended into a leap February"),
    ("2025-09-26", True, 0, "2025-12-29", "extended onto Boxing Day 2025, then a weekend"),
    ("2026-10-20", False, 4, "2026-11-24", "4 paused days added to 20 Nov"),
    ("2024-11-20", False, 5, "2024-12-27", "pause pushes the end onto Christmas, then rolled"),
    ("2025-01-31", False, 2, "2025-03-03", "clamped to 28 Feb, +2 days = Sunday 2 Mar -> Monday"),
    ("2024-10-31", True, 3, "2025-02-03", "extended to 31 Jan 2025, +3 = Monday 3 Feb"),
]


@pytest.mark.parametrize(("received", "extended", "paused", "due", "why"), CASES,
                         ids=[c[4] for c in CASES])
def test_deadline_table(received: str, extended: bool, paused: int, due: str, why: str) -> None:
    start = date.fromisoformat(received)
    assert sar_due_date(start, extended=extended, paused_days=paused).isoformat() == due, why


def test_the_table_has_enough_cases() -> None:
    assert len(CASES) >= 20


def test_substitute_days_come_from_the_holidays_library() -> None:
    closed = bank_holidays("GB", "ENG", 2026, 2027)
    assert date(2026, 12, 28) in closed  # Boxing Day (substitute day)
    assert date(2027, 12, 27) in closed and date(2027, 12, 28) in closed
    assert date(2026, 4, 6) in closed  # Easter Monday: England, not Scotland
    assert date(2026, 4, 6) not in bank_holidays("GB", "SCT", 2026, 2026)


def test_scotland_rolls_over_st_andrews_day() -> None:
    start = date(2026, 10, 30)  # raw end Monday 30 Nov 2026: St Andrew's Day in Scotland only
    assert sar_due_date(start).isoformat() == "2026-11-30"
    assert sar_due_date(start, country="GB", subdivision="SCT").isoformat() == "2026-12-01"


def test_an_unknown_region_is_bad_input() -> None:
    with pytest.raises(BadInput, match="holidays library"):
        roll_to_working_day(date(2026, 1, 1), "XX", None)


# --- properties -------------------------------------------------------------------------------


starts = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


@settings(max_examples=300, deadline=None)
@given(start=starts, extended=st.booleans(), paused=st.integers(min_value=0, max_value=120))
def test_due_is_a_working_day_never_before_the_raw_end(start: date, extended: bool, paused: int) -> None:
    due = sar_due_date(start, extended=extended, paused_days=paused)
    raw = sar_raw_end(start, extended=extended, paused_days=paused)
    assert due.weekday() < 5
    assert due not in bank_holidays("GB", "ENG", due.year, due.year)
    assert raw <= due <= raw + timedelta(days=5)  # the longest English run is Christmas: 4 days
    assert due >= start + timedelta(days=28 + paused)  # never shorter than the shortest month


@settings(max_examples=200, deadline=None)
@given(start=starts, paused=st.integers(min_value=0, max_value=60))
def test_extended_is_never_earlier_and_pauses_never_shorten(start: date, paused: int) -> None:
    normal = sar_due_date(start, paused_days=paused)
    assert sar_due_date(start, extended=True, paused_days=paused) >= normal
    assert sar_due_date(start, paused_days=paused + 1) >= normal
    assert sar_due_date(start + timedelta(days=1), paused_days=paused) >= normal


@settings(max_examples=200, deadline=None)
@given(start=starts)
def test_raw_end_is_the_same_day_number_or_the_month_end(start: date) -> None:
    raw = sar_raw_end(start)
    assert (raw.year * 12 + raw.month) - (start.year * 12 + start.month) == 1
    if raw.day != start.day:
        assert raw.day < start.day and (raw + timedelta(days=1)).day == 1
