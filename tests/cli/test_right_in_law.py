"""Issue 12: what pigment does with a person's data must be right in law. Each test reproduces, on
a fresh store and through the CLI, a defect a data-protection practitioner found.

The clock is fixed at 2026-11-25 10:30 UTC (tests/conftest.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pigment_cli import clock
from pigment_cli.errors import ExitCode


def _due(cli, sid: str) -> str:
    return cli.json("subject", "show", sid)["retention"]["erasure_due"]


def _patient(cli, processed: str = "2019-12-05", email: str | None = None) -> str:
    """A patient last seen on `processed` (so due seven years later), with one care record."""
    args = ["subject", "add", "--name", "Rita Law", "--processed", processed]
    if email:
        args += ["--email", email]
    sid = cli.ok(*args).stdout.strip()
    cli.ok("item", "add", sid, "--category", "medical_history", "--source", "consultation",
           "--purpose", "medical_records", "--value", "Eczema, reviewed", "--processed", processed)
    return sid


# --- 1. exercising a right never extends retention (Art. 5(1)(e)) -------------------------------


def test_subject_add_takes_the_last_processing_date(cli, store: Path) -> None:
    sid = _patient(cli)
    assert _due(cli, sid) == "2026-12-05"
    assert cli("subject", "add", "--name", "X", "--processed", "2030-01-01").exit_code == ExitCode.BAD_INPUT


def test_withdrawing_a_consent_does_not_move_the_clock(cli, store: Path) -> None:
    sid = _patient(cli)
    cli.ok("consent", "grant", sid, "satisfaction_survey", "--via", "paper_form", "--at", "2019-12-01",
           "--notice", "N-2019")
    cli.ok("consent", "withdraw", sid, "satisfaction_survey", "--via", "email")
    assert _due(cli, sid) == "2026-12-05"  # was moved to 2033-11-25


def test_recording_a_consent_does_not_move_the_clock(cli, store: Path) -> None:
    sid = _patient(cli)
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    assert _due(cli, sid) == "2026-12-05"


def test_an_access_request_and_its_steps_do_not_move_the_clock(cli, store: Path) -> None:
    sid = _patient(cli)
    rid = cli.json("sar", "open", sid, "--received", "2026-11-20")["id"]
    cli.ok("sar", "verify-id", rid, "--on", "2026-11-21")
    cli.ok("sar", "pause", rid, "--reason", "which clinic?", "--on", "2026-11-22")
    cli.ok("sar", "resume", rid, "--on", "2026-11-23")
    cli.ok("sar", "extend", rid, "--reason", "complex", "--on", "2026-11-24")
    cli.ok("sar", "review", rid, "--by", "Dr Reviewer", "--outcome", "release", "--note", "ok")
    cli.ok("sar", "close", rid, "--outcome", "withdrawn")
    assert _due(cli, sid) == "2026-12-05"


def test_a_disclosure_does_not_move_the_clock(cli, store: Path) -> None:
    sid = _patient(cli)
    cli.ok("disclose", sid, "--to", "North Lab", "--recipient-type", "laboratory",
           "--purpose", "medical_referral", "--items", "identity,medical_history")
    assert _due(cli, sid) == "2026-12-05"


def test_a_rectification_does_not_move_the_clock(cli, store: Path) -> None:
    sid = _patient(cli)
    cli.ok("subject", "update", sid, "--phone", "07700 900111")
    assert _due(cli, sid) == "2026-12-05"


def test_a_back_dated_item_is_processed_when_it_was_collected(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Old Record", "--processed", "2019-12-01").stdout.strip()
    cli.ok("item", "add", sid, "--category", "contact", "--source", "form",
           "--purpose", "care", "--value", "1 Old Street", "--collected", "2019-12-05")
    assert cli.json("item", "list", sid)[0]["processed_at"][:10] == "2019-12-05"
    assert _due(cli, sid) == "2026-12-05"  # not 2033: nothing was processed today


def test_importing_historical_consents_does_not_move_the_clock(cli, store: Path,
                                                               tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("external_id,name,processed_at\nP-1,Rita Import,2019-12-05\n")
    cli.ok("import", "subjects", str(people))
    sid = cli.json("subject", "find", "P-1")[0]["id"]
    assert _due(cli, sid) == "2026-12-05"
    rows = tmp_path / "consents.csv"
    rows.write_text("external_id,purpose,action,channel,at,notice\n"
                    "P-1,newsletter,grant,paper_form,2019-12-01,N-2019\n"
                    "P-1,newsletter,withdraw,email,2021-03-01,N-2019\n")
    cli.ok("import", "consents", str(rows))
    assert _due(cli, sid) == "2026-12-05"


# --- 2. a withdrawal stops the processing it covered (Art. 7(3), 17(1)(b)) ----------------------


def _newsletter_reader(cli) -> tuple[str, int, int]:
    sid = cli.ok("subject", "add", "--name", "Nina Reader", "--email", "nina@example.org").stdout.strip()
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    survey = int(cli.ok("item", "add", sid, "--category", "marketing", "--source",
                        "email_interaction", "--purpose", "newsletter",
                        "--value", "Qzclicked the spring offer").stdout)
    care = int(cli.ok("item", "add", sid, "--category", "contact", "--source", "form",
                      "--purpose", "care", "--value", "07700 900222").stdout)
    return sid, survey, care


def test_a_withdrawal_erases_data_held_only_for_that_consent(cli, store: Path) -> None:
    sid, newsletter_item, care_item = _newsletter_reader(cli)
    result = cli.ok("consent", "withdraw", sid, "newsletter", "--via", "email")
    assert "erased 1 item" in result.stderr
    left = [i["id"] for i in cli.json("item", "list", sid)]
    assert left == [care_item]  # the contract's data stays
    log = cli.json("audit", "log", "--subject", sid)
    assert any(e["command"] == "consent withdraw: erase items" and
               e["detail"]["rule"] == "withdrawn:newsletter" for e in log)
    journal = Path(f"{store}-erasures.jsonl").read_text()
    assert f'"items":[{newsletter_item}]' in journal
    for path in (store, Path(f"{store}-wal")):
        if path.exists():
            assert b"Qzclicked" not in path.read_bytes(), path.name


def test_importing_withdrawals_erases_the_same_way(cli, store: Path, tmp_path: Path) -> None:
    sid, newsletter_item, care_item = _newsletter_reader(cli)
    unsubscribed = tmp_path / "unsubscribed.csv"
    unsubscribed.write_text("Email Address\nnina@example.org\n")
    cli.ok("consent", "import-withdrawals", str(unsubscribed), "--purpose", "newsletter",
           "--via", "newsletter_link")
    assert [i["id"] for i in cli.json("item", "list", sid)] == [care_item]


def test_a_held_subject_keeps_the_data_until_the_sweep(cli, store: Path) -> None:
    sid, newsletter_item, care_item = _newsletter_reader(cli)
    hold = cli.ok("hold", "add", sid, "--reason", "legal claim").stdout.strip()
    result = cli.ok("consent", "withdraw", sid, "newsletter", "--via", "email")
    assert "kept while" in result.stderr and hold in result.stderr
    assert len(cli.json("item", "list", sid)) == 2
    plan = cli.json("retention", "plan")
    assert any(h["subject_id"] == sid for h in plan["held_subjects"])
    cli.ok("hold", "release", hold)
    swept = cli.json("retention", "sweep", "--apply")
    assert swept["erased_items"] == 1
    assert [i["id"] for i in cli.json("item", "list", sid)] == [care_item]


# --- 3. erasure does not keep what has already expired (Art. 17(3)) -----------------------------


def test_erase_on_request_keeps_nothing_whose_retention_has_run_out(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Long Gone", "--processed", "2012-05-16").stdout.strip()
    for category, purpose in (("medical_history", "medical_records"), ("payment", "payment"),
                              ("identity", "care"), ("contact", "debt_collection")):
        cli.ok("item", "add", sid, "--category", category, "--source", "form",
               "--purpose", purpose, "--processed", "2012-05-16")
    outcome = cli.json("erase", sid, "--apply")
    assert outcome["whole_subject"] is True and outcome["kept"] == []
    assert cli("subject", "show", sid).exit_code == ExitCode.BAD_INPUT


# --- 4. the grounds cited are real --------------------------------------------------------------


def test_the_built_in_policy_cites_real_grounds(cli, store: Path) -> None:
    policy = cli.json("policy", "show")["policy"]
    text = json.dumps(policy)
    assert "17(3)(c)" not in text and "17(3)(h)" not in text
    assert "explicit consent (UK GDPR Art. 6" not in text.lower()
    for key in ("care", "medical_records", "medical_referral"):
        reason = policy["purposes"][key]["keep_on_erasure"]
        assert "17(3)(b)" in reason and "17(3)(e)" in reason


def test_erase_explains_what_it_keeps_with_real_grounds(cli, store: Path) -> None:
    sid = _patient(cli, processed="2025-01-10")
    kept = cli.json("erase", sid)["kept"]
    assert kept and all("17(3)(b)" in k["why"] for k in kept)


def test_policy_check_refuses_a_ground_that_does_not_exist(cli, tmp_path: Path) -> None:
    from pigment_cli.policy import default_source

    bad = tmp_path / "bad.toml"
    bad.write_text(default_source().replace(
        "keep_on_erasure = \"Financial records the law requires us to keep (UK GDPR Art. 17(3)(b))\"",
        "keep_on_erasure = \"Financial records (UK GDPR Art. 17(3)(h))\""))
    result = cli("policy", "check", str(bad))
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "17(3)" in result.stderr and "purposes.payment.keep_on_erasure" in result.stderr


# --- 5. consent to disclose is specific (Art. 4(11), 9(2)(a)) -----------------------------------


def _shared_patient(cli) -> str:
    sid = _patient(cli, processed="2025-01-10")
    cli.ok("item", "add", sid, "--category", "contact", "--source", "form", "--purpose", "care",
           "--value", "rita@example.org")
    return sid


def test_a_third_party_consent_must_name_recipient_and_categories(cli, store: Path) -> None:
    sid = _shared_patient(cli)
    result = cli("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form")
    assert result.exit_code == ExitCode.BAD_INPUT and "--recipient" in result.stderr
    cli.ok("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
           "--recipient", "Glossy Magazine", "--categories", "identity,contact")
    history = cli.json("consent", "history", sid)
    assert history[-1]["recipient"] == "Glossy Magazine"
    assert history[-1]["categories"] == ["identity", "contact"]


def test_a_disclosure_goes_only_where_and_as_far_as_the_consent_says(cli, store: Path) -> None:
    sid = _shared_patient(cli)
    cli.ok("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
           "--recipient", "Glossy Magazine", "--categories", "identity,contact")
    ok = cli("disclose", sid, "--to", "Glossy Magazine", "--recipient-type", "other",
             "--purpose", "third_party_non_medical", "--items", "identity,contact")
    assert ok.exit_code == ExitCode.OK, ok.stderr
    elsewhere = cli("disclose", sid, "--to", "Big Insurer plc", "--recipient-type", "other",
                    "--purpose", "third_party_non_medical", "--items", "identity")
    assert elsewhere.exit_code == ExitCode.REFUSED and "Big Insurer" not in elsewhere.stderr
    health = cli("disclose", sid, "--to", "Glossy Magazine", "--recipient-type", "other",
                 "--purpose", "personalised_ads", "--items", "identity,medical_history")
    assert health.exit_code == ExitCode.REFUSED
    before = len(cli.json("disclosure", "list", sid))
    assert before == 1  # nothing was recorded for the refused ones


def test_a_disclosure_for_a_consent_purpose_needs_that_consent_too(cli, store: Path) -> None:
    sid = _shared_patient(cli)
    cli.ok("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
           "--recipient", "Mailing Partner Ltd", "--categories", "contact")
    result = cli("disclose", sid, "--to", "Mailing Partner Ltd", "--recipient-type", "other",
                 "--purpose", "newsletter", "--items", "contact")
    assert result.exit_code == ExitCode.REFUSED and "newsletter" in result.stderr
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    cli.ok("disclose", sid, "--to", "Mailing Partner Ltd", "--recipient-type", "other",
           "--purpose", "newsletter", "--items", "contact")


def test_a_consent_may_name_a_recipient_type(cli, store: Path) -> None:
    sid = _shared_patient(cli)
    cli.ok("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
           "--recipient", "authority", "--categories", "identity")
    cli.ok("disclose", sid, "--to", "Borough Council", "--recipient-type", "authority",
           "--purpose", "third_party_non_medical", "--items", "identity")


def test_withdrawing_one_recipient_leaves_the_others(cli, store: Path) -> None:
    sid = _shared_patient(cli)
    for name in ("Glossy Magazine", "Gym Partner"):
        cli.ok("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
               "--recipient", name, "--categories", "identity")
    cli.ok("consent", "withdraw", sid, "third_party_non_medical", "--via", "email",
           "--recipient", "Glossy Magazine")

    def send(name: str) -> int:
        return cli("disclose", sid, "--to", name, "--recipient-type", "other",
                   "--purpose", "third_party_non_medical", "--items", "identity").exit_code

    assert send("Glossy Magazine") == ExitCode.REFUSED
    assert send("Gym Partner") == ExitCode.OK


# --- 6. categories fit their purpose (Art. 5(1)(b)-(c)) -----------------------------------------


def test_item_add_refuses_a_category_its_purpose_does_not_use(cli, store: Path) -> None:
    sid = _patient(cli, processed="2025-01-10")
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form")
    result = cli("item", "add", sid, "--category", "medical_history", "--source", "form",
                 "--purpose", "newsletter", "--value", "x")
    assert result.exit_code == ExitCode.REFUSED
    assert "identity, contact, marketing" in result.stderr
    assert len(cli.json("item", "list", sid)) == 1


def test_disclose_refuses_a_category_its_purpose_does_not_use(cli, store: Path) -> None:
    sid = _patient(cli, processed="2025-01-10")
    result = cli("disclose", sid, "--to", "North Lab", "--recipient-type", "laboratory",
                 "--purpose", "medical_referral", "--items", "identity,cctv")
    assert result.exit_code == ExitCode.REFUSED and "cctv" in result.stderr
    assert cli.json("disclosure", "list", sid) == []


def test_import_rejects_a_row_whose_category_does_not_fit(cli, store: Path, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("external_id,name\nP-9,Ivy Import\n")
    cli.ok("import", "subjects", str(people))
    items = tmp_path / "items.csv"
    items.write_text("external_id,category,source,purpose,processed_at\n"
                     "P-9,contact,form,care,2025-01-01\n"
                     "P-9,cctv,cctv,care,2025-01-01\n")
    result = cli("import", "items", str(items))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "line 3, column category" in result.stderr


# --- 7. the suppression list holds opt-outs, not every swept patient ----------------------------


def test_a_plain_retention_sweep_leaves_no_suppression(cli, store: Path) -> None:
    old = cli.ok("subject", "add", "--name", "Old Patient", "--email", "back@example.org",
                 "--processed", "2018-01-10").stdout.strip()
    cli.ok("retention", "sweep", "--apply")
    assert cli("subject", "show", old).exit_code == ExitCode.BAD_INPUT
    back = cli.ok("subject", "add", "--name", "Returning Patient",
                  "--email", "back@example.org").stdout.strip()
    cli.ok("consent", "grant", back, "newsletter", "--via", "paper_form")
    assert cli("consent", "check", back, "newsletter").exit_code == ExitCode.OK


def test_someone_who_opted_out_stays_suppressed_after_the_sweep(cli, store: Path) -> None:
    old = cli.ok("subject", "add", "--name", "Opted Out", "--email", "no@example.org",
                 "--processed", "2018-01-10").stdout.strip()
    cli.ok("consent", "grant", old, "newsletter", "--via", "web_form", "--at", "2018-01-01",
           "--notice", "N-2017")
    cli.ok("consent", "withdraw", old, "newsletter", "--via", "email", "--at", "2018-01-05")
    cli.ok("retention", "sweep", "--apply")
    again = cli.ok("subject", "add", "--name", "Opted Out Again",
                   "--email", "no@example.org").stdout.strip()
    cli.ok("consent", "grant", again, "newsletter", "--via", "phone")
    assert cli("consent", "check", again, "newsletter").exit_code == ExitCode.CHECK_FAILED


# --- 8. the notice in force when it happened ----------------------------------------------------


def test_a_back_dated_consent_records_the_notice_then_in_force(cli, tmp_path: Path, monkeypatch,
                                                                db: Path) -> None:
    from pigment_cli.policy import default_source

    monkeypatch.setattr(clock, "system_now", lambda: datetime(2024, 1, 1, 9, 0, tzinfo=UTC))
    cli.ok("init")
    newer = tmp_path / "newer.toml"
    newer.write_text(default_source().replace('version = "2026-12"', 'version = "2025-06"'))
    monkeypatch.setattr(clock, "system_now", lambda: datetime(2025, 6, 1, 9, 0, tzinfo=UTC))
    cli.ok("policy", "apply", str(newer))
    monkeypatch.setattr(clock, "system_now", lambda: datetime(2026, 11, 25, 10, 30, tzinfo=UTC))
    sid = cli.ok("subject", "add", "--name", "Paper Form").stdout.strip()
    first = cli.json("consent", "grant", sid, "newsletter", "--via", "paper_form", "--at", "2024-02-14")
    assert first["event"]["notice_version"] == "2026-12"  # the built-in policy, in force since 2024-01-01
    later = cli.json("consent", "grant", sid, "satisfaction_survey", "--via", "paper_form",
                     "--at", "2025-07-01")
    assert later["event"]["notice_version"] == "2025-06"


def test_a_consent_dated_before_any_policy_needs_the_notice_named(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Old Form").stdout.strip()
    result = cli("consent", "grant", sid, "newsletter", "--via", "paper_form", "--at", "2014-02-14")
    assert result.exit_code == ExitCode.BAD_INPUT and "--notice" in result.stderr
    event = cli.json("consent", "grant", sid, "newsletter", "--via", "paper_form",
                     "--at", "2014-02-14", "--notice", "N-2013")["event"]
    assert event["notice_version"] == "N-2013"


def test_the_readme_worked_example_runs_and_its_dates_hold(cli, store: Path) -> None:
    """The README's "What moves the clock" example, command by command, with its dates."""
    import shlex

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### What moves the clock")[1].split("### Holds")[0]
    block = section.split("```sh\n")[1].split("```")[0].replace("\\\n", " ")
    sid, dues = "", []
    for line in block.splitlines():
        command = line.split("#")[0].strip()
        if command.startswith("ID=$("):
            sid = cli.ok(*shlex.split(command[len("ID=$(pigment "):-1])[0:]).stdout.strip()
            continue
        args = [sid if a == "$ID" else a for a in shlex.split(command.replace('"$ID"', "$ID"))]
        result = cli.ok(*args[1:])
        if args[1:3] == ["subject", "show"]:
            dues.append(json.loads(result.stdout)["retention"]["erasure_due"])
    assert dues == ["2026-12-05", "2026-12-05"]
    assert [i["category"] for i in cli.json("item", "list", sid)] == ["medical_history"]


