"""`pigment import subjects|items|consents`: formats, header mapping, re-import, the validation
report, --skip-invalid, and a 10,000-row file."""

from __future__ import annotations

import csv
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from pigment_cli.errors import ExitCode

SUBJECTS = (
    "external_id,name,title,dob,email,phone,address\n"
    "PMS-1,Amara Okafor,Ms,1988-04-12,Amara.Okafor@Example.org,07700 900101,\"14 Larch Close\n"
    "Exampleton\"\n"
    "PMS-2,Ben Cole,Mr,1970-01-02,ben@example.net,07700 900102,\n"
)
ITEMS = (
    "external_id,category,source,purpose,basis,value,collected_at,processed_at\n"
    "PMS-1,medical_history,consultation,medical_records,,Rosacea,2019-03-01,2024-03-01T10:00:00\n"
    "PMS-1,payment,payment,payment,contract,£85 by card,2024-03-01,2024-03-01\n"
    "PMS-2,marketing,survey,satisfaction_survey,consent,Survey: 5/5,2021-06-01,2021-06-01\n"
)


def write(path: Path, text: str, *, bom: bool = False, crlf: bool = False) -> Path:
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def snapshot(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("subjects", "items", "consent_events", "audit", "meta")}
    finally:
        conn.close()


def subjects_by_external_id(cli) -> dict[str, dict]:
    return {s["external_id"]: s for s in cli.json("subject", "list")["subjects"]}


@pytest.fixture
def imported(cli, store: Path, tmp_path: Path) -> dict[str, dict]:
    cli.ok("import", "subjects", write(tmp_path / "patients.csv", SUBJECTS))
    return subjects_by_external_id(cli)


# --- formats ----------------------------------------------------------------------------------


def test_import_subjects_then_items_and_show_them(cli, imported, tmp_path: Path) -> None:
    assert set(imported) == {"PMS-1", "PMS-2"}
    amara = imported["PMS-1"]
    assert amara["email"] == "amara.okafor@example.org"  # normalised as `subject add` does
    assert amara["address"] == "14 Larch Close\nExampleton"
    result = cli.ok("import", "items", write(tmp_path / "records.csv", ITEMS))
    assert "3 rows, 3 added" in result.stderr
    view = cli.json("subject", "show", amara["id"])
    assert view["items"]["medical_history"][0]["value"] == "Rosacea"
    assert view["items"]["medical_history"][0]["basis"] == "contract"  # the purpose's default
    assert view["items"]["payment"][0]["collected_at"] == "2024-03-01"


@pytest.mark.parametrize(("bom", "crlf", "delimiter"),
                         [(True, False, ","), (False, True, ","), (True, True, ";"),
                          (False, False, ";"), (False, False, "\t")])
