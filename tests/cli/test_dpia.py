"""`pigment dpia ...` (UK GDPR Art. 35): add, list (--due for cron), show, update, end and their
errors; `pigment check` on a DPIA past its review; the ROPA's references; the status screen's
registers (breaches, processor contracts, DPIAs); the crontab's breach and DPIA lines."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import audit_entries, domain

from pigment_cli.errors import ExitCode

HOSTILE = "Marker\u202eRisky <script>x</script> | `rm` Ada Lovelace"
CCTV = ("--processing", "CCTV in clinics", "--purposes", "security", "--risk",
        f"faces recorded; {HOSTILE}", "--measures", "signs\nMeasureText: overwritten after 30 days")


def _add(cli, *extra: str, review_by: str = "2027-11-01") -> str:
    result = cli.ok("dpia", "add", *CCTV, "--review-by", review_by, *extra)
    return result.stdout.strip()


def test_add_list_show_update_end(cli, store: Path) -> None:
    dpia = _add(cli, "--ico-consulted", "2026-10-01")
    assert dpia.startswith("D-") and len(dpia) == 7
    [listed] = cli.json("dpia", "list")
    assert listed["id"] == dpia and listed["purposes"] == ["security"]
    assert listed["review_by"] == "2027-11-01" and listed["days_left"] == 341
    assert listed["ico_consulted_on"] == "2026-10-01" and listed["past_due"] is False
    shown = cli.json("dpia", "show", dpia.lower())
    assert shown["risk"] == f"faces recorded; {HOSTILE}"
    assert shown["measures"] == "signs\nMeasureText: overwritten after 30 days"
    assert "CCTV in clinics" in cli.ok("dpia", "list").stdout
    assert "MeasureText" in cli.ok("dpia", "show", dpia).stdout
    cli.ok("dpia", "update", dpia, "--review-by", "2028-01-31", "--purposes",
           "security, reporting,security", "--measures", "signs")
    shown = cli.json("dpia", "show", dpia)
    assert shown["review_by"] == "2028-01-31" and shown["purposes"] == ["security", "reporting"]
    assert shown["measures"] == "signs" and shown["processing"] == "CCTV in clinics"
    result = cli.ok("dpia", "end", dpia)
    assert f"DPIA {dpia} ended" in result.stderr
    assert cli.json("dpia", "list") == []
    [ended] = cli.json("dpia", "list", "--all")
    assert ended["active"] is False and ended["ended_at"].startswith("2026-11-25")
    # every change audited by id; the free text never reaches the trail
    assert [d["dpia"] for _, d in audit_entries(store, "dpia add")] == [dpia]
    assert audit_entries(store, "dpia update")[0][1]["fields"] == ["measures", "purposes",
                                                                   "review_by"]
    assert [d["dpia"] for _, d in audit_entries(store, "dpia end")] == [dpia]
    assert len(audit_entries(store, "dpia show")) == 3
    conn = sqlite3.connect(store)
    trail = " ".join(str(r) for r in conn.execute("SELECT * FROM audit"))
    conn.close()
    assert "Marker" not in trail and "CCTV" not in trail and "MeasureText" not in trail


def test_dpia_errors_have_exact_exit_codes_and_echo_no_text(cli, store: Path) -> None:
    dpia = _add(cli)
    bad = [
        ("dpia", "add", *CCTV),  # no --review-by
        ("dpia", "add", *CCTV, "--review-by", "2026-11-24"),  # already past
        ("dpia", "add", *CCTV, "--review-by", "2027-02-30"),  # not a day
        ("dpia", "add", *CCTV[:2], "--purposes", "spying", *CCTV[4:], "--review-by", "2027-01-01"),
        ("dpia", "add", *CCTV[:2], "--purposes", " , ", *CCTV[4:], "--review-by", "2027-01-01"),
        ("dpia", "add", *CCTV, "--review-by", "2027-01-01", "--ico-consulted", "2026-12-01"),
        ("dpia", "add", "--processing", f"{HOSTILE}\x1b[31m", *CCTV[2:], "--review-by",
         "2027-01-01"),
        ("dpia", "add", "--processing", "two\nlines", *CCTV[2:], "--review-by", "2027-01-01"),
        ("dpia", "add", "--processing", "  ", *CCTV[2:], "--review-by", "2027-01-01"),
        ("dpia", "show", "D-NOPE0"),
        ("dpia", "update", "D-NOPE0", "--review-by", "2027-01-01"),
        ("dpia", "update", dpia),  # nothing to change
        ("dpia", "update", dpia, "--risk", f"{HOSTILE}\x00"),
        ("dpia", "end", "D-NOPE0"),
    ]
    for args in bad:
        result = cli(*args)
        assert result.exit_code == ExitCode.BAD_INPUT, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert "Marker" not in result.stderr and "Traceback" not in result.stderr
    cli.ok("dpia", "end", dpia)
    assert cli("dpia", "end", dpia).exit_code == ExitCode.BAD_INPUT
    ended = cli("dpia", "update", dpia, "--review-by", "2027-01-01")
    assert ended.exit_code == ExitCode.BAD_INPUT and "ended" in ended.stderr
    assert cli("dpia", "list").exit_code == ExitCode.OK
    # nothing was written by the refused commands: one DPIA, one add on the trail
    assert len(audit_entries(store, "dpia add")) == 1


def test_list_due_exits_1_only_when_a_review_is_past(cli, store: Path) -> None:
    later = _add(cli, review_by="2027-06-01")
    assert cli.json("dpia", "list", "--due") == []
    soon = _add(cli, review_by="2026-12-20")  # within 30 days: listed, not yet an alarm
    result = cli("dpia", "list", "--due", "--json")
    assert result.exit_code == ExitCode.OK
    assert [d["id"] for d in json.loads(result.stdout)] == [soon]
    late = _add(cli, "--as-of", "2026-01-10", review_by="2026-11-01")  # recorded back then
    result = cli("dpia", "list", "--due")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert late in result.stdout and soon in result.stdout and later not in result.stdout
    assert "PAST DUE" in result.stdout and "1 DPIA(s) past their review date" in result.stderr
    assert [d["id"] for d in cli.json("dpia", "list")] == [late, soon, later]
    cli.ok("dpia", "update", late, "--review-by", "2027-11-01")  # reviewed
    assert cli("dpia", "list", "--due").exit_code == ExitCode.OK


def test_check_warns_when_a_dpia_is_past_its_review(cli, store: Path) -> None:
    assert "dpias" in cli.json("check")["passed"]
    dpia = _add(cli, "--as-of", "2026-01-10", review_by="2026-11-24")
    result = cli("check", "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    [finding] = [f for f in json.loads(result.stdout)["findings"] if f["check"] == "dpias"]
    assert dpia in finding["problem"] and "pigment dpia update" in finding["fix"]
    assert "Marker" not in result.stdout
    cli.ok("dpia", "end", dpia)
    assert "dpias" in cli.json("check")["passed"]


def test_ropa_references_dpias_by_id_and_processing_only(cli, store: Path) -> None:
    dpia = _add(cli, "--ico-consulted", "2026-10-01")
    for fmt in ("md", "html"):
        text = cli.ok("policy", "ropa", "--format", fmt).stdout
        assert dpia in text and "CCTV in clinics" in text and "2027-11-01" in text
        assert "Marker" not in text and "MeasureText" not in text
    csv = cli.ok("policy", "ropa", "--format", "csv").stdout.splitlines()
    assert csv[0].endswith(",dpias")
    assert [line.split(",")[0] for line in csv[1:] if line.endswith(dpia)] == ["security"]
    cli.ok("dpia", "end", dpia)
    assert dpia not in cli.ok("policy", "ropa").stdout


def test_status_shows_the_registers(cli, store: Path) -> None:
    empty = cli.json("status")
    assert empty["breaches"] == {"open": 0, "overdue": 0, "list": []}
    assert empty["processors"] == {"contracts_ending": []}
    assert empty["dpias"]["due"] == 0 and empty["dpias"]["list"] == []
    dpia = _add(cli, review_by="2026-12-01")
    _add(cli, review_by="2027-12-01")  # not due: not shown
    from pigment_cli.records.breaches import record_breach

    with domain(store) as s:  # now is 2026-11-25 10:30 UTC (GMT in London)
        late = record_breach(s, aware_at="2026-11-22T08:00", nature="confidentiality",
                             description="a lost letter").id
        soon = record_breach(s, aware_at="2026-11-22T13:00", nature="availability",
                             description="a locked laptop").id
        fresh = record_breach(s, aware_at="2026-11-25T03:00", nature="integrity",
                              description="a wrong address").id
    view = cli.json("status")
    breaches = {b["id"]: b for b in view["breaches"]["list"]}
    assert [b["id"] for b in view["breaches"]["list"]] == [late, soon, fresh]  # soonest first
    assert breaches[late]["hours_left"] == -2.5 and breaches[late]["overdue"] is True
    assert breaches[soon]["hours_left"] == 2.5 and breaches[soon]["overdue"] is False
    assert breaches[fresh]["hours_left"] == 64.5 and breaches[fresh]["clock_running"] is True
    assert breaches[soon]["ico_deadline"] == "2026-11-25T13:00+00:00"
    assert view["breaches"]["open"] == 3 and view["breaches"]["overdue"] == 1
    assert [(d["id"], d["days_left"]) for d in view["dpias"]["list"]] == [(dpia, 6)]
    screen = cli.ok("status").stdout
    assert "-2.5 (OVERDUE)" in screen and "2.5 (UNDER 24)" in screen and " 64.5" in screen
    assert dpia in screen and "a lost letter" not in screen
    assert all(len(line) <= 100 for line in screen.splitlines())


def test_status_shows_breaches_under_24_hours_in_red_on_a_terminal(cli, store: Path,
                                                                    monkeypatch) -> None:
    import io

    from rich.console import Console

    from pigment_cli.cli import _common
    from pigment_cli.records.breaches import record_breach

    with domain(store) as s:
        record_breach(s, aware_at="2026-11-22T13:00", nature="availability", description="x")
        record_breach(s, aware_at="2026-11-25T03:00", nature="integrity", description="y")

    def rows() -> tuple[str, str]:
        screen = io.StringIO()
        terminal = Console(file=screen, force_terminal=True, color_system="standard", width=80)
        monkeypatch.setattr(_common, "out", lambda: terminal)
        cli.ok("status")
        lines = screen.getvalue().splitlines()
        [under] = [line for line in lines if "(UNDER 24)" in line]
        [later] = [line for line in lines if "64.5" in line]
        return under, later

    under, _ = rows()  # NO_COLOR is set (conftest): no colour, the words say it
    assert "31m" not in under
    monkeypatch.delenv("NO_COLOR")
    under, later = rows()
    assert "\x1b[1;31m" in under and "31m" not in later


def test_status_lists_processor_contracts_ending(cli, store: Path) -> None:
    from pigment_cli.records.processors import add_processor

    with domain(store) as s:
        soon = add_processor(s, name="Lab Couriers Ltd", role="laboratory",
                             purposes="medical_referral", categories="identity",
                             country="GB", safeguard=None, contract_until="2026-12-10").id
        add_processor(s, name="Later Ltd", role="laboratory", purposes="medical_referral",
                      categories="identity", country="GB", safeguard=None,
                      contract_until="2027-12-10")
    ending = cli.json("status")["processors"]["contracts_ending"]
    assert [(p["id"], p["days_left"]) for p in ending] == [(soon, 15)]
    assert "Lab Couriers Ltd" in cli.ok("status").stdout


# --- the crontab's lines, run as cron runs them ---------------------------------------------------

CRONTAB = Path(__file__).resolve().parents[2] / "examples" / "crontab"
PIGMENT = Path(sys.executable).parent / "pigment"
INSTALLED = "/srv/pigment/.venv/bin/pigment"
needs_script = pytest.mark.skipif(not PIGMENT.exists(), reason="needs the installed pigment script")


def _cron(command: str) -> str:
    [line] = [line for line in CRONTAB.read_text().splitlines()
              if line and not line.startswith("#") and command in line and "* *" in line]
    return line.split(None, 5)[5]


def _run(line: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PIGMENT_DB": str(db), "PIGMENT_ACTOR": "cron"}
    return subprocess.run(["/bin/sh", "-c", line.replace(INSTALLED, str(PIGMENT))], env=env,
                          capture_output=True, text=True)


def _pigment(db: Path, *args: str) -> str:
    return subprocess.run([str(PIGMENT), *args, "--db", str(db)], check=True, capture_output=True,
                          text=True).stdout.strip()


@needs_script
def test_cron_dpia_line_is_silent_until_a_review_is_past(tmp_path: Path) -> None:
    db = tmp_path / "pigment.db"
    _pigment(db, "init")
    line = _cron("dpia list --due")
    today = datetime.now(UTC).date()  # real processes, real clock
    _pigment(db, "dpia", "add", *CCTV, "--review-by", (today + timedelta(days=5)).isoformat())
    quiet = _run(line, db)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    late = _pigment(db, "dpia", "add", *CCTV, "--as-of", (today - timedelta(days=300)).isoformat(),
                    "--review-by", (today - timedelta(days=3)).isoformat())
    mailed = _run(line, db)
    assert mailed.returncode == 0 and late in mailed.stdout and "PAST DUE" in mailed.stdout
    assert "Marker" not in mailed.stdout


@needs_script
def test_cron_breach_line_is_silent_until_a_breach_is_overdue(tmp_path: Path) -> None:
    db = tmp_path / "pigment.db"
    _pigment(db, "init")
    line = _cron("breach list --overdue")
    quiet = _run(line, db)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    from pigment_cli.records.breaches import record_breach
    from pigment_cli.store.session import session

    aware = (datetime.now(UTC) - timedelta(hours=73)).replace(microsecond=0)
    with session(db, now=datetime.now(UTC), actor="test") as s:
        breach = record_breach(s, aware_at=aware.isoformat(), nature="confidentiality",
                               description="a lost letter").id
    mailed = _run(line, db)
    assert mailed.returncode == 0 and breach in mailed.stdout and "lost letter" not in mailed.stdout



def test_dpia_list_json_keeps_risks_and_measures_out(cli, store: Path) -> None:
    cli.ok("dpia", "add", "--processing", "CCTV", "--purposes", "security", "--risk",
           "filming Jane Doe", "--measures", "mask Jane Doe", "--review-by", "2027-06-30")
    listed = cli.ok("dpia", "list", "--all", "--json").stdout
    assert "Jane Doe" not in listed and "CCTV" in listed
