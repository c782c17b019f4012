"""Aggregated business reports that cannot identify anyone (NHS England disclosure control).

Counts from 1 to `suppress_below - 1` show as "*", other counts are rounded to the nearest
`round_to` (0 stays 0); a statistic computed from fewer than `suppress_below` values is not shown;
and secondary suppression hides a second cell wherever a row or column total could otherwise give a
hidden cell away. Reports carry no ids, names, emails or free text: only policy keys and months.

Building a report is processing for the policy's `reporting` purpose (legitimate interests): a
subject who objected to it (UK GDPR Art. 21(1)), or whose data is restricted for it (Art. 18), is
left out of every report built from the store's subjects (`records.restrictions.stopped_subjects`).
"""

from __future__ import annotations

import json
import sqlite3
import statistics
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta

from pigment_cli.errors import BadInput
from pigment_cli.policy import Policy
from pigment_cli.records.consents import consent_counts
from pigment_cli.records.restrictions import REPORTING, stopped_subjects
from pigment_cli.rights.requests import request_views

HIDDEN = "*"
REPORTS = ("consents", "sources", "requests", "retention")
LEFT_OUT_NOTE = f"Left out: people who objected to {REPORTING} or are restricted (Art. 18, 21)."


@dataclass(frozen=True)
class Control:
    suppress_below: int = 8
    round_to: int = 5

    @classmethod
    def from_policy(cls, policy: Policy) -> Control:
        return cls(*policy.report_control())

    def small(self, count: int) -> bool:
        return 0 < count < self.suppress_below

    def show(self, count: int) -> int | str:
        if count == 0:
            return 0
        if self.small(count):
            return HIDDEN
        return int(self.round_to * round(count / self.round_to))


@dataclass
class Report:
    """A grid of true counts; `published()` applies disclosure control to it."""

    name: str
    title: str
    row_label: str
    columns: list[str]
    rows: list[tuple[str, list[int]]]
    totals: bool = True  # a total row (column sums)
    row_totals: bool = True  # a total column: only where a row's cells add up to something
    total_label: str = "total"  # what the total column is called (e.g. "received")
    stats: dict[str, tuple[float | None, int]] = field(default_factory=dict)  # name -> (value, n)
    notes: list[str] = field(default_factory=list)

    def published(self, control: Control) -> dict[str, Any]:
        grid = [list(counts) for _, counts in self.rows]
        hidden = [[control.small(c) for c in row] for row in grid]
        row_totals = [sum(row) for row in grid]
        col_totals = [sum(col) for col in zip(*grid, strict=True)] if grid else [0] * len(self.columns)
        hide_row_total = [False] * len(grid)
        hide_col_total = [False] * len(self.columns)
        if self.totals:
            if not self.row_totals:
                hide_row_total = [True] * len(grid)  # no row totals shown: nothing to protect
            _secondary_suppression(grid, hidden, hide_row_total, hide_col_total)
            # The totals are lines too: the grand total is shown, so one hidden row total (or
            # column total) could be worked out from it and the others.
            if self.row_totals:
                _protect_totals(row_totals, hide_row_total)
            _protect_totals(col_totals, hide_col_total)
        cells = [
            [HIDDEN if hidden[r][c] else control.show(grid[r][c]) for c in range(len(self.columns))]
            for r in range(len(grid))
        ]
        out_rows = []
        for r, (label, _) in enumerate(self.rows):
            row: dict[str, Any] = {self.row_label: label}
            row.update(dict(zip(self.columns, cells[r], strict=True)))
            if self.totals and self.row_totals:
                row[self.total_label] = (HIDDEN if hide_row_total[r]
                                         else control.show(row_totals[r]))
            out_rows.append(row)
        result: dict[str, Any] = {
            "report": self.name, "title": self.title,
            "columns": [self.row_label, *self.columns,
                        *([self.total_label] if self.totals and self.row_totals else [])],
            "rows": out_rows,
            "disclosure_control": {
                "suppressed": f"1-{control.suppress_below - 1} shown as {HIDDEN}",
                "rounded_to": control.round_to,
            },
            "notes": self.notes,
        }
        if self.totals:
            total_row: dict[str, Any] = {self.row_label: "total"}
            for c, name in enumerate(self.columns):
                total_row[name] = HIDDEN if hide_col_total[c] else control.show(col_totals[c])
            if self.row_totals:
                total_row[self.total_label] = control.show(sum(row_totals))
            result["rows"].append(total_row)
        result["statistics"] = {
            name: (HIDDEN if value is None or n < control.suppress_below else round(value, 1))
            for name, (value, n) in self.stats.items()
        }
        return result


