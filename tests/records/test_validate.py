"""The validators shared by `subject add`, `item add` and the importer."""

from __future__ import annotations

from datetime import date

import pytest

from pigment_cli.errors import BadInput
from pigment_cli.policy import default_policy
from pigment_cli.records.validate import FieldError, check_item, subject_field


def test_field_errors_carry_a_column_and_a_reason_without_the_value() -> None:
    with pytest.raises(FieldError) as caught:
        subject_field("dob", "31/12/1980", date(2026, 11, 25))
    assert caught.value.column == "dob" and "31/12/1980" not in caught.value.reason
    assert "31/12/1980" not in caught.value.message  # a value typed in the wrong field may be personal
    assert isinstance(caught.value, BadInput)
    with pytest.raises(FieldError) as caught:
        check_item(default_policy(), "2026-11-25", "2026-11-25T10:30:00", category="identity",
                   source="form", purpose="care", collected="2026-02-02", processed="2026-01-01")
    assert (caught.value.column, caught.value.reason) == ("collected_at", "is after processed_at")


def test_check_item_normalises_times() -> None:
    row = check_item(default_policy(), "2026-11-25", "2026-11-25T10:30:00", category="identity",
                     source="form", purpose="care", processed="2025-01-01T09:15:00+01:00")
    assert row == ("identity", "form", "care", "contract", None, "2025-01-01T08:15:00",
                   "2025-01-01T08:15:00")
