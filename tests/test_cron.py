"""The crontab in examples/ works in cron's bare environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CRONTAB = Path(__file__).resolve().parent.parent / "examples" / "crontab"
PIGMENT = Path(sys.executable).parent / "pigment"


def _line(command: str) -> str:
    lines = [line for line in CRONTAB.read_text().splitlines()
             if line and not line.startswith("#") and command in line and "* *" in line]
    assert len(lines) == 1
    return lines[0].split(None, 5)[5]  # drop the five time fields


@pytest.mark.skipif(not PIGMENT.exists(), reason="needs the installed pigment script")
def test_nightly_sweep_line_runs_with_env_i(tmp_path: Path) -> None:
    db = tmp_path / "pigment.db"
    subprocess.run([str(PIGMENT), "init", "--db", str(db)], check=True, capture_output=True)
    log = tmp_path / "sweep.log"
    line = (_line("retention sweep")
            .replace("/srv/pigment/.venv/bin/pigment", str(PIGMENT))
            .replace("/var/log/pigment/sweep.log", str(log)))
    env = {"PATH": "/usr/bin:/bin", "PIGMENT_DB": str(db), "PIGMENT_ACTOR": "cron"}
    done = subprocess.run(["/bin/sh", "-c", line], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "", (done.stdout, done.stderr)
    summary = json.loads(log.read_text().strip())  # one JSON line
    assert summary["applied"] is True and summary["errors"] == 0
    # a missing store makes the line speak up (cron mails it)
    env["PIGMENT_DB"] = str(tmp_path / "missing.db")
    failed = subprocess.run(["/bin/sh", "-c", line], env=env, capture_output=True, text=True)
    assert "failed with exit 4" in failed.stdout


@pytest.mark.skipif(not PIGMENT.exists(), reason="needs the installed pigment script")
def test_morning_overdue_line_is_silent_when_nothing_is_overdue(tmp_path: Path) -> None:
    db = tmp_path / "pigment.db"
    subprocess.run([str(PIGMENT), "init", "--db", str(db)], check=True, capture_output=True)
    line = _line("sar list").replace("/srv/pigment/.venv/bin/pigment", str(PIGMENT))
    env = {"PATH": "/usr/bin:/bin", "PIGMENT_DB": str(db)}
    done = subprocess.run(["/bin/sh", "-c", line], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""


@pytest.mark.skipif(not PIGMENT.exists(), reason="needs the installed pigment script")
def test_weekly_prune_line_is_silent_and_removes_old_copies(tmp_path: Path) -> None:
    db = tmp_path / "pigment.db"
    subprocess.run([str(PIGMENT), "init", "--db", str(db)], check=True, capture_output=True)
    line = _line("copies prune").replace("/srv/pigment/.venv/bin/pigment", str(PIGMENT))
    env = {"PATH": "/usr/bin:/bin", "PIGMENT_DB": str(db), "PIGMENT_ACTOR": "cron"}
    done = subprocess.run(["/bin/sh", "-c", line], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    env["PIGMENT_DB"] = str(tmp_path / "missing.db")
    failed = subprocess.run(["/bin/sh", "-c", line], env=env, capture_output=True, text=True)
    assert "no store at" in failed.stdout
