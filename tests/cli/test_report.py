"""`pigment report ...`: aggregated reports in every format, with no one identifiable."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import populate

from pigment_cli.errors import ExitCode
from pigment_cli.policy import default_policy
from pigment_cli.reports.aggregates import HIDDEN


@pytest.fixture(autouse=True)
def _no_leftover_connections(db: Path):
    yield
    if db.exists():
        sqlite3.connect(db).close()


def test_source_report_hides_a_cell_of_three_and_no_total_reveals_it(cli, store: Path) -> None:
    people = populate(cli, n_web=3, n_form=12, n_phone=20)
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
    people = populate(cli, n_web=2, n_form=9, n_phone=0)
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
    assert cli("report", "sources", "--from", "2026-12-01", "--to", "2026-01-01").exit_code == ExitCode.BAD_INPUT
    assert cli("report", "sources", "--from", "1st May").exit_code == ExitCode.BAD_INPUT


def test_suppression_threshold_is_a_policy_key(cli, store: Path, tmp_path: Path) -> None:
    source = default_policy().source.replace("suppress_below = 8", "suppress_below = 3")
    path = tmp_path / "p.toml"
    path.write_text(source)
    cli.ok("policy", "apply", str(path))
    populate(cli, n_web=4, n_form=0, n_phone=0)
    result = cli.json("report", "sources", "--from", "2026-10-01", "--to", "2026-10-31")
    assert result["rows"][0]["2026-10"] == 5  # 4 is no longer small: rounded to 5


def test_requests_report_has_no_row_total_that_adds_unlike_things(cli, store: Path) -> None:
    result = cli.json("report", "requests")
    assert "total" not in result["columns"]
    assert result["rows"][-1]["month"] == "total"
