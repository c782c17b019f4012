"""Retention: the rules' dates, the plan, the sweep, holds, and erasure on request."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from conftest import domain

from pigment_cli.errors import ExitCode
from pigment_cli.policy import default_policy, parse_policy
from pigment_cli.policy.rules import subject_due

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


def _backdate(db: Path, subject_id: str, when: str) -> None:
    """Subjects added today were processed today; tests about old data move that date back."""
    conn = sqlite3.connect(db)
    conn.execute("UPDATE subjects SET last_processed_at = ? WHERE id = ?", (when, subject_id))
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("last", "due"),
    [("2019-03-01", "2026-03-01"), ("2024-02-29", "2031-02-28"), ("2019-12-31", "2026-12-31"),
     ("2019-03-01T23:59:59", "2026-03-01")],
)
def test_default_rule_is_seven_years_after_last_processing(last: str, due: str) -> None:
    assert subject_due(default_policy(), last).isoformat() == due


def test_minors_rule_keeps_childrens_records_to_25_or_26() -> None:
    source = default_policy().source.replace(
        "[requests]", "[retention.minors]\nuntil_age = 25\nuntil_age_if_17 = 26\n\n[requests]")
    policy = parse_policy(source)
    # treated at 10: 25th birthday (2035) is later than 7 years (2027)
    assert subject_due(policy, "2020-05-01", "2010-01-15") == date(2035, 1, 15)
    # 17 when treatment ended: the 26th birthday
    assert subject_due(policy, "2020-05-01", "2003-01-15") == date(2029, 1, 15)
    # an adult: the 7-year rule
    assert subject_due(policy, "2020-05-01", "1980-01-15") == date(2027, 5, 1)


def test_policy_check_warns_when_a_rule_is_below_the_nhs_benchmark(cli) -> None:
    from pigment_cli.policy import check_source

    _, problems = check_source(default_policy().source)
    assert any(p.level == "warning" and p.key == "retention.default" for p in problems)


def test_exactly_seven_years_is_due_and_one_day_before_is_not(cli, store: Path) -> None:
    sid = _old_subject(cli)
    _backdate(store, sid, "2019-03-01")
    before = cli.json("retention", "plan", "--as-of", "2026-02-28")
    assert sid not in [e["subject_id"] for e in before["subjects"]]
    on = cli.json("retention", "plan", "--as-of", "2026-03-01")
    assert [e["subject_id"] for e in on["subjects"]] == [sid]


def test_leap_day_subject_falls_due_on_28_february(cli, store: Path) -> None:
    sid = _old_subject(cli, processed="2024-02-29")
    _backdate(store, sid, "2024-02-29")
    assert cli.json("retention", "plan", "--as-of", "2031-02-27")["subjects_due"] == 0
    assert cli.json("retention", "plan", "--as-of", "2031-02-28")["subjects_due"] == 1


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
        _backdate(store, sid, "2018-01-10")
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
    _backdate(store, sid, "2018-01-10")
    cli.ok("hold", "add", sid, "--reason", "legal claim", "--until", "2026-12-31")
    assert cli.json("retention", "plan", "--as-of", "2026-12-31")["held"] == 1
    assert cli.json("retention", "plan", "--as-of", "2027-01-01")["subjects_due"] == 1


def test_hold_commands_and_errors(cli, subject_id: str) -> None:
    hold = cli.ok("hold", "add", subject_id, "--reason", "regulator enquiry").stdout.strip()
    assert [h["id"] for h in cli.json("hold", "list")] == [hold]
    assert cli.json("subject", "show", subject_id)["holds"][0]["hold"] == hold
    cli.ok("hold", "release", hold)
    assert cli.json("hold", "list") == []
    assert cli.json("hold", "list", "--all")[0]["active"] is False
    assert cli("hold", "release", hold).exit_code == ExitCode.BAD_INPUT
    assert cli("hold", "release", "H-NOPE0").exit_code == ExitCode.BAD_INPUT
    assert cli("hold", "add", subject_id, "--reason", "x", "--until", "2020-01-01").exit_code == 2
    assert cli("hold", "add", subject_id, "--reason", " ").exit_code == ExitCode.BAD_INPUT
    assert cli("hold", "add", "S-ZZZZZ", "--reason", "x").exit_code == ExitCode.BAD_INPUT


def test_dry_run_changes_nothing_byte_for_byte(cli, store: Path) -> None:
    sid = _old_subject(cli)
    _backdate(store, sid, "2018-01-10")
    before = store.read_bytes()
    result = cli.ok("retention", "sweep")
    assert "would erase" in result.stdout and "1 subject" in result.stdout
    assert store.read_bytes() == before
    cli.ok("subject", "show", sid)


def test_apply_erases_exactly_what_the_plan_said_and_a_second_sweep_is_a_no_op(cli, store) -> None:
    due = [_old_subject(cli, f"Due {n}") for n in range(3)]
    for sid in due:
        _backdate(store, sid, "2018-01-10")
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
    _backdate(store, sid, "2018-01-10")
    # hold a reader open so the WAL is not cleaned up by a close: the sweep must scrub it itself
    cli.ok("retention", "sweep", "--apply")
    for path in (store, Path(f"{store}-wal"), Path(f"{store}-journal")):
        if path.exists():
            raw = path.read_bytes()
            for marker in MARKERS:
                assert marker.encode() not in raw, (path.name, marker)
                assert marker.lower().encode() not in raw, (path.name, marker)


def test_erased_email_is_suppressed_for_marketing(cli, store: Path) -> None:
    sid = _old_subject(cli, email="again@example.org")
    _backdate(store, sid, "2018-01-10")
    cli.ok("retention", "sweep", "--apply")
    from pigment_cli.records.suppression import is_suppressed

    with domain(store) as s:
        assert is_suppressed(s.conn, "Again@Example.org")


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
    _backdate(store, sid, "2020-03-15")
    plan = cli.json("retention", "plan", "--as-of", "2026-11-25")
    assert len(plan["forecast"]) == 12
    march = next(m for m in plan["forecast"] if m["month"] == "2027-03")
    assert march["subjects"] == 1
    assert "Forecast" in cli.ok("retention", "plan").stdout


def test_sweep_bad_as_of_is_exit_2(cli, store: Path) -> None:
    assert cli("retention", "sweep", "--as-of", "next week").exit_code == ExitCode.BAD_INPUT


def test_a_future_as_of_never_erases(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Not Due Yet").stdout.strip()
    assert cli.json("retention", "sweep", "--as-of", "2040-01-01")["erased_subjects"] == 1  # dry run
    result = cli("retention", "sweep", "--as-of", "2040-01-01", "--apply")
    assert result.exit_code == ExitCode.BAD_INPUT and "in the future" in result.stderr
    assert cli("erase", sid, "--as-of", "2026-12-01", "--apply").exit_code == ExitCode.BAD_INPUT
    cli.ok("subject", "show", sid)


# --- erasure on request -------------------------------------------------------------------------


def _rich_subject(cli) -> str:
    sid = cli.ok("subject", "add", "--name", "Eve Erasable", "--email", "eve@example.org").stdout.strip()
    for purpose in ("satisfaction_survey", "cookies", "personalised_ads"):  # their items need it
        cli.ok("consent", "grant", sid, purpose, "--via", "web_form")
    for category, source, purpose in (
        ("medical_history", "consultation", "medical_records"),
        ("payment", "payment", "debt_collection"),
        ("marketing", "survey", "satisfaction_survey"),
        ("web_activity", "website", "cookies"),
        ("social_media", "social_media", "personalised_ads"),
        ("cctv", "cctv", "security"),
    ):
        cli.ok("item", "add", sid, "--category", category, "--source", source, "--purpose", purpose,
               "--value", f"{category} value")
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    return sid


def test_erase_on_request_keeps_medical_and_debt_records_and_says_why(cli, store: Path) -> None:
    sid = _rich_subject(cli)
    preview = cli.json("erase", sid)
    assert preview["applied"] is False
    assert len(cli.json("item", "list", sid)) == 6  # a preview changes nothing
    result = cli.ok("erase", sid, "--reason", "objection", "--apply")
    assert "Kept, and why" in result.stdout and "17(3)" in result.stdout
    left = sorted(i["category"] for i in cli.json("item", "list", sid))
    assert left == ["medical_history", "payment"]
    status = {c["purpose"]: c["state"] for c in cli.json("consent", "status", sid)}
    assert status["newsletter"] == "withdrawn"
    audience = cli.ok("consent", "audience", "newsletter", "--format", "json").stdout
    assert sid not in audience
    commands = [e["command"] for e in cli.json("audit", "log", "--subject", sid)]
    assert "erase" in commands


def test_erase_with_nothing_to_keep_erases_the_whole_subject(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Newsletter Only", "--email", "n@example.org").stdout.strip()
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    cli.ok("item", "add", sid, "--category", "marketing", "--source", "email_interaction",
           "--purpose", "newsletter", "--value", "clicked")
    outcome = cli.json("erase", sid, "--apply")
    assert outcome["whole_subject"] is True
    assert cli("subject", "show", sid).exit_code == ExitCode.BAD_INPUT


def test_erase_errors(cli, subject_id: str) -> None:
    assert cli("erase", "S-ZZZZZ").exit_code == ExitCode.BAD_INPUT
    assert cli("erase", subject_id, "--reason", "because").exit_code == ExitCode.BAD_INPUT
    assert cli("erase", subject_id, "--via", "pigeon").exit_code == ExitCode.BAD_INPUT


def test_erase_never_extends_retention(cli, store: Path) -> None:
    sid = _rich_subject(cli)
    _backdate(store, sid, "2025-01-15")
    before = cli.json("subject", "show", sid)["retention"]["erasure_due"]
    kept = cli.json("erase", sid, "--apply")["kept"]
    assert {k["until"] for k in kept} == {before}
    assert cli.json("subject", "show", sid)["retention"]["erasure_due"] == before


def test_an_enquirer_without_health_records_keeps_no_care_data(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Enquirer").stdout.strip()
    cli.ok("item", "add", sid, "--category", "contact", "--source", "information_request",
           "--purpose", "care", "--value", "asked for prices")
    outcome = cli.json("erase", sid, "--apply")
    assert outcome["whole_subject"] is True


def test_erase_names_the_holds_that_keep_the_record(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Held Enquirer").stdout.strip()
    hold = cli.ok("hold", "add", sid, "--reason", "legal claim").stdout.strip()
    result = cli.ok("erase", sid, "--apply")
    assert hold in result.stdout and "Held" in result.stdout
    cli.ok("subject", "show", sid)


def test_a_subject_processed_after_the_plan_is_not_erased(store: Path) -> None:
    """The sweep re-reads each subject inside its transaction: new processing since the plan
    (the manager adding an item while cron sweeps) keeps the subject."""
    from datetime import date as day

    from pigment_cli.policy import default_policy
    from pigment_cli.records.items import add_item
    from pigment_cli.records.subjects import add_subject
    from pigment_cli.retention import sweep as retention
    from pigment_cli.store.connection import open_store

    with domain(store) as s:
        stays = add_subject(s, name="Comes Back", processed_at="2018-01-10")
        goes = add_subject(s, name="Stays Away", processed_at="2018-01-10")
    conn = open_store(store)
    policy = default_policy()
    original = retention.plan

    def plan_then_visit(*args, **kwargs):  # the manager records a visit right after the plan
        made = original(*args, **kwargs)
        with domain(store) as s:
            add_item(s, stays.id, category="identity", source="form", purpose="care")
        return made

    retention.plan = plan_then_visit
    try:
        result = retention.sweep(conn, policy, day(2026, 11, 25), stamp="2026-11-25T10:00:00",
                                 actor="test", apply=True)
    finally:
        retention.plan = original
        conn.close()
    assert result.erased_subjects == 1
    with domain(store) as s:
        assert s.conn.execute("SELECT id FROM subjects").fetchall()[0][0] == stays.id
    assert goes.id != stays.id


@pytest.mark.parametrize("processed", ["2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31"])
def test_month_rules_that_clamp_to_february_fall_due_on_time(cli, subject_id, processed) -> None:
    item = cli.ok("item", "add", subject_id, "--category", "web_activity", "--source", "website",
                  "--purpose", "security", "--processed", processed).stdout.strip()
    plan = cli.json("retention", "plan", "--as-of", "2026-02-28")
    assert int(item) in [e["item"] for e in plan["items"]]


def test_the_forecast_includes_children_due_on_a_birthday(cli, store: Path, tmp_path: Path) -> None:
    source = default_policy().source.replace(
        "[requests]", "[retention.minors]\nuntil_age = 25\nuntil_age_if_17 = 26\n\n[requests]")
    path = tmp_path / "p.toml"
    path.write_text(source)
    cli.ok("policy", "apply", str(path))
    sid = cli.ok("subject", "add", "--name", "Child Patient", "--dob", "2001-03-01").stdout.strip()
    _backdate(store, sid, "2006-06-01")  # treated at 5: kept until the 25th birthday
    forecast = cli.json("retention", "plan", "--as-of", "2025-11-25")["forecast"]
    assert next(m for m in forecast if m["month"] == "2026-03")["subjects"] == 1
