"""Shared pieces of the command layer: the options every command declares, the two consoles,
opening a session for a command, and small render helpers."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from pigment_cli import clock
from pigment_cli.errors import BadInput

if TYPE_CHECKING:
    from rich.console import Console

    from pigment_cli.records.notices import Notice
    from pigment_cli.store.session import Mode, Session

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar="PIGMENT_DB",
        help="The store file. Default: $PIGMENT_DB, else the per-user data directory.",
        show_default=False,
    ),
]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor",
        envvar="PIGMENT_ACTOR",
        help="Who is acting, for the audit trail. Default: $PIGMENT_ACTOR, else the OS user.",
        show_default=False,
    ),
]
SubjectArg = Annotated[
    str, typer.Argument(metavar="SUBJECT", help="Subject id, e.g. S-7K3Q9.", show_default=False)
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
RequestOption = Annotated[
    str | None,
    typer.Option("--request", help="The request this answers, e.g. R-7K3Q9 (recorded on it).",
                 show_default=False),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Act as if today were this date (YYYY-MM-DD).", show_default=False),
]
YesFlag = Annotated[bool, typer.Option(
    "--yes", "-y", help="Go ahead even if it looks like a duplicate, without asking (for "
    "scripts; with no terminal and no --yes a likely duplicate is refused, exit 3).")]


T = TypeVar("T")


def stdin_is_terminal() -> bool:
    """Can pigment ask the person at the keyboard? (Tests replace this.)"""
    return sys.stdin.isatty()


def ask(question: str) -> bool:
    """Ask a yes/no question on stderr and read the answer from stdin; no unless "y" or "yes".
    (Not typer.confirm: its prompt ends on stdout, which `ID=$(pigment ...)` would capture.)"""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:  # Ctrl-C at the question: a no
        answer = ""
    if not answer.endswith("\n"):
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


def confirming(attempt: Callable[[bool], T], yes: bool) -> T:
    """Run `attempt(yes)`. If the domain refuses a likely duplicate (NeedsConfirmation), ask on
    a terminal and, on "y", run `attempt(True)`. With no terminal the refusal stands: exit 3,
    one line naming --yes. Each attempt is its own transaction, so no lock is held while the
    question waits for an answer."""
    from pigment_cli.errors import NeedsConfirmation, Refused

    try:
        return attempt(yes)
    except NeedsConfirmation as exc:
        if not stdin_is_terminal():
            raise
        if not ask(f"pigment: {exc.question}"):
            raise Refused("not confirmed: nothing was changed") from None
    return attempt(True)


def resolve_actor(actor: str | None) -> str:
    if actor and actor.strip():
        return actor.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. an odd container under cron
        return f"uid:{os.getuid()}"


def refuse_future_as_of(as_of: str | None, what: str) -> None:
    """Erasing as if it were a later day would erase data before it is due: never allowed."""
    if as_of and now_for(as_of).date() > clock.system_now().date():
        raise BadInput(f"--as-of {as_of.strip()} is in the future: {what} would erase data before "
                       "it is due (use it without --apply to see what will fall due)")


def refuse_future_step(as_of: str | None, what: str) -> None:
    """A step of a request records what happened: never as if it were a later day (exit 2)."""
    if as_of and now_for(as_of).date() > clock.system_now().date():
        raise BadInput(f"--as-of {as_of.strip()} is in the future: {what} records what has "
                       "happened, so it cannot be dated later than today")


def now_for(as_of: str | None = None) -> datetime:
    """The command's "now": the system clock, or midday of `--as-of` when given."""
    if as_of:
        return datetime.combine(clock.parse_date(as_of, "--as-of"), time(12))
    return clock.system_now()


@contextmanager
def open_session(db: Path | None, actor: str | None = None, as_of: str | None = None, *,
                 mode: Mode = "write", lock: bool = False) -> Iterator[Session]:
    """The one way a command opens the store. `write` (the default): one transaction, committed
    only if the command succeeds; `read`: a snapshot that refuses writes; `batched`: the domain
    runs its own transactions. `lock` holds the store's lock (sweeps, erasures)."""
    from pigment_cli.store.connection import resolve_path
    from pigment_cli.store.session import session

    with session(resolve_path(db), now=now_for(as_of), actor=resolve_actor(actor),
                 wall=clock.system_now(), mode=mode, lock=lock) as s:
        yield s


