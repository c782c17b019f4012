"""Shared fixtures: every test gets its own store path in tmp_path (through PIGMENT_DB), a fixed
clock, and a CliRunner that keeps stdout and stderr apart. A store made once by `pigment init` is
copied for each test that wants one."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pigment_cli import clock
from pigment_cli.cli import app
from pigment_cli.policy import default_source
from pigment_cli.store.session import Session, session

FIXED_NOW = datetime(2026, 11, 25, 10, 30, 0, tzinfo=UTC)
STORE_OPENED = datetime(2015, 1, 5, 9, 0, 0, tzinfo=UTC)  # when the `store` fixture's store was made
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BESIDE = ("-audit-anchor.jsonl", "-audit.key")  # what `init` writes beside a store


def _isolate(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    monkeypatch.setenv("PIGMENT_DB", str(db))
    monkeypatch.setenv("PIGMENT_ACTOR", "test-manager")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(clock, "system_now", lambda: FIXED_NOW)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "pigment.db"
    _isolate(monkeypatch, db)
    return db


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "pigment.db"


class Cli:
    """Runs `pigment` in-process; `ok()` asserts exit 0, `json()` parses stdout."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Any:
        return self.runner.invoke(app, [str(a) for a in args], input=input)

    def ok(self, *args: str) -> Any:
        result = self(*args)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture(scope="session")
def template_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store made by `pigment init` with the built-in policy, the fixed clock and the test
    actor, as the `store` fixture would make it; tests get copies (so they share its suppression
    key, which is harmless)."""
    path = tmp_path_factory.mktemp("template") / "pigment.db"
    with pytest.MonkeyPatch.context() as monkeypatch:
        _isolate(monkeypatch, path)
        # As a clinic's store would be: in use for years, so the policy in force on the past days
        # that tests back-date consents to is known (a consent records the notice of its day).
        monkeypatch.setattr(clock, "system_now", lambda: STORE_OPENED)
        Cli().ok("init")
    # Closed, so checkpointed: the store is this one file (no -wal or -shm to copy with it), with
    # its audit key and anchor beside it (they go wherever the store goes).
    assert sorted(p.name for p in path.parent.iterdir()) == [
        path.name, *(f"{path.name}{suffix}" for suffix in BESIDE)]
    return path


@pytest.fixture
def store(db: Path, template_store: Path) -> Path:
    """An initialised store with the built-in policy (a private copy of the template)."""
    shutil.copyfile(template_store, db)
    db.chmod(0o600)
    for suffix in BESIDE:
        shutil.copyfile(f"{template_store}{suffix}", f"{db}{suffix}")
        Path(f"{db}{suffix}").chmod(0o600)
    return db


@pytest.fixture
def subject_id(cli: Cli, store: Path) -> str:
    return cli.ok("subject", "add", "--name", "Ada Lovelace", "--title", "Ms", "--dob", "1985-12-10",
                  "--email", "ada@example.org", "--phone", "07700 900123",
                  "--address", "1 Test Street").stdout.strip()


def domain(db: Path, now: datetime = FIXED_NOW) -> Any:
    """A domain session on the test store (one transaction), for tests that skip the CLI."""
    return session(db, now=now, actor="test-domain")


# --- helpers shared by several test modules ----------------------------------------------------


def row_count(db: Path, table: str) -> int:
    """The rows in `table`, read straight from the file."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def backdate(db: Path, subject_id: str, when: str) -> None:
    """Subjects added today were processed today; tests about old data move that date back."""
    conn = sqlite3.connect(db)
    conn.execute("UPDATE subjects SET last_processed_at = ? WHERE id = ?", (when, subject_id))
    conn.commit()
    conn.close()


def populate(cli: Cli, n_web: int, n_form: int, n_phone: int) -> list[tuple[str, str]]:
    """Subjects with a contact item from the website, a form or the phone (processed in October
    2026), named and emailed with markers that no report may show; returns (id, name) pairs."""
    people = []
    for source, count in (("website", n_web), ("form", n_form), ("phone", n_phone)):
        for k in range(count):
            name, email = f"Marker{source.title()}{k} Person", f"marker-{source}-{k}@example.org"
            sid = cli.ok("subject", "add", "--name", name, "--email", email).stdout.strip()
            cli.ok("item", "add", sid, "--category", "contact", "--source", source,
                   "--purpose", "care", "--processed", "2026-10-05")
            people.append((sid, name))
    return people


def edited_policy(tmp_path: Path, old: str, new: str) -> Path:
    """The built-in policy with its first `old` replaced by `new`, as tmp_path/policy.toml."""
    text = default_source()
    assert old in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new, 1))
    return path


__all__ = ["EXAMPLES", "FIXED_NOW", "Cli", "Session", "backdate", "domain", "edited_policy",
           "populate", "row_count"]


def open_request(cli: Cli, subject_id: str, *extra: str, received: str = "2026-11-20") -> str:
    """`pigment request open SUBJECT --received DAY ...`: the new request's id."""
    return cli.ok("request", "open", subject_id, "--received", received,
                  *extra).stdout.split()[0]


def audit_entries(db: Path, command: str) -> list[tuple[str | None, dict[str, Any]]]:
    """(subject id, detail) of every audit entry of `command`, oldest first."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT subject_id, detail FROM audit WHERE command = ? ORDER BY seq",
                            (command,)).fetchall()
    finally:
        conn.close()
    return [(r[0], json.loads(r[1])) for r in rows]
