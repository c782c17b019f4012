"""The policy as data: the built-in default, validation with line numbers, applying versions."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pigment_cli.errors import ExitCode
from pigment_cli.policy import check_source, default_policy, default_source
from pigment_cli.policy.load import line_of
from pigment_cli.policy.model import REQUIRED_KEYS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "policy.toml"


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


def test_example_policy_shows_every_key_of_the_default() -> None:
    example = tomllib.loads(EXAMPLE.read_text())
    default = tomllib.loads(default_source())

    def keys(data: dict, prefix: str = "") -> set[str]:
        out = set()
        for key, value in data.items():
            out.add(prefix + key)
            if isinstance(value, dict):
                out |= keys(value, f"{prefix}{key}.")
        return out

    assert keys(default) <= keys(example)
    text = EXAMPLE.read_text()
    for documented in ("from_subject", "written_consent", "special", "until_age", "suppress_below",
                       "round_to", "holidays_country", "medical", "recipients = [...]"):
        assert documented in text


def test_check_accepts_the_example_and_warns_about_the_nhs_benchmark(cli) -> None:
    result = cli.ok("policy", "check", str(EXAMPLE))
    assert "valid" in result.stderr
    assert "warning" in result.stderr and "NHS" in result.stderr and "retention.default" in result.stderr


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = default_source()
    assert old in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_check_names_the_bad_key_and_its_line(cli, tmp_path: Path) -> None:
    path = _broken(tmp_path, 'label = "Electronic newsletters"\nbasis = "consent"',
                   'label = "Electronic newsletters"\nbasis = "contract"')
    result = cli("policy", "check", str(path))
    assert result.exit_code == ExitCode.CHECK_FAILED
    expected_line = path.read_text().splitlines().index('basis = "contract"',
        path.read_text().splitlines().index("[purposes.newsletter]")) + 1
    assert f"line {expected_line}: purposes.newsletter.basis" in result.stderr


def test_check_reports_unknown_basis_and_bad_duration(cli, tmp_path: Path) -> None:
    path = _broken(tmp_path, 'default = "7y"', 'default = "seven years"')
    data = cli("policy", "check", str(path), "--json")
    assert data.exit_code == ExitCode.CHECK_FAILED
    import json

    problems = json.loads(data.stdout)["problems"]
    assert problems[0]["key"] == "retention.default" and problems[0]["line"] is not None


def test_check_reports_a_missing_required_key(tmp_path: Path) -> None:
    text = default_source().replace("[sources.cctv]\nlabel", "[sources.cctv_x]\nlabel")
    _, problems = check_source(text)
    assert any(p.key == "sources.cctv" and p.level == "error" for p in problems)


def test_check_reports_toml_syntax_errors_with_a_line(cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('version = "1"\n[controller\nname = "x"\n')
    result = cli("policy", "check", str(path))
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "line 2" in result.stderr


def test_check_missing_file_is_exit_2(cli, tmp_path: Path) -> None:
    assert cli("policy", "check", str(tmp_path / "nope.toml")).exit_code == ExitCode.BAD_INPUT


def test_line_of_finds_keys_and_tables() -> None:
    source = 'a = 1\n[b.c]\nd = 2\n\n[e]\nf = 3\n'
    assert line_of(source, "a") == 1
    assert line_of(source, "b.c.d") == 3
    assert line_of(source, "b.c.missing") == 2
    assert line_of(source, "e.f") == 6


def test_show_prints_the_policy_in_force(cli, store) -> None:
    data = cli.json("policy", "show")
    assert data["version"] == "2026-11" and data["store_version"] == 1
    assert data["policy"]["purposes"]["care"]["basis"] == "contract"
    assert "newsletter" in cli.ok("policy", "show").stdout


def test_apply_keeps_every_version_and_is_audited(cli, store, tmp_path: Path) -> None:
    path = _broken(tmp_path, 'version = "2026-11"', 'version = "2027-01"')
    path.write_text(path.read_text().replace(
        "[categories.cctv]",
        '[categories.photos]\nlabel = "Clinical photographs"\nspecial = true\n\n[categories.cctv]'))
    cli.ok("policy", "apply", str(path))
    assert cli.json("policy", "show")["version"] == "2027-01"
    assert [v["version"] for v in cli.json("policy", "history")] == [1, 2]
    assert cli.json("audit", "log")[-1]["command"] == "policy apply"
    sid = cli.ok("subject", "add", "--name", "P").stdout.strip()
    cli.ok("item", "add", sid, "--category", "photos", "--source", "consultation",
           "--purpose", "medical_records")


def test_apply_refuses_an_invalid_policy_and_keeps_the_old(cli, store, tmp_path: Path) -> None:
    path = _broken(tmp_path, 'communicating with you about it"\nbasis = "contract"',
                   'communicating with you about it"\nbasis = "consent"')
    result = cli("policy", "apply", str(path))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "purposes.care.basis" in result.stderr
    assert [v["version"] for v in cli.json("policy", "history")] == [1]


def test_init_with_a_policy_file(cli, tmp_path: Path) -> None:
    path = _broken(tmp_path, 'version = "2026-11"', 'version = "custom-1"')
    cli.ok("init", "--policy", str(path))
    assert cli.json("policy", "show")["version"] == "custom-1"


@pytest.mark.parametrize("text", ["7y", "13m", "2w", "30d"])
def test_durations(text: str) -> None:
    from pigment_cli.policy import parse_duration

    assert parse_duration(text)


def test_contract_purposes_list_their_recipient_types() -> None:
    policy = default_policy()
    for purpose in ("care", "medical_records", "medical_referral"):
        assert policy.contract_recipients(purpose) == ["laboratory", "specialist", "hospital"]
    assert policy.contract_recipients("payment") == ["payment_processor"]
    assert policy.contract_recipients("debt_collection") == ["debt_collector"]
    assert policy.contract_recipients("newsletter") == []
    assert not [p for p in default_policy().warnings if p.key.startswith("purposes")]


@pytest.mark.parametrize(("old", "new", "key", "message"), [
    ('recipients = ["payment_processor"]', 'recipients = ["payment_processor", "bailiff"]',
     "purposes.payment.recipients", "recipient type keys"),
    ('recipients = ["debt_collector"]', 'recipients = "debt_collector"',
     "purposes.debt_collection.recipients", "recipient type keys"),
    ('categories = ["cctv"]', 'categories = ["cctv"]\nrecipients = ["authority"]',
     "purposes.security.recipients", "only a purpose resting on the treatment contract"),
])
def test_check_validates_recipients(tmp_path: Path, cli, old: str, new: str, key: str,
                                    message: str) -> None:
    path = _broken(tmp_path, old, new)
    result = cli("policy", "check", str(path))
    assert result.exit_code == ExitCode.CHECK_FAILED
    lines = path.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.startswith("recipients")
                and new.split("\n")[-1] == text)
    assert f"line {line}: {key}: " in result.stderr and message in result.stderr


def test_a_contract_purpose_without_recipients_is_a_warning(tmp_path: Path) -> None:
    source = default_source().replace('recipients = ["debt_collector"]\n', "", 1)
    _, problems = check_source(source)
    [problem] = [p for p in problems if p.key == "purposes.debt_collection"]
    assert problem.level == "warning" and "needs written consent" in problem.message
