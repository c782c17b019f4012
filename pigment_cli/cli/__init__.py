"""The root `pigment` command: sub-apps are attached here, and this is the one place where errors
become exit codes (see `PigmentGroup.invoke`)."""

from __future__ import annotations

import sqlite3
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from pigment_cli import __version__
from pigment_cli.cli import (
    audit,
    consent,
    disclosure,
    erase,
    hold,
    item,
    maintenance,
    policy,
    retention,
    store,
    subject,
)
from pigment_cli.cli import demo as demo_cli
from pigment_cli.cli import importer as import_cli
from pigment_cli.cli import sar as sar_cli
from pigment_cli.cli import status as status_cli
from pigment_cli.cli._common import reset_consoles, say
from pigment_cli.errors import ExitCode, PigmentError

INTERNAL_ERROR = (
    "pigment: internal error (a bug in pigment): nothing was changed; "
    "please report the command you ran"
)


class PigmentGroup(TyperGroup):
    """Converts every error raised below it into one stderr line and a documented exit code."""

    def invoke(self, ctx: Any) -> Any:
        reset_consoles()
        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException, KeyboardInterrupt):
            raise
        except PigmentError as exc:
            say(f"pigment: {exc.message}")
            raise Exit(int(exc.exit_code)) from None
        except sqlite3.DatabaseError as exc:  # escaped a session: locked, corrupt, read-only...
            from pigment_cli.store import store_error_from

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


store.register(app)
app.add_typer(policy.app, name="policy")
app.add_typer(subject.app, name="subject")
app.add_typer(item.app, name="item")
app.add_typer(audit.app, name="audit")
app.add_typer(consent.app, name="consent")
app.command("disclose")(disclosure.disclose)
app.add_typer(disclosure.app, name="disclosure")
app.add_typer(retention.app, name="retention")
app.add_typer(hold.app, name="hold")
erase.register(app)
status_cli.register(app)
maintenance.register(app)
app.add_typer(sar_cli.app, name="sar")
app.add_typer(import_cli.app, name="import")
demo_cli.register(app)


def main() -> None:
    app()
