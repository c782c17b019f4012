"""The retention rules' arithmetic: the day a subject, or a single item, falls due under the policy.

The default rule runs from the subject's last processing (the latest processing of any of their
data); an age-based rule can keep a child's records longer; a category's own rule runs from the
item's own last processing, and an item falls due at the earlier of its rule and its subject's.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from pigment_cli.clock import day_of
from pigment_cli.policy.model import Policy, parse_duration

SLACK = timedelta(days=4)  # month-end clamping moves a due date back by at most 3 days


@lru_cache(maxsize=65536)
def after(day: date, duration: str) -> date:
    """`day` plus a policy duration (`7y`, `13m`, `30d`), on the calendar. Cached: a sweep over
    100,000 subjects meets a few thousand distinct days."""
    return day + parse_duration(duration)


def subject_due(policy: Policy, last_processed_at: str, dob: str | None = None) -> date:
    """The day the subject's data falls due under the default rule (and the minors rule)."""
    due = after(day_of(last_processed_at), policy.default_rule)
    minors = policy.minors
    if minors and dob:
        born, ended = date.fromisoformat(dob), day_of(last_processed_at)
        age = relativedelta(ended, born).years
        if age < 18:
            until_age = minors.until_age
            if age == 17 and minors.until_age_if_17 is not None:
                until_age = minors.until_age_if_17
            due = max(due, after(born, f"{until_age}y"))
    return due


def item_due(policy: Policy, category: str, processed_at: str, subject_due_on: date) -> date:
    rule = policy.retention_for(category)
    if rule is None:
        return subject_due_on
    return min(after(day_of(processed_at), rule.after), subject_due_on)


def subject_rule(policy: Policy, last_processed_at: str, dob: str | None,
                 due: date | None = None) -> str:
    """The name of the rule that decides a subject's date (kept on the tombstone)."""
    if policy.minors and dob:
        plain = after(day_of(last_processed_at), policy.default_rule)
        due = due or subject_due(policy, last_processed_at, dob)
        if due > plain:
            return f"minors:{relativedelta(due, date.fromisoformat(dob)).years}"
    return f"default:{policy.default_rule}"
