"""The retention sweep erases the DPO's registers' closed and ended entries once the policy's
`[registers]` keep has passed (6 years by default): never a day early, never an open breach or a
DPIA or processor still in use; counted in the sweep's JSON, audited with counts only."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

from conftest import audit_entries, edited_policy, row_count

from pigment_cli.errors import ExitCode
from pigment_cli.policy import default_policy
from pigment_cli.records.registers import registers_due
from pigment_cli.store.connection import open_store


def _breach(cli, *, close: bool) -> str:  # noqa: ANN001
    breach = cli.ok("breach", "record", "--aware-at", "2026-11-24T09:00", "--nature",
                    "confidentiality", "--description", "Marker Person's letter").stdout.split()[0]
    cli.ok("breach", "assess", breach, "--risk", "none", "--reason", "sealed, returned")
    if close:
        cli.ok("breach", "update", breach, "--consequences", "none", "--measures", "returned")
        cli.ok("breach", "close", breach)
    return breach


def _dpia(cli, *, end: bool) -> str:  # noqa: ANN001
    dpia = cli.ok("dpia", "add", "--processing", "CCTV in clinics", "--purposes", "security",
                  "--risk", "faces", "--measures", "signs", "--review-by",
                  "2027-11-01").stdout.strip()
    if end:
        cli.ok("dpia", "end", dpia)
    return dpia


def _processor(cli, *, end: bool) -> str:  # noqa: ANN001
    pid = cli.ok("processor", "add", "--name", "North Lab Ltd", "--role", "laboratory",
                 "--purposes", "medical_referral", "--categories", "identity").stdout.strip()
    if end:
        cli.ok("processor", "end", pid)
    return pid


def _age(db: Path, table: str, column: str, entry: str, when: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (when, entry))
    conn.commit()
    conn.close()


def _sweep(cli, *args: str) -> dict:  # noqa: ANN001
    result = cli("retention", "sweep", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_nothing_goes_before_its_time_and_on_the_day_it_goes(cli, store: Path, db: Path,
                                                              subject_id: str) -> None:
    # FIXED_NOW is 2026-11-25: entries closed or ended on 2020-11-25 reach 6 years today,
    # those closed or ended on 2020-11-26 tomorrow.
    gone_b, kept_b = _breach(cli, close=True), _breach(cli, close=True)
    gone_d, kept_d = _dpia(cli, end=True), _dpia(cli, end=True)
    gone_p, kept_p = _processor(cli, end=True), _processor(cli, end=True)
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO breach_subjects VALUES (?, ?)", (gone_b, subject_id))
    conn.commit()
    conn.close()
    for table, column, gone, kept in (("breaches", "closed_at", gone_b, kept_b),
                                      ("dpias", "ended_at", gone_d, kept_d)):
        _age(db, table, column, gone, "2020-11-25T10:00:00")
        _age(db, table, column, kept, "2020-11-26T10:00:00")
    _age(db, "processors", "ended_at", gone_p, "2020-11-25")
    _age(db, "processors", "ended_at", kept_p, "2020-11-26")
    # a day before: kept (a dry run counts nothing)
    before = _sweep(cli, "--as-of", "2026-11-24")
    assert (before["erased_breaches"], before["erased_dpias"], before["erased_processors"]) \
        == (0, 0, 0)
    # today: a dry run counts without deleting
    dry = _sweep(cli)
    assert (dry["erased_breaches"], dry["erased_dpias"], dry["erased_processors"]) == (1, 1, 1)
    assert row_count(db, "breaches") == 2 and row_count(db, "breach_subjects") == 1
    applied = _sweep(cli, "--apply")
    assert (applied["erased_breaches"], applied["erased_dpias"],
            applied["erased_processors"]) == (1, 1, 1)
    assert cli("breach", "show", gone_b).exit_code == ExitCode.BAD_INPUT
    assert row_count(db, "breach_subjects") == 0
    assert cli("dpia", "show", gone_d).exit_code == ExitCode.BAD_INPUT
    assert cli("processor", "show", gone_p).exit_code == ExitCode.BAD_INPUT
    for kept in (("breach", kept_b), ("dpia", kept_d), ("processor", kept_p)):
        cli.ok(*kept[:1], "show", kept[1])
    assert audit_entries(db, "retention sweep: registers") == [
        (None, {"breaches": 1, "dpias": 1, "processors": 1})]
    detail = " ".join(r[0] for r in sqlite3.connect(db).execute("SELECT detail FROM audit"))
    assert "Marker" not in detail
    # the next sweep finds nothing more and audits nothing
    again = _sweep(cli, "--apply")
    assert (again["erased_breaches"], again["erased_dpias"], again["erased_processors"]) \
        == (0, 0, 0)
    assert len(audit_entries(db, "retention sweep: registers")) == 1


def test_open_breaches_and_registers_in_use_never_go(cli, store: Path, db: Path) -> None:
    breach, dpia, processor = _breach(cli, close=False), _dpia(cli, end=False), \
        _processor(cli, end=False)
    far = _sweep(cli, "--as-of", "2099-01-01")
    assert (far["erased_breaches"], far["erased_dpias"], far["erased_processors"]) == (0, 0, 0)
    _sweep(cli, "--apply")
    for command, entry in (("breach", breach), ("dpia", dpia), ("processor", processor)):
        cli.ok(command, "show", entry)


def test_the_keep_is_the_policy_s_and_starts_on_the_london_day(cli, store: Path, db: Path,
                                                                 tmp_path: Path) -> None:
    breach = _breach(cli, close=True)
    # 23:30 UTC on 30 June is 00:30 on 1 July in London: the keep starts on 1 July
    _age(db, "breaches", "closed_at", breach, "2020-06-30T23:30:00")
    conn = open_store(db)
    policy = default_policy()
    assert registers_due(conn, policy, date(2026, 6, 30))["breaches"] == []
    assert registers_due(conn, policy, date(2026, 7, 1))["breaches"] == [breach]
    assert policy.register_keep("dpias") == "6y"
    conn.close()
    short = edited_policy(tmp_path, 'breaches_keep = "6y"', 'breaches_keep = "7y"')
    cli.ok("policy", "apply", str(short))
    assert _sweep(cli, "--as-of", "2026-07-01")["erased_breaches"] == 0
    assert _sweep(cli, "--as-of", "2027-07-01")["erased_breaches"] == 1


def test_a_keep_that_is_not_a_duration_is_refused(cli, store: Path, tmp_path: Path) -> None:
    bad = edited_policy(tmp_path, 'processors_keep = "6y"', 'processors_keep = "six years"')
    result = cli("policy", "check", str(bad))
    assert result.exit_code != 0 and "registers.processors_keep" in result.stderr
