"""Shared fixtures: every test gets its own store path in tmp_path (through PIGMENT_DB), a fixed
clock, and a CliRunner that keeps stdout and stderr apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pigment_cli import clock
from pigment_cli.cli import app
from pigment_cli.store.session import Session, session

FIXED_NOW = datetime(2026, 11, 25, 10, 30, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "pigment.db"
    monkeypatch.setenv("PIGMENT_DB", str(db))
    monkeypatch.setenv("PIGMENT_ACTOR", "test-manager")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(clock, "system_now", lambda: FIXED_NOW)
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


@pytest.fixture
def store(cli: Cli, db: Path) -> Path:
    """An initialised store with the built-in policy."""
    cli.ok("init")
    return db


@pytest.fixture
def subject_id(cli: Cli, store: Path) -> str:
    return cli.ok("subject", "add", "--name", "Ada Lovelace", "--title", "Ms", "--dob", "1985-12-10",
                  "--email", "ada@example.org", "--phone", "07700 900123",
                  "--address", "1 Test Street").stdout.strip()


def domain(db: Path, now: datetime = FIXED_NOW) -> Any:
    """A domain session on the test store (one transaction), for tests that skip the CLI."""
    return session(db, now=now, actor="test-domain")


__all__ = ["Cli", "FIXED_NOW", "Session", "domain"]
