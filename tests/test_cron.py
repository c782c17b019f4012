"""The crontab in examples/ works in cron's bare environment: each line is silent when all is
well and prints (so cron mails) when something needs the manager."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

CRONTAB = Path(__file__).resolve().parent.parent / "examples" / "crontab"
PIGMENT = Path(sys.executable).parent / "pigment"
INSTALLED = "/srv/pigment/.venv/bin/pigment"
needs_script = pytest.mark.skipif(not PIGMENT.exists(), reason="needs the installed pigment script")


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
    line = _line("request list --overdue").replace(INSTALLED, str(PIGMENT))
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


def _store(tmp_path: Path) -> Path:
    db = tmp_path / "pigment.db"
    subprocess.run([str(PIGMENT), "init", "--db", str(db)], check=True, capture_output=True)
    return db


def _sh(line: str, db: Path) -> subprocess.CompletedProcess[str]:
    """A crontab line as cron runs it: /bin/sh -c, PATH=/usr/bin:/bin and the crontab's variables."""
    env = {"PATH": "/usr/bin:/bin", "PIGMENT_DB": str(db), "PIGMENT_ACTOR": "cron"}
    return subprocess.run(["/bin/sh", "-c", line.replace(INSTALLED, str(PIGMENT))], env=env,
                          capture_output=True, text=True)


def _pigment(db: Path, *args: str) -> str:
    done = subprocess.run([str(PIGMENT), *args, "--db", str(db)], check=True, capture_output=True,
                          text=True)
    return done.stdout.strip()


def _received(days_ago: int) -> str:
    """A day relative to the real today (the lines run as real processes, on the real clock)."""
    return (datetime.now(UTC).date() - timedelta(days=days_ago)).isoformat()


def test_every_line_uses_absolute_paths_and_creates_no_folder() -> None:
    lines = [line for line in CRONTAB.read_text().splitlines()
             if line.strip() and not line.startswith("#") and "* *" in line]
    assert len(lines) == 8
    for line in lines:
        command = re.sub(r'"[^"]*"', "", line.split(None, 5)[5])  # what the shell runs
        assert re.search(r"(^|[\s(])pigment\s", command) is None, line  # never a bare `pigment`
        assert INSTALLED in command, line
        assert "mkdir" not in line and "install -d" not in line, line
    assert "must exist" in CRONTAB.read_text()


@needs_script
def test_sweep_line_without_its_log_folder_speaks_up_and_creates_nothing(tmp_path: Path) -> None:
    db = _store(tmp_path)
    logs = tmp_path / "logs"  # not made: the crontab says to make it first
    done = _sh(_line("retention sweep").replace("/var/log/pigment", str(logs)), db)
    assert done.returncode == 0 and "pigment retention sweep failed with exit" in done.stdout
    assert not logs.exists()


@needs_script
def test_overdue_line_mails_an_overdue_request_of_any_kind(tmp_path: Path) -> None:
    db = _store(tmp_path)
    subject = _pigment(db, "subject", "add", "--name", "Cron Patient")
    request = _pigment(db, "request", "open", subject, "--kind", "rectification",
                       "--received", _received(45)).split()[0]
    done = _sh(_line("request list --overdue"), db)
    assert done.returncode == 0 and request in done.stdout and "OVERDUE" in done.stdout
    assert "1 request(s) overdue" in done.stdout


@needs_script
def test_week_ahead_line_is_silent_then_warns_seven_days_ahead(tmp_path: Path) -> None:
    db = _store(tmp_path)
    line = _line("request list --due-within 7d")
    subject = _pigment(db, "subject", "add", "--name", "Cron Patient")
    later = _pigment(db, "request", "open", subject, "--received", _received(0)).split()[0]
    quiet = _sh(line, db)  # due in about a month: nothing to say yet
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    soon = _pigment(db, "request", "open", subject, "--kind", "erasure",
                    "--received", _received(27)).split()[0]  # due in 1 to 7 days
    warned = _sh(line, db)
    assert warned.returncode == 0 and soon in warned.stdout and later not in warned.stdout
    assert "1 open request(s) due within 7 day(s)" in warned.stdout


@needs_script
def test_backup_line_is_silent_and_writes_a_private_dated_backup(tmp_path: Path) -> None:
    db = _store(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    line = _line("pigment backup").replace("/srv/pigment/backups", str(backups))
    done = _sh(line, db)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    [copy] = backups.iterdir()
    assert copy.name.startswith("pigment-backup-") and copy.suffix == ".db"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    db.unlink()  # a store gone missing: the line speaks up
    failed = _sh(line, db)
    assert "no store at" in failed.stdout


@needs_script
def test_audit_verify_line_is_silent_until_the_trail_is_not_intact(tmp_path: Path) -> None:
    db = _store(tmp_path)
    line = _line("audit verify")
    _pigment(db, "subject", "add", "--name", "Cron Patient")
    done = _sh(line, db)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    Path(f"{db}-audit-anchor.jsonl").unlink()  # its anchor outside the store is gone
    broken = _sh(line, db)
    assert broken.returncode == 0 and broken.stdout.startswith("pigment: ")
