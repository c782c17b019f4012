"""Aggregates under disclosure control: small counts hidden, the rest rounded, and no total that
gives a hidden cell away."""

from __future__ import annotations

from datetime import date

from pigment_cli.reports.aggregates import HIDDEN, Control, Report, period


def test_control_suppresses_small_counts_and_rounds_the_rest() -> None:
    control = Control()
    assert [control.show(n) for n in (0, 1, 7, 8, 12, 13, 102)] == [0, "*", "*", 10, 10, 15, 100]


def test_secondary_suppression_protects_a_lone_hidden_cell() -> None:
    report = Report("t", "t", "row", ["a", "b", "c"],
                    [("r1", [3, 40, 50]), ("r2", [20, 30, 60])])
    published = report.published(Control())
    rows = {r["row"]: r for r in published["rows"]}
    assert rows["r1"]["a"] == HIDDEN
    # another cell of row r1 is hidden too, so the row total cannot give the 3 away ...
    assert sum(1 for c in ("a", "b", "c") if rows["r1"][c] == HIDDEN) >= 2
    # ... and the same holds down column a
    assert sum(1 for r in ("r1", "r2") if rows[r]["a"] == HIDDEN) >= 2


def test_a_lone_non_zero_cell_hides_its_total() -> None:
    report = Report("t", "t", "row", ["a", "b"], [("r1", [3, 0]), ("r2", [0, 0])])
    rows = {r["row"]: r for r in report.published(Control())["rows"]}
    assert rows["r1"]["a"] == HIDDEN and rows["r1"]["total"] == HIDDEN
    assert rows["total"]["a"] == HIDDEN


def test_statistics_over_few_values_are_not_shown() -> None:
    few = Report("t", "t", "row", ["a"], [("r", [9])], stats={"median": (12.0, 3)})
    many = Report("t", "t", "row", ["a"], [("r", [9])], stats={"median": (12.0, 9)})
    assert few.published(Control())["statistics"]["median"] == HIDDEN
    assert many.published(Control())["statistics"]["median"] == 12.0


def test_a_hidden_row_total_cannot_be_worked_out_from_the_grand_total() -> None:
    report = Report("t", "t", "row", ["a", "b", "c"], [("r1", [3, 0, 0]), ("r2", [10, 10, 10])])
    rows = {r["row"]: r for r in report.published(Control(round_to=1))["rows"]}
    hidden_totals = [r for r in ("r1", "r2") if rows[r]["total"] == HIDDEN]
    assert len(hidden_totals) != 1  # 33 - 30 would give the 3 away


def test_requests_received_is_the_protected_total_of_its_outcomes() -> None:
    report = Report("requests", "t", "month", ["answered on time", "answered late", "still open"],
               [("2026-10", [27, 3, 0])], total_label="received")
    row = report.published(Control(round_to=1))["rows"][0]
    assert row["answered late"] == HIDDEN
    assert row["answered on time"] == HIDDEN or row["received"] == HIDDEN


def test_report_periods_are_whole_months() -> None:
    assert period(date(2026, 11, 25), date(2026, 3, 17), date(2026, 5, 2)) == (
        date(2026, 3, 1), date(2026, 5, 31))
    assert period(date(2026, 11, 25), None, None) == (date(2025, 12, 1), date(2026, 11, 25))
