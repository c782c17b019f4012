"""`pigment processor ...`: the register of processors and transfers abroad (UK GDPR Art. 28,
44-46), the ROPA's recipients and transfers drawn from it, and `pigment check`'s warnings."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from conftest import domain

from pigment_cli.errors import BadInput, ExitCode
from pigment_cli.records.processors import (
    add_processor,
    contracts_ending,
    end_processor,
    processors,
    update_processor,
)

MAILCHIMP = ("processor", "add", "--name", "Mailchimp (Intuit)", "--role", "mailing",
             "--purposes", "newsletter,satisfaction_survey", "--categories", "identity,contact",
             "--country", "US", "--safeguard", "uk-addendum", "--contract-until", "2027-03-31")


def _check(cli) -> tuple[int, dict]:  # noqa: ANN001
    result = cli("check", "--json")
    return result.exit_code, json.loads(result.stdout)


def _audit(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT command, detail FROM audit ORDER BY seq").fetchall()
    finally:
        conn.close()


# --- add, list, show, update, end -----------------------------------------------------------


def test_add_list_show_a_transfer_and_a_uk_processor(cli, store: Path) -> None:
    mailchimp = cli.ok(*MAILCHIMP).stdout.strip()
    assert mailchimp.startswith("P-") and len(mailchimp) == 7
    lab = cli.ok("processor", "add", "--name", "North Lab Ltd", "--role", "laboratory",
                 "--purposes", "medical_referral", "--categories",
                 "identity,date_of_birth,medical_history").stdout.strip()
    listed = cli.json("processor", "list")
    assert [p["id"] for p in listed] == [mailchimp, lab]
    first, second = listed
    assert first["country"] == "US" and first["safeguard"] == "uk-addendum"
    assert first["transfer"] is True and first["purposes"] == ["newsletter", "satisfaction_survey"]
    assert first["contract_until"] == "2027-03-31" and first["active"] is True
    assert second["country"] == "GB" and second["safeguard"] is None and second["transfer"] is False
    assert cli.json("processor", "show", lab.lower())["name"] == "North Lab Ltd"
    table = cli.ok("processor", "show", mailchimp).stdout
    assert "Mailchimp (Intuit)" in table and "UK Addendum" in table
    assert "Mailchimp (Intuit)" in cli.ok("processor", "list").stdout
    assert [c for c, _ in _audit(store)][-6:] == [
        "processor add", "processor add", "processor list", "processor show", "processor show",
        "processor list"]


def test_add_refuses_bad_input_with_exit_codes(cli, store: Path) -> None:
    base = ["processor", "add", "--name", "Acme", "--role", "it", "--purposes", "care",
            "--categories", "identity"]
    bad = {
        ("--country", "US"): ExitCode.BAD_INPUT,  # a transfer with no safeguard
        ("--safeguard", "idta"): ExitCode.BAD_INPUT,  # GB needs none
        ("--country", "UK"): ExitCode.BAD_INPUT,  # GB is the ISO code
        ("--country", "XX"): ExitCode.BAD_INPUT,
        ("--country", "US", "--safeguard", "scc"): ExitCode.BAD_INPUT,
        ("--contract-until", "2027-02-30"): ExitCode.BAD_INPUT,
    }
    for extra, code in bad.items():
        result = cli(*base, *extra)
        assert result.exit_code == code, (extra, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert cli("processor", "add", "--name", "Acme", "--role", "cleaner", "--purposes", "care",
               "--categories", "identity").exit_code == ExitCode.BAD_INPUT
    assert cli("processor", "add", "--name", "Acme", "--role", "it", "--purposes", "gossip",
               "--categories", "identity").exit_code == ExitCode.BAD_INPUT
    assert cli("processor", "add", "--name", "Acme", "--role", "it", "--purposes", "care",
               "--categories", "shoe_size").exit_code == ExitCode.BAD_INPUT
    assert cli("processor", "add", "--name", " ", "--role", "it", "--purposes", "care",
               "--categories", "identity").exit_code == ExitCode.BAD_INPUT
    assert cli("processor", "add", "--role", "it", "--purposes", "care",
               "--categories", "identity").exit_code == ExitCode.BAD_INPUT
    assert cli("processor", "add", "--name", "Acme", "--role", "it", "--purposes", " , ",
               "--categories", "identity").exit_code == ExitCode.BAD_INPUT
    # A newsletter processor has no business with medical history (Art. 5(1)(c)): refused.
    refused = cli("processor", "add", "--name", "Acme", "--role", "mailing", "--purposes",
                  "newsletter", "--categories", "contact,medical_history")
    assert refused.exit_code == ExitCode.REFUSED and "medical_history" in refused.stderr
    assert cli.json("processor", "list", "--all") == []
    # `none` is a safeguard recorded as the fact it is (check reports it); adequacy for Ireland.
    cli.ok(*base, "--country", "ie", "--safeguard", "adequacy")
    assert cli.json("processor", "list")[0]["country"] == "IE"


def test_update_changes_only_what_is_given(cli, store: Path) -> None:
    pid = cli.ok(*MAILCHIMP).stdout.strip()
    cli.ok("processor", "update", pid, "--contract-until", "2028-03-31", "--note", "DPA in file 7")
    after = cli.json("processor", "show", pid)
    assert after["contract_until"] == "2028-03-31" and after["note"] == "DPA in file 7"
    assert after["country"] == "US" and after["safeguard"] == "uk-addendum"
    # A new country abroad needs its own safeguard: the old one was chosen for the old country.
    assert cli("processor", "update", pid, "--country", "JP").exit_code == ExitCode.BAD_INPUT
    cli.ok("processor", "update", pid, "--country", "JP", "--safeguard", "adequacy")
    # Moving home drops the safeguard; a safeguard for GB is refused.
    assert cli("processor", "update", pid, "--country", "GB", "--safeguard",
               "idta").exit_code == ExitCode.BAD_INPUT
    cli.ok("processor", "update", pid, "--country", "GB")
    moved = cli.json("processor", "show", pid)
    assert moved["country"] == "GB" and moved["safeguard"] is None
    # New purposes must still cover the categories held (care may use identity and contact).
    assert cli("processor", "update", pid, "--purposes", "security").exit_code == ExitCode.REFUSED
    cli.ok("processor", "update", pid, "--purposes", "care", "--name", "Mailchimp Ltd")
    assert cli.json("processor", "show", pid)["purposes"] == ["care"]
    assert cli("processor", "update", pid).exit_code == ExitCode.BAD_INPUT  # nothing to update
    assert cli("processor", "update", "P-00000", "--note", "x").exit_code == ExitCode.BAD_INPUT
    assert cli("processor", "update", pid, "--role", "baker").exit_code == ExitCode.BAD_INPUT


def test_end_takes_a_processor_off_the_register_in_use(cli, store: Path) -> None:
    pid = cli.ok(*MAILCHIMP).stdout.strip()
    assert cli("processor", "end", pid, "--on", "2026-12-01").exit_code == ExitCode.BAD_INPUT
    assert cli("processor", "end", pid, "--on", "yesterday").exit_code == ExitCode.BAD_INPUT
    result = cli.ok("processor", "end", pid, "--on", "2026-11-20")
    assert "2026-11-20" in result.stderr
    assert cli.json("processor", "list") == []
    assert cli.json("processor", "list", "--all")[0]["ended_at"] == "2026-11-20"
    assert cli("processor", "end", pid).exit_code == ExitCode.BAD_INPUT  # already ended
    assert cli("processor", "show", "P-00000").exit_code == ExitCode.BAD_INPUT
    assert cli("processor", "end", "P-00000").exit_code == ExitCode.BAD_INPUT


def test_hostile_text_in_name_is_kept_but_never_audited(cli, store: Path) -> None:
    hostile = "Evil <script>alert(1)</script> '; DROP TABLE processors; -- [bold]x[/bold]"
    pid = cli.ok("processor", "add", "--name", hostile, "--role", "other", "--purposes",
                 "care", "--categories", "identity", "--note",
                 "Dr Marker Person's account").stdout.strip()
    assert cli.json("processor", "show", pid)["name"] == hostile
    assert "[bold]x[/bold]" in cli.ok("processor", "show", pid).stdout  # escaped, not styled
    trail = json.dumps(_audit(store))
    assert pid in trail and "Evil" not in trail and "Marker" not in trail
    # The note stays out of the ROPA; the organisation's name is in it, escaped in HTML.
    html = cli.ok("policy", "ropa", "--format", "html").stdout
    assert "<script>" not in html and "&lt;script&gt;" in html and "Marker" not in html
    # Control characters: one line, exit 2, the value not echoed, nothing written.
    result = cli("processor", "add", "--name", "Bad\x1b[31mCo", "--role", "it", "--purposes",
                 "care", "--categories", "identity")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "BadCo" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert len(cli.json("processor", "list")) == 1


# --- the ROPA's recipients and transfers come from the register ---------------------------------


def test_ropa_recipients_and_transfers_come_from_the_register(cli, store: Path) -> None:
    none_yet = cli.ok("policy", "ropa").stdout
    assert "None: no processor on the register handles the data outside" in none_yet
    rows = {r["purpose"]: r for r in csv.DictReader(io.StringIO(
        cli.ok("policy", "ropa", "--format", "csv").stdout))}
    assert rows["newsletter"]["transfers_abroad"] == "None"

    mailchimp = cli.ok(*MAILCHIMP).stdout.strip()
    cli.ok("processor", "add", "--name", "North Lab Ltd", "--role", "laboratory", "--purposes",
           "medical_referral", "--categories", "identity,medical_history")
    gone = cli.ok("processor", "add", "--name", "Old Hosting Co", "--role", "hosting",
                  "--purposes", "care", "--categories", "identity", "--country", "DE",
                  "--safeguard", "adequacy").stdout.strip()
    cli.ok("processor", "end", gone)

    rows = {r["purpose"]: r for r in csv.DictReader(io.StringIO(
        cli.ok("policy", "ropa", "--format", "csv").stdout))}
    assert "Mailchimp (Intuit) (processor: mailing)" in rows["newsletter"]["recipients"]
    assert rows["newsletter"]["transfers_abroad"] == (
        "Mailchimp (Intuit): US, UK Addendum to the EU standard contractual clauses")
    assert rows["satisfaction_survey"]["transfers_abroad"].startswith("Mailchimp (Intuit): US")
    assert "North Lab Ltd (processor: laboratory)" in rows["medical_referral"]["recipients"]
    assert "Laboratories" in rows["medical_referral"]["recipients"]  # the policy's types stay
    assert rows["medical_referral"]["transfers_abroad"] == "None"  # a UK processor
    assert "Old Hosting" not in json.dumps(rows)  # ended: no longer a recipient
    markdown = cli.ok("policy", "ropa").stdout
    assert f"Mailchimp (Intuit) ({mailchimp}): US; safeguard: UK Addendum" in markdown
    assert "None: no processor on the register" not in markdown
    assert "North Lab Ltd (processor: laboratory)" in markdown.split("## (d)")[1]
    html = cli.ok("policy", "ropa", "--format", "html").stdout
    assert "(e) Transfers outside the United Kingdom" in html and mailchimp in html
    assert "We do not transfer" not in markdown  # the fixed text no longer stands in


# --- pigment check --------------------------------------------------------------------------


def test_check_warns_on_an_expired_contract_and_a_transfer_without_safeguard(
        cli, store: Path) -> None:
    code, report = _check(cli)
    assert {"processor contracts", "transfers"} <= set(report["passed"])
    expired = cli.ok("processor", "add", "--name", "Lapsed Ltd", "--role", "it", "--purposes",
                     "care", "--categories", "identity", "--contract-until", "2026-11-24")
    assert "warning" in expired.stderr  # said at once, too
    pid = expired.stdout.strip()
    unsafe = cli.ok("processor", "add", "--name", "Faraway Inc", "--role", "hosting",
                    "--purposes", "care", "--categories", "identity", "--country", "US",
                    "--safeguard", "none").stdout.strip()
    cli.ok("processor", "add", "--name", "Today Ltd", "--role", "it", "--purposes", "care",
           "--categories", "identity", "--contract-until", "2026-11-25")  # ends today: still in force
    code, report = _check(cli)
    assert code == ExitCode.CHECK_FAILED
    found = {f["check"]: f for f in report["findings"]}
    assert found["processor contracts"]["problem"].endswith(pid)
    assert found["transfers"]["problem"].endswith(unsafe)
    assert "Lapsed" not in json.dumps(report) and "Faraway" not in json.dumps(report)
    cli.ok("processor", "update", pid, "--contract-until", "2028-01-01")
    cli.ok("processor", "update", unsafe, "--safeguard", "idta")
    code, report = _check(cli)
    assert {"processor contracts", "transfers"} <= set(report["passed"])
    # An ended processor's old contract is no finding.
    cli.ok("processor", "update", pid, "--contract-until", "2026-01-01")
    cli.ok("processor", "end", pid)
    assert "processor contracts" in _check(cli)[1]["passed"]


# --- the domain API: contracts ending, for the status screen -------------------------------------


def test_contracts_ending_within_days(store: Path) -> None:
    with domain(store) as s:
        def add(name: str, until: str | None) -> str:
            return add_processor(s, name=name, role="it", purposes="care", categories="identity",
                                 contract_until=until).id
        soon, later, past, none = (add("Soon", "2026-12-10"), add("Later", "2027-06-01"),
                                   add("Past", "2026-11-01"), add("Open-ended", None))
        ended = add("Ended", "2026-12-01")
        end_processor(s, ended)
        within = contracts_ending(s.conn, date(2026, 11, 25))
        assert [(c["id"], c["days_left"]) for c in within] == [(past, -24), (soon, 15)]
        assert within[1] == {"id": soon, "name": "Soon", "contract_until": "2026-12-10",
                             "days_left": 15}
        assert [c["id"] for c in contracts_ending(s.conn, date(2026, 11, 25), within_days=15)] \
            == [past, soon]
        assert [c["id"] for c in contracts_ending(s.conn, date(2026, 11, 25), 14)] == [past]
        assert [c["id"] for c in contracts_ending(s.conn, date(2026, 11, 25), 365)] == [
            past, soon, later]
        assert none not in {p.id for p in processors(s.conn) if p.contract_until}


def test_domain_update_validates_and_keeps_the_rest(store: Path) -> None:
    with domain(store) as s:
        p = add_processor(s, name="Acme", role="hosting", purposes="care",
                          categories="identity,contact", country="us", safeguard="IDTA")
        assert (p.country, p.safeguard) == ("US", "idta")
        with pytest.raises(BadInput):
            update_processor(s, p.id, country="CA")  # a new country abroad: a new safeguard
        q = update_processor(s, p.id, country="CA", safeguard="adequacy")
        assert (q.name, q.role, q.categories) == ("Acme", "hosting", ("identity", "contact"))
        assert q.updated_at == s.stamp


def test_the_access_report_names_a_transfer_of_the_persons_data(cli, subject_id: str,
                                                                tmp_path: Path) -> None:
    """UK GDPR Art. 15(2): once a processor abroad handles a purpose the person's data is held
    for, the report no longer says nothing leaves the UK; it says who, where and how."""
    cli.ok("item", "add", subject_id, "--category", "contact", "--source", "form",
           "--purpose", "care", "--value", "1 Test Street")
    out = tmp_path / "before"
    cli.ok("sar", "export", subject_id, "--out", str(out))
    assert "We do not transfer your personal data outside" in (out / "report.html").read_text()
    cli.ok("processor", "add", "--name", "Far Host Inc", "--role", "hosting", "--purposes",
           "care", "--categories", "contact", "--country", "US", "--safeguard", "idta",
           "--contract-until", "2027-12-31")
    out = tmp_path / "after"
    cli.ok("sar", "export", subject_id, "--out", str(out))
    report = " ".join((out / "report.html").read_text().split())
    assert "We do not transfer your personal data outside" not in report
    assert "Far Host Inc in US" in report and "International Data Transfer Agreement" in report


def test_review_fixes_notes_stay_in_show_and_contracts_are_recorded(
        cli, store: Path) -> None:
    pid = cli.ok("processor", "add", "--name", "No Contract Ltd", "--role", "it", "--purposes",
                 "care", "--categories", "contact", "--note", "ask Jane Doe").stdout.strip()
    assert "Jane Doe" not in cli.ok("processor", "list", "--json").stdout
    assert "Jane Doe" in cli.ok("processor", "show", pid, "--json").stdout
    result = cli("check", "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED and "no contract recorded" in result.stdout
