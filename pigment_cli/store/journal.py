"""The erasure journal: every erasure, appended (ids only, mode 0600, fsynced before the erasing
transaction commits) to `<store>-erasures.jsonl`, outside the store file, so a restored backup can
be brought back to what has been erased since (see `pigment_cli.backup`)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pigment_cli.files import append_private

JOURNAL_ENV = "PIGMENT_ERASURE_LOG"


def journal_path(store_path: Path | str) -> Path:
    """Where erasures are journalled: $PIGMENT_ERASURE_LOG, else beside the store."""
    override = os.environ.get(JOURNAL_ENV)
    return Path(override) if override else Path(f"{store_path}-erasures.jsonl")


def store_file(conn: sqlite3.Connection) -> Path:
    return Path(conn.execute("PRAGMA database_list").fetchone()[2])


def journal(conn: sqlite3.Connection, entries: list[dict[str, Any]]) -> None:
    """Append erasures (ids, scope, rule, time; never personal data) and fsync them before the
    erasing transaction commits: a crash in between leaves an erasure to replay, never one lost."""
    if not entries:
        return
    lines = "".join(json.dumps(e, separators=(",", ":"), sort_keys=True) + "\n" for e in entries)
    append_private(journal_path(store_file(conn)), lines)


def read_journal(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a crash: the erasure it began is re-derived by rules
