"""Formula-safe CSV and private files written atomically."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

import pytest

from pigment_cli.errors import BadInput
from pigment_cli.files import safe_cell, write_csv, write_private_file


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+44 7700 900123", "'+44 7700 900123"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"),
    ("\rcmd", "'\rcmd"),
    ("Ada Lovelace", "Ada Lovelace"),
    ("a=b", "a=b"),
    ("", ""),
    (None, ""),
    (-5, -5),
    (2.5, 2.5),
    (True, "true"),
])
def test_safe_cell(value, expected) -> None:
    assert safe_cell(value) == expected


def test_write_csv_from_mappings_and_sequences_round_trips() -> None:
    stream = io.StringIO()
    count = write_csv(
        [{"id": "S-1", "name": "=1+1", "note": "comma, \"quoted\"\nnew line"}, ["S-2", "Bo", None]],
        ["id", "name", "note"], stream)
    assert count == 2
    rows = list(csv.reader(io.StringIO(stream.getvalue(), newline="")))
    assert rows == [["id", "name", "note"], ["S-1", "'=1+1", "comma, \"quoted\"\nnew line"],
                    ["S-2", "Bo", ""]]


def test_write_csv_header_only_when_no_rows() -> None:
    stream = io.StringIO()
    assert write_csv([], ["id", "email"], stream) == 0
    assert stream.getvalue() == "id,email\r\n"


def test_private_file_is_0600_and_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    target.chmod(0o644)
    write_private_file(target, "new\n", protected=())
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left


def test_private_file_in_missing_directory_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="cannot write"):
        write_private_file(tmp_path / "nope" / "out.csv", "x", protected=())
    with pytest.raises(BadInput, match="directory"):
        write_private_file(tmp_path, "x", protected=())


def test_a_private_file_never_lands_on_a_protected_path_or_a_non_regular_file(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    store.write_bytes(b"SQLite format 3\x00rest")
    journal = tmp_path / "store.db-erasures.jsonl"  # protected before it exists
    link = tmp_path / "link.csv"
    link.symlink_to(store)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    other_db = tmp_path / "other.db"
    other_db.write_bytes(b"SQLite format 3\x00other")
    for target, words in ((store, "store's own"), (journal, "store's own"), (link, "store's own"),
                          (fifo, "not a regular file"), (tmp_path, "directory"),
                          (other_db, "SQLite database")):
        with pytest.raises(BadInput, match=words):
            write_private_file(target, "x", protected=[store, journal])
    assert not journal.exists() and store.read_bytes().startswith(b"SQLite")
