"""The store's locks, as flocks the kernel releases if the holder is killed.

- `StoreLock` (`<store>-sweep.lock`): one sweep, erasure or restore at a time; a second one fails
  at once with exit 4.
- `AccessLock` (`<store>-access.lock`): every command holds it shared while it uses the store, and
  a restore holds it exclusively, so a restore never swaps the file under a writer (whose work
  would land in the replaced file and be lost) and no command starts on a half-restored store.
  Either side waits up to `ACCESS_WAIT_SECONDS`, then exits 4 saying the store is busy.

Order: a command that takes both takes `StoreLock` first, so no two commands wait on each other.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

from pigment_cli.errors import StoreError

ACCESS_WAIT_SECONDS = 5.0  # as long as SQLite's busy timeout: one rule for "the store is busy"
_POLL_SECONDS = 0.02


def sweep_lock_path(store_path: Path | str) -> Path:
    return Path(f"{store_path}-sweep.lock")


def access_lock_path(store_path: Path | str) -> Path:
    return Path(f"{store_path}-access.lock")


def _open_lock_file(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot open the store's lock file {path}: {exc.strerror}") from None
    os.fchmod(fd, 0o600)
    return fd


class StoreLock:
    """One sweep, erasure or restore at a time: an exclusive, non-blocking flock (released by the
    kernel if the holder is killed). A second one fails at once with exit 4, not a hang."""

    def __init__(self, store_path: Any) -> None:
        self.path = str(sweep_lock_path(store_path))
        self.fd: int | None = None

    def __enter__(self) -> StoreLock:
        self.fd = _open_lock_file(Path(self.path))
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise StoreError("another retention sweep, erasure or restore is running on this "
                             "store; try again when it has finished") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None


class AccessLock:
    """Shared by every command using the store, exclusive for a restore. Waits up to
    ACCESS_WAIT_SECONDS for the other side, then StoreError (exit 4, "busy")."""

    def __init__(self, store_path: Path | str, *, exclusive: bool = False) -> None:
        self.path = access_lock_path(store_path)
        self.exclusive = exclusive
        self.fd: int | None = None

    def __enter__(self) -> AccessLock:
        fd = _open_lock_file(self.path)
        mode = fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + ACCESS_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StoreError(self._busy()) from None
                time.sleep(_POLL_SECONDS)
        self.fd = fd
        return self

    def _busy(self) -> str:
        waited = f"{ACCESS_WAIT_SECONDS:g} s"
        if self.exclusive:
            return (f"the store is busy (another pigment command is using it) and stayed busy for "
                    f"{waited}; nothing was restored; stop cron and other users, then try again")
        return (f"the store is busy (a restore is replacing it) and stayed busy for {waited}; "
                "nothing was done; try again when the restore has finished")

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
