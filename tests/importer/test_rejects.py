"""The rejects file: its name follows the input's."""

from __future__ import annotations

from pathlib import Path

from pigment_cli.importer import rejects_path


def test_rejects_file_name_is_derived_from_the_input() -> None:
    assert rejects_path(Path("/x/patients.csv")) == Path("/x/patients.rejects.csv")
    assert rejects_path(Path("/x/items.jsonl")) == Path("/x/items.rejects.csv")
    assert rejects_path(Path("/x/export")) == Path("/x/export.rejects.csv")
