"""Bad usage is one line on stderr naming the command's --help, exit 2; a group alone shows its help.

Typer (>= 0.26) runs its own copy of Click and exports no name for Click's UsageError, so
`pigment_cli.cli` recognises usage errors as the `typer.TyperException`s that exit 2; the first
test pins that down for the installed Typer."""

from __future__ import annotations

import pytest
import typer
import typer.main

from pigment_cli.errors import ExitCode


def test_typer_usage_errors_are_typer_exceptions_that_exit_2() -> None:
    app = typer.Typer()

    @app.command()
    def hello(name: str) -> None:
        """Greet."""

    with pytest.raises(typer.TyperException) as caught:
        typer.main.get_command(app).main([], standalone_mode=False)  # a missing argument
    assert caught.value.exit_code == ExitCode.BAD_INPUT


@pytest.mark.parametrize(("args", "line"), [
    (["nosuch"], "No such command 'nosuch'. (see: pigment --help)"),
    (["--bogus"], "No such option: --bogus (see: pigment --help)"),
    (["subject", "list", "--bogus"], "No such option: --bogus (see: pigment subject list --help)"),
    (["sar", "deadline"], "Missing argument 'DATE'. (see: pigment sar deadline --help)"),
])
def test_bad_usage_is_one_line_and_exit_2(cli, args: list[str], line: str) -> None:
    result = cli(*args)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr == f"pigment: {line}\n"
    assert result.stdout == ""


def test_a_group_alone_shows_its_help(cli) -> None:
    result = cli("subject")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert result.stderr.startswith("Usage: pigment subject [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in result.stderr and "pigment:" not in result.stderr