# --- after a practitioner's review of the first fix ---------------------------------------------


def test_a_catch_all_recipient_type_is_not_a_specific_consent(cli, store: Path) -> None:
    sid = _shared_patient(cli)
    result = cli("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
                 "--recipient", "other", "--categories", "identity")
    assert result.exit_code == ExitCode.BAD_INPUT and "not specific" in result.stderr
    outside = cli("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
                  "--recipient", "Big Insurer plc", "--categories", "identity,medical_history")
    assert outside.exit_code == ExitCode.BAD_INPUT and "medical_history" in outside.stderr


def test_a_consent_covers_only_disclosures_for_a_consent_purpose(cli, store: Path) -> None:
    sid = _shared_patient(cli)
    cli.ok("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
           "--recipient", "Big Insurer plc", "--categories", "identity")
    result = cli("disclose", sid, "--to", "Big Insurer plc", "--recipient-type", "other",
                 "--purpose", "medical_referral", "--items", "identity")
    assert result.exit_code == ExitCode.REFUSED and "rests on consent" in result.stderr


def test_erase_keeps_expired_records_while_a_legal_claim_hold_stands(cli, store: Path) -> None:
    sid = cli.ok("subject", "add", "--name", "Claimant", "--processed", "2012-05-16").stdout.strip()
    cli.ok("item", "add", sid, "--category", "medical_history", "--source", "consultation",
           "--purpose", "medical_records", "--processed", "2012-05-16")
    cli.ok("hold", "add", sid, "--reason", "legal claim: negligence")
    outcome = cli.json("erase", sid, "--apply")
    assert outcome["whole_subject"] is False and outcome["erased_items"] == {}
    assert [i["category"] for i in cli.json("item", "list", sid)] == ["medical_history"]


