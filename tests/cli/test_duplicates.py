"""Likely duplicates: `subject add`, `hold add` and `disclose` ask before recording the same thing
twice (a terminal answers; `--yes` for scripts; no terminal and no --yes: exit 3 naming --yes), and
`import subjects` imports likely duplicates but reports them by line and id. Messages carry ids,
never the other person's data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import domain, row_count

from pigment_cli.cli import _common
from pigment_cli.errors import ExitCode, NeedsConfirmation
from pigment_cli.records.disclosures import disclose, same_day_disclosures
from pigment_cli.records.holds import add_hold
from pigment_cli.records.subjects import (
    DuplicateMatch,
    add_subject,
    describe_duplicates,
    duplicate_matches,
    likely_duplicates,
)

# The `subject_id` fixture's person (tests/conftest.py): Ada Lovelace, 1985-12-10, ada@example.org.
PERSONAL = ("Ada", "Lovelace", "1985-12-10", "ada@example.org", "ADA@", "lovelace")


def _no_personal_data(text: str) -> None:
    for value in PERSONAL:
        assert value.lower() not in text.lower(), value


def _audit_entries(db: Path) -> int:
    return row_count(db, "audit")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if a person sat at the keyboard: stdin is a terminal (the answer comes from `input=`)."""
    monkeypatch.setattr(_common, "stdin_is_terminal", lambda: True)


# --- subject add --------------------------------------------------------------------------------


def test_same_name_and_dob_without_a_terminal_is_refused_naming_the_id_and_yes(
        cli, subject_id: str, db: Path) -> None:
    before = _audit_entries(db)
    result = cli("subject", "add", "--name", "  ada   LOVELACE ", "--dob", "1985-12-10")
    assert result.exit_code == ExitCode.REFUSED
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("pigment: ")
    assert subject_id in result.stderr and "same name and date of birth" in result.stderr
    assert "--yes" in result.stderr
    _no_personal_data(result.stderr)
    assert row_count(db, "subjects") == 1
    assert _audit_entries(db) == before  # a refusal writes nothing, not even an audit entry


def test_same_email_in_any_case_is_a_likely_duplicate(cli, subject_id: str, db: Path) -> None:
    result = cli("subject", "add", "--name", "Augusta King", "--email", "ADA@Example.ORG")
    assert result.exit_code == ExitCode.REFUSED
    assert f"{subject_id} has the same email" in result.stderr
    _no_personal_data(result.stderr)
    assert row_count(db, "subjects") == 1


def test_yes_adds_a_likely_duplicate_and_prints_only_the_new_id(
        cli, subject_id: str, db: Path) -> None:
    result = cli("subject", "add", "--name", "Ada Lovelace", "--dob", "1985-12-10",
                 "--email", "ada@example.org", "--yes")
    assert result.exit_code == ExitCode.OK
    new_id = result.stdout.strip()
    assert new_id.startswith("S-") and new_id != subject_id and result.stderr == ""
    assert cli("subject", "add", "--name", "Ada Lovelace", "--dob", "1985-12-10",
               "-y").exit_code == ExitCode.OK
    assert row_count(db, "subjects") == 3


@pytest.mark.parametrize("fields", [
    ("--name", "Ada Lovelace"),  # a name alone: two people may share it
    ("--name", "Ada Lovelace", "--dob", "1985-12-11"),  # another date of birth
    ("--name", "Charles Babbage", "--dob", "1985-12-10"),  # a birthday alone
    ("--name", "Ada Lovelace", "--email", "ada.l@example.org"),
])
def test_what_is_not_a_likely_duplicate_is_added_without_asking(
        cli, subject_id: str, db: Path, fields: tuple[str, ...]) -> None:
    result = cli("subject", "add", *fields)
    assert result.exit_code == ExitCode.OK, result.stderr
    assert row_count(db, "subjects") == 2


def test_on_a_terminal_it_asks_and_y_adds(cli, subject_id: str, db: Path, terminal: None) -> None:
    result = cli("subject", "add", "--name", "Ada Lovelace", "--dob", "1985-12-10", input="y\n")
    assert result.exit_code == ExitCode.OK
    assert result.stderr == (f"pigment: {subject_id} has the same name and date of birth; "
                             "add anyway? [y/N] ")
    assert result.stdout.strip().startswith("S-")  # the question never lands in captured stdout
    assert result.stdout.strip() != subject_id and len(result.stdout.split()) == 1
    assert row_count(db, "subjects") == 2


