"""Reading import files: header names and --map pairs."""

from __future__ import annotations

import pytest

from pigment_cli.errors import BadInput
from pigment_cli.importer import parse_mapping
from pigment_cli.importer.sources import normalise_header


def test_header_names_and_maps() -> None:
    assert normalise_header("  External-ID ") == "external_id"
    assert normalise_header("Date of  Birth") == "date_of_birth"
    assert parse_mapping(["Patient ID=External ID", "Mail=email"], "subjects") == {
        "patient_id": "external_id", "mail": "email"}
    with pytest.raises(BadInput, match="not a column of items"):
        parse_mapping(["x=name"], "items")
