"""`pigment policy ...`: check (the bad key and its line), show, apply (every version kept), and
the record of processing and Fides export written from the policy."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, edited_policy

from pigment_cli.errors import ExitCode
from pigment_cli.policy import default_policy

EXAMPLE = EXAMPLES / "policy.toml"


def test_check_accepts_the_example_and_warns_about_the_nhs_benchmark(cli) -> None:
    result = cli.ok("policy", "check", str(EXAMPLE))
    assert "valid" in result.stderr
    assert "warning" in result.stderr and "NHS" in result.stderr and "retention.default" in result.stderr


def test_check_names_the_bad_key_and_its_line(cli, tmp_path: Path) -> None:
    path = edited_policy(tmp_path, 'label = "Electronic newsletters"\nbasis = "consent"',
                   'label = "Electronic newsletters"\nbasis = "contract"')
    result = cli("policy", "check", str(path))
    assert result.exit_code == ExitCode.CHECK_FAILED
    expected_line = path.read_text().splitlines().index('basis = "contract"',
        path.read_text().splitlines().index("[purposes.newsletter]")) + 1
    assert f"line {expected_line}: purposes.newsletter.basis" in result.stderr


def test_check_reports_unknown_basis_and_bad_duration(cli, tmp_path: Path) -> None:
    path = edited_policy(tmp_path, 'default = "7y"', 'default = "seven years"')
    data = cli("policy", "check", str(path), "--json")
    assert data.exit_code == ExitCode.CHECK_FAILED
    import json

    problems = json.loads(data.stdout)["problems"]
    assert problems[0]["key"] == "retention.default" and problems[0]["line"] is not None


def test_check_reports_toml_syntax_errors_with_a_line(cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('version = "1"\n[controller\nname = "x"\n')
    result = cli("policy", "check", str(path))
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "line 2" in result.stderr


def test_check_missing_file_is_exit_2(cli, tmp_path: Path) -> None:
    assert cli("policy", "check", str(tmp_path / "nope.toml")).exit_code == ExitCode.BAD_INPUT


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
    path = edited_policy(tmp_path, old, new)
    result = cli("policy", "check", str(path))
    assert result.exit_code == ExitCode.CHECK_FAILED
    lines = path.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.startswith("recipients")
                and new.split("\n")[-1] == text)
    assert f"line {line}: {key}: " in result.stderr and message in result.stderr


def test_show_prints_the_policy_in_force(cli, store) -> None:
    data = cli.json("policy", "show")
    assert data["version"] == "2026-12" and data["store_version"] == 1
    assert data["policy"]["purposes"]["care"]["basis"] == "contract"
    assert "newsletter" in cli.ok("policy", "show").stdout


def test_apply_keeps_every_version_and_is_audited(cli, store, tmp_path: Path) -> None:
    path = edited_policy(tmp_path, 'version = "2026-12"', 'version = "2027-01"')
    path.write_text(path.read_text().replace(
        "[categories.cctv]",
        '[categories.photos]\nlabel = "Clinical photographs"\nspecial = true\n\n[categories.cctv]'
    ).replace('categories = ["identity", "date_of_birth", "contact", "medical_history"]\nrecipients',
              'categories = ["identity", "date_of_birth", "contact", "medical_history", "photos"]\n'
              'recipients', 1))
    cli.ok("policy", "apply", str(path))
    assert cli.json("policy", "show")["version"] == "2027-01"
    assert [v["version"] for v in cli.json("policy", "history")] == [1, 2]
    assert cli.json("audit", "log")[-1]["command"] == "policy apply"
    sid = cli.ok("subject", "add", "--name", "P").stdout.strip()
    cli.ok("item", "add", sid, "--category", "photos", "--source", "consultation",
           "--purpose", "medical_records")


def test_apply_refuses_an_invalid_policy_and_keeps_the_old(cli, store, tmp_path: Path) -> None:
    path = edited_policy(tmp_path, 'communicating with you about it"\nbasis = "contract"',
                   'communicating with you about it"\nbasis = "consent"')
    result = cli("policy", "apply", str(path))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "purposes.care.basis" in result.stderr
    assert [v["version"] for v in cli.json("policy", "history")] == [1]


# --- policy ropa, policy export ---------------------------------------------------------------


def test_ropa_carries_every_purpose_with_its_basis(cli, store: Path) -> None:
    policy = default_policy()
    markdown = cli.ok("policy", "ropa").stdout
    for key, purpose in policy.data["purposes"].items():
        assert f"(`{key.replace('_', chr(92) + '_')}`)" in markdown
        assert policy.data["bases"][purpose["basis"]]["label"].split(" (")[0] in markdown
    assert "Pigment.lab" in markdown and "Hash-chained audit trail" in markdown
    rows = list(csv.DictReader(io.StringIO(cli.ok("policy", "ropa", "--format", "csv").stdout)))
    assert {r["purpose"] for r in rows} == set(policy.keys("purposes"))
    html = cli.ok("policy", "ropa", "--format", "html").stdout
    assert html.startswith("<!DOCTYPE html>") and "Schedule 1" in html
    assert cli("policy", "ropa", "--format", "pdf").exit_code == ExitCode.BAD_INPUT


def test_ropa_escapes_policy_text(cli, store: Path, tmp_path: Path) -> None:
    source = default_policy().source.replace('name = "Pigment.lab"', 'name = "<b>Pigment</b> | lab"', 1)
    path = tmp_path / "p.toml"
    path.write_text(source)
    cli.ok("policy", "apply", str(path))
    html = cli.ok("policy", "ropa", "--format", "html").stdout
    assert "<b>Pigment" not in html and "&lt;b&gt;Pigment" in html


def test_fides_export_maps_to_the_taxonomy(cli, store: Path, tmp_path: Path) -> None:
    manifest = yaml.safe_load(cli.ok("policy", "export", "--format", "fideslang").stdout)
    declarations = manifest["system"][0]["privacy_declarations"]
    uses = {d["data_use"] for d in declarations}
    assert {"marketing.communications.email", "essential.service"} <= uses
    categories = {c for d in declarations for c in d["data_categories"]}
    assert {"user.health_and_medical", "user.contact.email"} <= categories
    assert all(d["legal_basis_for_processing"] for d in declarations)
    out = tmp_path / "fides.yml"
    cli.ok("policy", "export", "--out", str(out))
    assert (out.stat().st_mode & 0o777) == 0o600
    assert cli("policy", "export", "--format", "odrl").exit_code == ExitCode.BAD_INPUT
