"""Retention arithmetic: when the policy's rules make a subject, or a single item, fall due.

The default rule runs from the subject's last processing; a category's own rule runs from the
item's own last processing. An item falls due at the earlier of the two.
"""

from __future__ import annotations

from datetime import date

from pigment_cli.clock import day_of
from pigment_cli.policy import Policy


def subject_due(policy: Policy, last_processed_at: str) -> date:
    return day_of(last_processed_at) + policy.default_retention


def item_due(policy: Policy, category: str, processed_at: str, subject_due_on: date) -> date:
    rule = policy.category_retention(category)
    if rule is None:
        return subject_due_on
    return min(day_of(processed_at) + rule, subject_due_on)