@pytest.mark.parametrize("answer", ["n\n", "\n", "", "maybe\n"])
def test_on_a_terminal_anything_but_yes_adds_nothing(
        cli, subject_id: str, db: Path, terminal: None, answer: str) -> None:
    result = cli("subject", "add", "--name", "Ada Lovelace", "--email", "ada@example.org",
                 input=answer)
    assert result.exit_code == ExitCode.REFUSED
    assert "add anyway? [y/N]" in result.stderr
    assert result.stderr.rstrip("\n").endswith("pigment: not confirmed: nothing was changed")
    assert result.stdout == ""
    _no_personal_data(result.stderr)
    assert row_count(db, "subjects") == 1


def test_yes_on_a_terminal_does_not_ask(cli, subject_id: str, db: Path, terminal: None) -> None:
    result = cli("subject", "add", "--name", "Ada Lovelace", "--email", "ada@example.org", "--yes")
    assert result.exit_code == ExitCode.OK and result.stderr == ""


def test_bad_input_is_reported_before_any_question(cli, subject_id: str, terminal: None) -> None:
    result = cli("subject", "add", "--name", "Ada Lovelace", "--dob", "1985-12-10",
                 "--email", "not-an-email", input="y\n")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "add anyway" not in result.stderr


def test_the_question_lists_every_match_by_id(cli, subject_id: str, terminal: None) -> None:
    other = cli.ok("subject", "add", "--name", "Augusta Ada King", "--email", "king@example.org"
                   ).stdout.strip()
    twin = cli.ok("subject", "add", "--name", "Ada Lovelace", "--dob", "1985-12-10", "--yes"
                  ).stdout.strip()
    result = cli("subject", "add", "--name", "Ada Lovelace", "--dob", "1985-12-10",
                 "--email", "KING@example.org", input="n\n")
    assert result.exit_code == ExitCode.REFUSED
    first, second = sorted([subject_id, twin])
    assert (f"{first} and {second} have the same name and date of birth; "
            f"{other} has the same email; add anyway?") in result.stderr


def test_the_domain_refuses_unless_told_a_person_confirmed(subject_id: str, db: Path) -> None:
    with domain(db) as s:
        assert likely_duplicates(s.conn, "ADA LOVELACE", "1985-12-10", None) == [subject_id]
        assert likely_duplicates(s.conn, "Ada Lovelace", None, None) == []
        assert likely_duplicates(s.conn, None, None, " Ada@Example.org ") == [subject_id]
        assert duplicate_matches(s.conn, "ada lovelace", "1985-12-10", "ada@example.org") == [
            DuplicateMatch(subject_id, "name, date of birth and email")]
        with pytest.raises(NeedsConfirmation) as refused:
            add_subject(s, name="Ada Lovelace", dob="1985-12-10")
        assert refused.value.exit_code == ExitCode.REFUSED
        assert subject_id in refused.value.question and "Lovelace" not in refused.value.message
        twin = add_subject(s, name="Ada Lovelace", dob="1985-12-10", duplicate_ok=True)
    assert twin.id != subject_id and row_count(db, "subjects") == 2


def test_the_description_names_ids_in_a_fixed_order() -> None:
    matches = [DuplicateMatch("S-AAAAA", "email"), DuplicateMatch("S-ZZZZZ", "name and date of birth"),
               DuplicateMatch("S-BBBBB", "name and date of birth")]
    assert describe_duplicates(matches) == ("S-BBBBB and S-ZZZZZ have the same name and date of "
                                            "birth; S-AAAAA has the same email")
    many = [DuplicateMatch(f"S-{n}AAAA", "email") for n in range(7)]
    assert describe_duplicates(many) == ("S-0AAAA, S-1AAAA, S-2AAAA, S-3AAAA, S-4AAAA and 2 more "
                                         "have the same email")


def test_names_match_whatever_their_case_in_any_script(store: Path) -> None:
    with domain(store) as s:
        first = add_subject(s, name="Zoë Ünal", dob="1990-01-01").id
        assert likely_duplicates(s.conn, "ZOË  ÜNAL", "1990-01-01", None) == [first]
        assert likely_duplicates(s.conn, "Zoe Unal", "1990-01-01", None) == []


