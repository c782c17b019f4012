"""Files pigment writes: formula-safe CSV, and private files (mode 0600 under any umask). Every
copy of personal data the tool makes goes through these: a new file is created exclusively, a
replaced one is written under a temporary name in the same directory, flushed, then renamed."""

from __future__ import annotations

import csv
import io
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


def unsafe_cell(value: str | None) -> str | None:
    """A formula-safe cell (as `safe_cell` wrote it) read back as the text it stood for."""
    if value is not None and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


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


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> bytes:
    """`write_csv` into memory, as UTF-8 bytes (for files that are hashed before writing)."""
    buffer = io.StringIO()
    write_csv(rows, header, buffer)
    return buffer.getvalue().encode("utf-8")


def create_private(path: Path | str, flags: int = os.O_WRONLY) -> int:
    """Create `path` readable by its owner only, whatever the umask; FileExistsError if it exists.
    Returns the open descriptor."""
    fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def private_temp(directory: Path, prefix: str = ".pigment-", suffix: str = ".tmp") -> tuple[int, Path]:
    """A new private temporary file in `directory` (so a rename never crosses filesystems)."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    os.fchmod(fd, 0o600)
    return fd, Path(name)


def write_new_private(path: Path, body: bytes) -> None:
    """Write `body` to a new private file (never over an existing one), flushed to disk."""
    fd = create_private(path)
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def append_private(path: Path, text: str) -> None:
    """Append `text` to a private file (created 0600 if missing) and fsync it before returning."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only: a temporary file in the same directory
    (mode 0600), flushed to disk, then renamed over `path`, so no reader ever sees half a file."""
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"{path} is a directory; give a file name")
    try:
        fd, tmp = private_temp(path.parent)
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
