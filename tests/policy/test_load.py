"""Reading and validating policy text: the example documents every key, problems carry their key
and line, and warnings for rules below the NHS benchmark or contract purposes without recipients."""

from __future__ import annotations

import tomllib
from pathlib import Path

from conftest import EXAMPLES

from pigment_cli.policy import check_source, default_policy, default_source
from pigment_cli.policy.load import line_of

EXAMPLE = EXAMPLES / "policy.toml"


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


def test_check_reports_a_missing_required_key(tmp_path: Path) -> None:
    text = default_source().replace("[sources.cctv]\nlabel", "[sources.cctv_x]\nlabel")
    _, problems = check_source(text)
    assert any(p.key == "sources.cctv" and p.level == "error" for p in problems)


def test_line_of_finds_keys_and_tables() -> None:
    source = 'a = 1\n[b.c]\nd = 2\n\n[e]\nf = 3\n'
    assert line_of(source, "a") == 1
    assert line_of(source, "b.c.d") == 3
    assert line_of(source, "b.c.missing") == 2
    assert line_of(source, "e.f") == 6


def test_a_contract_purpose_without_recipients_is_a_warning(tmp_path: Path) -> None:
    source = default_source().replace('recipients = ["debt_collector"]\n', "", 1)
    _, problems = check_source(source)
    [problem] = [p for p in problems if p.key == "purposes.debt_collection"]
    assert problem.level == "warning" and "needs written consent" in problem.message


def test_policy_check_warns_when_a_rule_is_below_the_nhs_benchmark() -> None:
    _, problems = check_source(default_policy().source)
    assert any(p.level == "warning" and p.key == "retention.default" for p in problems)
