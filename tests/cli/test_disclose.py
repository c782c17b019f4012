"""`pigment disclose` and `pigment disclosure list`: the written-consent rule, the legal-requirement
exception, the contract purposes and their recipients, validation, and an unchanged store on
refusal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pigment_cli.errors import BadInput, ExitCode
from pigment_cli.records import disclosures as disclosure


def _snapshot(db: Path) -> tuple:
    conn = sqlite3.connect(db)
    try:
        return (
            conn.execute("SELECT * FROM disclosures").fetchall(),
            conn.execute("SELECT count(*) FROM audit").fetchone()[0],
            conn.execute("SELECT last_processed_at FROM subjects").fetchall(),
        )
    finally:
        conn.close()


# A consent to a non-medical disclosure names whom and what it covers (UK GDPR Art. 4(11)).
SCOPE = ("--recipient", "Glossy Magazine Ltd", "--categories", "identity,contact")


def _non_medical(cli, sid: str, *extra: str):  # noqa: ANN202
    return cli("disclose", sid, "--to", "Glossy Magazine Ltd", "--recipient-type", "other",
               "--purpose", "third_party_non_medical", "--items", "identity,contact", *extra)


def test_non_medical_disclosure_without_consent_is_refused_and_changes_nothing(
        cli, subject_id: str, db: Path) -> None:
    before = _snapshot(db)
    result = _non_medical(cli, subject_id)
    assert result.exit_code == ExitCode.REFUSED
    assert "non-medical" in result.stderr and "never asked" in result.stderr
    assert "Nothing was recorded" in result.stderr and result.stdout == ""
    assert "Glossy" not in result.stderr  # the recipient's name is not echoed either
    assert _snapshot(db) == before
    assert cli.json("disclosure", "list", subject_id) == []


def test_refused_when_the_consent_was_only_by_phone(cli, subject_id: str, db: Path) -> None:
    cli.ok("consent", "grant", subject_id, "third_party_non_medical", *SCOPE, "--via", "phone")
    before = _snapshot(db)
    result = _non_medical(cli, subject_id)
    assert result.exit_code == ExitCode.REFUSED and "via phone, which is not written" in result.stderr
    assert _snapshot(db) == before


def test_refused_after_a_written_consent_was_withdrawn(cli, subject_id: str) -> None:
    cli.ok("consent", "grant", subject_id, "third_party_non_medical", *SCOPE, "--via", "paper_form",
           "--at", "2026-01-01")
    cli.ok("consent", "withdraw", subject_id, "third_party_non_medical", "--via", "email")
    assert _non_medical(cli, subject_id).exit_code == ExitCode.REFUSED


@pytest.mark.parametrize("channel", ["paper_form", "email", "web_form"])
def test_accepted_with_written_consent(cli, subject_id: str, channel: str) -> None:
    cli.ok("consent", "grant", subject_id, "third_party_non_medical", *SCOPE, "--via", channel,
           "--evidence", "form 9")
    result = _non_medical(cli, subject_id, "--json")
    assert result.exit_code == ExitCode.OK, result.stderr
    import json

    record = json.loads(result.stdout)
    assert record["basis"] == "consent" and record["categories"] == ["identity", "contact"]
    assert record["recipient"] == "Glossy Magazine Ltd" and record["recorded_by"] == "test-manager"
    assert [d["id"] for d in cli.json("disclosure", "list", subject_id)] == [record["id"]]


def test_the_consent_that_counts_is_the_one_in_force_at_the_disclosure(cli,
                                                                       subject_id: str) -> None:
    cli.ok("consent", "grant", subject_id, "third_party_non_medical", *SCOPE, "--via", "paper_form",
           "--at", "2026-06-01")
    assert _non_medical(cli, subject_id, "--at", "2026-05-01").exit_code == ExitCode.REFUSED
    assert _non_medical(cli, subject_id, "--at", "2026-07-01").exit_code == ExitCode.OK


def test_accepted_with_a_cited_legal_requirement(cli, subject_id: str) -> None:
    law = "Court order under the Senior Courts Act 1981 s.34"
    result = cli.ok("disclose", subject_id, "--to", "HM Courts", "--recipient-type", "authority",
                    "--purpose", "medical_records", "--items", "identity",
                    "--legal-requirement", law)
    disclosure_id = int(result.stdout.strip())
    [record] = cli.json("disclosure", "list", subject_id)
    assert record["id"] == disclosure_id
    assert (record["basis"], record["legal_requirement"], record["categories"]) == (
        "legal_obligation", law, ["identity"])
    assert "basis legal_obligation" in result.stderr


@pytest.mark.parametrize(("purpose", "recipient_type", "basis", "sent"), [
    ("medical_referral", "laboratory", "contract", "medical_history"),
    ("care", "specialist", "contract", "medical_history"),
    ("medical_records", "hospital", "contract", "medical_history"),
    ("payment", "payment_processor", "contract", "payment"),
    ("debt_collection", "debt_collector", "contract", "payment"),
])
def test_contract_purposes_need_no_consent(cli, subject_id: str, purpose: str,
                                           recipient_type: str, basis: str, sent: str) -> None:
    cli.ok("disclose", subject_id, "--to", "Recipient", "--recipient-type", recipient_type,
           "--purpose", purpose, "--items", f"identity,{sent},identity")
    [record] = cli.json("disclosure", "list", subject_id)
    assert record["basis"] == basis and record["categories"] == ["identity", sent]


@pytest.mark.parametrize(("args", "message"), [
    (["--recipient-type", "martian"], "unknown recipient type 'martian'"),
    (["--purpose", "gossip"], "unknown purpose 'gossip'"),
    (["--items", "identity,shoe_size"], "unknown category 'shoe_size'"),
    (["--at", "31/12/2025"], "ISO"),
    (["--at", "2026-12-25"], "future"),
    (["--to", "  "], "--to is required"),
    (["--legal-requirement", " "], "cannot be empty"),
    (["--items", ""], "--items is required"),
    (["--items", " , ,"], "--items is required"),
])
def test_bad_input_is_exit_2_and_records_nothing(cli, subject_id: str, db: Path, args,
                                                 message: str) -> None:
    base = {"--to": "North Lab", "--recipient-type": "laboratory",
            "--purpose": "medical_referral", "--items": "identity"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = cli("disclose", subject_id, *[x for kv in base.items() for x in kv])
    assert result.exit_code == ExitCode.BAD_INPUT, result.stderr
    assert message in result.stderr
    assert cli.json("disclosure", "list", subject_id) == []


def test_unknown_subject_is_exit_2(cli, store: Path) -> None:
    result = cli("disclose", "S-00000", "--to", "Lab", "--recipient-type", "laboratory",
                 "--purpose", "care", "--items", "identity")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert cli("disclosure", "list", "S-00000").exit_code == ExitCode.BAD_INPUT


def test_list_is_oldest_first_and_a_table_by_default(cli, subject_id: str) -> None:
    for at, to in (("2026-09-01", "Second Lab"), ("2026-03-01", "First Lab")):
        cli.ok("disclose", subject_id, "--to", to, "--recipient-type", "laboratory",
               "--purpose", "medical_referral", "--items", "medical_history", "--at", at)
    assert [d["recipient"] for d in cli.json("disclosure", "list", subject_id)] == [
        "First Lab", "Second Lab"]
    table = cli.ok("disclosure", "list", subject_id).stdout
    assert table.index("First Lab") < table.index("Second Lab")


def test_disclosure_audit_holds_ids_and_keys_only(cli, subject_id: str, db: Path) -> None:
    cli.ok("consent", "grant", subject_id, "third_party_non_medical", *SCOPE, "--via", "email")
    assert _non_medical(cli, subject_id).exit_code == ExitCode.OK  # written consent by email
    cli.ok("disclose", subject_id, "--to", "Dr Jane Specialist", "--recipient-type", "authority",
           "--purpose", "medical_records", "--items", "identity",
           "--legal-requirement", "Ada Lovelace's court order")
    cli.ok("disclosure", "list", subject_id)
    log = cli.json("audit", "log", "--subject", subject_id)
    disclosed = [e for e in log if e["command"] == "disclose"]
    assert len(disclosed) == 2
    assert disclosed[0]["detail"] == {
        "basis": "consent", "categories": ["identity", "contact"], "disclosure": 1,
        "purpose": "third_party_non_medical", "recipient_type": "other"}
    assert log[-1]["command"] == "disclosure list"
    conn = sqlite3.connect(db)
    trail = repr(conn.execute("SELECT * FROM audit").fetchall())
    conn.close()
    for personal in ("Ada", "Lovelace", "Glossy", "Jane", "court order", "ada@example.org"):
        assert personal not in trail


def test_items_are_required(cli, subject_id: str, db: Path, store: Path) -> None:
    from conftest import domain

    before = _snapshot(db)
    result = cli("disclose", subject_id, "--to", "North Lab", "--recipient-type", "laboratory",
                 "--purpose", "medical_referral")
    assert result.exit_code == ExitCode.BAD_INPUT and "--items" in result.stderr
    with pytest.raises(BadInput, match="--items is required"), domain(store) as s:
        disclosure.disclose(s, subject_id, recipient="Lab", recipient_type="laboratory",
                            purpose="care")
    assert _snapshot(db) == before


# --- contract purposes go only to the recipient types the policy lists ------------------------


@pytest.mark.parametrize(("purpose", "recipient_type", "items", "allowed"), [
    ("medical_referral", "other", "medical_history", "laboratory, specialist, hospital"),
    ("care", "debt_collector", "identity,medical_history", "laboratory, specialist, hospital"),
    ("medical_records", "payment_processor", "medical_history", "laboratory, specialist, hospital"),
    ("payment", "laboratory", "payment", "payment_processor"),
    ("debt_collection", "other", "identity,payment", "debt_collector"),
])
def test_contract_purpose_to_an_unlisted_recipient_type_is_refused(
        cli, subject_id: str, db: Path, purpose: str, recipient_type: str, items: str,
        allowed: str) -> None:
    before = _snapshot(db)
    result = cli("disclose", subject_id, "--to", "Glossy Skin Magazine", "--recipient-type",
                 recipient_type, "--purpose", purpose, "--items", items)
    assert result.exit_code == ExitCode.REFUSED, result.stderr
    assert f"only for disclosures to {allowed}" in result.stderr
    assert f"type {recipient_type!r}" in result.stderr and "rests on consent" in result.stderr
    assert "Nothing was recorded" in result.stderr and "Glossy" not in result.stderr
    assert result.stdout == "" and _snapshot(db) == before


def test_contract_purpose_to_an_unlisted_type_is_refused_even_with_consent(cli,
                                                                          subject_id: str) -> None:
    """A medical referral to a magazine is not a medical referral: a consent covers disclosures
    only for a purpose that rests on consent (UK GDPR Art. 5(1)(b))."""
    scope = ("--recipient", "Glossy Skin Magazine", "--categories", "identity")
    cli.ok("consent", "grant", subject_id, "third_party_non_medical", *scope, "--via", "paper_form",
           "--evidence", "form 12")
    refused = cli("disclose", subject_id, "--to", "Glossy Skin Magazine", "--recipient-type",
                  "other", "--purpose", "medical_referral", "--items", "identity")
    assert refused.exit_code == ExitCode.REFUSED
    assert "only for disclosures to laboratory" in refused.stderr
    record = cli.json("disclose", subject_id, "--to", "Glossy Skin Magazine", "--recipient-type",
                      "other", "--purpose", "third_party_non_medical", "--items", "identity")
    assert (record["basis"], record["recipient_type"]) == ("consent", "other")


def test_contract_purpose_to_an_unlisted_type_with_a_legal_requirement(cli,
                                                                      subject_id: str) -> None:
    record = cli.json("disclose", subject_id, "--to", "Court", "--recipient-type", "authority",
                      "--purpose", "care", "--items", "medical_history",
                      "--legal-requirement", "Court order")
    assert record["basis"] == "legal_obligation"


def test_the_recipient_lists_come_from_the_policy(cli, subject_id: str, tmp_path: Path) -> None:
    from pigment_cli.policy import default_source

    source = default_source().replace('recipients = ["payment_processor"]',
                                      'recipients = ["payment_processor", "debt_collector"]', 1)
    path = tmp_path / "policy.toml"
    path.write_text(source)
    args = ("disclose", subject_id, "--to", "Recovery Ltd", "--recipient-type", "debt_collector",
            "--purpose", "payment", "--items", "payment")
    assert cli(*args).exit_code == ExitCode.REFUSED
    cli.ok("policy", "apply", str(path))
    assert cli.json(*args)["basis"] == "contract"
