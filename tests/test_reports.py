"""Aggregated reports (no one identifiable), the status screen, the record of processing and the
Fides export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from pigment_cli.errors import ExitCode
from pigment_cli.policy import default_policy
from pigment_cli.reports.aggregates import HIDDEN, Control, Report


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


def _populate(cli, n_web: int, n_form: int, n_phone: int) -> list[tuple[str, str]]:
    people = []
    for source, count in (("website", n_web), ("form", n_form), ("phone", n_phone)):
        for k in range(count):
            name, email = f"Marker{source.title()}{k} Person", f"marker-{source}-{k}@example.org"
            sid = cli.ok("subject", "add", "--name", name, "--email", email).stdout.strip()
            cli.ok("item", "add", sid, "--category", "contact", "--source", source,
                   "--purpose", "care", "--processed", "2026-10-05")
            people.append((sid, name))
    return people


def test_source_report_hides_a_cell_of_three_and_no_total_reveals_it(cli, store: Path) -> None:
    people = _populate(cli, n_web=3, n_form=12, n_phone=20)
    result = cli.json("report", "sources", "--from", "2026-10-01", "--to", "2026-10-31")
    rows = {r["source"]: r for r in result["rows"]}
    assert rows["website"]["2026-10"] == HIDDEN
    assert rows["website"]["total"] == HIDDEN
    assert rows["phone"]["2026-10"] == 20
    assert rows["form"]["2026-10"] == HIDDEN  # secondary suppression: total - phone would give 3
    # the column total would reveal website = total - form - phone: it must be hidden or masked
    column = [rows[s]["2026-10"] for s in rows if s != "total"]
    assert column.count(HIDDEN) >= 2 or rows["total"]["2026-10"] == HIDDEN
    for fmt in ("table", "csv", "json"):
        output = cli.ok("report", "sources", "--format", fmt).stdout
        for sid, name in people:
            assert sid not in output and name not in output and "example.org" not in output


def test_every_report_renders_in_every_format_without_personal_data(cli, store: Path) -> None:
    people = _populate(cli, n_web=2, n_form=9, n_phone=0)
    sid = people[0][0]
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    cli.ok("sar", "open", sid, "--received", "2026-11-02")
    for name in ("consents", "sources", "requests", "retention"):
        for fmt in ("table", "csv", "json"):
            output = cli.ok("report", name, "--format", fmt).stdout
            for subject_id, person in people:
                assert subject_id not in output and person not in output
            if fmt == "csv":
                assert list(csv.reader(io.StringIO(output)))
            if fmt == "json":
                assert json.loads(output)["report"] == name


def test_report_errors(cli, store: Path) -> None:
    assert cli("report", "people").exit_code == ExitCode.BAD_INPUT
    assert cli("report", "sources", "--format", "xml").exit_code == ExitCode.BAD_INPUT
    assert cli("report", "sources", "--from", "2026-12-01", "--to", "2026-01-01").exit_code == 2
    assert cli("report", "sources", "--from", "1st May").exit_code == ExitCode.BAD_INPUT


def test_suppression_threshold_is_a_policy_key(cli, store: Path, tmp_path: Path) -> None:
    source = default_policy().source.replace("suppress_below = 8", "suppress_below = 3")
    path = tmp_path / "p.toml"
    path.write_text(source)
    cli.ok("policy", "apply", str(path))
    _populate(cli, n_web=4, n_form=0, n_phone=0)
    result = cli.json("report", "sources", "--from", "2026-10-01", "--to", "2026-10-31")
    assert result["rows"][0]["2026-10"] == 5  # 4 is no longer small: rounded to 5


def test_status_on_an_empty_store(cli, store: Path) -> None:
    view = cli.json("status")
    assert view["subjects"] == 0 and view["requests"]["open"] == 0
    assert view["audit"]["ok"] is True and view["retention"]["last_sweep"] is None
    assert "pigment status" in cli.ok("status").stdout


def test_status_on_a_busy_store(cli, store: Path) -> None:
    people = _populate(cli, n_web=2, n_form=3, n_phone=1)
    sid = people[0][0]
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    cli.ok("sar", "open", sid, "--received", "2026-09-01")
    cli.ok("hold", "add", people[1][0], "--reason", "debt")
    cli.ok("item", "add", people[2][0], "--category", "cctv", "--source", "cctv",
           "--purpose", "security", "--processed", "2026-11-20")
    cli.ok("retention", "sweep", "--apply")
    view = cli.json("status")
    assert view["subjects"] == 6 and view["holds"] == 1
    assert view["requests"]["overdue"] == 1 and view["requests"]["list"][0]["overdue"] is True
    assert view["consents"]["newsletter"]["granted"] == 1
    assert view["retention"]["next_due"] == "2026-12-20"
    assert view["retention"]["last_sweep"]["status"] == "done"
    table = cli.ok("status").stdout
    assert "OVERDUE" in table


def test_ropa_carries_every_purpose_with_its_basis(cli, store: Path) -> None:
    policy = default_policy()
    markdown = cli.ok("policy", "ropa").stdout
    for key, purpose in policy.data["purposes"].items():
        assert f"(`{key.replace('_', chr(92) + '_')}`)" in markdown
        assert policy.data["bases"][purpose["basis"]]["label"].split(" (")[0] in markdown
    assert "Pigment.lab" in markdown and "Hash-chained audit trail" in markdown
    rows = list(csv.DictReader(io.StringIO(cli.ok("policy", "ropa", "--format", "csv").stdout)))
    assert {r["purpose"] for r in rows} == set(policy.keys("purposes"))
    html = cli.ok("policy", "ropa", "--format", "html").stdout
    assert html.startswith("<!DOCTYPE html>") and "Schedule 1" in html
    assert cli("policy", "ropa", "--format", "pdf").exit_code == ExitCode.BAD_INPUT


def test_ropa_escapes_policy_text(cli, store: Path, tmp_path: Path) -> None:
    source = default_policy().source.replace('name = "Pigment.lab"', 'name = "<b>Pigment</b> | lab"', 1)
    path = tmp_path / "p.toml"
    path.write_text(source)
    cli.ok("policy", "apply", str(path))
    html = cli.ok("policy", "ropa", "--format", "html").stdout
    assert "<b>Pigment" not in html and "&lt;b&gt;Pigment" in html


def test_fides_export_maps_to_the_taxonomy(cli, store: Path, tmp_path: Path) -> None:
    manifest = yaml.safe_load(cli.ok("policy", "export", "--format", "fideslang").stdout)
    declarations = manifest["system"][0]["privacy_declarations"]
    uses = {d["data_use"] for d in declarations}
    assert {"marketing.communications.email", "essential.service"} <= uses
    categories = {c for d in declarations for c in d["data_categories"]}
    assert {"user.health_and_medical", "user.contact.email"} <= categories
    assert all(d["legal_basis_for_processing"] for d in declarations)
    out = tmp_path / "fides.yml"
    cli.ok("policy", "export", "--out", str(out))
    assert (out.stat().st_mode & 0o777) == 0o600
    assert cli("policy", "export", "--format", "odrl").exit_code == ExitCode.BAD_INPUT


@pytest.fixture(autouse=True)
def _no_leftover_connections(db: Path):
    yield
    if db.exists():
        sqlite3.connect(db).close()


def test_requests_report_has_no_row_total_that_adds_unlike_things(cli, store: Path) -> None:
    result = cli.json("report", "requests")
    assert "total" not in result["columns"]
    assert result["rows"][-1]["month"] == "total"


def test_a_hidden_row_total_cannot_be_worked_out_from_the_grand_total() -> None:
    report = Report("t", "t", "row", ["a", "b", "c"], [("r1", [3, 0, 0]), ("r2", [10, 10, 10])])
    rows = {r["row"]: r for r in report.published(Control(round_to=1))["rows"]}
    hidden_totals = [r for r in ("r1", "r2") if rows[r]["total"] == HIDDEN]
    assert len(hidden_totals) != 1  # 33 - 30 would give the 3 away


def test_requests_received_is_the_protected_total_of_its_outcomes() -> None:
    from pigment_cli.reports.aggregates import Report as R

    report = R("requests", "t", "month", ["answered on time", "answered late", "still open"],
               [("2026-10", [27, 3, 0])], total_label="received")
    row = report.published(Control(round_to=1))["rows"][0]
    assert row["answered late"] == HIDDEN
    assert row["answered on time"] == HIDDEN or row["received"] == HIDDEN


def test_report_periods_are_whole_months() -> None:
    from datetime import date

    from pigment_cli.reports.aggregates import period

    assert period(date(2026, 11, 25), date(2026, 3, 17), date(2026, 5, 2)) == (
        date(2026, 3, 1), date(2026, 5, 31))
    assert period(date(2026, 11, 25), None, None) == (date(2025, 12, 1), date(2026, 11, 25))
