"""`pigment sar ...`: the request lifecycle and its documented exit codes, cron's `sar list
--overdue`, `sar deadline`, the README's walk-through, and the access package `sar export` writes
(injection attempts come out inert, owner-only files, no overwriting, manifest hashes, the zip
form, the Art. 15 contents). The clock is fixed at 2026-11-25."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import sqlite3
import stat
import zipfile
from pathlib import Path

import pytest

from pigment_cli.errors import ExitCode


def _open(cli, subject_id: str, received: str, *extra: str) -> str:
    result = cli.ok("sar", "open", subject_id, "--received", received, *extra)
    match = re.fullmatch(r"(R-[0-9A-Z]{5}) (\d{4}-\d{2}-\d{2})\n", result.stdout)
    assert match, result.stdout
    return match.group(1)


def test_open_prints_id_and_due_date(cli, subject_id: str) -> None:
    result = cli.ok("sar", "open", subject_id, "--received", "2026-11-02", "--channel", "letter")
    rid, due = result.stdout.split()
    assert rid.startswith("R-") and due == "2026-12-02"
    view = cli.json("sar", "show", rid)
    assert view["channel"] == "letter" and view["subject_id"] == subject_id
    assert view["days_left"] == 7 and view["status"] == "open"


def test_open_json(cli, subject_id: str) -> None:
    view = cli.json("sar", "open", subject_id, "--received", "2026-11-25")
    assert view["due"] == "2026-12-29" and view["channel"] == "email"


def test_full_lifecycle(cli, subject_id: str, tmp_path: Path) -> None:
    rid = _open(cli, subject_id, "2026-10-01", "--as-of", "2026-10-01")
    cli.ok("sar", "verify-id", rid, "--on", "2026-10-05", "--as-of", "2026-10-05")
    cli.ok("sar", "fee-received", rid, "--on", "2026-10-06", "--as-of", "2026-10-06")
    result = cli.ok("sar", "pause", rid, "--reason", "which clinic?", "--on", "2026-10-08",
                    "--as-of", "2026-10-08")
    assert "paused" in result.stderr and result.stdout == ""
    cli.ok("sar", "resume", rid, "--on", "2026-10-12", "--as-of", "2026-10-12")
    cli.ok("sar", "extend", rid, "--reason", "records in three systems", "--as-of", "2026-10-20")
    cli.ok("sar", "review", rid, "--by", "Dr A. Shah", "--outcome", "release",
           "--note", "no risk", "--as-of", "2026-11-20")
    view = cli.json("sar", "show", rid)
    # start 6 Oct (fee), +3 months = 6 Jan 2027, +5 paused days (8-12 Oct) = 11 Jan 2027 (Mon)
    assert view["start"] == "2026-10-06" and view["paused_days"] == 5
    assert view["due"] == "2027-01-11" and view["extension_reason"] == "records in three systems"
    assert view["review"]["reviewer"] == "Dr A. Shah"
    out = tmp_path / "answer"
    result = cli.ok("sar", "close", rid, "--on", "2026-11-25", "--export", str(out))
    assert "closed on 2026-11-25" in result.stderr and result.stdout.strip() == str(out)
    assert (out / "report.html").exists()
    assert cli.json("sar", "show", rid)["status"] == "closed"


def test_show_table(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "2026-11-10")
    cli.ok("sar", "pause", rid, "--reason", "asked which years", "--on", "2026-11-12")
    table = cli.ok("sar", "show", rid).stdout
    assert rid in table and "paused" in table and "asked which years" in table


def test_steps_default_to_today(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "2026-11-10")
    cli.ok("sar", "pause", rid, "--reason", "r")
    assert cli.json("sar", "show", rid)["pauses"][0]["paused_on"] == "2026-11-25"


@pytest.mark.parametrize(("args", "code", "message"), [
    (["sar", "show", "R-ZZZZZ"], ExitCode.BAD_INPUT, "no request R-ZZZZZ"),
    (["sar", "resume", "R-ZZZZZ"], ExitCode.BAD_INPUT, "no request R-ZZZZZ"),
    (["sar", "open", "S-ZZZZZ", "--received", "2026-11-01"], ExitCode.BAD_INPUT, "no subject"),
    (["sar", "list", "--due-within", "soon"], ExitCode.BAD_INPUT, "7d"),
])
def test_unknown_ids_and_bad_options(cli, store: Path, args: list[str], code: int, message: str) -> None:
    result = cli(*args)
    assert result.exit_code == code and message in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(("step", "message"), [
    (["resume", "{rid}", "--on", "2026-11-20"], "not paused"),
    (["verify-id", "{rid}", "--on", "2026-11-01"], "before the request was received"),
    (["pause", "{rid}", "--reason", "x", "--on", "2026-11-26"], "in the future"),
    (["pause", "{rid}", "--reason", "x", "--on", "2026-11-20", "--as-of", "2026-11-15"], "in the future"),
    (["review", "{rid}", "--by", "Dr", "--outcome", "maybe", "--note", "n"], "withhold-part"),
    (["close", "{rid}", "--on", "25/11/2026"], "2026-03-31"),
])
def test_impossible_steps_are_exit_2_and_change_nothing(cli, subject_id: str, db: Path,
                                                        step: list[str], message: str) -> None:
    rid = _open(cli, subject_id, "2026-11-10")
    before = sqlite3.connect(db).execute("SELECT * FROM requests").fetchall()
    result = cli("sar", *[a.format(rid=rid) for a in step])
    assert result.exit_code == ExitCode.BAD_INPUT, result.stderr
    assert message in result.stderr
    assert sqlite3.connect(db).execute("SELECT * FROM requests").fetchall() == before


def test_open_in_the_future_or_with_an_unknown_channel(cli, subject_id: str) -> None:
    assert cli("sar", "open", subject_id, "--received", "2026-11-26").exit_code == ExitCode.BAD_INPUT
    result = cli("sar", "open", subject_id, "--received", "2026-11-20", "--channel", "fax")
    assert result.exit_code == ExitCode.BAD_INPUT and "in_clinic" in result.stderr


def test_closing_twice_is_exit_2(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "2026-11-10")
    cli.ok("sar", "close", rid, "--on", "2026-11-24", "--outcome", "withdrawn")
    result = cli("sar", "close", rid)
    assert result.exit_code == ExitCode.BAD_INPUT and "closed on 2026-11-24" in result.stderr


def test_extend_after_the_first_month_is_exit_3_and_twice_is_exit_2(cli, subject_id: str) -> None:
    late = _open(cli, subject_id, "2026-10-01")  # one-month deadline 2 Nov 2026 (1 Nov: Sunday)
    result = cli("sar", "extend", late, "--reason", "complex")
    assert result.exit_code == ExitCode.REFUSED and "2026-11-02" in result.stderr
    ok = cli("sar", "extend", late, "--reason", "complex", "--on", "2026-11-02")
    assert ok.exit_code == ExitCode.OK
    result = cli("sar", "extend", late, "--reason", "again")
    assert result.exit_code == ExitCode.BAD_INPUT and "already extended" in result.stderr
    assert cli.json("sar", "show", late)["due"] == "2027-01-04"  # 1 Jan 2027 Fri, weekend


def test_close_is_refused_without_a_review_when_health_data_is_held(cli, subject_id: str,
                                                                    tmp_path: Path) -> None:
    cli.ok("item", "add", subject_id, "--category", "medical_history", "--source", "consultation",
           "--purpose", "medical_records", "--value", "Acne")
    rid = _open(cli, subject_id, "2026-11-10")
    result = cli("sar", "close", rid, "--export", str(tmp_path / "pkg"))
    assert result.exit_code == ExitCode.REFUSED and "review" in result.stderr
    assert not (tmp_path / "pkg").exists()
    assert cli.json("sar", "show", rid)["status"] == "open"
    cli.ok("sar", "review", rid, "--by", "Dr Shah", "--outcome", "release", "--note", "fine")
    cli.ok("sar", "close", rid, "--export", str(tmp_path / "after-review"))


def test_close_without_health_data_needs_no_review(cli, subject_id: str, tmp_path: Path) -> None:
    cli.ok("item", "add", subject_id, "--category", "contact", "--source", "form",
           "--purpose", "care", "--value", "1 Test Street")
    rid = _open(cli, subject_id, "2026-11-10")
    cli.ok("sar", "close", rid, "--export", str(tmp_path / "pkg"))


def test_close_with_export_refuses_an_existing_directory_and_stays_open(cli, subject_id: str,
                                                                       tmp_path: Path) -> None:
    rid = _open(cli, subject_id, "2026-11-10")
    (tmp_path / "taken").mkdir()
    result = cli("sar", "close", rid, "--export", str(tmp_path / "taken"))
    assert result.exit_code == ExitCode.BAD_INPUT and "already exists" in result.stderr
    assert cli.json("sar", "show", rid)["status"] == "open"


def test_list_overdue_exit_codes_follow_as_of(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "2026-10-20", "--as-of", "2026-10-20")  # due 20 Nov 2026
    assert cli("sar", "list", "--overdue", "--as-of", "2026-11-20").exit_code == ExitCode.OK  # due day
    result = cli("sar", "list", "--overdue", "--as-of", "2026-11-21", "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert [v["id"] for v in json.loads(result.stdout)] == [rid]  # printed, then exit 1
    assert "1 request(s) overdue" in result.stderr
    table = cli("sar", "list", "--overdue")
    assert table.exit_code == ExitCode.CHECK_FAILED and rid in table.stdout and "OVERDUE" in table.stdout
    # a plain listing is not a check
    assert cli("sar", "list").exit_code == ExitCode.OK
    # paused: the clock is stopped, so nothing is overdue
    cli.ok("sar", "pause", rid, "--reason", "r", "--on", "2026-11-19")
    assert cli("sar", "list", "--overdue").exit_code == ExitCode.OK
    cli.ok("sar", "resume", rid, "--on", "2026-11-20")  # 2 paused days: due 24 Nov
    assert cli("sar", "list", "--overdue").exit_code == ExitCode.CHECK_FAILED
    cli.ok("sar", "close", rid, "--outcome", "withdrawn")
    assert cli("sar", "list", "--overdue").exit_code == ExitCode.OK


def test_list_open_and_due_within(cli, subject_id: str) -> None:
    soon = _open(cli, subject_id, "2026-10-30")  # due 30 Nov 2026
    later = _open(cli, subject_id, "2026-11-20")  # due 21 Dec 2026
    closed = _open(cli, subject_id, "2026-11-01")
    cli.ok("sar", "close", closed, "--outcome", "withdrawn")
    assert [v["id"] for v in _due_within(cli, "7d")] == [soon]
    assert [v["id"] for v in _due_within(cli, "4w")] == [soon, later]
    assert [v["id"] for v in cli.json("sar", "list", "--open")] == [soon, later]
    assert len(cli.json("sar", "list")) == 3
    within = _due_within(cli, "7", "--as-of", "2026-12-15")
    # nothing due within a day: exit 0, for the morning cron line
    assert cli("sar", "list", "--due-within", "1d").exit_code == ExitCode.OK
    assert [v["id"] for v in within] == [soon, later]


def test_open_request_blocks_erasure_query(cli, subject_id: str, db: Path) -> None:
    from pigment_cli.rights.requests import has_open_request, open_request_subjects

    rid = _open(cli, subject_id, "2026-11-02")
    conn = sqlite3.connect(db)
    assert open_request_subjects(conn) == {subject_id} and has_open_request(conn, subject_id)
    cli.ok("sar", "close", rid, "--outcome", "withdrawn")
    assert open_request_subjects(conn) == set() and not has_open_request(conn, subject_id)


def test_audit_trail_holds_no_free_text(cli, subject_id: str, db: Path) -> None:
    rid = _open(cli, subject_id, "2026-11-02")
    cli.ok("sar", "pause", rid, "--reason", "PRIVATE reason", "--on", "2026-11-03")
    cli.ok("sar", "resume", rid, "--on", "2026-11-04")
    cli.ok("sar", "extend", rid, "--reason", "PRIVATE extension")
    cli.ok("sar", "review", rid, "--by", "PRIVATE Dr", "--outcome", "release", "--note", "PRIVATE")
    cli.ok("sar", "show", rid)
    cli.ok("sar", "list")
    log = cli.ok("audit", "log", "--json").stdout
    assert "PRIVATE" not in log and "Lovelace" not in log
    assert '"sar review"' in log and '"sar list"' in log
    cli.ok("audit", "verify")


def test_show_gives_an_extended_request_an_internal_target(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "2026-11-10")
    assert cli.json("sar", "show", rid)["internal_target"] == "2026-12-08"  # 28 days
    cli.ok("sar", "extend", rid, "--reason", "complex")
    view = cli.json("sar", "show", rid)
    assert view["due"] == "2027-02-10" and view["internal_target"] == "2027-02-07"
    row = [line for line in cli.ok("sar", "show", rid).stdout.splitlines()
           if "internal target" in line]
    assert len(row) == 1 and "2027-02-07" in row[0]


def test_list_shows_open_requests_by_due_date_then_closed_ones_by_due_date(cli, subject_id: str) -> None:
    closed_early = _open(cli, subject_id, "2026-09-01")  # due 1 Oct 2026
    closed_late = _open(cli, subject_id, "2026-10-05")  # due 5 Nov 2026
    open_late = _open(cli, subject_id, "2026-11-20")  # due 21 Dec 2026
    open_early = _open(cli, subject_id, "2026-10-30")  # due 30 Nov 2026
    paused = _open(cli, subject_id, "2026-11-02")  # due 2 Dec 2026, + paused days
    cli.ok("sar", "pause", paused, "--reason", "r", "--on", "2026-11-24")
    for rid in (closed_late, closed_early):
        cli.ok("sar", "close", rid, "--outcome", "withdrawn")
    order = [v["id"] for v in cli.json("sar", "list")]
    assert order == [open_early, paused, open_late, closed_early, closed_late]
    table = cli.ok("sar", "list").stdout
    assert [table.index(r) for r in order] == sorted(table.index(r) for r in order)
    assert "then closed ones by due date" in " ".join(cli.ok("sar", "list", "--help").stdout.split())


def test_deadline_names_a_malformed_date_as_the_user_sees_it(cli) -> None:
    result = cli("sar", "deadline", "NOT-A-DATE")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == "pigment: DATE is not a date; use ISO form such as 2026-03-31\n"


def test_deadline_json(cli) -> None:
    assert cli.ok("sar", "deadline", "2024-11-25").stdout == "2024-12-27\n"  # plain: the date alone
    assert cli.json("sar", "deadline", "2024-11-25") == {
        "start": "2024-11-25", "due": "2024-12-27", "extended": False}
    assert cli.json("sar", "deadline", "2024-01-31", "--extended") == {
        "start": "2024-01-31", "due": "2024-04-30", "extended": True}


@pytest.mark.parametrize(("args", "expected"), [
    (["2024-11-25"], "2024-12-27"),
    (["2024-01-31"], "2024-02-29"),
    (["2024-01-31", "--extended"], "2024-04-30"),
    (["2026-11-25T23:59:00"], "2026-12-29"),  # time of day is ignored
])
def test_sar_deadline_prints_the_date_alone(cli, args: list[str], expected: str) -> None:
    result = cli.ok("sar", "deadline", *args)
    assert result.stdout == expected + "\n"
    assert result.stderr == ""


@pytest.mark.parametrize("bad", ["25/11/2024", "2024-02-30", "tomorrow", ""])
def test_sar_deadline_bad_date_is_exit_2(cli, bad: str) -> None:
    result = cli("sar", "deadline", bad)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stdout == ""
    assert "2026-03-31" in result.stderr


def test_sar_deadline_needs_no_store(cli, db: Path) -> None:
    assert not db.exists()
    cli.ok("sar", "deadline", "2024-11-25")
    assert not db.exists()  # and creates none


def test_sar_deadline_follows_the_store_policy_region(cli, store: Path, tmp_path: Path) -> None:
    from pigment_cli.policy import default_source

    scottish = default_source().replace('holidays_subdivision = "ENG"', 'holidays_subdivision = "SCT"')
    policy_file = tmp_path / "scotland.toml"
    policy_file.write_text(scottish)
    assert cli.ok("sar", "deadline", "2026-10-30").stdout.strip() == "2026-11-30"
    cli.ok("policy", "apply", str(policy_file))
    assert cli.ok("sar", "deadline", "2026-10-30").stdout.strip() == "2026-12-01"


# --- sar export: the access package -----------------------------------------------------------


NASTY_NAME = '<script>alert("x")</script> Mallory & <b>Sons</b>'
CSV_ATTACKS = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3", "@SUM(A1)"]
RAW_ATTACKS = ["\tTAB", "\rCR"]  # the CLI strips edge whitespace, so these go in by SQL
FILES = {"report.html", "data.json", "subject.csv", "items.csv", "consents.csv",
         "disclosures.csv", "requests.csv", "manifest.json"}


@pytest.fixture
def loaded(cli, store: Path, db: Path) -> dict:
    """A subject with one item per category, a consent history, a disclosure and a request."""
    sid = cli.ok("subject", "add", "--name", NASTY_NAME, "--email", "m@example.org",
                 "--address", "=cmd|' /C calc'!A0").stdout.strip()
    values = {}
    rows = [("identity", "form", "care", "Ms Mallory"),
            ("date_of_birth", "form", "care", "1970-01-01"),
            ("contact", "referral", "care", "07700 900999"),
            ("medical_history", "consultation", "medical_records", "<img src=x onerror=alert(1)>"),
            ("marketing", "survey", "satisfaction_survey", "Survey 5/5"),
            ("payment", "payment", "payment", "Card ending 4242"),
            ("communications", "email", "care", "Asked about peel"),
            ("web_activity", "website", "cookies", "Visited /prices"),
            ("social_media", "third_party", "personalised_ads", "Liked a post"),
            ("cctv", "cctv", "security", "Clip 2026-11-20")]
    for purpose in ("satisfaction_survey", "cookies", "personalised_ads"):  # their items need it
        cli.ok("consent", "grant", sid, purpose, "--via", "web_form", "--at", "2026-11-20")
    attacks = iter(CSV_ATTACKS)
    for category, source, purpose, value in rows:
        if category not in ("medical_history", "date_of_birth"):
            value = next(attacks, value)
        item = cli.ok("item", "add", sid, "--category", category, "--source", source,
                      "--purpose", purpose, "--value", value, "--processed", "2026-11-20").stdout
        values[int(item)] = value
    conn = sqlite3.connect(db)  # consents and disclosures straight into their tables
    with conn:
        for action, at in (("grant", "2026-01-10T09:00:00"), ("withdraw", "2026-06-01T09:00:00")):
            conn.execute(
                "INSERT INTO consent_events (subject_id, purpose, action, channel, written, "
                "evidence, notice_version, at, recorded_by, recorded_at) "
                "VALUES (?, 'newsletter', ?, 'paper_form', 1, ?, '2026-01', ?, 'desk', ?)",
                (sid, action, "=evidence" if action == "grant" else RAW_ATTACKS[0], at, at))
        conn.execute(
            "INSERT INTO disclosures (subject_id, recipient, recipient_type, purpose, basis, "
            "categories, at, recorded_by, recorded_at) VALUES (?, 'Derm Lab <Ltd>', 'laboratory', "
            "'medical_referral', 'contract', 'medical_history', '2026-03-01T10:00:00', 'desk', "
            "'2026-03-01T10:00:00')", (sid,))
        conn.execute("UPDATE disclosures SET legal_requirement = ? WHERE subject_id = ?",
                     (RAW_ATTACKS[1], sid))
    conn.close()
    rid = cli.ok("sar", "open", sid, "--received", "2026-11-20").stdout.split()[0]
    return {"sid": sid, "values": values, "rid": rid}


def _export(cli, sid: str, out: Path, *extra: str):
    return cli.ok("sar", "export", sid, "--out", str(out), *extra)


def test_round_trip_every_item_in_data_json_and_report(cli, loaded: dict, tmp_path: Path) -> None:
    out = tmp_path / "package"
    result = _export(cli, loaded["sid"], out)
    assert result.stdout.strip() == str(out)
    assert {p.name for p in out.iterdir()} == FILES
    data = json.loads((out / "data.json").read_text())
    assert data["schema_version"] == 1 and data["subject"]["name"] == NASTY_NAME
    assert {i["id"]: i["value"] for i in data["items"]} == loaded["values"]
    assert all(i["erasure_due"] for i in data["items"])
    assert [c["action"] for c in data["consents"] if c["purpose"] == "newsletter"] == [
        "grant", "withdraw"]
    assert data["disclosures"][0]["recipient"] == "Derm Lab <Ltd>"
    assert data["requests"][0]["id"] == loaded["rid"]
    assert data["flags"]["health_data"] is True
    html = (out / "report.html").read_text()
    from html import escape

    for value in loaded["values"].values():
        assert escape(value).replace("&#x27;", "&#39;").replace("&quot;", "&#34;") in html, value
    assert loaded["rid"] in html and "Derm Lab &lt;Ltd&gt;" in html


def test_html_injection_comes_out_as_text(cli, loaded: dict, tmp_path: Path) -> None:
    out = tmp_path / "package"
    _export(cli, loaded["sid"], out)
    html = (out / "report.html").read_text()
    assert "<script" not in html and "<img" not in html and "<b>Sons" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Mallory &amp; &lt;b&gt;Sons" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_report_is_self_contained_and_printable(cli, loaded: dict, tmp_path: Path) -> None:
    out = tmp_path / "package"
    _export(cli, loaded["sid"], out)
    html = (out / "report.html").read_text()
    from html.parser import HTMLParser

    class Collect(HTMLParser):
        tags: set[str] = set()
        attrs: set[str] = set()
        style = ""

        def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN202
            self.tags.add(tag)
            self.attrs |= {name for name, _ in attrs}
            self.in_style = tag == "style"

        def handle_endtag(self, tag):  # noqa: ANN001, ANN202
            self.in_style = False

        def handle_data(self, data):  # noqa: ANN001, ANN202
            if getattr(self, "in_style", False):
                self.style += data

    parsed = Collect()
    parsed.feed(html)
    assert not parsed.tags & {"script", "link", "img", "iframe", "object", "embed", "base", "form"}
    assert not parsed.attrs & {"src", "href", "srcset", "action"}
    assert not [a for a in parsed.attrs if a.startswith("on")]
    assert "@media print" in parsed.style and "url(" not in parsed.style
    assert "@import" not in parsed.style


def test_report_carries_the_article_15_information(cli, loaded: dict, tmp_path: Path) -> None:
    from pigment_cli.policy import default_policy

    policy = default_policy()
    out = tmp_path / "package"
    _export(cli, loaded["sid"], out)
    html = (out / "report.html").read_text()
    from html import escape

    def has(text: str) -> bool:
        return escape(text).replace("&#x27;", "&#39;").replace("&quot;", "&#34;") in html

    controller = policy.data["controller"]
    assert has(controller["name"]) and has(controller["address"]) and has(controller["email"])
    for key in ("intro", "rights", "complaint", "automated_decisions", "transfers",
                "consent_withdrawal"):
        assert has(policy.text(key)), key
    ico = policy.data["supervisory_authority"]
    assert has(ico["name"]) and has(ico["address"]) and has(ico["website"])
    for category in ("medical_history", "contact", "cctv"):
        assert has(policy.label("categories", category))
    assert has(policy.label("purposes", "medical_records")) and has(policy.label("bases", "contract"))
    for kind in policy.keys("recipient_types"):
        assert has(policy.label("recipient_types", kind))
    assert has(policy.retention_label()) and has(policy.retention_label("cctv"))
    assert has(policy.label("sources", "referral")) and "(not from you)" in html
    assert "special category: health data" in html
    assert "Schedule 3, Part 2" in html and "Schedule 2" in html  # flagged for a human
    assert "given" in html and "withdrawn" in html  # consent history
    assert "2026-12-21" in html  # the request's due date


def test_csv_cells_are_formula_safe(cli, loaded: dict, tmp_path: Path) -> None:
    out = tmp_path / "package"
    _export(cli, loaded["sid"], out)
    cells = []
    for name in ("subject.csv", "items.csv", "consents.csv", "disclosures.csv", "requests.csv"):
        with open(out / name, newline="", encoding="utf-8") as handle:
            cells += [c for row in csv.reader(handle) for c in row]
    assert cells
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), repr(cell)
    for attack in CSV_ATTACKS + RAW_ATTACKS:
        assert "'" + attack in cells, attack
    assert "'=cmd|' /C calc'!A0" in cells and "'=evidence" in cells
    with open(out / "items.csv", newline="") as handle:
        items = list(csv.DictReader(handle))
    assert len(items) == len(loaded["values"])


def test_files_and_directory_are_owner_only_under_umask_0(cli, loaded: dict, tmp_path: Path) -> None:
    out = tmp_path / "package"
    old = os.umask(0)
    try:
        _export(cli, loaded["sid"], out)
        _export(cli, loaded["sid"], tmp_path / "package.zip", "--zip")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "package.zip").stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pigment-export")]


@pytest.mark.parametrize("zip_", [False, True])
def test_refuses_to_overwrite(cli, loaded: dict, tmp_path: Path, zip_: bool) -> None:
    extra = ["--zip"] if zip_ else []
    for existing in (tmp_path / "dir", tmp_path / "file"):
        existing.mkdir() if existing.name == "dir" else existing.write_text("keep me")
        result = cli("sar", "export", loaded["sid"], "--out", str(existing), *extra)
        assert result.exit_code == ExitCode.BAD_INPUT and "already exists" in result.stderr
    assert (tmp_path / "file").read_text() == "keep me" and not any((tmp_path / "dir").iterdir())
    result = cli("sar", "export", loaded["sid"], "--out", str(tmp_path / "no" / "such"), *extra)
    assert result.exit_code == ExitCode.BAD_INPUT


def test_manifest_hashes_match(cli, loaded: dict, tmp_path: Path) -> None:
    out = tmp_path / "package"
    _export(cli, loaded["sid"], out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tool"]["version"] and manifest["generated_at"].endswith("Z")
    assert {f["name"] for f in manifest["files"]} == FILES - {"manifest.json"}
    for entry in manifest["files"]:
        body = (out / entry["name"]).read_bytes()
        assert entry["size"] == len(body)
        assert entry["sha256"] == hashlib.sha256(body).hexdigest()


def test_zip_holds_the_same_package(cli, loaded: dict, tmp_path: Path) -> None:
    target = tmp_path / "package.zip"
    result = _export(cli, loaded["sid"], target, "--zip")
    assert result.stdout.strip() == str(target)
    with zipfile.ZipFile(target) as archive:
        assert set(archive.namelist()) == FILES
        manifest = json.loads(archive.read("manifest.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(archive.read(entry["name"])).hexdigest() == entry["sha256"]
        items = list(csv.DictReader(io.StringIO(archive.read("items.csv").decode())))
        assert len(items) == len(loaded["values"])


def test_export_is_audited_without_the_path(cli, loaded: dict, tmp_path: Path) -> None:
    out = tmp_path / "secret-place"
    _export(cli, loaded["sid"], out)
    entries = cli.json("audit", "log", "--subject", loaded["sid"])
    export = [e for e in entries if e["command"] == "sar export"]
    assert len(export) == 1 and export[0]["detail"]["files"] == len(FILES)
    log = cli.ok("audit", "log", "--json").stdout
    assert "secret-place" not in log and "Mallory" not in log


def test_warns_a_human_about_health_and_third_party_data(cli, loaded: dict, tmp_path: Path) -> None:
    result = _export(cli, loaded["sid"], tmp_path / "p")
    assert "Sch. 3 Part 2" in result.stderr and "Sch. 2 Part 3" in result.stderr


def test_a_subject_without_items(cli, subject_id: str, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    _export(cli, subject_id, out)
    data = json.loads((out / "data.json").read_text())
    assert data["items"] == [] and data["consents"] == [] and data["flags"]["health_data"] is False
    html = (out / "report.html").read_text()
    assert "We hold no data items" in html and "Schedule 3" not in html
    assert "Ada Lovelace" in html


def test_unknown_subject_is_exit_2(cli, store: Path, tmp_path: Path) -> None:
    result = cli("sar", "export", "S-ZZZZZ", "--out", str(tmp_path / "x"))
    assert result.exit_code == ExitCode.BAD_INPUT and not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", ["package.zip", "PACKAGE.ZIP"])
def test_an_out_path_ending_in_zip_gets_a_zip_file(cli, loaded: dict, tmp_path: Path,
                                                   name: str) -> None:
    target = tmp_path / name
    result = _export(cli, loaded["sid"], target)  # no --zip
    assert result.stdout.strip() == str(target)
    assert target.is_file() and zipfile.is_zipfile(target)
    with zipfile.ZipFile(target) as archive:
        assert set(archive.namelist()) == FILES
    entries = cli.json("audit", "log", "--subject", loaded["sid"])
    assert [e["detail"]["zip"] for e in entries if e["command"] == "sar export"] == [True]


def test_close_export_to_a_path_ending_in_zip_gets_a_zip_file(cli, subject_id: str,
                                                              tmp_path: Path) -> None:
    rid = cli.ok("sar", "open", subject_id, "--received", "2026-11-20").stdout.split()[0]
    target = tmp_path / "answer.zip"
    result = cli.ok("sar", "close", rid, "--export", str(target))
    assert result.stdout.strip() == str(target) and zipfile.is_zipfile(target)


def test_stderr_says_a_review_is_needed_until_one_is_recorded(cli, loaded: dict,
                                                              tmp_path: Path) -> None:
    result = _export(cli, loaded["sid"], tmp_path / "before")
    assert "serious-harm opinion is needed" in result.stderr and "none is recorded" in result.stderr
    cli.ok("sar", "review", loaded["rid"], "--by", "Dr PRIVATE", "--outcome", "withhold-part",
           "--note", "PRIVATE note", "--on", "2026-11-24")
    result = _export(cli, loaded["sid"], tmp_path / "after")
    assert "is needed" not in result.stderr
    assert (f"serious-harm review is recorded for {loaded['rid']} on 2026-11-24 "
            "(outcome: withhold-part)") in result.stderr
    assert "PRIVATE" not in result.stderr and "Sch. 2 Part 3" in result.stderr
    html = (tmp_path / "after" / "report.html").read_text()  # the report agrees
    assert "Review recorded on 2026-11-24" in html and "No health professional" not in html


def test_stderr_after_close_with_export_names_the_recorded_review(cli, loaded: dict,
                                                                  tmp_path: Path) -> None:
    cli.ok("sar", "review", loaded["rid"], "--by", "Dr Shah", "--outcome", "release",
           "--note", "fine")
    result = cli.ok("sar", "close", loaded["rid"], "--export", str(tmp_path / "answer"))
    assert "(outcome: release)" in result.stderr and "is needed" not in result.stderr


def test_a_disclosure_is_explained_by_its_purpose_key_or_the_law_cited(cli, subject_id: str,
                                                                       tmp_path: Path) -> None:
    from pigment_cli.policy import default_policy

    cli.ok("disclose", subject_id, "--to", "HM Revenue & Customs", "--recipient-type", "authority",
           "--purpose", "payment", "--items", "identity,payment",
           "--legal-requirement", "Schedule 36 Finance Act 2008 information notice")
    cli.ok("disclose", subject_id, "--to", "North Lab Ltd", "--recipient-type", "laboratory",
           "--purpose", "medical_referral", "--items", "identity")
    out = tmp_path / "package"
    _export(cli, subject_id, out)
    html = (out / "report.html").read_text()
    rows = {row.split("</td>")[1].split(">")[-1]: row for row in html.split("<tr>")[1:]
            if "</td>" in row}
    hmrc = rows["HM Revenue &amp; Customs"]
    assert "Required by law: Schedule 36 Finance Act 2008 information notice" in hmrc
    assert "(payment)" in hmrc  # the recorded purpose, by key as well as label
    lab = rows["North Lab Ltd"]
    label = default_policy().label("purposes", "medical_referral")
    assert f"{label} <span class=\"muted\">(medical_referral)</span>" in lab
    assert "Required by law" not in lab


def _due_within(cli, *args: str) -> list[dict]:
    """`sar list --due-within`: exit 1 when anything matches (cron warns a week ahead)."""
    result = cli("sar", "list", "--due-within", *args, "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED, (result.exit_code, result.stderr)
    assert "due within" in result.stderr
    return json.loads(result.stdout)
