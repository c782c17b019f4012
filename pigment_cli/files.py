"""Files pigment writes: formula-safe CSV, and private files (mode 0600 under any umask). Every
copy of personal data the tool makes goes through these: a new file is created exclusively, a
replaced one is written under a temporary name in the same directory, flushed, then renamed.
`check_output` refuses a destination that is one of the store's own files or not a regular file;
temporaries are locked while written, so the next run can tell a killed run's leftovers
(`remove_leftovers`) from work in progress."""

from __future__ import annotations

import csv
import fcntl
import io
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from pigment_cli.errors import BadInput

SQLITE_HEADER = b"SQLite format 3\x00"

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
    """A new private temporary file in `directory` (so a rename never crosses filesystems),
    locked (flock) until its descriptor is closed: `remove_leftovers` leaves it alone meanwhile."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    os.fchmod(fd, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, Path(name)


def lock_in_use(path: Path | str) -> int:
    """Mark a temporary (a file or a directory) as being written: a flock held until the returned
    descriptor is closed. The kernel drops it if the process is killed."""
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def in_use(path: Path) -> bool:
    """Is a live run holding this temporary locked (`private_temp`, `lock_in_use`)?"""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


LEFTOVER_GRACE_SECONDS = 2.0  # younger than this, a temporary may not be locked by its writer yet


def remove_leftovers(directory: Path, pattern: str, *, now: float | None = None) -> list[Path]:
    """Delete what killed runs left in `directory` under `pattern` (temporaries holding personal
    data that never look complete). One that a live run holds locked, or a few seconds old, is
    left alone; symlinks are never followed. Returns what was removed."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        candidates = sorted(directory.glob(pattern))
    except OSError:
        return removed
    for leftover in candidates:
        try:
            if leftover.is_symlink() or now - leftover.lstat().st_mtime < LEFTOVER_GRACE_SECONDS:
                continue
            if in_use(leftover):
                continue  # a run is still writing it
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
            removed.append(leftover)
        except OSError:
            continue
    return removed


def same_file(a: Path, b: Path) -> bool:
    """Do `a` and `b` name one file (the same path once links are followed, or the same inode)?"""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def shown_path(path: Path | str) -> str:
    """A path as a message may show it: as given, unless it holds a control or bidirectional
    character (an escape sequence typed into a file name), then quoted with those made visible."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def refuse_own_file(path: Path, protected: Iterable[Path], *, what: str = "--out") -> None:
    """Refuse (exit 2, one line) to write at `path` when it is one of `protected` (the store's own
    files, see `pigment_cli.store.own.own_files`), whether that file exists yet or not.
    Links are followed: a symlink or hard link onto the store is the store."""
    for own in protected:
        if same_file(path, own):
            raise BadInput(f"{what} {shown_path(path)} is one of the store's own files ({Path(own).name}); "
                           "choose another name")


# Files that sit beside any pigment store (this one's are also listed by store.own.own_files,
# but another store's must not be overwritten either), and the start of an age-encrypted file.
SIDE_FILE_SUFFIXES = ("-erasures.jsonl", "-audit.key", "-audit-anchor.jsonl", "-sweep.lock",
                      "-access.lock", "-copies.jsonl", "-wal", "-shm")
AGE_HEADER = b"age-encryption.org/v1"


def check_output(path: Path, protected: Iterable[Path], *, what: str = "--out") -> None:
    """Refuse (exit 2, one line) to write at `path` when `refuse_own_file` does, when it exists
    and is not a regular file (a device such as /dev/null, a FIFO, a directory, a socket), or
    when it is a SQLite database (a store or a backup)."""
    refuse_own_file(path, protected, what=what)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise BadInput(f"cannot write {shown_path(path)}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise BadInput(f"{what} {shown_path(path)} is a directory; give a file name")
    if not stat.S_ISREG(info.st_mode):
        raise BadInput(f"{what} {shown_path(path)} is not a regular file (a device, a pipe or a socket); "
                       "pigment writes only regular files")
    if Path(path).name.endswith(SIDE_FILE_SUFFIXES):
        raise BadInput(f"{what} {shown_path(path)} looks like a pigment store's own file (its journal, audit "
                       "key, anchor or lock); pigment never writes over one")
    try:
        with open(path, "rb") as handle:
            header = handle.read(max(len(SQLITE_HEADER), len(AGE_HEADER)))
    except OSError:
        return
    if header.startswith(SQLITE_HEADER):
        raise BadInput(f"{what} {shown_path(path)} is a SQLite database (a store or a backup); pigment never "
                       "writes over one")
    if header.startswith(AGE_HEADER):
        raise BadInput(f"{what} {shown_path(path)} is an encrypted (age) file, such as an encrypted backup; "
                       "pigment never writes over one")


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


def write_private_file(path: Path, text: str, *, protected: Iterable[Path]) -> None:
    """Write `text` to `path` readable by its owner only: a temporary file in the same directory
    (mode 0600), flushed to disk, then renamed over `path`, so no reader ever sees half a file.
    Refuses what `check_output` refuses (pass the store's own files as `protected`)."""
    path = Path(path)
    check_output(path, protected)
    remove_leftovers(path.parent, ".pigment-*.tmp")
    try:
        fd, tmp = private_temp(path.parent)
    except OSError as exc:
        raise BadInput(f"cannot write {shown_path(path)}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(tmp, path)  # while still locked: never taken for a leftover
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
