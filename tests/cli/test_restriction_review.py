"""What the practice manager's and the data-protection practitioner's review of restriction
(UK GDPR Art. 18), objection (Art. 21) and telling the recipients (Art. 19) asked for, through the
CLI: lifting needs the day the person was told, notices only for what is restricted or erased,
one notice per disclosure, an objection request that does not hold its own answer, reports that
leave objectors out, and messages that say how to go on."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from pigment_cli.errors import ExitCode
from pigment_cli.records import restrictions
from pigment_cli.rights.requests import open_request
from tests.conftest import FIXED_NOW, domain, populate

LAB = ("--to", "North Lab Ltd", "--recipient-type", "laboratory", "--purpose",
       "medical_referral", "--items", "identity,medical_history")
PAY = ("--to", "Pay Co", "--recipient-type", "payment_processor", "--purpose", "payment",
       "--items", "identity")


def _request(db: Path, subject_id: str, kind: str, purpose: str | None = None) -> str:
    with domain(db) as s:
        return open_request(s, subject_id, received="2026-11-20", kind=kind, purpose=purpose).id


def _disclose(cli, subject_id: str, *args: str) -> int:  # noqa: ANN001
    return int(cli.ok("disclose", subject_id, *args, "--yes").stdout.strip())


def _mailing_house(cli, subject_id: str) -> int:  # noqa: ANN001
    """A newsletter disclosure of the subject's contact details (with the written consent a
    disclosure for a non-medical purpose needs)."""
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form")
    cli.ok("consent", "grant", subject_id, "third_party_non_medical", "--via", "paper_form",
           "--recipient", "Mail Co", "--categories", "contact")
    return _disclose(cli, subject_id, "--to", "Mail Co", "--recipient-type", "other",
                     "--purpose", "newsletter", "--items", "contact")


def _newsletter_item(cli, subject_id: str) -> int:  # noqa: ANN001
    return int(cli.ok("item", "add", subject_id, "--category", "contact", "--source", "website",
                      "--purpose", "newsletter").stdout.strip())


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# --- 1. Art. 18(3): lifting needs the day the person was told -----------------------------------


def test_unrestrict_without_told_on_is_refused_citing_art_18_3(cli, store: Path,
                                                                subject_id: str) -> None:
    cli.ok("restrict", subject_id)
    refused = cli("unrestrict", subject_id)
    assert refused.exit_code == ExitCode.BAD_INPUT
    assert "Art. 18(3)" in _one_line(refused.stderr) and "--told-on" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert cli.json("status")["restricted_subjects"] == 1  # nothing changed


def test_told_on_may_be_neither_in_the_future_nor_before_the_restriction(
        cli, store: Path, subject_id: str) -> None:
    with domain(store, FIXED_NOW - timedelta(days=3)) as s:  # restricted on 2026-11-22
        restrictions.restrict(s, subject_id, purpose="newsletter")
    for day, said in (("2026-11-26", "future"), ("2026-11-21", "before restriction"),
                      ("yesterday", "not a date")):
        result = cli("unrestrict", subject_id, "--purpose", "newsletter", "--told-on", day)
        assert result.exit_code == ExitCode.BAD_INPUT, day
        assert said in _one_line(result.stderr)
    assert cli.json("status")["restricted_subjects"] == 1
    lifted = cli("unrestrict", subject_id, "--purpose", "newsletter", "--told-on", "2026-11-22")
    assert lifted.exit_code == ExitCode.OK, lifted.stderr
    assert "told on 2026-11-22" in lifted.stderr and "Art. 18(3)" in lifted.stderr


def test_the_day_told_is_stored_and_shown(cli, store: Path, subject_id: str) -> None:
    cli.ok("restrict", subject_id, "--purpose", "newsletter")
    done = cli.json("unrestrict", subject_id, "--purpose", "newsletter", "--told-on",
                    "2026-11-25")
    assert done["told_on"] == "2026-11-25" and done["active"] is False
    conn = sqlite3.connect(store)
    try:
        assert conn.execute("SELECT told_on FROM restrictions").fetchall() == [("2026-11-25",)]
        detail = conn.execute("SELECT detail FROM audit WHERE command = 'unrestrict'").fetchone()
    finally:
        conn.close()
    assert '"told_on":"2026-11-25"' in detail[0].replace(" ", "")
    shown = cli.json("subject", "show", subject_id)["restrictions"]
    assert [(r["purposes"], r["told_on"]) for r in shown] == [("newsletter", "2026-11-25")]
    assert shown[0]["lifted"].startswith("2026-11-25")


# --- 2. Art. 19: a restriction of one purpose tells only that purpose's recipients -------------


def test_a_restriction_of_one_purpose_notes_only_the_disclosures_for_it(
        cli, store: Path, subject_id: str) -> None:
    lab = _disclose(cli, subject_id, *LAB)  # identity went to the lab for a referral
    mail = _mailing_house(cli, subject_id)
    made = cli.json("restrict", subject_id, "--purpose", "newsletter")
    assert [n["disclosure_id"] for n in made["recipients_to_tell"]] == [mail]
    cli.ok("unrestrict", subject_id, "--purpose", "newsletter", "--told-on", "2026-11-25")
    everything = cli.json("restrict", subject_id)  # every purpose: every recipient
    assert sorted(n["disclosure_id"] for n in everything["recipients_to_tell"]) == [lab, mail]


def test_a_restriction_of_a_purpose_nothing_went_out_for_has_nobody_to_tell(
        cli, store: Path, subject_id: str) -> None:
    _disclose(cli, subject_id, *LAB)
    result = cli("restrict", subject_id, "--purpose", "newsletter")
    assert result.exit_code == ExitCode.OK
    assert "nobody to tell" in result.stderr and "North Lab" not in result.stdout


# --- 3. one notice per disclosure per command ---------------------------------------------------


def test_a_correction_of_several_fields_lists_each_disclosure_once(cli, store: Path,
                                                                   subject_id: str) -> None:
    item = int(cli.ok("item", "add", subject_id, "--category", "medical_history", "--source",
                      "consultation", "--purpose", "medical_records", "--value", "Eczema")
               .stdout.strip())
    lab = _disclose(cli, subject_id, *LAB)
    done = cli.json("item", "correct", str(item), "--value", "Psoriasis", "--source", "phone",
                    "--collected", "2026-01-02")
    assert len(done["changed"]) == 3
    assert [n["disclosure_id"] for n in done["recipients"]] == [lab]
    assert [n["disclosure_id"] for n in cli.json("disclosure", "notices", subject_id)] == [lab]


# --- 4. Art. 19 for erasures that are not `pigment erase` ----------------------------------------


def test_a_withdrawal_that_erases_data_notes_its_recipients(cli, store: Path,
                                                            subject_id: str) -> None:
    _disclose(cli, subject_id, *LAB)  # identity and medical history: not erased
    mail = _mailing_house(cli, subject_id)  # contact: erased below
    _newsletter_item(cli, subject_id)
    done = cli.json("consent", "withdraw", subject_id, "newsletter", "--via", "email")
    assert done["erased_items"] == 1
    assert [(n["disclosure_id"], n["event"]) for n in done["recipients"]] == [(mail, "erasure")]
    pending = cli.json("disclosure", "notices", subject_id, "--pending")
    assert [(n["disclosure_id"], n["event"]) for n in pending] == [(mail, "erasure")]


def test_a_direct_marketing_objection_that_erases_data_notes_and_lists_its_recipients(
        cli, store: Path, subject_id: str) -> None:
    mail = _mailing_house(cli, subject_id)
    _newsletter_item(cli, subject_id)
    result = cli("object", subject_id, "--purpose", "newsletter")
    assert result.exit_code == ExitCode.OK, result.stderr
    assert "Mail Co" in result.stdout and "erasure" in result.stdout
    pending = cli.json("disclosure", "notices", subject_id, "--pending")
    assert [(n["disclosure_id"], n["event"]) for n in pending] == [(mail, "erasure")]


def test_item_remove_answering_an_erasure_request_notes_an_erasure(cli, store: Path,
                                                                   subject_id: str) -> None:
    item = int(cli.ok("item", "add", subject_id, "--category", "identity", "--source", "phone",
                      "--purpose", "payment").stdout.strip())
    pay = _disclose(cli, subject_id, *PAY)
    asked = _request(store, subject_id, "erasure")
    done = cli.json("item", "remove", str(item), "--reason", "asked to erase it", "--request",
                    asked)
    assert [(n["disclosure_id"], n["event"]) for n in done["recipients"]] == [(pay, "erasure")]
    again = int(cli.ok("item", "add", subject_id, "--category", "identity", "--source", "phone",
                       "--purpose", "payment").stdout.strip())
    wrong = cli.json("item", "remove", str(again), "--reason", "typed twice")  # a wrong entry
    assert [n["event"] for n in wrong["recipients"]] == ["rectification"]


# --- 6. the objection request does not hold its own answer --------------------------------------


def test_an_objection_request_does_not_keep_the_data_it_objects_to(cli, store: Path,
                                                                   subject_id: str) -> None:
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form")
    _newsletter_item(cli, subject_id)
    asked = _request(store, subject_id, "objection", purpose="newsletter")
    result = cli("object", subject_id, "--purpose", "newsletter", "--request", asked)
    assert result.exit_code == ExitCode.OK, result.stderr
    assert "erased 1 item(s)" in result.stderr
    assert asked not in result.stderr  # not "kept while open objection request ... stands"
    assert cli.json("item", "list", subject_id) == []


def test_another_open_request_still_keeps_the_data(cli, store: Path, subject_id: str) -> None:
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form")
    _newsletter_item(cli, subject_id)
    access = _request(store, subject_id, "access")
    asked = _request(store, subject_id, "objection", purpose="newsletter")
    done = cli.json("object", subject_id, "--purpose", "newsletter", "--request", asked)
    assert done["erased_items"] == 0
    assert done["kept_by"] == [f"open subject-access request {access}"]


# --- 7. an objection to a legitimate-interests purpose --------------------------------------------


def test_the_reports_leave_out_a_subject_who_objected_to_reporting(cli, store: Path) -> None:
    people = populate(cli, 8, 0, 0)
    for sid, _ in people:
        cli.ok("consent", "grant", sid, "newsletter", "--via", "paper_form")

    def website() -> object:
        rows = cli.json("report", "sources")["rows"]  # populate's items: October 2026
        return next(r for r in rows if r["source"] == "website")["2026-10"]

    def newsletter() -> object:
        rows = cli.json("report", "consents")["rows"]
        return next(r for r in rows if r["purpose"] == "newsletter")["granted"]

    assert (website(), newsletter()) == (10, 10)  # 8, rounded to the nearest 5
    result = cli("object", people[0][0], "--purpose", "reporting")
    assert result.exit_code == ExitCode.OK, result.stderr
    assert (website(), newsletter()) == ("*", "*")  # 7 people now: too few to show
    assert "left out of the aggregated reports" in result.stderr
    assert "cannot stop" not in result.stderr  # pigment does this processing itself
    notes = cli.json("report", "sources")["notes"]
    assert any("objected to reporting" in n for n in notes)


def test_objecting_to_processing_done_outside_pigment_says_pigment_cannot_stop_it(
        cli, store: Path, subject_id: str) -> None:
    asked = _request(store, subject_id, "objection", purpose="security")
    result = cli("object", subject_id, "--purpose", "security", "--request", asked)
    assert result.exit_code == ExitCode.OK, result.stderr
    said = [line for line in result.stderr.splitlines()
            if line.startswith("pigment cannot stop this processing itself: ")]
    assert len(said) == 1
    assert "security" in said[0] and "compelling legitimate grounds" in said[0]
    assert f"pigment request close {asked} --outcome refused --reason" in said[0]
    assert "Art. 21(1)" in said[0]
    data = cli.json("object", subject_id, "--purpose", "cookies")  # a consent purpose
    assert data["pigment_cannot_stop_it"] is False


# --- 8. `disclosure notified` defaults to today ---------------------------------------------------


def test_disclosure_notified_without_on_means_today(cli, store: Path, subject_id: str) -> None:
    lab = _disclose(cli, subject_id, *LAB)
    cli.ok("restrict", subject_id)
    result = cli("disclosure", "notified", str(lab))
    assert result.exit_code == ExitCode.OK, result.stderr
    assert "told on 2026-11-25" in result.stderr
    assert [n["notified_on"] for n in cli.json("disclosure", "notices", subject_id)] == [
        "2026-11-25"]


# --- 9. a request about one purpose, answered for every purpose -----------------------------------


def test_a_request_about_one_purpose_says_so_in_plain_english(cli, store: Path,
                                                             subject_id: str) -> None:
    asked = _request(store, subject_id, "restriction", purpose="newsletter")
    result = cli("restrict", subject_id, "--request", asked)
    assert result.exit_code == ExitCode.BAD_INPUT
    line = _one_line(result.stderr)
    assert "not no --purpose" not in line and "(all purposes)" not in line
    assert f"request {asked} is about newsletter only" in line
    assert "every purpose" in line and "add --purpose newsletter" in line
    other = cli("restrict", subject_id, "--request", asked, "--purpose", "cookies")
    assert "is about newsletter only, but this command is for cookies only" in other.stderr
    assert cli.json("subject", "show", subject_id)["restrictions"] == []


# --- 10. a restriction of every purpose: how to go on ---------------------------------------------


def test_a_restriction_of_every_purpose_says_how_to_go_on(cli, store: Path,
                                                         subject_id: str) -> None:
    cli.ok("restrict", subject_id)
    refused = cli("item", "add", subject_id, "--category", "medical_history", "--source",
                  "consultation", "--purpose", "care")
    assert refused.exit_code == ExitCode.REFUSED
    line = _one_line(refused.stderr)
    assert "restrict only the purposes concerned" in line
    assert f"pigment restrict {subject_id} --purpose P" in line
    assert f"pigment unrestrict {subject_id} --told-on DATE" in line
    assert "does not record processing with the person's consent (Art. 18(2))" in line
    one = cli("restrict", subject_id)  # already restricted: unchanged
    assert one.exit_code == ExitCode.BAD_INPUT
    cli.ok("unrestrict", subject_id, "--told-on", "2026-11-25")
    cli.ok("consent", "grant", subject_id, "newsletter", "--via", "paper_form")
    cli.ok("restrict", subject_id, "--purpose", "newsletter")
    narrow = cli("item", "add", subject_id, "--category", "marketing", "--source", "website",
                 "--purpose", "newsletter")
    assert narrow.exit_code == ExitCode.REFUSED
    assert "restrict only the purposes concerned" not in narrow.stderr  # it already is
    assert f"pigment unrestrict {subject_id} --purpose newsletter --told-on DATE" in narrow.stderr
    assert cli("item", "add", subject_id, "--category", "medical_history", "--source",
               "consultation", "--purpose", "care").exit_code == ExitCode.OK
