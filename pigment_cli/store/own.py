"""The store's own files: everything pigment keeps beside a store, in one list that every writer
of user files (`--out`, `backup DEST`, exports) checks against."""

from __future__ import annotations

from pathlib import Path

from pigment_cli.store.anchor import anchor_path
from pigment_cli.store.copies import index_path, restoring_path
from pigment_cli.store.journal import journal_path
from pigment_cli.store.lock import access_lock_path, sweep_lock_path
from pigment_cli.store.seal import key_path


def own_files(path: Path | str) -> list[Path]:
    """The store's own files, whether they exist yet or not: the store, its WAL and shared-memory
    index, the erasure journal, the audit anchor and key, the lock files, the index of its copies
    and the temporary a restore builds. Nothing pigment writes for a user (`--out`, `backup DEST`)
    may land on one. This is the one list: a module that adds a file beside the store adds it here."""
    store = Path(path)
    restoring = restoring_path(store)
    return [
        store, Path(f"{store}-wal"), Path(f"{store}-shm"), Path(f"{store}-journal"),
        journal_path(store), anchor_path(store), key_path(store), sweep_lock_path(store),
        access_lock_path(store), index_path(store),
        restoring, Path(f"{restoring}-wal"), Path(f"{restoring}-shm"),
    ]
