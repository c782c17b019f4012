"""The rejects file of `--skip-invalid`: bad rows (line, problem, cells; every cell formula-safe)
streamed to a private temporary file beside the input, renamed into place only at the end. A JSON
Lines import adds the column `original`: the row's line as it was (a nested value has no cell)."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import IO, Any

from pigment_cli.errors import BadInput
from pigment_cli.files import private_temp, safe_cell
from pigment_cli.importer.sources import ROW, Problem


def rejects_path(path: Path) -> Path:
    """Where --skip-invalid puts the bad rows: beside the input, `<stem>.rejects.csv`."""
    return path.with_name(f"{path.stem or path.name}.rejects.csv")


class Rejects:
    """Bad rows streamed to a private temporary file beside the input, renamed into place at the
    end: `line`, `problem`, then the row's cells, every cell formula-safe."""

    def __init__(self, path: Path, columns: tuple[str, ...], *, keep_original: bool = False) -> None:
        self.target = rejects_path(path)
        self.columns = columns
        self.keep_original = keep_original
        self.count = 0
        self._tmp: str | None = None
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def add(self, problem: Problem, values: list[str | None] | None,
            original: str | None = None) -> None:
        if self._writer is None:
            try:
                fd, tmp = private_temp(self.target.parent)
            except OSError as exc:
                raise BadInput(f"cannot write {self.target}: {exc.strerror}") from None
            self._tmp = str(tmp)
            self._handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle, lineterminator="\r\n")
            self._writer.writerow(["line", "problem", *self.columns,
                                   *(["original"] if self.keep_original else [])])
        cells = values if values is not None else [None] * len(self.columns)
        reason = problem.reason if problem.column == ROW else f"{problem.column}: {problem.reason}"
        kept = [safe_cell(original)] if self.keep_original else []
        self._writer.writerow([problem.line, safe_cell(reason), *(safe_cell(v) for v in cells),
                               *kept])
        self.count += 1

    def commit(self) -> str | None:
        if self._handle is None or self._tmp is None:
            return None
        self._handle.flush()
        os.fsync(self._handle.fileno())
        os.replace(self._tmp, self.target)  # while still locked: never taken for a leftover
        self._handle.close()
        self._tmp = None
        return str(self.target)

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._tmp is not None:
            Path(self._tmp).unlink(missing_ok=True)
