"""Output formats shared by every command that hands data to another program: formula-safe CSV and
private files written atomically (mode 0600, temporary name in the same directory, then renamed)."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from pigment_cli.errors import BadInput

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection, OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: strings that could start a formula get a
    leading apostrophe. Numbers and booleans pass unchanged; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def write_csv(rows: Iterable[Sequence[Any] | Mapping[str, Any]], header: Sequence[str],
              stream: IO[str]) -> int:
    """Write `header` then `rows` (sequences, or mappings read by the header's keys) as CSV with
    every cell made formula-safe. Returns the number of data rows written."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    count = 0
    for row in rows:
        values = [row.get(h) for h in header] if isinstance(row, Mapping) else list(row)
        writer.writerow([safe_cell(v) for v in values])
        count += 1
    return count


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only: a temporary file in the same directory
    (mode 0600), flushed to disk, then renamed over `path`, so no reader ever sees half a file."""
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"{path} is a directory; give a file name")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".pigment-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
