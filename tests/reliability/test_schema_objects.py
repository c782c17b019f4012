"""A trigger or table added to the store behind pigment's back (to copy erased values aside, or
to undo a withdrawal) is a finding of `pigment check`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pigment_cli.errors import ExitCode


def test_a_shadow_table_and_trigger_added_outside_pigment_are_found(cli, store: Path) -> None:
    assert cli("check").exit_code == ExitCode.OK
    conn = sqlite3.connect(store)
    conn.execute("CREATE TABLE shadow (v TEXT)")
    conn.execute("CREATE TRIGGER keep_erased BEFORE DELETE ON items "
                 "BEGIN INSERT INTO shadow VALUES (old.value); END")
    conn.commit()
    conn.close()
    result = cli("check", "--json")
    assert result.exit_code == ExitCode.CHECK_FAILED
    assert "trigger keep_erased" in result.stdout and "table shadow" in result.stdout