def test_bom_semicolon_tab_and_crlf_files_read_alike(cli, store: Path, tmp_path: Path,
                                                     bom: bool, crlf: bool, delimiter: str) -> None:
    rows = list(csv.reader(SUBJECTS.splitlines(keepends=True)))
    path = tmp_path / "export.csv"
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        csv.writer(handle, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n").writerows(rows)
    cli.ok("import", "subjects", path)
    got = subjects_by_external_id(cli)
    assert got["PMS-1"]["name"] == "Amara Okafor"  # the BOM did not end up in the first header
    assert got["PMS-1"]["address"].splitlines() == ["14 Larch Close", "Exampleton"]
    assert got["PMS-2"]["phone"] == "07700 900102"


def test_json_lines_by_extension_or_by_content(cli, store: Path, tmp_path: Path) -> None:
    lines = [
        {"external_id": "PMS-7", "name": "Cara Diaz", "dob": "1990-05-06", "phone": None},
        {"EXTERNAL_ID": 8, "Name": "Dev Patel", "email": "dev@example.com"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    cli.ok("import", "subjects", write(tmp_path / "people.jsonl", text))
    cli.ok("import", "subjects", write(tmp_path / "more.txt", text.replace("PMS-7", "PMS-9")))
    got = subjects_by_external_id(cli)
    assert set(got) == {"PMS-7", "8", "PMS-9"}
    assert got["8"]["email"] == "dev@example.com"  # keys match case-insensitively
    summary = cli.json("import", "subjects", tmp_path / "people.jsonl")
    assert summary["format"] == "jsonl" and summary["unchanged"] == 2


def test_json_lines_report_bad_lines(cli, store: Path, tmp_path: Path) -> None:
    text = '{"external_id": "A", "name": "X"}\nnot json\n[1, 2]\n{"external_id": "B", "name": ["x"]}\n'
    result = cli("import", "subjects", write(tmp_path / "bad.ndjson", text))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "line 2: is not valid JSON" in result.stderr
    assert "line 3: is not a JSON object" in result.stderr
    assert "line 4, column name: must be text, a number or null" in result.stderr


def test_map_renames_columns_and_unknown_columns_are_ignored(cli, store: Path, tmp_path: Path) -> None:
    text = ("Patient ID;Full Name;EMAIL;Date-of-Birth;Notes\n"
            "P-1;Amara Okafor;amara@example.org;1988-04-12;likes tea\n")
    path = write(tmp_path / "pms.csv", text)
    result = cli("import", "subjects", path, "--map", "patient id=external_id",
                 "--map", "FULL NAME=name", "--map", "date of birth=dob", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    summary = json.loads(result.stdout)
    assert summary["inserted"] == 1
    assert summary["ignored_columns"] == ["Notes"]
    assert "ignored columns" in result.stderr and "Notes" in result.stderr
    got = subjects_by_external_id(cli)["P-1"]
    assert (got["name"], got["email"], got["dob"]) == ("Amara Okafor", "amara@example.org",
                                                       "1988-04-12")


@pytest.mark.parametrize(("args", "message"), [
    (["--map", "nonsense"], "use SRC=DEST"),
    (["--map", "Full Name=fullname"], "'fullname' is not a column of subjects"),
    (["--map", "Nickname=name"], "has no column 'nickname'"),
])
def test_bad_maps_are_exit_2(cli, store: Path, tmp_path: Path, args: list[str], message: str) -> None:
    path = write(tmp_path / "pms.csv", "Patient ID,Full Name\nP-1,Amara\n")
    result = cli("import", "subjects", path, "--map", "Patient ID=external_id", *args)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert message in result.stderr


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.csv", None, "no file at"),
    ("empty.csv", "", "is empty"),
    ("array.json", '[{"external_id": "A"}]', "JSON array"),
    ("noname.csv", "external_id,email\nA,a@example.org\n", "no 'name' column"),
    ("twice.csv", "external_id,name,Name\nA,B,C\n", "two columns give 'name'"),
    ("latin1.csv", "external_id,name\nA,Ren\xe9e\n", "not UTF-8"),
])
def test_unreadable_files_are_exit_2_and_change_nothing(cli, store: Path, tmp_path: Path, name: str,
                                                        content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content.encode("latin-1"))
    before = snapshot(store)
    result = cli("import", "subjects", path)
    assert result.exit_code == ExitCode.BAD_INPUT, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(store) == before


# --- re-import --------------------------------------------------------------------------------


def test_reimporting_subjects_updates_by_external_id(cli, imported, tmp_path: Path) -> None:
    again = cli.json("import", "subjects", tmp_path / "patients.csv")
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
    changed = SUBJECTS.replace("ben@example.net", "ben.cole@example.net")
    summary = cli.json("import", "subjects", write(tmp_path / "changed.csv", changed))
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (0, 1, 1)
    now = subjects_by_external_id(cli)
    assert len(now) == 2
    assert now["PMS-2"]["id"] == imported["PMS-2"]["id"]
    assert now["PMS-2"]["email"] == "ben.cole@example.net"
    assert now["PMS-1"] == imported["PMS-1"]


def test_a_blank_cell_clears_and_an_absent_column_keeps(cli, imported, tmp_path: Path) -> None:
    cli.ok("import", "subjects", write(tmp_path / "a.csv", "external_id,name,phone\nPMS-1,Amara Okafor,\n"))
    amara = subjects_by_external_id(cli)["PMS-1"]
    assert amara["phone"] is None
    assert amara["email"] == "amara.okafor@example.org"


def test_reimporting_items_adds_nothing_and_records_later_processing(cli, imported,
                                                                     tmp_path: Path) -> None:
    path = write(tmp_path / "records.csv", ITEMS)
    cli.ok("import", "items", path)
    again = cli.json("import", "items", path)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    later = ITEMS.replace("2024-03-01T10:00:00", "2025-01-15T09:00:00")
    summary = cli.json("import", "items", write(tmp_path / "later.csv", later))
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (0, 1, 2)
    view = cli.json("subject", "show", imported["PMS-1"]["id"])
    assert view["item_count"] == 2
    assert view["items"]["medical_history"][0]["processed_at"] == "2025-01-15T09:00:00"


def test_identical_rows_in_one_file_are_both_kept(cli, imported, tmp_path: Path) -> None:
    """Two identical payments on one day are two payments; only re-imports are matched."""
    row = "PMS-2,payment,payment,payment,,£40,2024-05-01,2024-05-01\n"
    path = write(tmp_path / "pay.csv", ITEMS.splitlines(keepends=True)[0] + row + row)
    assert cli.json("import", "items", path)["inserted"] == 2
    assert cli.json("import", "items", path)["unchanged"] == 2


def test_items_move_the_retention_clock(cli, store: Path, tmp_path: Path) -> None:
    cli.ok("import", "subjects", write(
        tmp_path / "p.csv", "external_id,name,processed_at\nOLD,Old Patient,2015-01-01\n"))
    sid = subjects_by_external_id(cli)["OLD"]["id"]
    assert cli.json("subject", "show", sid)["subject"]["last_processed_at"] == "2015-01-01"
    items = ("external_id,category,source,purpose,collected_at,processed_at\n"
             "OLD,medical_history,consultation,care,2016-02-01,2016-02-03T11:00:00\n"
             "OLD,identity,form,care,2015-01-01,2015-06-01\n")
    cli.ok("import", "items", write(tmp_path / "i.csv", items))
    view = cli.json("subject", "show", sid)
    assert view["subject"]["last_processed_at"] == "2016-02-03T11:00:00"
    assert view["retention"]["erasure_due"] == "2023-02-03"


def test_one_audit_entry_per_import_with_counts_only(cli, imported, tmp_path: Path) -> None:
    cli.ok("import", "items", write(tmp_path / "records.csv", ITEMS))
    entries = [e for e in cli.json("audit", "log") if e["command"].startswith("import")]
    assert [e["command"] for e in entries] == ["import subjects", "import items"]
    assert entries[1]["detail"] == {"format": "csv", "rows": 3, "inserted": 3, "updated": 0,
                                    "unchanged": 0, "rejected": 0}
    assert entries[1]["subject_id"] is None
    log = json.dumps(cli.json("audit", "log"))
    assert "Rosacea" not in log and "Okafor" not in log and "records.csv" not in log


# --- the validation report --------------------------------------------------------------------


BAD_ITEMS = (
    "external_id,category,source,purpose,basis,value,collected_at,processed_at\n"
    "PMS-1,medical_history,consultation,medical_records,,Psoriasis,2020-01-01,2020-01-02\n"
    "PMS-1,bogus,consultation,care,,Secret diagnosis,2020-01-01,2020-01-02\n"
    "PMS-404,identity,form,care,,Someone,2020-01-01,2020-01-02\n"
    "PMS-2,identity,form,care,,Ben,31/12/2020,2021-01-01\n"
    "PMS-2,marketing,survey,newsletter,contract,Ben,2020-01-01,2020-01-01\n"
    "PMS-2,identity,form,care,,Ben,2020-01-01,2099-01-01\n"
    "PMS-2,identity,form,care\n"
    "PMS-2,identity,form,care,,Ben\x07,2020-01-01,2020-01-02\n"
)


def test_a_bad_file_is_refused_whole_with_line_column_and_reason(cli, imported, tmp_path: Path) -> None:
    before = snapshot(tmp_path / "pigment.db")
    result = cli("import", "items", write(tmp_path / "bad.csv", BAD_ITEMS))
    assert result.exit_code == ExitCode.BAD_INPUT
    lines = result.stderr.splitlines()
    assert lines[:-1] == [
        f"{tmp_path / 'bad.csv'}: line 3, column category: is not a category of the policy "
        "(see: pigment policy show)",
        f"{tmp_path / 'bad.csv'}: line 4, column external_id: no subject has this external id "
        "(import subjects first)",
        f"{tmp_path / 'bad.csv'}: line 5, column collected_at: is not a date or time; use ISO "
        "form such as 2026-03-31 or 2026-03-31T14:05:00",
        f"{tmp_path / 'bad.csv'}: line 6, column basis: must be 'consent': the purpose rests on "
        "consent",
        f"{tmp_path / 'bad.csv'}: line 7, column processed_at: is in the future",
        f"{tmp_path / 'bad.csv'}: line 8: has 4 cells but the header has 8 (a stray delimiter "
        "or line break?)",
        f"{tmp_path / 'bad.csv'}: line 9, column value: contains control characters",
    ]
    assert lines[-1].startswith("pigment: ") and "7 bad rows; nothing was imported" in lines[-1]
    for personal in ("Psoriasis", "Secret", "PMS-404", "31/12/2020", "Ben"):
        assert personal not in result.stderr
    assert snapshot(tmp_path / "pigment.db") == before


def test_the_report_shows_fifty_bad_rows_and_counts_the_rest(cli, imported, tmp_path: Path) -> None:
    header = ITEMS.splitlines(keepends=True)[0]
    bad = "PMS-1,identity,form,care,,x,not-a-date,2020-01-01\n"
    result = cli("import", "items", write(tmp_path / "bad.csv", header + bad * 60))
    assert result.exit_code == ExitCode.BAD_INPUT
    lines = result.stderr.splitlines()
    assert len(lines) == 52
    assert "line 51, column collected_at" in lines[49]
    assert lines[50].endswith("... and 10 more bad rows")
    assert "60 bad rows" in lines[51]


def test_bad_subject_rows_name_the_column(cli, store: Path, tmp_path: Path) -> None:
    text = ("external_id,name,dob,email,phone\n"
            "A,Amara,1988-02-30,a@example.org,07700 900101\n"
            "B,Ben,1988-01-01,ben-at-example.org,07700 900102\n"
            "C,Cara,1988-01-01,c@example.org,call me\n"
            ",Dev,,,\n"
            "E,,,,\n"
            "F,Fay,2099-01-01,,\n")
    result = cli("import", "subjects", write(tmp_path / "p.csv", text))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "line 2, column dob: is not a date" in result.stderr
    assert "line 3, column email: is not an email address" in result.stderr
    assert "line 4, column phone: is not a telephone number" in result.stderr
    assert "line 5, column external_id: is empty" in result.stderr
    assert "line 6, column name: is empty" in result.stderr
    assert "line 7, column dob: is in the future" in result.stderr
    assert "ben-at-example.org" not in result.stderr and "1988-02-30" not in result.stderr
    assert cli.json("subject", "list")["total"] == 0


# --- --skip-invalid ---------------------------------------------------------------------------


def test_skip_invalid_imports_the_good_rows_and_writes_private_rejects(cli, imported,
                                                                       tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", BAD_ITEMS)
    result = cli("import", "items", path, "--skip-invalid", "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    summary = json.loads(result.stdout)
    rejects = tmp_path / "bad.rejects.csv"
    assert (summary["inserted"], summary["rejected"]) == (1, 7)
    assert summary["rejects_file"] == str(rejects)
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
    rows = list(csv.reader(rejects.open(encoding="utf-8", newline="")))
    assert rows[0] == ["line", "problem", "external_id", "category", "source", "purpose", "basis",
                       "value", "collected_at", "processed_at"]
    assert [r[0] for r in rows[1:]] == ["3", "4", "5", "6", "7", "8", "9"]
    assert rows[1][1] == "category: is not a category of the policy (see: pigment policy show)"
    assert rows[1][2:] == ["PMS-1", "bogus", "consultation", "care", "", "Secret diagnosis",
                           "2020-01-01", "2020-01-02"]
    assert "rejected" in result.stderr and "bad.rejects.csv" in result.stderr
    assert [e["command"] for e in cli.json("audit", "log")].count("import items") == 1


def test_rejects_are_formula_safe_and_read_back_as_text(cli, store: Path, tmp_path: Path) -> None:
    text = ("external_id,name,phone\n"
            "A,=HYPERLINK(\"http://evil.example\"),+44 7700 900101x\n"
            "B,@SUM(1),+44 7700 900102\n")
    cli.ok("import", "subjects", write(tmp_path / "p.csv", text), "--skip-invalid")
    rows = list(csv.reader((tmp_path / "p.rejects.csv").open(encoding="utf-8", newline="")))
    assert rows[1][3] == "'=HYPERLINK(\"http://evil.example\")"
    assert rows[1][1] == "phone: is not a telephone number (digits, spaces, + ( ) - only)"
    fixed = (tmp_path / "p.rejects.csv").read_text("utf-8").replace("900101x", "900101")
    summary = cli.json("import", "subjects", write(tmp_path / "fixed.csv", fixed))
    assert summary["inserted"] == 1 and summary["ignored_columns"] == ["line", "problem"]
    names = {s["external_id"]: s for s in cli.json("subject", "list")["subjects"]}
    assert names["A"]["name"] == "=HYPERLINK(\"http://evil.example\")"
    assert names["A"]["phone"] == "+44 7700 900101"


def test_no_rejects_file_when_every_row_is_good(cli, imported, tmp_path: Path) -> None:
    cli.ok("import", "items", write(tmp_path / "records.csv", ITEMS), "--skip-invalid")
    assert not (tmp_path / "records.rejects.csv").exists()
    assert not list(tmp_path.glob(".pigment-*"))


# --- consents ---------------------------------------------------------------------------------


CONSENTS = (
    "external_id,purpose,action,channel,at,evidence,notice,recipient,categories\n"
    "PMS-1,newsletter,grant,web_form,2023-01-05T09:00:00,web-123,2023-01,,\n"
    "PMS-1,newsletter,withdraw,newsletter_link,2024-02-01,,,,\n"
    "PMS-2,third_party_non_medical,grant,paper_form,2022-03-03,form 77,,Partner Gym,\"identity,contact\"\n"
    "PMS-2,satisfaction_survey,grant,phone,2022-03-03,,,,\n"
)


def test_an_imported_specific_consent_names_recipient_and_categories(cli, imported,
                                                                     tmp_path: Path) -> None:
    path = write(tmp_path / "consents.csv", CONSENTS)
    cli.ok("import", "consents", path)
    ben = imported["PMS-2"]["id"]
    [event] = [e for e in cli.json("consent", "history", ben)
               if e["purpose"] == "third_party_non_medical"]
    assert (event["recipient"], event["categories"]) == ("Partner Gym", ["identity", "contact"])
    vague = write(tmp_path / "vague.csv", "external_id,purpose,action,channel,at\n"
                  "PMS-1,third_party_non_medical,grant,paper_form,2022-03-03\n")
    result = cli("import", "consents", vague)
    assert result.exit_code == ExitCode.BAD_INPUT and "column recipient" in result.stderr


def test_import_consents_builds_the_ledger(cli, imported, tmp_path: Path) -> None:
    path = write(tmp_path / "consents.csv", CONSENTS)
    summary = cli.json("import", "consents", path)
    assert (summary["inserted"], summary["unchanged"]) == (4, 0)
    amara, ben = imported["PMS-1"]["id"], imported["PMS-2"]["id"]
    assert cli("consent", "check", amara, "newsletter").exit_code == ExitCode.CHECK_FAILED
    assert cli("consent", "check", ben, "third_party_non_medical", "--written").exit_code == ExitCode.OK
    assert cli("consent", "check", ben, "satisfaction_survey", "--written").exit_code == ExitCode.CHECK_FAILED
    history = cli.json("consent", "history", amara)
    assert [(e["action"], e["channel"], e["written"], e["notice_version"]) for e in history] == [
        ("grant", "web_form", True, "2023-01"), ("withdraw", "newsletter_link", False, "2026-12")]
    again = cli.json("import", "consents", path)
    assert (again["inserted"], again["unchanged"]) == (0, 4)


def test_bad_consent_rows(cli, imported, tmp_path: Path) -> None:
    text = ("external_id,purpose,action,channel,at\n"
            "PMS-1,care,grant,web_form,2023-01-05\n"
            "PMS-1,newsletter,maybe,web_form,2023-01-05\n"
            "PMS-1,newsletter,grant,pigeon,2023-01-05\n"
            "PMS-1,newsletter,grant,web_form,2099-01-05\n"
            "PMS-1,newsletter,grant,web_form,\n")
    result = cli("import", "consents", write(tmp_path / "c.csv", text))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "line 2, column purpose: is not a consent purpose" in result.stderr
    assert "line 3, column action: must be grant or withdraw" in result.stderr
    assert "line 4, column channel: must be one of" in result.stderr
    assert "line 5, column at: is in the future" in result.stderr
    assert "line 6, column at: is empty" in result.stderr


# --- size -------------------------------------------------------------------------------------


def test_ten_thousand_rows(cli, store: Path, tmp_path: Path) -> None:
    subjects = tmp_path / "many-subjects.csv"
    items = tmp_path / "many-items.jsonl"
    with subjects.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "name", "email", "processed_at"])
        writer.writerows([f"P{i}", f"Person {i}", f"p{i}@example.org", "2019-01-01"]
                         for i in range(1000))
    with items.open("w", encoding="utf-8") as handle:
        for i in range(10_000):
            handle.write(json.dumps({
                "external_id": f"P{i % 1000}", "category": "payment", "source": "payment",
                "purpose": "payment", "value": f"£{i}", "collected_at": f"2020-01-{1 + i % 28:02d}",
                "processed_at": f"2021-01-{1 + i % 28:02d}T10:00:00"}) + "\n")
    assert cli.json("import", "subjects", subjects)["inserted"] == 1000
    assert cli.json("import", "items", items)["inserted"] == 10_000
    conn = sqlite3.connect(tmp_path / "pigment.db")
    try:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 10_000
        latest = conn.execute(
            "SELECT count(*) FROM subjects s WHERE last_processed_at != "
            "(SELECT max(processed_at) FROM items WHERE subject_id = s.id)").fetchone()[0]
        assert latest == 0
    finally:
        conn.close()
    assert cli.json("import", "items", items)["unchanged"] == 10_000
