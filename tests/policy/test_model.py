"""The Policy's typed answers: the built-in policy encodes the privacy policy; durations; the
recipient types of the contract purposes."""

from __future__ import annotations

import pytest

from pigment_cli.policy import default_policy, parse_duration
from pigment_cli.policy.model import REQUIRED_KEYS


def test_default_policy_encodes_the_privacy_policy() -> None:
    policy = default_policy()
    for kind, keys in REQUIRED_KEYS.items():
        assert set(keys) <= set(policy.keys(kind)), kind
    assert len(policy.keys("sources")) >= 15
    assert policy.purpose_basis("care") == "contract"
    assert policy.purpose_basis("medical_referral") == "contract"
    assert policy.purpose_basis("debt_collection") == "contract"
    assert set(policy.consent_purposes()) == {
        "newsletter", "satisfaction_survey", "personalised_ads", "cookies", "third_party_non_medical"}
    assert policy.needs_written_consent("third_party_non_medical")
    assert policy.is_special_category("medical_history")
    assert policy.data["retention"]["default"] == "7y"
    assert "Information Commissioner" in policy.data["supervisory_authority"]["name"]


@pytest.mark.parametrize("text", ["7y", "13m", "2w", "30d"])
def test_durations(text: str) -> None:
    assert parse_duration(text)


def test_contract_purposes_list_their_recipient_types() -> None:
    policy = default_policy()
    for purpose in ("care", "medical_records", "medical_referral"):
        assert policy.contract_recipients(purpose) == ["laboratory", "specialist", "hospital"]
    assert policy.contract_recipients("payment") == ["payment_processor"]
    assert policy.contract_recipients("debt_collection") == ["debt_collector"]
    assert policy.contract_recipients("newsletter") == []
    assert not [p for p in default_policy().warnings if p.key.startswith("purposes")]