# --- hold add -----------------------------------------------------------------------------------


def test_an_identical_active_hold_asks_first(cli, subject_id: str, db: Path) -> None:
    hold = cli.ok("hold", "add", subject_id, "--reason", "outstanding debt",
                  "--until", "2027-06-30").stdout.strip()
    result = cli("hold", "add", subject_id, "--reason", "Outstanding  Debt", "--until", "2027-06-30")
    assert result.exit_code == ExitCode.REFUSED and result.stdout == ""
    assert hold in result.stderr and subject_id in result.stderr and "--yes" in result.stderr
    assert "debt" not in result.stderr.lower()  # the reason is free text: never repeated
    assert row_count(db, "holds") == 1
    again = cli.ok("hold", "add", subject_id, "--reason", "outstanding debt",
                   "--until", "2027-06-30", "--yes").stdout.strip()
    assert again.startswith("H-") and again != hold
    assert row_count(db, "holds") == 2


def test_a_hold_that_differs_or_replaces_a_released_one_is_not_a_duplicate(
        cli, subject_id: str, db: Path) -> None:
    hold = cli.ok("hold", "add", subject_id, "--reason", "legal claim").stdout.strip()
    cli.ok("hold", "add", subject_id, "--reason", "legal claim", "--until", "2027-01-31")
    cli.ok("hold", "add", subject_id, "--reason", "regulator enquiry")
    cli.ok("hold", "release", hold)
    cli.ok("hold", "add", subject_id, "--reason", "legal claim")  # the first one was released
    assert row_count(db, "holds") == 4


def test_a_hold_question_on_a_terminal(cli, subject_id: str, db: Path, terminal: None) -> None:
    hold = cli.ok("hold", "add", subject_id, "--reason", "legal claim").stdout.strip()
    result = cli("hold", "add", subject_id, "--reason", "legal claim", input="y\n")
    assert result.exit_code == ExitCode.OK
    assert result.stderr == (f"pigment: {hold} is an active hold on {subject_id} with the same "
                             "reason and end; add anyway? [y/N] ")
    with domain(db) as s, pytest.raises(NeedsConfirmation):
        add_hold(s, subject_id, reason="LEGAL CLAIM")


# --- disclose -----------------------------------------------------------------------------------

LAB = ("--to", "North Lab Ltd", "--recipient-type", "laboratory", "--purpose", "medical_referral")


def test_the_same_disclosure_on_the_same_day_asks_first(cli, subject_id: str, db: Path) -> None:
    first = cli.ok("disclose", subject_id, *LAB, "--items", "identity,medical_history"
                   ).stdout.strip()
    result = cli("disclose", subject_id, "--to", "north lab  ltd", "--recipient-type",
                 "laboratory", "--purpose", "medical_referral", "--items",
                 "medical_history,identity", "--at", "2026-11-25T08:00:00", "--json")
    assert result.exit_code == ExitCode.REFUSED and result.stdout == ""
    assert f"disclosure {first} of {subject_id}'s data" in result.stderr
    assert "--yes" in result.stderr and "North Lab" not in result.stderr
    assert row_count(db, "disclosures") == 1
    again = cli.json("disclose", subject_id, *LAB, "--items", "identity,medical_history", "--yes")
    assert again["id"] != int(first)
    assert row_count(db, "disclosures") == 2


@pytest.mark.parametrize("change", [
    ("--items", "identity"),  # other categories
    ("--items", "identity,medical_history", "--at", "2026-11-24T10:00:00"),  # the day before
    ("--items", "identity,medical_history", "--legal-requirement", "x", "--purpose", "care"),
])
def test_a_disclosure_that_differs_is_recorded_without_asking(
        cli, subject_id: str, db: Path, change: tuple[str, ...]) -> None:
    cli.ok("disclose", subject_id, *LAB, "--items", "identity,medical_history")
    result = cli("disclose", subject_id, *LAB, *change)
    assert result.exit_code == ExitCode.OK, result.stderr
    assert row_count(db, "disclosures") == 2


def test_a_voided_disclosure_is_no_reason_to_ask(cli, subject_id: str, db: Path) -> None:
    first = cli.ok("disclose", subject_id, *LAB, "--items", "identity").stdout.strip()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE disclosures SET voided_at = '2026-11-25T10:30:00', void_reason = 'twice' "
                 "WHERE id = ?", (int(first),))
    conn.commit()
    conn.close()
    cli.ok("disclose", subject_id, *LAB, "--items", "identity")