def test_only_an_opt_out_from_marketing_still_in_force_is_suppressed(cli, store: Path) -> None:
    def swept(name: str, email: str, *events: tuple[str, str, str]) -> None:
        sid = cli.ok("subject", "add", "--name", name, "--email", email,
                     "--processed", "2018-01-10").stdout.strip()
        for action, purpose, at in events:
            cli.ok("consent", action, sid, purpose, "--via", "email", "--at", at)

    swept("Cookie Only", "cookie@example.org", ("withdraw", "cookies", "2017-05-01"))
    swept("Came Back", "back2@example.org", ("withdraw", "newsletter", "2017-05-01"),
          ("grant", "newsletter", "2017-06-01"))
    swept("Left", "left@example.org", ("withdraw", "newsletter", "2017-05-01"))
    cli.ok("retention", "sweep", "--apply")
    from conftest import domain

    from pigment_cli.records.suppression import is_suppressed

    with domain(store) as s:
        assert not is_suppressed(s.conn, "cookie@example.org")
        assert not is_suppressed(s.conn, "back2@example.org")
        assert is_suppressed(s.conn, "left@example.org")


def test_the_notice_is_the_one_in_force_at_that_time_of_day(cli, tmp_path: Path, monkeypatch,
                                                             db: Path) -> None:
    monkeypatch.setattr(clock, "system_now", lambda: datetime(2026, 11, 25, 10, 30, tzinfo=UTC))
    cli.ok("init")
    sid = cli.ok("subject", "add", "--name", "Early Bird").stdout.strip()
    early = cli("consent", "grant", sid, "newsletter", "--via", "paper_form",
                "--at", "2026-11-25T08:00:00")
    assert early.exit_code == ExitCode.BAD_INPUT  # the store's first policy came at 10:30


