"""Bulk import of a practice system's exports: subjects, items and consent events from CSV or JSON
Lines, matched to subjects by the practice system's own id (`external_id`).

One file is one transaction. Rows are validated as the file streams and written in batches
(`executemany`); if any row is bad the whole import rolls back and the report names each bad row's
line, column and reason (never its value). With `skip_invalid` the good rows are kept and the bad
ones go to a rejects CSV beside the input. No more than one batch of rows is ever held in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pigment_cli.errors import BadInput
from pigment_cli.files import remove_leftovers
from pigment_cli.importer.rejects import Rejects, rejects_path
from pigment_cli.importer.sources import COLUMNS, KINDS, Problem, Source, parse_mapping
from pigment_cli.importer.summary import ImportSummary
from pigment_cli.importer.writers import BATCH_ROWS, WRITERS
from pigment_cli.records.validate import FieldError, FieldRefused
from pigment_cli.store.copies import REJECTS, record_copy
from pigment_cli.store.session import Session

SHOWN_PROBLEMS = 50  # bad rows listed in a report; the rest are counted
BULK_CACHE_KIB = 49152  # page cache for the import (48 MiB): index upkeep mostly in memory, peak RSS < 150 MB

__all__ = ["COLUMNS", "KINDS", "ImportRejected", "ImportSummary", "Problem", "import_file",
           "parse_mapping", "rejects_path"]


class ImportRejected(BadInput):
    """The file had bad rows and nothing was imported. `problems` holds the first ones."""

    def __init__(self, path: Path, problems: list[Problem], bad_rows: int) -> None:
        rows = "row" if bad_rows == 1 else "rows"
        super().__init__(
            f"{path}: {bad_rows} bad {rows}; nothing was imported (fix them, or import the good "
            "rows and set the bad ones aside with --skip-invalid)"
        )
        self.problems = problems
        self.bad_rows = bad_rows


def import_file(s: Session, kind: str, path: Path, *, mapping: dict[str, str] | None = None,
                skip_invalid: bool = False,
                progress: Callable[[int, int], None] | None = None) -> ImportSummary:
    """Import `path` (CSV or JSON Lines) as `kind` (subjects, items or consents) in the session's
    transaction. Raises ImportRejected, leaving the caller to roll back, if any row is bad and
    `skip_invalid` is off; with it, bad rows go to the rejects file. One audit entry, counts only.
    """
    if kind not in COLUMNS:
        raise BadInput(f"unknown import kind {kind!r}; use one of: {', '.join(KINDS)}")
    remove_leftovers(path.parent, ".pigment-*.tmp")  # rejects a killed import left half-written
    source = Source(path, kind, mapping or {})
    summary = ImportSummary(kind=kind, file=str(path), format=source.format)
    rejects = (Rejects(path, COLUMNS[kind], keep_original=source.format == "jsonl")
               if skip_invalid else None)
    problems: list[Problem] = []
    bad_rows = 0
    conn = s.conn
    cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        writer = WRITERS[kind](s, summary, source.present)
        add = writer.add
        for line, values in source.rows():
            summary.rows += 1
            if isinstance(values, list):
                writer.line = line
                try:
                    add(values)
                except (FieldError, FieldRefused) as exc:
                    # After a bad row (without skip_invalid) writing goes on only to check the
                    # rest of the file: the transaction is rolled back at the end.
                    bad_rows += 1
                    _note(Problem(line, exc.column, exc.reason), values, problems, rejects,
                          source.raw_line)
            else:
                bad_rows += 1
                _note(values, None, problems, rejects, source.raw_line)
            if progress is not None and summary.rows % BATCH_ROWS == 0:
                progress(source.position(), source.size)
        writer.flush()
        writer.finish()
        if bad_rows and rejects is None:
            raise ImportRejected(path, problems, bad_rows)
        summary.ignored_columns = sorted(source.ignored)
        summary.ignored_unnamed = source.ignored_unnamed
        summary.rejected = bad_rows
        if rejects is not None:
            summary.rejects_file = rejects.commit()
            if summary.rejects_file and s.path is not None:  # a copy of personal data: listed
                record_copy(s.path, Path(summary.rejects_file), REJECTS, s.stamp)
        if progress is not None:
            progress(source.size, source.size)
        s.audit(f"import {kind}", None, format=source.format, rows=summary.rows,
                inserted=summary.inserted, updated=summary.updated, unchanged=summary.unchanged,
                rejected=summary.rejected,
                **({"likely_duplicates": len(summary.likely_duplicates)} if kind == "subjects"
                   else {}))
    finally:
        if rejects is not None:
            rejects.discard()
        source.close()
        conn.execute(f"PRAGMA cache_size = {cache_size}")
    return summary


def _note(problem: Problem, cells: list[str | None] | None, problems: list[Problem],
          rejects: Rejects | None, original: str | None = None) -> None:
    if len(problems) < SHOWN_PROBLEMS:
        problems.append(problem)
    if rejects is not None:
        rejects.add(problem, cells, original)