def test_the_same_day_is_the_clinics_day_in_london(subject_id: str, db: Path) -> None:
    def sent(at: str) -> int:
        with domain(db) as s:
            return disclose(s, subject_id, recipient="North Lab Ltd", recipient_type="laboratory",
                            purpose="medical_referral", items="identity", at=at,
                            duplicate_ok=True).id

    summer = sent("2026-07-01T09:00:00")  # 10:00 in London (BST)
    with domain(db) as s:
        def twins(at: str) -> list[int]:
            return same_day_disclosures(s.conn, subject_id, "NORTH LAB LTD", "laboratory",
                                        "medical_referral", ["identity"], at)

        assert twins("2026-06-30T23:30:00") == [summer]  # 00:30 on 1 July in London
        assert twins("2026-06-30T22:30:00") == []  # 23:30 on 30 June in London
        assert twins("2026-07-01T22:59:59") == [summer]
        assert twins("2026-07-01T23:00:00") == []  # midnight in London: 2 July
    with domain(db) as s, pytest.raises(NeedsConfirmation):
        disclose(s, subject_id, recipient="North Lab Ltd", recipient_type="laboratory",
                 purpose="medical_referral", items="identity", at="2026-06-30T23:30:00")


# --- import subjects ----------------------------------------------------------------------------

IMPORT = (
    "external_id,name,dob,email\n"
    "PMS-1,ADA LOVELACE,1985-12-10,\n"  # line 2: the name and birthday of a subject held
    "PMS-2,Ben Cole,1970-01-02,shared@example.net\n"  # line 3
    "PMS-3,Cara Diaz,1995-09-30,Shared@Example.net\n"  # line 4: line 3's email
    "PMS-4,Dan Eze,1960-05-05,dan@example.com\n"  # line 5: nobody else
    "PMS-5,Eve Fox,1961-06-06,ada@example.org\n"  # line 6: the email of a subject held
)


def test_import_keeps_likely_duplicates_and_reports_lines_and_ids(
        cli, subject_id: str, db: Path, tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_text(IMPORT)
    result = cli("import", "subjects", str(path), "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    summary = json.loads(result.stdout)
    assert summary["inserted"] == 5 and row_count(db, "subjects") == 6
    found = {d["line"]: d for d in summary["likely_duplicates"]}
    assert sorted(found) == [2, 3, 4, 6]
    new_ids = {d["subject_id"] for d in found.values()}
    assert subject_id not in new_ids and len(new_ids) == 4
    assert found[2]["like"] == [{"subject_id": subject_id, "same": "name and date of birth"}]
    assert found[6]["like"] == [{"subject_id": subject_id, "same": "email"}]
    assert found[3]["like"] == [{"subject_id": found[4]["subject_id"], "same": "email"}]
    assert found[4]["like"] == [{"subject_id": found[3]["subject_id"], "same": "email"}]
    assert ("4 likely duplicates (a name and date of birth, or an email, shared with another "
            "subject: lines 2, 3, 4, 6; ids with --json)") in result.stderr
    for value in ("Ada", "Ben", "Cara", "Eve", "shared@", "ada@", "1985", "1970"):
        assert value.lower() not in result.stderr.lower()
    conn = sqlite3.connect(db)
    detail = json.loads(conn.execute("SELECT detail FROM audit WHERE command = 'import subjects'"
                                     ).fetchone()[0])
    conn.close()
    assert detail["likely_duplicates"] == 4
    # Importing the same file again updates nothing and adds nobody: nothing new to report.
    again = json.loads(cli.ok("import", "subjects", str(path), "--json").stdout)
    assert again["unchanged"] == 5 and again["likely_duplicates"] == []


def test_an_import_without_likely_duplicates_says_nothing_of_them(
        cli, store: Path, tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_text("external_id,name,dob\nPMS-1,Ada Lovelace,1985-12-10\nPMS-2,Ada Lovelace,\n")
    result = cli("import", "subjects", str(path), "--json")
    assert result.exit_code == ExitCode.OK
    assert json.loads(result.stdout)["likely_duplicates"] == []
    assert "duplicate" not in result.stderr
