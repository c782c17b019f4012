"""The subject-access package: a round trip through the CLI, injection attempts coming out inert,
owner-only files, no overwriting, manifest hashes, the zip form, and the Art. 15 contents."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import stat
import zipfile
from pathlib import Path

import pytest

from pigment_cli.errors import ExitCode

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
           "--purpose", "reporting", "--items", "identity,payment",
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
    assert "(reporting)" in hmrc  # the recorded purpose, by key as well as label
    lab = rows["North Lab Ltd"]
    label = default_policy().label("purposes", "medical_referral")
    assert f"{label} <span class=\"muted\">(medical_referral)</span>" in lab
    assert "Required by law" not in lab


def test_an_export_clears_temporary_exports_left_by_a_killed_run(tmp_path) -> None:
    import os
    import time

    from pigment_cli.rights.package import remove_stale_exports

    old = tmp_path / ".pigment-export-abc123"
    old.mkdir()
    (old / "report.html").write_text("half a report")
    young = tmp_path / ".pigment-export-def456"
    young.mkdir()
    stale = time.time() - 7200
    os.utime(old, (stale, stale))
    assert remove_stale_exports(tmp_path) == 1
    assert not old.exists() and young.exists()  # a young one may be an export in progress
