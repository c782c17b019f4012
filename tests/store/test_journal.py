"""The rights journal: appends never interleave with a torn line, and reading refuses a damaged
line (naming it) unless it is a torn last line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pigment_cli.errors import StoreError
from pigment_cli.store.journal import append_entries, read_journal

ENTRY = {"scope": "subject", "subject_id": "S-AAAAA", "rule": "default:7y", "at": "2026-11-25T10:30:00"}


def test_a_torn_tail_is_cut_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    append_entries(path, [ENTRY])
    with open(path, "a") as handle:
        handle.write('{"scope": "subj')  # a crash mid-append
    assert read_journal(path) == [ENTRY]  # the torn last line is skipped
    second = {**ENTRY, "subject_id": "S-BBBBB"}
    append_entries(path, [second])
    assert read_journal(path) == [ENTRY, second]
    assert path.read_text().count("\n") == 2


def test_a_damaged_line_before_the_last_refuses_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps(ENTRY) + "\nnot json\n" + json.dumps(ENTRY) + "\n")
    with pytest.raises(StoreError, match="line 2"):
        read_journal(path)
    path.write_text(json.dumps(ENTRY) + "\n" + json.dumps({**ENTRY, "scope": "future"}) + "\n")
    with pytest.raises(StoreError, match="line 2.*newer pigment"):
        read_journal(path)
    path.write_text(json.dumps(ENTRY) + "\nnot json\n")  # complete, so not torn: damaged
    with pytest.raises(StoreError, match="line 2"):
        read_journal(path)


def test_an_entry_without_its_keys_is_a_bug_never_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        append_entries(tmp_path / "j.jsonl", [{"scope": "subject", "at": "x"}])
    assert not (tmp_path / "j.jsonl").exists()
    assert read_journal(tmp_path / "missing.jsonl") == []
