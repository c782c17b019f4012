"""Optional extras: without Faker (`demo`) or PyYAML (`fides`) the command that needs it says which
extra to install, in one line with exit 2, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pigment_cli.errors import ExitCode


def test_demo_without_the_demo_extra(cli, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faker", None)  # `import faker` now fails, as if not installed
    result = cli("demo", "--subjects", "5")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == ("pigment: the demo needs the 'demo' extra (Faker): "
                             "pip install 'pigment-cli[demo]'\n")
    assert cli.json("subject", "list")["total"] == 0  # nothing was written


def test_fides_export_without_the_fides_extra(cli, store: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    result = cli("policy", "export", "--format", "fideslang")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == ("pigment: the Fides export needs the 'fides' extra (PyYAML): "
                             "pip install 'pigment-cli[fides]'\n")
    assert result.stdout == ""
