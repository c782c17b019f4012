"""The store's lock: one sweep, erasure or restore at a time on a store, as a flock on
`<store>-sweep.lock` that the kernel releases if the holder is killed."""

from __future__ import annotations

import fcntl
import os
from typing import Any

from pigment_cli.errors import StoreError


class StoreLock:
    """One sweep, erasure or restore at a time: an exclusive, non-blocking flock (released by the
    kernel if the holder is killed). A second one fails at once with exit 4, not a hang."""

    def __init__(self, store_path: Any) -> None:
        self.path = f"{store_path}-sweep.lock"
        self.fd: int | None = None

    def __enter__(self) -> StoreLock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise StoreError("another retention sweep or erasure is running on this store; "
                             "try again when it has finished") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None