def test_policy_check_wants_a_ground_and_a_category_list(cli, tmp_path: Path) -> None:
    from pigment_cli.policy import default_source

    vague = tmp_path / "vague.toml"
    vague.write_text(default_source().replace(
        "keep_on_erasure = \"Needed to recover an outstanding debt (UK GDPR Art. 17(3)(e))\"",
        "keep_on_erasure = \"Because we want to\""))
    result = cli("policy", "check", str(vague))
    assert result.exit_code == ExitCode.CHECK_FAILED and "debt_collection.keep_on_erasure" in result.stderr
    unlisted = tmp_path / "unlisted.toml"
    unlisted.write_text(default_source().replace(
        'basis = "consent"\ndirect_marketing = true\ncategories = ["identity", "contact", "marketing"]\n',
        'basis = "consent"\ndirect_marketing = true\n', 1))
    result = cli("policy", "check", str(unlisted))
    assert result.exit_code == ExitCode.CHECK_FAILED and "newsletter.categories" in result.stderr


def test_an_imported_withdrawal_erases_consent_only_data(cli, store: Path, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("external_id,name,processed_at\nP-7,Nina Import,2026-01-10\n")
    cli.ok("import", "subjects", str(people))
    sid = cli.json("subject", "find", "P-7")[0]["id"]
    cli.ok("consent", "grant", sid, "newsletter", "--via", "web_form", "--at", "2026-01-10")
    cli.ok("item", "add", sid, "--category", "marketing", "--source", "email_interaction",
           "--purpose", "newsletter", "--value", "clicked", "--processed", "2026-01-11")
    rows = tmp_path / "history.csv"
    rows.write_text("external_id,purpose,action,channel,at\n"
                    "P-7,newsletter,withdraw,email,2026-02-01\n")
    summary = cli.json("import", "consents", str(rows))
    assert summary["erased"] == 1
    assert cli.json("item", "list", sid) == []


def test_two_imported_grants_to_different_recipients_are_both_kept(cli, store: Path,
                                                                   tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("external_id,name,processed_at\nP-8,Two Recipients,2026-01-10\n")
    cli.ok("import", "subjects", str(people))
    rows = tmp_path / "scoped.csv"
    rows.write_text("external_id,purpose,action,channel,at,recipient,categories\n"
                    "P-8,third_party_non_medical,grant,paper_form,2026-02-01,Gym A,identity\n"
                    "P-8,third_party_non_medical,grant,paper_form,2026-02-01,Gym B,identity\n")
    assert cli.json("import", "consents", str(rows))["inserted"] == 2


# --- after an attacker's review ------------------------------------------------------------------


def test_a_withdrawal_naming_one_recipient_is_swept_once_a_hold_is_released(cli, store: Path) -> None:
    sid = _patient(cli)
    cli.ok("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
           "--recipient", "Glossy Mag", "--categories", "identity,contact")
    cli.ok("item", "add", sid, "--category", "contact", "--source", "form",
           "--purpose", "third_party_non_medical", "--value", "shared address")
    hold = cli.ok("hold", "add", sid, "--reason", "debt").stdout.strip()
    cli.ok("consent", "withdraw", sid, "third_party_non_medical", "--via", "email",
           "--recipient", "Glossy Mag")
    cli.ok("hold", "release", hold)
    assert cli.json("retention", "sweep", "--apply")["erased_items"] == 1


def test_touching_consent_only_data_without_the_consent_is_refused(cli, store: Path) -> None:
    sid, newsletter_item, _ = _newsletter_reader(cli)
    hold = cli.ok("hold", "add", sid, "--reason", "legal claim").stdout.strip()
    cli.ok("consent", "withdraw", sid, "newsletter", "--via", "email")  # kept: the hold
    result = cli("item", "touch", str(newsletter_item))
    assert result.exit_code == ExitCode.REFUSED and hold  # no processing without the consent


def test_a_consent_naming_a_type_matches_by_type_only(cli, store: Path) -> None:
    sid = _shared_patient(cli)
    cli.ok("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
           "--recipient", "authority", "--categories", "identity")
    impostor = cli("disclose", sid, "--to", "authority", "--recipient-type", "other",
                   "--purpose", "third_party_non_medical", "--items", "identity")
    assert impostor.exit_code == ExitCode.REFUSED


def test_import_refuses_a_catch_all_recipient(cli, store: Path, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("external_id,name,processed_at\nX1,Any Broker Target,2025-01-01\n")
    cli.ok("import", "subjects", str(people))
    rows = tmp_path / "c.csv"
    rows.write_text("external_id,purpose,action,channel,at,recipient,categories\n"
                    'X1,third_party_non_medical,grant,paper_form,2025-01-01,other,"identity"\n')
    result = cli("import", "consents", str(rows))
    assert result.exit_code == ExitCode.BAD_INPUT and "column recipient" in result.stderr


def test_a_restore_replays_a_withdrawal_to_one_recipient(cli, store: Path, tmp_path: Path) -> None:
    sid = _shared_patient(cli)
    for at, name in (("2025-01-01", "Alpha Ltd"), ("2025-03-01", "Beta Ltd"),
                     ("2025-04-01", "Straße Verlag")):
        cli.ok("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
               "--at", at, "--recipient", name, "--categories", "identity")
    cli.ok("backup", str(tmp_path / "b.db"))
    cli.ok("consent", "withdraw", sid, "third_party_non_medical", "--via", "email",
           "--recipient", "STRASSE VERLAG")
    cli.ok("restore", str(tmp_path / "b.db"), "--replace")
    refused = cli("disclose", sid, "--to", "Straße Verlag", "--recipient-type", "other",
                  "--purpose", "third_party_non_medical", "--items", "identity")
    assert refused.exit_code == ExitCode.REFUSED
    allowed = cli("disclose", sid, "--to", "Beta Ltd", "--recipient-type", "other",
                  "--purpose", "third_party_non_medical", "--items", "identity")
    assert allowed.exit_code == ExitCode.OK


def test_a_restore_replays_an_imported_back_dated_withdrawal(cli, store: Path,
                                                              tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("external_id,name,processed_at\nX1,Alpha Fan,2025-01-01\n")
    cli.ok("import", "subjects", str(people))
    sid = cli.json("subject", "find", "X1")[0]["id"]
    for at, name in (("2025-01-01", "Alpha Ltd"), ("2025-03-01", "Beta Ltd")):
        cli.ok("consent", "grant", sid, "third_party_non_medical", "--via", "paper_form",
               "--at", at, "--recipient", name, "--categories", "identity")
    cli.ok("backup", str(tmp_path / "b.db"))
    rows = tmp_path / "w.csv"
    rows.write_text("external_id,purpose,action,channel,at,recipient\n"
                    "X1,third_party_non_medical,withdraw,email,2025-02-01,Alpha Ltd\n")
    cli.ok("import", "consents", str(rows))
    cli.ok("restore", str(tmp_path / "b.db"), "--replace")
    refused = cli("disclose", sid, "--to", "Alpha Ltd", "--recipient-type", "other",
                  "--purpose", "third_party_non_medical", "--items", "identity")
    assert refused.exit_code == ExitCode.REFUSED
