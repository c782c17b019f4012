"""The audit table is append-only in the schema itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest


def test_application_cannot_edit_the_trail(store: Path) -> None:
    conn = sqlite3.connect(store)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET actor = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit")
