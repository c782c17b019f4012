"""The retention plan finds candidates with an index range scan (a cut-off widened by `SLACK` for
month-end clamping), then decides in Python. Property: on random small stores, what it says is due
on a day, and its 12-month forecast, are exactly what the rules' arithmetic gives when applied to
every row, with no range filter at all. The days include month ends and 29 February; the day of the
plan is often a due date itself, a day either side of one, or in the year before one."""

from __future__ import annotations

import calendar
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from pigment_cli.clock import day_of
from pigment_cli.policy import Policy, default_policy, parse_policy
from pigment_cli.policy.rules import after, item_due, subject_due
from pigment_cli.retention.plan import Plan, plan
from pigment_cli.store.connection import init_store

POLICIES = {
    "default": default_policy(),  # 7 years; CCTV 30 days, web activity 13 months of their own
    "minors": parse_policy(default_policy().source.replace(
        "[requests]", "[retention.minors]\nuntil_age = 25\nuntil_age_if_17 = 26\n\n[requests]")),
}
CATEGORIES = ["cctv", "web_activity", "medical_history", "identity"]  # two with a rule, two without
FIRST, LAST = date(2000, 1, 1), date(2030, 12, 31)


def _day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


# any day, or one where month arithmetic clamps: month ends, 28 and 29 February, the 1st after
awkward = st.builds(_day, st.integers(FIRST.year, LAST.year), st.integers(1, 12),
                    st.sampled_from([1, 28, 29, 30, 31]))
days = st.one_of(st.dates(min_value=FIRST, max_value=LAST), awkward)
times = st.sampled_from(["", "T00:00:00", "T09:30:00", "T23:59:59"])  # stored as a day or a time


@dataclass(frozen=True)
class Store:
    policy: str
    subjects: list[tuple[str, str, str | None]]  # id, last_processed_at, dob
    items: list[tuple[int, str, str, str]]  # id, subject id, category, processed_at
    as_of: date


def _born(last: date, age: int, days_more: int, leap: bool) -> date:
    born = last - relativedelta(years=age) - timedelta(days=days_more)
    if leap:  # the nearest 29 February on or before
        while not calendar.isleap(born.year) or born < date(born.year, 2, 29):
            born = date(born.year - 1, 12, 31)
        born = date(born.year, 2, 29)
    return born


@st.composite
def stores(draw: st.DrawFn) -> Store:
    name = draw(st.sampled_from(sorted(POLICIES)))
    policy = POLICIES[name]
    subjects = []
    for n in range(draw(st.integers(0, 8))):
        last = draw(days)
        dob = None
        if draw(st.booleans()):  # aged 0 to 30 at the last processing; 17 and 18 are the edges
            dob = _born(last, draw(st.integers(0, 30)), draw(st.integers(0, 366)),
                        draw(st.booleans())).isoformat()
        subjects.append((f"S-{n:05d}", last.isoformat() + draw(times), dob))
    items = []
    for n in range(draw(st.integers(0, 12)) if subjects else 0):
        subject = draw(st.sampled_from(subjects))[0]
        items.append((n + 1, subject, draw(st.sampled_from(CATEGORIES)),
                      draw(days).isoformat() + draw(times)))
    # The plan's day: any day; a due date itself; an edge: the day either side, and a month or a
    # year before (the forecast's window: its second and twelfth months, and just beyond); or a
    # day in the year before a due date (so that it falls due within the forecast).
    dues = [subject_due(policy, last, dob) for _, last, dob in subjects]
    for _, _, category, processed in items:
        rule = policy.retention_for(category)
        if rule:
            dues.append(after(day_of(processed), rule.after))
    edges = sorted({d + relativedelta(months=back) + timedelta(days=k)
                    for d in dues for back in (0, -1, -11, -12) for k in (-1, 0, 1)})
    choice = draw(st.sampled_from(["any", "due", "edge", "year before"])) if dues else "any"
    if choice == "year before":
        as_of = draw(st.sampled_from(dues)) - timedelta(days=draw(st.integers(1, 365)))
    else:
        as_of = draw({"any": days, "due": st.sampled_from(dues), "edge": st.sampled_from(edges)}[choice])
    return Store(name, subjects, items, as_of)


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    """One empty store; each example writes its rows in a transaction and rolls it back."""
    conn = init_store(tmp_path_factory.mktemp("plan") / "plan.db")
    yield conn
    conn.close()


def _plan(conn: sqlite3.Connection, store: Store, *, forecast: bool) -> Plan:
    """The plan for `store`'s day, made on its rows (written, planned, rolled back)."""
    conn.execute("BEGIN")
    try:
        conn.executemany(
            "INSERT INTO subjects (id, name, created_at, updated_at, last_processed_at, dob) "
            "VALUES (?, 'Property Person', '2000-01-01', '2000-01-01', ?, ?)", store.subjects)
        conn.executemany(
            "INSERT INTO items (id, subject_id, category, source, purpose, basis, collected_at, "
            "processed_at, created_at) VALUES (?, ?, ?, 'form', 'care', 'contract', ?, ?, "
            "'2000-01-01')", [(i, s, c, p, p) for i, s, c, p in store.items])
        return plan(conn, POLICIES[store.policy], store.as_of, forecast=forecast)
    finally:
        conn.execute("ROLLBACK")


def _subject_dues(policy: Policy, store: Store) -> dict[str, date]:
    return {sid: subject_due(policy, last, dob) for sid, last, dob in store.subjects}


@settings(max_examples=100, deadline=None)
@given(store=stores())
def test_what_is_due_is_what_the_rules_say_of_every_row(conn: sqlite3.Connection, store: Store) -> None:
    policy = POLICIES[store.policy]
    made = _plan(conn, store, forecast=False)
    subject_dues = _subject_dues(policy, store)
    due_subjects = {sid: on for sid, on in subject_dues.items() if on <= store.as_of}
    # an item of a subject who is due goes with the subject; any other falls due on its own rule
    due_items = {}
    for item, sid, category, processed in store.items:
        on = item_due(policy, category, processed, subject_dues[sid])
        if on <= store.as_of and sid not in due_subjects:
            due_items[item] = (sid, on)
    assert made.held == []  # the stores hold no holds and no requests
    assert sorted((e.subject_id, e.due) for e in made.subjects) == sorted(
        (sid, on.isoformat()) for sid, on in due_subjects.items())
    assert sorted((e.item, e.subject_id, e.due) for e in made.items) == sorted(
        (item, sid, on.isoformat()) for item, (sid, on) in due_items.items())


@settings(max_examples=100, deadline=None)
@given(store=stores())
def test_the_forecast_counts_what_the_rules_say_of_every_row(conn: sqlite3.Connection,
                                                             store: Store) -> None:
    policy, as_of = POLICIES[store.policy], store.as_of
    made = _plan(conn, store, forecast=True)
    # the 12 calendar months from as_of's own: what falls due after as_of and by as_of + 12 months
    months = [(as_of + relativedelta(months=k)).strftime("%Y-%m") for k in range(12)]
    horizon = as_of + relativedelta(months=12)
    subjects: Counter[str] = Counter()
    items: Counter[str] = Counter()
    for on in _subject_dues(policy, store).values():
        if as_of < on <= horizon:
            subjects[on.strftime("%Y-%m")] += 1
    for _, _, category, processed in store.items:
        rule = policy.retention_for(category)
        on = after(day_of(processed), rule.after) if rule else None
        if on and as_of < on <= horizon:
            items[on.strftime("%Y-%m")] += 1
    assert [(m.month, m.subjects, m.items) for m in made.forecast] == [
        (month, subjects[month], items[month]) for month in months]