def store_path(db: Path | None) -> Path:
    """Where the store is (--db, else $PIGMENT_DB, else the per-user data directory)."""
    from pigment_cli.store.connection import resolve_path

    return resolve_path(db)


def check_out(out: Path, db: Path | None) -> None:
    """Refuse an --out that is one of the store's own files or not a regular file (exit 2), before
    the command does anything."""
    from pigment_cli.files import check_output
    from pigment_cli.store.own import own_files

    check_output(out, own_files(store_path(db)))


def write_out(out: Path, text: str, db: Path | None) -> None:
    """Write an --out file (0600, atomically), never over the store's own files."""
    from pigment_cli.files import write_private_file
    from pigment_cli.store.own import own_files

    write_private_file(out, text, protected=own_files(store_path(db)))


_consoles: dict[str, Console] = {}


def out() -> Console:
    """The stdout console (data). Rich honours NO_COLOR and drops colour off a TTY."""
    if "out" not in _consoles:
        from rich.console import Console

        console = Console(highlight=False, soft_wrap=False)
        if not console.is_terminal and "COLUMNS" not in os.environ:
            # Piped or under cron: let tables take the width they need rather than 80 columns.
            console = Console(highlight=False, soft_wrap=False, width=200)
        _consoles["out"] = console
    return _consoles["out"]


def err() -> Console:
    """The stderr console (talk: messages, warnings, progress)."""
    if "err" not in _consoles:
        from rich.console import Console

        _consoles["err"] = Console(stderr=True, highlight=False)
    return _consoles["err"]


def reset_consoles() -> None:
    """Forget the consoles (CliRunner swaps sys.stdout between invocations)."""
    _consoles.clear()


def _jsonable(value: Any) -> Any:
    """Records render themselves (`to_dict`); anything else unknown to JSON becomes text."""
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else str(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=_jsonable) + "\n")


def say(message: str) -> None:
    """One line of talk on stderr, printed as plain text (no markup is interpreted)."""
    sys.stderr.write(message + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]], *,
          styles: list[str | None] | None = None) -> None:
    """A table on stdout; `styles` (one per row, e.g. "bold red") colour rows on a terminal
    (never the only sign: NO_COLOR and pipes drop it, so say it in a cell too)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    cells = [["" if v is None else str(v) for v in row] for row in rows]
    # A light frame and one space between columns: an 80-column terminal fits nine columns.
    grid = Table(title=escape(title) if title else None, title_justify="left",
                 box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False,
                 show_header=any(columns))
    for index, column in enumerate(columns):
        widest = max([len(row[index]) for row in cells] + [0])
        one_word = not any(" " in row[index] or "\n" in row[index] for row in cells)
        if widest <= 10 or (one_word and widest <= 24):
            # ids, dates, counts, policy keys: never cut, never folded
            grid.add_column(column, no_wrap=True, min_width=max(widest, min(len(column), 10), 1))
        else:  # free text folds onto more lines instead of ending in "…"
            grid.add_column(column, overflow="fold", min_width=min(widest, 5))
    for index, row in enumerate(cells):
        grid.add_row(*(escape(v) for v in row), style=styles[index] if styles else None)
    out().print(grid)


def tell_recipients(notices: list[Notice]) -> None:
    """The recipients to tell of a rectification, erasure or restriction (UK GDPR Art. 19), on
    stdout, or a line saying there are none; how to record that they were told, on stderr."""
    if not notices:
        sys.stdout.write("Recipients to tell (Art. 19): none (this data was not disclosed to "
                         "anyone).\n")
        return
    table(f"Recipients to tell (Art. 19): {len(notices)}", ["disclosure", "recipient", "type",
                                                            "event"],
          [[n.disclosure_id, n.recipient, n.recipient_type, n.event] for n in notices])
    say("pigment: once told, record it: pigment disclosure notified DISCLOSURE --on DATE")


def refuse_unscrubbed(scrubbed: bool, done: str = "erased") -> None:
    """Another program held the store open: the change committed, but the old values are still
    in the write-ahead log (exit 1, after the command's output)."""
    if not scrubbed:
        from pigment_cli.errors import CheckFailed

        raise CheckFailed(f"{done}, but the old values are still in the write-ahead log until "
                          "readers close; pigment check reports it (close other programs using "
                          "the store, then run: pigment retention sweep --apply)")
