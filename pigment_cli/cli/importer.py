"""`pigment import ...`: bring a practice system's CSV or JSON Lines exports in, in bulk."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from pigment_cli.cli._common import ActorOption, DbOption, JsonFlag, open_session, print_json, say

app = typer.Typer(help="Bring a practice system's exports in: subjects, their data items, "
                  "consents (CSV or JSON Lines).", no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(
    metavar="FILE", help="CSV (comma or semicolon, UTF-8) or JSON Lines (.jsonl).",
    show_default=False)]
MapOption = Annotated[list[str] | None, typer.Option(
    "--map", metavar="SRC=DEST",
    help="Read the file's column SRC as DEST, e.g. --map 'Patient ID=external_id' (repeatable).",
    show_default=False)]
SkipInvalid = Annotated[bool, typer.Option(
    "--skip-invalid",
    help="Import the good rows; write the bad ones to FILE's name + .rejects.csv beside it.")]


@contextmanager
def _progress(path: Path) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr, only when stderr is a terminal (never under cron or in a pipe)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from pigment_cli.cli._common import err

    with Progress(TextColumn("importing"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeRemainingColumn(), console=err(), transient=True) as bar:
        task = bar.add_task("import", total=max(path.stat().st_size, 1))

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, 1))

        yield advance


def _run(kind: str, file: Path, mapping: list[str] | None, skip_invalid: bool,
         db: Path | None, actor: str | None, json_: bool) -> None:
    from pigment_cli.importer import ImportRejected, import_file, parse_mapping

    columns = parse_mapping(mapping, kind)
    try:
        with _progress(file) as progress, open_session(db, actor) as s:
            summary = import_file(s, kind, file, mapping=columns, skip_invalid=skip_invalid,
                                  progress=progress)
    except ImportRejected as exc:
        for problem in exc.problems:
            say(f"{file}: {problem}")
        if exc.bad_rows > len(exc.problems):
            say(f"{file}: ... and {exc.bad_rows - len(exc.problems)} more bad rows")
        raise
    if summary.ignored_columns:
        say(f"pigment: ignored columns (not {kind} columns): {', '.join(summary.ignored_columns)}")
    if summary.ignored_unnamed:
        say(f"pigment: ignored {summary.ignored_unnamed} column(s) whose names look like data, "
            "not a header (is line 1 a header row? their names are not shown: they may be "
            "someone's personal data)")
    if summary.suppressed:
        say(f"pigment: {summary.suppressed} grant(s) are for emails on the suppression list "
            "(erased or unsubscribed earlier); the mailing audience leaves them out")
    say(f"pigment: {summary.line()}")
    if json_:
        print_json(summary.to_dict())


@app.command("subjects")
def subjects(file: FileArg, map_: MapOption = None, skip_invalid: SkipInvalid = False,
             db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False) -> None:
    """Add or update subjects from an export, matched by external_id. Example: pigment import subjects patients.csv --map "Patient ID=external_id"
    """
    _run("subjects", file, map_, skip_invalid, db, actor, json_)


@app.command("items")
def items(file: FileArg, map_: MapOption = None, skip_invalid: SkipInvalid = False,
          db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False) -> None:
    """Add data items to subjects known by external_id. Example: pigment import items records.csv --skip-invalid
    """
    _run("items", file, map_, skip_invalid, db, actor, json_)


@app.command("consents")
def consents(file: FileArg, map_: MapOption = None, skip_invalid: SkipInvalid = False,
             db: DbOption = None, actor: ActorOption = None, json_: JsonFlag = False) -> None:
    """Add consent grants and withdrawals to the ledger. Example: pigment import consents consents.jsonl
    """
    _run("consents", file, map_, skip_invalid, db, actor, json_)
