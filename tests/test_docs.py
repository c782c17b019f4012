"""The README is the manual: every command has --help text and a README example; every exit code
is documented."""

from __future__ import annotations

from pathlib import Path

import typer.main

from pigment_cli.cli import app
from pigment_cli.errors import ExitCode

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _commands(command, path=()):  # noqa: ANN001, ANN202
    """Every leaf command, loading lazy groups the way --help does."""
    if hasattr(command, "list_commands"):
        ctx = typer.Context(command)  # Typer's public Context (a subclass of its Click's)
        for name in command.list_commands(ctx):
            yield from _commands(command.get_command(ctx, name), (*path, name))
    else:
        yield path, command


def test_every_command_has_help_and_a_readme_example() -> None:
    root = typer.main.get_command(app)
    commands = list(_commands(root))
    assert len(commands) >= 10
    for path, command in commands:
        name = " ".join(path)
        assert (command.help or "").strip(), f"{name} has no help"
        assert f"pigment {name}" in README, f"README has no example of 'pigment {name}'"


def test_readme_opens_with_the_two_commands() -> None:
    head = README[:1500]
    assert "make demo" in head and "make test" in head


def test_every_exit_code_is_documented() -> None:
    for code in ExitCode:
        assert f"| {int(code)} " in README, code


def test_the_cli_reference_is_every_commands_current_help(capsys) -> None:
    """docs/cli.md is generated from --help (cog): a command whose help changed needs `make docs`."""
    from cogapp import Cog

    cli_md = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
    status = Cog().main(["cog", "--check", "--diff", "--check-fail-msg", "run make docs", str(cli_md)])
    assert status == 0, f"docs/cli.md is stale: run make docs\n{capsys.readouterr().out[-3000:]}"
