"""`pigment sar ...` through the CLI: the lifecycle, the documented exit codes, cron's
`sar list --overdue`, and the requests in `subject show`. The clock is fixed at 2026-11-25."""

from __future__ import annotations

import json
import re
import sqlite3
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
    assert cli("sar", "open", subject_id, "--received", "2026-11-26").exit_code == 2
    result = cli("sar", "open", subject_id, "--received", "2026-11-20", "--channel", "fax")
    assert result.exit_code == ExitCode.BAD_INPUT and "in_clinic" in result.stderr


def test_closing_twice_is_exit_2(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "2026-11-10")
    cli.ok("sar", "close", rid, "--on", "2026-11-24")
    result = cli("sar", "close", rid)
    assert result.exit_code == ExitCode.BAD_INPUT and "closed on 2026-11-24" in result.stderr


def test_extend_after_the_first_month_is_exit_3_and_twice_is_exit_2(cli, subject_id: str) -> None:
    late = _open(cli, subject_id, "2026-10-01")  # one-month deadline 2 Nov 2026 (1 Nov: Sunday)
    result = cli("sar", "extend", late, "--reason", "complex")
    assert result.exit_code == ExitCode.REFUSED and "2026-11-02" in result.stderr
    ok = cli("sar", "extend", late, "--reason", "complex", "--on", "2026-11-02")
    assert ok.exit_code == 0
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
    cli.ok("sar", "close", rid)


def test_close_without_health_data_needs_no_review(cli, subject_id: str) -> None:
    cli.ok("item", "add", subject_id, "--category", "contact", "--source", "form",
           "--purpose", "care", "--value", "1 Test Street")
    rid = _open(cli, subject_id, "2026-11-10")
    cli.ok("sar", "close", rid)


def test_close_with_export_refuses_an_existing_directory_and_stays_open(cli, subject_id: str,
                                                                       tmp_path: Path) -> None:
    rid = _open(cli, subject_id, "2026-11-10")
    (tmp_path / "taken").mkdir()
    result = cli("sar", "close", rid, "--export", str(tmp_path / "taken"))
    assert result.exit_code == ExitCode.BAD_INPUT and "already exists" in result.stderr
    assert cli.json("sar", "show", rid)["status"] == "open"


def test_list_overdue_exit_codes_follow_as_of(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "2026-10-20", "--as-of", "2026-10-20")  # due 20 Nov 2026
    assert cli("sar", "list", "--overdue", "--as-of", "2026-11-20").exit_code == 0  # due day
    result = cli("sar", "list", "--overdue", "--as-of", "2026-11-21", "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert [v["id"] for v in json.loads(result.stdout)] == [rid]  # printed, then exit 1
    assert "1 request(s) overdue" in result.stderr
    table = cli("sar", "list", "--overdue")
    assert table.exit_code == 1 and rid in table.stdout and "OVERDUE" in table.stdout
    # a plain listing is not a check
    assert cli("sar", "list").exit_code == 0
    # paused: the clock is stopped, so nothing is overdue
    cli.ok("sar", "pause", rid, "--reason", "r", "--on", "2026-11-19")
    assert cli("sar", "list", "--overdue").exit_code == 0
    cli.ok("sar", "resume", rid, "--on", "2026-11-20")  # 2 paused days: due 24 Nov
    assert cli("sar", "list", "--overdue").exit_code == 1
    cli.ok("sar", "close", rid)
    assert cli("sar", "list", "--overdue").exit_code == 0


def test_list_open_and_due_within(cli, subject_id: str) -> None:
    soon = _open(cli, subject_id, "2026-10-30")  # due 30 Nov 2026
    later = _open(cli, subject_id, "2026-11-20")  # due 21 Dec 2026
    closed = _open(cli, subject_id, "2026-11-01")
    cli.ok("sar", "close", closed)
    assert [v["id"] for v in cli.json("sar", "list", "--due-within", "7d")] == [soon]
    assert [v["id"] for v in cli.json("sar", "list", "--due-within", "4w")] == [soon, later]
    assert [v["id"] for v in cli.json("sar", "list", "--open")] == [soon, later]
    assert len(cli.json("sar", "list")) == 3
    within = cli.json("sar", "list", "--due-within", "7", "--as-of", "2026-12-15")
    assert [v["id"] for v in within] == [soon, later]


def test_subject_show_lists_requests(cli, subject_id: str) -> None:
    rid = _open(cli, subject_id, "2026-11-02")
    view = cli.json("subject", "show", subject_id)
    assert view["requests"][0]["request"] == rid and view["requests"][0]["due"] == "2026-12-02"
    assert rid in cli.ok("subject", "show", subject_id).stdout


def test_open_request_blocks_erasure_query(cli, subject_id: str, db: Path) -> None:
    from pigment_cli.rights.requests import has_open_request, open_request_subjects

    rid = _open(cli, subject_id, "2026-11-02")
    conn = sqlite3.connect(db)
    assert open_request_subjects(conn) == {subject_id} and has_open_request(conn, subject_id)
    cli.ok("sar", "close", rid)
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
        cli.ok("sar", "close", rid)
    order = [v["id"] for v in cli.json("sar", "list")]
    assert order == [open_early, paused, open_late, closed_early, closed_late]
    table = cli.ok("sar", "list").stdout
    assert [table.index(r) for r in order] == sorted(table.index(r) for r in order)
    assert "then closed ones by due date" in " ".join(cli.ok("sar", "list", "--help").stdout.split())


def _readme_section(title: str) -> str:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    start = readme.index(f"\n## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start:end if end > 0 else None]


def test_readme_sar_examples_run_in_order_on_a_fresh_store(cli, store: Path, tmp_path: Path) -> None:
    """Every command of the README's subject-access section, in order, on 2026-11-25: the
    placeholders S-7K3Q9 and R-4MX2P stand for the ids `subject add` and `sar open` print."""
    import shlex

    section = _readme_section("Subject-access requests")
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        lines += block.replace("\\\n", " ").splitlines()
    home = tmp_path / "home"
    home.mkdir()
    ids: dict[str, str] = {}
    ran = 0
    for line in lines:
        args = shlex.split(line, comments=True)
        if not args:
            continue
        args = [a.replace("~", str(home)) for a in args]
        if args[0] == "mkdir":
            (home / "sar").mkdir()
            assert args[1:] == ["-p", str(home / "sar")], line
            continue
        assert args[0] == "pigment", line
        args = [ids.get(a, a) for a in args[1:]]
        if "--overdue" in args and "--as-of" in args:
            result = cli(*args)  # a check: exit 1 only if something is overdue then
            assert result.exit_code == 0, (line, result.stderr)
        else:
            result = cli.ok(*args)
        ran += 1
        said = line.partition("#")[2].strip()
        if args[:2] == ["subject", "add"]:
            ids["S-7K3Q9"] = result.stdout.strip()
        elif args[:2] == ["sar", "open"]:
            rid, due = result.stdout.split()
            ids["R-4MX2P"] = rid
            assert said == f"prints: R-4MX2P {due}", line
        elif said.startswith("prints "):
            assert result.stdout.strip() == said.split()[1], line
    assert ran >= 20 and set(ids) == {"S-7K3Q9", "R-4MX2P"}
    assert (home / "sar" / "R-4MX2P").is_dir() and (home / "sar" / "S-7K3Q9").is_dir()
    assert (home / "sar" / "S-7K3Q9.zip").is_file()
    view = cli.json("sar", "show", ids["R-4MX2P"])
    assert view["status"] == "closed" and view["paused_days"] == 4 and view["extended"]
