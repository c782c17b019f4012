"""The retention rules' arithmetic: seven years after the last processing, leap days, and the
minors rule. (The plan's agreement with this arithmetic is in retention/test_plan_property.py.)"""

from __future__ import annotations

from datetime import date

import pytest

from pigment_cli.policy import default_policy, parse_policy
from pigment_cli.policy.rules import subject_due


@pytest.mark.parametrize(
    ("last", "due"),
    [("2019-03-01", "2026-03-01"), ("2024-02-29", "2031-02-28"), ("2019-12-31", "2026-12-31"),
     ("2019-03-01T23:59:59", "2026-03-01")],
)
def test_default_rule_is_seven_years_after_last_processing(last: str, due: str) -> None:
    assert subject_due(default_policy(), last).isoformat() == due


def test_leap_day_plus_seven_years_is_28_february() -> None:
    assert subject_due(default_policy(), "2024-02-29").isoformat() == "2031-02-28"


def test_minors_rule_keeps_childrens_records_to_25_or_26() -> None:
    source = default_policy().source.replace(
        "[requests]", "[retention.minors]\nuntil_age = 25\nuntil_age_if_17 = 26\n\n[requests]")
    policy = parse_policy(source)
    # treated at 10: 25th birthday (2035) is later than 7 years (2027)
    assert subject_due(policy, "2020-05-01", "2010-01-15") == date(2035, 1, 15)
    # 17 when treatment ended: the 26th birthday
    assert subject_due(policy, "2020-05-01", "2003-01-15") == date(2029, 1, 15)
    # an adult: the 7-year rule
    assert subject_due(policy, "2020-05-01", "1980-01-15") == date(2027, 5, 1)