def _secondary_suppression(grid: list[list[int]], hidden: list[list[bool]],
                           hide_row_total: list[bool], hide_col_total: list[bool]) -> None:
    """Make sure no hidden cell can be worked out from its row or column total: wherever a row
    (or column) has exactly one hidden cell, hide the smallest other non-zero cell there too, or,
    if there is none, hide that row's (column's) total. Repeats until nothing changes."""
    rows, cols = len(grid), len(grid[0]) if grid else 0

    def fix(line: list[tuple[int, int]], hide_total: list[bool], index: int) -> bool:
        hidden_here = [(r, c) for r, c in line if hidden[r][c]]
        if len(hidden_here) != 1 or hide_total[index]:
            return False
        others = [(grid[r][c], r, c) for r, c in line if not hidden[r][c] and grid[r][c] > 0]
        if others:
            _, r, c = min(others)
            hidden[r][c] = True
        else:
            hide_total[index] = True
        return True

    changed = True
    while changed:
        changed = False
        for r in range(rows):
            changed |= fix([(r, c) for c in range(cols)], hide_row_total, r)
        for c in range(cols):
            changed |= fix([(r, c) for r in range(rows)], hide_col_total, c)


def _protect_totals(totals: list[int], hidden: list[bool]) -> None:
    """If exactly one non-zero total is hidden, hide the smallest other non-zero one too."""
    shown = [(t, i) for i, t in enumerate(totals) if t > 0 and not hidden[i]]
    if sum(1 for i, t in enumerate(totals) if t > 0 and hidden[i]) == 1 and shown:
        hidden[min(shown)[1]] = True


# --- the reports -------------------------------------------------------------------------------


def _months(start: date, end: date) -> list[str]:
    months, cursor = [], start.replace(day=1)
    while cursor <= end:
        months.append(cursor.strftime("%Y-%m"))
        cursor += relativedelta(months=1)
    return months


def period(today: date, start: date | None, end: date | None) -> tuple[date, date]:
    """Whole months only: --from goes back to the 1st, --to on to the month's end (never past
    today), so two reports can never be differenced down to a few days' worth of people."""
    end = end or today
    start = start or (end.replace(day=1) - relativedelta(months=11))
    start = start.replace(day=1)
    end = min(end.replace(day=1) + relativedelta(months=1, days=-1), max(today, start))
    if start > end:
        raise BadInput(f"--from {start.isoformat()} is after --to {end.isoformat()}")
    if len(_months(start, end)) > 60:
        raise BadInput("a report covers at most 60 months; narrow --from/--to")
    return start, end


def consents_report(conn: sqlite3.Connection, policy: Policy, start: date, end: date,
                    leave_out: frozenset[str] = frozenset()) -> Report:
    """Per consent purpose: current state on `end`, and grants/withdrawals recorded in the period
    (the subjects in `leave_out` not counted)."""
    purposes = policy.consent_purposes()
    state = {p: (c["granted"], c["withdrawn"]) for p, c in consent_counts(
        conn, policy, end.isoformat(), leave_out=leave_out).items()}
    moves = {p: (0, 0) for p in purposes}
    for purpose, grants, withdrawals in conn.execute(
        "SELECT purpose, sum(action = 'grant'), sum(action = 'withdraw') FROM consent_events "
        "WHERE substr(at, 1, 10) BETWEEN ? AND ? AND subject_id NOT IN (SELECT value FROM "
        "json_each(?)) GROUP BY purpose",
        (start.isoformat(), end.isoformat(), json.dumps(sorted(leave_out))),
    ):
        moves[purpose] = (grants, withdrawals)
    rows = []
    for purpose in purposes:
        granted, withdrawn = state.get(purpose, (0, 0))
        rows.append((purpose, [granted, withdrawn, moves[purpose][0], moves[purpose][1]]))
    return Report("consents", f"Consents on {end.isoformat()} (grants and withdrawals "
                  f"{start.isoformat()} to {end.isoformat()})", "purpose",
                  ["granted", "withdrawn", "grants in period", "withdrawals in period"], rows,
                  totals=False,
                  notes=["Rows are purposes, not people: one person may appear in several rows."])


