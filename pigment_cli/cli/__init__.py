"""The root `pigment` command: sub-apps are attached here, and this is the one place where errors
become exit codes (see `PigmentGroup.invoke`)."""

from __future__ import annotations

import sqlite3
import sys
from importlib import import_module
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from pigment_cli import __version__
from pigment_cli.cli._common import reset_consoles, say
from pigment_cli.errors import ExitCode, PigmentError

INTERNAL_ERROR = (
    "pigment: internal error (a bug in pigment): nothing was changed; "
    "please report the command you ran"
)


def _is_usage_error(exc: TyperException) -> bool:
    """Click's UsageError or a subclass (unknown command or option, missing argument, bad value).

    Typer (>= 0.26) runs its own copy of Click and exports no name for that class; its exceptions
    are `typer.TyperException`s, and the usage errors among them are the ones that exit 2. (The
    separate `click` package raises none of them: its classes are not the ones caught here.)"""
    return exc.exit_code == ExitCode.BAD_INPUT


def _say_usage(exc: TyperException) -> None:
    # `pigment subject` alone: Click's NoArgsIsHelpError, whose message is the help; shown as Click
    # shows it. Typer has no public name for it either and tells it apart by name too (rich_utils).
    if type(exc).__name__ == "NoArgsIsHelpError":
        typer.echo(exc.format_message(), err=True)
    else:
        say(f"pigment: {_usage_line(exc)}")


def _usage_line(exc: TyperException) -> str:
    ctx = getattr(exc, "ctx", None)  # the context the usage error arose in, if any
    command = ctx.command_path if ctx is not None else "pigment"
    message = " ".join(exc.format_message().split())
    return f"{message} (see: {command} --help)"


# Every command, by name: (module in pigment_cli.cli, attribute). An attribute named `app` is a
# sub-app (a group of commands); anything else is a command function. Modules are imported only
# when their command runs (or when --help lists them all): start-up stays near Typer's own floor.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("store", "init"),
    "policy": ("policy", "app"),
    "subject": ("subject", "app"),
    "item": ("item", "app"),
    "consent": ("consent", "app"),
    "disclose": ("disclosure", "disclose"),
    "disclosure": ("disclosure", "app"),
    "request": ("request", "app"),
    "sar": ("sar", "app"),
    "hold": ("hold", "app"),
    "breach": ("breach", "app"),
    "dpia": ("dpia", "app"),
    "processor": ("processor", "app"),
    "retention": ("retention", "app"),
    "erase": ("erase", "erase"),
    "restrict": ("restriction", "restrict"),
    "unrestrict": ("restriction", "unrestrict"),
    "object": ("restriction", "object_"),
    "import": ("importer", "app"),
    "demo": ("demo", "demo"),
    "status": ("status", "status"),
    "report": ("status", "report"),
    "backup": ("maintenance", "backup"),
    "restore": ("maintenance", "restore"),
    "copies": ("copies", "app"),
    "check": ("maintenance", "check"),
    "audit": ("audit", "app"),
}


def load_command(name: str) -> Any:
    """The Click command for `name`, built from its module on first use."""
    module_name, attribute = COMMANDS[name]
    target = getattr(import_module(f"pigment_cli.cli.{module_name}"), attribute)
    if isinstance(target, typer.Typer):
        target.rich_markup_mode = None  # plain help, like the root's
        group = typer.main.get_group(target)
        group.name = name
        return group
    # A single command function: a one-command Typer app builds it as Typer would.
    holder = typer.Typer(rich_markup_mode=None)
    holder.command(name)(target)
    command = typer.main.get_command(holder)
    command.name = name
    return command


class PigmentGroup(TyperGroup):
    """Loads commands lazily, and converts every error raised below it into one stderr line and
    a documented exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        return load_command(cmd_name)

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except TyperException as exc:  # bad usage at the root (unknown command, bad option)
            if not _is_usage_error(exc):
                raise
            _say_usage(exc)
            raise Exit(int(ExitCode.BAD_INPUT)) from None

    def invoke(self, ctx: Any) -> Any:
        reset_consoles()
        try:
            return super().invoke(ctx)
        except TyperException as exc:  # bad usage below the root: one line, like every other error
            if not _is_usage_error(exc):
                raise
            _say_usage(exc)
            raise Exit(int(ExitCode.BAD_INPUT)) from None
        except (Exit, Abort, KeyboardInterrupt):
            raise
        except OverflowError:  # a number too large for the store (e.g. --limit 10**20)
            say("pigment: a number given is too large")
            raise Exit(int(ExitCode.BAD_INPUT)) from None
        except PigmentError as exc:
            say(f"pigment: {exc.message}")
            raise Exit(int(exc.exit_code)) from None
        except sqlite3.DatabaseError as exc:  # escaped a session: locked, corrupt, read-only...
            from pigment_cli.store.tx import store_error_from

            say(f"pigment: {store_error_from(exc).message}")
            raise Exit(int(ExitCode.STORE)) from None
        except BrokenPipeError:
            raise Exit(int(ExitCode.OK)) from None
        except Exception:  # noqa: BLE001 - the last line of defence: no traceback, no data
            say(INTERNAL_ERROR)
            raise Exit(int(ExitCode.INTERNAL)) from None


app = typer.Typer(
    cls=PigmentGroup,
    name="pigment",
    help="Pigment.lab's data-governance tool: what is held on whom, consents, access requests, "
    "retention.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"pigment {__version__}\n")
        raise Exit(0)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Pigment.lab's data-governance tool: what is held on whom, consents, access requests,
    retention. Start with: pigment init"""




def main() -> None:
    app()
