"""The clinic's policy: the `Policy` class with typed accessors, loading and validation, the
retention rules' arithmetic, and the history of the policy in force in a store.

Imports point down only: this package knows nothing of the store's other tables or the CLI."""

from pigment_cli.policy.history import (
    PolicyTampered,
    policy_history,
    policy_in_force,
    store_policy,
)
from pigment_cli.policy.load import (
    check_source,
    default_policy,
    default_source,
    parse_policy,
    read_policy_file,
)
from pigment_cli.policy.model import (
    BASES,
    CONSENT_CHANNELS,
    WRITTEN_CHANNELS,
    CategoryRule,
    MinorsRule,
    Policy,
    PolicyProblem,
    Purpose,
    parse_duration,
)

__all__ = [
    "BASES", "CONSENT_CHANNELS", "WRITTEN_CHANNELS", "CategoryRule", "MinorsRule", "Policy",
    "PolicyProblem", "PolicyTampered", "Purpose", "check_source", "default_policy", "default_source",
    "parse_duration", "parse_policy", "policy_history", "policy_in_force", "read_policy_file",
    "store_policy",
]