def sources_report(conn: sqlite3.Connection, policy: Policy, start: date, end: date,
                   leave_out: frozenset[str] = frozenset()) -> Report:
    """How data came in: items collected per source (rows) and month (columns) (the items of the
    subjects in `leave_out` not counted)."""
    months = _months(start, end)
    counts: dict[tuple[str, str], int] = {}
    for source, month, n in conn.execute(
        "SELECT source, substr(collected_at, 1, 7), count(*) FROM items "
        "WHERE substr(collected_at, 1, 10) BETWEEN ? AND ? AND subject_id NOT IN (SELECT value "
        "FROM json_each(?)) GROUP BY 1, 2",
        (start.isoformat(), end.isoformat(), json.dumps(sorted(leave_out))),
    ):
        counts[(source, month)] = n
    sources = policy.keys("sources") + sorted({s for s, _ in counts} - set(policy.keys("sources")))
    rows = [(source, [counts.get((source, m), 0) for m in months]) for source in sources]
    return Report("sources", f"Data items collected, by source and month ({start.isoformat()} to "
                  f"{end.isoformat()})", "source", months, rows)


def requests_report(conn: sqlite3.Connection, policy: Policy, start: date, end: date,
                    today: date, leave_out: frozenset[str] = frozenset()) -> Report:
    """Requests of every kind by month received: answered on time, late, still open (those of
    the subjects in `leave_out` not counted)."""
    months = _months(start, end)
    grid = {m: [0, 0, 0] for m in months}  # on time, late, open: they add up to those received
    days: list[int] = []
    for view in request_views(conn, policy, today):
        month = view.received_on[:7]
        if month not in grid or view.subject_id in leave_out:
            continue
        if view.status == "closed" and view.closed_on:
            on_time = view.closed_on <= view.due
            grid[month][0 if on_time else 1] += 1
            days.append((date.fromisoformat(view.closed_on)
                         - date.fromisoformat(view.received_on)).days)
        else:
            grid[month][2] += 1
    rows = [(m, grid[m]) for m in months]
    median = statistics.median(days) if days else None
    return Report("requests", f"Requests (every kind) by month received ({start.isoformat()} to "
                  f"{end.isoformat()})", "month",
                  ["answered on time", "answered late", "still open"], rows,
                  total_label="received",
                  stats={"median days to answer": (median, len(days))})


def retention_report(conn: sqlite3.Connection, policy: Policy, start: date, end: date) -> Report:
    """Erasures per month: whole subjects, and single items under category rules."""
    months = _months(start, end)
    grid = {m: [0, 0, 0] for m in months}
    for month, by_rule, by_request, items in conn.execute(
        """
        SELECT substr(erased_at, 1, 7),
               sum(scope = 'subject' AND rule NOT LIKE 'request:%'),
               sum(scope = 'subject' AND rule LIKE 'request:%'),
               sum(CASE WHEN scope = 'item' THEN count ELSE 0 END)
        FROM erasures WHERE substr(erased_at, 1, 10) BETWEEN ? AND ? GROUP BY 1
        """,
        (start.isoformat(), end.isoformat()),
    ):
        if month in grid:
            grid[month] = [by_rule, by_request, items]
    rows = [(m, grid[m]) for m in months]
    return Report("retention", f"Erasures by month ({start.isoformat()} to {end.isoformat()})",
                  "month", ["subjects (retention rule)", "subjects (on request)",
                            "single items (category rule or request)"], rows, row_totals=False)


def build(conn: sqlite3.Connection, policy: Policy, name: str, *, today: date,
          start: date | None = None, end: date | None = None) -> dict[str, Any]:
    if name not in REPORTS:
        raise BadInput(f"unknown report {name!r}; reports: {', '.join(REPORTS)}")
    first, last = period(today, start, end)
    # Art. 18, 21(1): reporting stops for a subject who objected to it or is restricted for it.
    # (The retention report counts erasures: the people erased are no longer in the store.)
    leave_out = frozenset(stopped_subjects(conn, policy, REPORTING))
    if name == "consents":
        report = consents_report(conn, policy, first, last, leave_out)
    elif name == "sources":
        report = sources_report(conn, policy, first, last, leave_out)
    elif name == "requests":
        report = requests_report(conn, policy, first, last, today, leave_out)
    else:
        report = retention_report(conn, policy, first, last)
    if name != "retention":
        report.notes.append(LEFT_OUT_NOTE)
    return report.published(Control.from_policy(policy))
