"""Issue 13, point 9: erasure with a reader holding the old values, an export killed after its
rename, messages that echoed personal values, parent directories under umask 0, and JSON Lines
rows rejected with blank cells."""

from __future__ import annotations

import csv
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from pigment_cli.errors import ExitCode


def test_erase_with_a_reader_in_the_way_says_the_old_values_remain(cli, store) -> None:
    """Before the fix `erase --apply` printed "Erased", exit 0, with the values still in the file."""
    sid = cli.ok("subject", "add", "--name", "Readerheld Person", "--email", "held@example.org").stdout.strip()
    cli.ok("item", "add", sid, "--category", "contact", "--source", "form", "--purpose", "care",
           "--value", "MARKER-HELD-VALUE")
    reader = sqlite3.connect(store)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM items").fetchone()  # a read transaction stays open
    try:
        result = cli("erase", sid, "--apply")
        assert result.exit_code == ExitCode.CHECK_FAILED, (result.stdout, result.stderr)
        assert "still in the write-ahead log until readers close" in result.stderr
        health = cli("check", "--json")
        assert health.exit_code == ExitCode.CHECK_FAILED
        assert "wal" in health.stdout
    finally:
        reader.close()
    cli.ok("retention", "sweep", "--apply")  # finishes the scrub once the reader has gone
    cli.ok("check")
    for path in (store, Path(f"{store}-wal")):
        if path.exists():
            assert b"MARKER-HELD-VALUE" not in path.read_bytes()


def test_an_export_is_audited_before_the_package_appears(cli, store, tmp_path, monkeypatch) -> None:
    """Killed between the rename and the commit, an export left a package and no audit entry."""
    from pigment_cli.rights import package

    sid = cli.ok("subject", "add", "--name", "Exported Person").stdout.strip()
    real_rename = os.rename

    def rename_then_die(src: str, dst: str) -> None:
        real_rename(src, dst)
        raise SystemExit(137)  # the process dies right after the package appears

    out = tmp_path / "package"
    with monkeypatch.context() as patched:
        patched.setattr(package.os, "rename", rename_then_die)
        cli("sar", "export", sid, "--out", str(out))
    assert out.exists()
    exports = [e for e in cli.json("audit", "log", "--subject", sid) if e["command"] == "sar export"]
    assert len(exports) == 1


@pytest.mark.parametrize("args", [
    ["--dob", "2026-12-25"],
    ["--dob", "1812-03-04"],
])
def test_messages_never_echo_a_date_of_birth(cli, store, args) -> None:
    result = cli("subject", "add", "--name", "Echo Test", *args)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert args[1] not in result.stderr and "--dob" in result.stderr


def test_a_data_row_taken_for_a_header_is_never_echoed(cli, store, tmp_path) -> None:
    rows = tmp_path / "patients.csv"
    rows.write_text("P1,Ada Lovelace,ada@example.org,07700 900123\nP2,Bob,bob@example.org,\n")
    for args in (["import", "subjects", str(rows)],
                 ["import", "subjects", str(rows), "--map", "P1=external_id",
                  "--map", "Ada Lovelace=name"]):
        result = cli(*args)
        for value in ("ada@example.org", "07700", "Bob", "bob@"):
            assert value not in result.stderr + result.stdout, (args, result.stderr)
    assert "look like data" in result.stderr


def test_init_creates_each_parent_directory_owner_only(cli, tmp_path) -> None:
    old = os.umask(0)
    try:
        cli.ok("init", "--db", str(tmp_path / "a" / "b" / "s.db"))
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_rejected_json_lines_row_keeps_its_original_line(cli, store, tmp_path) -> None:
    cli.ok("subject", "add", "--name", "Json Person", "--external-id", "J1")
    source = tmp_path / "items.jsonl"
    good = '{"external_id": "J1", "category": "contact", "source": "form", "purpose": "care", "processed_at": "2026-11-01"}'
    nested = '{"external_id": "J1", "category": "contact", "source": "form", "purpose": "care", "value": {"note": "=HYPERLINK(1)"}}'
    source.write_text(good + "\n" + nested + "\n")
    cli.ok("import", "items", str(source), "--skip-invalid")
    with open(tmp_path / "items.rejects.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and rows[0]["line"] == "2"
    assert rows[0]["original"] == nested
    formula = tmp_path / "formula.jsonl"
    formula.write_text('=1+2 not json\n')
    cli.ok("import", "items", str(formula), "--skip-invalid")
    with open(tmp_path / "formula.rejects.csv", newline="", encoding="utf-8") as handle:
        assert next(csv.DictReader(handle))["original"] == "'=1+2 not json"
