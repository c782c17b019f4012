"""`pigment retention plan|sweep`: the rules' dates through the CLI, holds and open requests, dry
runs, erasure that leaves no trace in the file, one sweep at a time, and the forecast."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import backdate, domain

from pigment_cli.errors import ExitCode
from pigment_cli.policy import default_policy

MARKERS = ("Zebedee Quuxworth", "zebedee.quux@example.org", "Unique-basal-note-4471")


def _old_subject(cli, name: str = "Old Patient", processed: str = "2018-01-10",
                 email: str | None = None) -> str:
    args = ["subject", "add", "--name", name]
    if email:
        args += ["--email", email]
    sid = cli.ok(*args).stdout.strip()
    cli.ok("item", "add", sid, "--category", "medical_history", "--source", "consultation",
           "--purpose", "medical_records", "--value", f"note for {name}", "--processed", processed)
    return sid


def test_exactly_seven_years_is_due_and_one_day_before_is_not(cli, store: Path) -> None:
    sid = _old_subject(cli)
    backdate(store, sid, "2019-03-01")
    before = cli.json("retention", "plan", "--as-of", "2026-02-28")
    assert sid not in [e["subject_id"] for e in before["subjects"]]
    on = cli.json("retention", "plan", "--as-of", "2026-03-01")
    assert [e["subject_id"] for e in on["subjects"]] == [sid]


def test_leap_day_subject_falls_due_on_28_february(cli, store: Path) -> None:
    sid = _old_subject(cli, processed="2024-02-29")
    backdate(store, sid, "2024-02-29")
    assert cli.json("retention", "plan", "--as-of", "2031-02-27")["subjects_due"] == 0
    assert cli.json("retention", "plan", "--as-of", "2031-02-28")["subjects_due"] == 1


@pytest.mark.parametrize("processed", ["2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31"])
def test_month_rules_that_clamp_to_february_fall_due_on_time(cli, subject_id, processed) -> None:
    item = cli.ok("item", "add", subject_id, "--category", "web_activity", "--source", "website",
                  "--purpose", "reporting", "--processed", processed).stdout.strip()
    plan = cli.json("retention", "plan", "--as-of", "2026-02-28")
    assert int(item) in [e["item"] for e in plan["items"]]


def test_category_rule_erases_single_items(cli, subject_id: str, store: Path) -> None:
    cctv = cli.ok("item", "add", subject_id, "--category", "cctv", "--source", "cctv",
                  "--purpose", "security", "--value", "clip", "--processed", "2026-10-01").stdout.strip()
    cli.ok("item", "add", subject_id, "--category", "identity", "--source", "form", "--purpose", "care")
    plan = cli.json("retention", "plan", "--as-of", "2026-11-25")
    assert [e["item"] for e in plan["items"]] == [int(cctv)]
    assert plan["subjects_due"] == 0
    summary = cli.json("retention", "sweep", "--as-of", "2026-11-25", "--apply")
    assert summary["erased_items"] == 1 and summary["erased_subjects"] == 0
    left = cli.json("item", "list", subject_id)
    assert [i["category"] for i in left] == ["identity"]


def test_holds_and_open_requests_keep_data_and_are_reported(cli, store: Path) -> None:
    held = _old_subject(cli, "Held Patient")
    asked = _old_subject(cli, "Asking Patient")
    free = _old_subject(cli, "Free Patient")
    for sid in (held, asked, free):
        backdate(store, sid, "2018-01-10")
    hold = cli.ok("hold", "add", held, "--reason", "outstanding debt").stdout.strip()
    conn = sqlite3.connect(store)
    conn.execute("INSERT INTO requests (id, subject_id, channel, received_on, status, created_at) "
                 "VALUES ('R-TEST1', ?, 'email', '2026-11-20', 'open', '2026-11-20')", (asked,))
    conn.commit()
    conn.close()
    summary = cli.json("retention", "sweep", "--apply")
    assert summary["erased_subjects"] == 1
    reasons = {h["subject_id"]: h["reasons"] for h in summary["held_subjects"]}
    assert reasons == {held: [f"hold {hold}"], asked: ["open subject-access request R-TEST1"]}
    assert cli("subject", "show", free).exit_code == ExitCode.BAD_INPUT
    cli.ok("subject", "show", held)
    # releasing the hold lets the next sweep finish the job
    cli.ok("hold", "release", hold)
    assert cli.json("retention", "sweep", "--apply")["erased_subjects"] == 1
    assert cli("subject", "show", held).exit_code == ExitCode.BAD_INPUT


def test_a_hold_with_an_end_date_stops_holding_after_it(cli, store: Path) -> None:
    sid = _old_subject(cli)
    backdate(store, sid, "2018-01-10")
    cli.ok("hold", "add", sid, "--reason", "legal claim", "--until", "2026-12-31")
    assert cli.json("retention", "plan", "--as-of", "2026-12-31")["held"] == 1
    assert cli.json("retention", "plan", "--as-of", "2027-01-01")["subjects_due"] == 1


def test_dry_run_changes_nothing_byte_for_byte(cli, store: Path) -> None:
    sid = _old_subject(cli)
    backdate(store, sid, "2018-01-10")
    before = store.read_bytes()
    result = cli.ok("retention", "sweep")
    assert "would erase" in result.stdout and "1 subject" in result.stdout
    assert store.read_bytes() == before
    cli.ok("subject", "show", sid)


def test_apply_erases_exactly_what_the_plan_said_and_a_second_sweep_is_a_no_op(cli, store) -> None:
    due = [_old_subject(cli, f"Due {n}") for n in range(3)]
    for sid in due:
        backdate(store, sid, "2018-01-10")
    kept = _old_subject(cli, "Recent", processed="2025-01-01")
    plan = cli.json("retention", "plan")
    assert sorted(e["subject_id"] for e in plan["subjects"]) == sorted(due)
    summary = cli.json("retention", "sweep", "--apply")
    assert summary["erased_subjects"] == 3 and summary["errors"] == 0
    assert [s["id"] for s in cli.json("subject", "list")["subjects"]] == [kept]
    again = cli.json("retention", "sweep", "--apply")
    assert again["erased_subjects"] == 0 and again["erased_items"] == 0
    conn = sqlite3.connect(store)
    tombstones = conn.execute("SELECT subject_id, rule FROM tombstones ORDER BY 1").fetchall()
    assert tombstones == sorted((sid, "default:7y") for sid in due)
    assert conn.execute("SELECT count(*) FROM items WHERE subject_id IN (?, ?, ?)", due).fetchone()[0] == 0
    cli.ok("audit", "verify")


def test_erased_values_are_not_in_the_database_file_or_wal(cli, store: Path) -> None:
    name, email, note = MARKERS
    sid = cli.ok("subject", "add", "--name", name, "--email", email).stdout.strip()
    cli.ok("item", "add", sid, "--category", "medical_history", "--source", "consultation",
           "--purpose", "medical_records", "--value", note, "--processed", "2018-01-10")
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form", "--at", "2018-01-10")
    backdate(store, sid, "2018-01-10")
    # hold a reader open so the WAL is not cleaned up by a close: the sweep must scrub it itself
    cli.ok("retention", "sweep", "--apply")
    for path in (store, Path(f"{store}-wal"), Path(f"{store}-journal")):
        if path.exists():
            raw = path.read_bytes()
            for marker in MARKERS:
                assert marker.encode() not in raw, (path.name, marker)
                assert marker.lower().encode() not in raw, (path.name, marker)


def test_a_swept_email_is_suppressed_only_after_an_opt_out(cli, store: Path) -> None:
    opted_out = _old_subject(cli, email="again@example.org")
    cli.ok("consent", "withdraw", opted_out, "newsletter", "--via", "email", "--at", "2018-01-05")
    never = _old_subject(cli, name="Never Opted Out", email="plain@example.org")
    for sid in (opted_out, never):
        backdate(store, sid, "2018-01-10")
    cli.ok("retention", "sweep", "--apply")
    from pigment_cli.records.suppression import is_suppressed

    with domain(store) as s:
        assert is_suppressed(s.conn, "Again@Example.org")
        assert not is_suppressed(s.conn, "plain@example.org")


def test_a_second_sweep_is_refused_while_one_runs(cli, store: Path) -> None:
    from pigment_cli.store.lock import StoreLock as SweepLock

    with SweepLock(store):
        result = cli("retention", "sweep", "--apply")
        assert result.exit_code == ExitCode.STORE
        assert "another retention sweep" in result.stderr
        assert cli("erase", "S-ZZZZZ", "--apply").exit_code == ExitCode.STORE
    cli.ok("retention", "sweep", "--apply")


def test_sweep_quiet_and_json(cli, store: Path) -> None:
    assert cli.ok("retention", "sweep", "--apply", "--quiet").stdout == ""
    data = json.loads(cli.ok("retention", "sweep", "--json").stdout)
    assert set(data) >= {"erased_subjects", "erased_items", "held", "errors", "duration_s"}


def test_plan_forecasts_twelve_months(cli, store: Path) -> None:
    sid = _old_subject(cli)
    backdate(store, sid, "2020-03-15")
    plan = cli.json("retention", "plan", "--as-of", "2026-11-25")
    assert len(plan["forecast"]) == 12
    march = next(m for m in plan["forecast"] if m["month"] == "2027-03")
    assert march["subjects"] == 1
    assert "Forecast" in cli.ok("retention", "plan").stdout


def test_the_forecast_includes_children_due_on_a_birthday(cli, store: Path, tmp_path: Path) -> None:
    source = default_policy().source.replace(
        "[requests]", "[retention.minors]\nuntil_age = 25\nuntil_age_if_17 = 26\n\n[requests]")
    path = tmp_path / "p.toml"
    path.write_text(source)
    cli.ok("policy", "apply", str(path))
    sid = cli.ok("subject", "add", "--name", "Child Patient", "--dob", "2001-03-01").stdout.strip()
    backdate(store, sid, "2006-06-01")  # treated at 5: kept until the 25th birthday
    forecast = cli.json("retention", "plan", "--as-of", "2025-11-25")["forecast"]
    assert next(m for m in forecast if m["month"] == "2026-03")["subjects"] == 1


def test_sweep_bad_as_of_is_exit_2(cli, store: Path) -> None:
    assert cli("retention", "sweep", "--as-of", "next week").exit_code == ExitCode.BAD_INPUT


def test_a_future_as_of_never_erases(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Not Due Yet").stdout.strip()
    assert cli.json("retention", "sweep", "--as-of", "2040-01-01")["erased_subjects"] == 1  # dry run
    result = cli("retention", "sweep", "--as-of", "2040-01-01", "--apply")
    assert result.exit_code == ExitCode.BAD_INPUT and "in the future" in result.stderr
    assert cli("erase", sid, "--as-of", "2026-12-01", "--apply").exit_code == ExitCode.BAD_INPUT
    cli.ok("subject", "show", sid)
