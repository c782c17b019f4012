"""`pigment hold ...`: add, list, release, and their errors. (What a hold keeps from a sweep is in
test_retention.py.)"""

from __future__ import annotations

from pigment_cli.errors import ExitCode


def test_hold_commands_and_errors(cli, subject_id: str) -> None:
    hold = cli.ok("hold", "add", subject_id, "--reason", "regulator enquiry").stdout.strip()
    assert [h["id"] for h in cli.json("hold", "list")] == [hold]
    assert cli.json("subject", "show", subject_id)["holds"][0]["hold"] == hold
    cli.ok("hold", "release", hold)
    assert cli.json("hold", "list") == []
    assert cli.json("hold", "list", "--all")[0]["active"] is False
    assert cli("hold", "release", hold).exit_code == ExitCode.BAD_INPUT
    assert cli("hold", "release", "H-NOPE0").exit_code == ExitCode.BAD_INPUT
    assert cli("hold", "add", subject_id, "--reason", "x", "--until", "2020-01-01").exit_code == ExitCode.BAD_INPUT
    assert cli("hold", "add", subject_id, "--reason", " ").exit_code == ExitCode.BAD_INPUT
    assert cli("hold", "add", "S-ZZZZZ", "--reason", "x").exit_code == ExitCode.BAD_INPUT
