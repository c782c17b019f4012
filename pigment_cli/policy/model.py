"""The clinic's policy as data: TOML loading, validation with line numbers, and vocabulary checks.

The policy in force lives in the store (table `policies`, every version kept); the built-in default
(`data/default_policy.toml`) encodes the Pigment.lab privacy policy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from dateutil.relativedelta import relativedelta

from pigment_cli.errors import BadInput

BASES = ("contract", "consent", "legal_obligation", "legitimate_interests", "vital_interests")
CONSENT_CHANNELS = ("email", "newsletter_link", "web_form", "paper_form", "phone", "in_clinic")
WRITTEN_CHANNELS = frozenset({"email", "web_form", "paper_form"})
# Keys the design names: a policy may add to them but never drop them.
REQUIRED_KEYS = {
    "categories": (
        "identity", "date_of_birth", "contact", "medical_history", "marketing", "payment",
        "communications", "web_activity", "social_media", "cctv",
    ),
    "sources": (
        "website", "phone", "email", "instant_message", "social_media", "email_interaction",
        "information_request", "appointment_booking", "consultation", "payment", "form",
        "third_party", "survey", "review", "referral", "cctv",
    ),
    "purposes": (
        "care", "medical_records", "medical_referral", "payment", "debt_collection", "reporting",
        "security", "newsletter", "satisfaction_survey", "personalised_ads", "cookies",
        "third_party_non_medical",
    ),
    "recipient_types": (
        "laboratory", "specialist", "hospital", "payment_processor", "debt_collector",
        "authority", "other",
    ),
    "bases": BASES,
}
REPORT_TEXT_KEYS = (
    "intro", "rights", "complaint", "automated_decisions", "transfers", "consent_withdrawal",
)
# NHS Records Management Code of Practice: adult health records 8 years after treatment ends.
NHS_ADULT_HEALTH_YEARS = 8
_SINGULAR = {
    "categories": "category", "sources": "source", "purposes": "purpose",
    "recipient_types": "recipient type", "bases": "lawful basis",
}
_DURATION = re.compile(r"^(\d+)([ymwd])$")
DEFAULT_COPIES_KEEP = "35d"  # backups and kept-aside stores: about five weeks of nightly copies
# The DPO's registers and when each entry's keep starts: a breach when closed, a DPIA or a
# processor when ended. Their free text may describe people: erased by the retention sweep.
REGISTER_KEEPS = {"breaches": "closing", "dpias": "ending", "processors": "ending"}
DEFAULT_REGISTER_KEEP = "6y"


@lru_cache(maxsize=64)
def parse_duration(text: str) -> relativedelta:
    """`7y`, `13m`, `2w`, `30d` -> relativedelta (29 Feb + 7y is 28 Feb). Callers never mutate
    the (cached) result."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 7y, 13m, 2w or 30d")
    number, unit = int(match.group(1)), match.group(2)
    return {
        "y": relativedelta(years=number),
        "m": relativedelta(months=number),
        "w": relativedelta(weeks=number),
        "d": relativedelta(days=number),
    }[unit]


def _duration_days(text: str) -> float:
    delta = parse_duration(text)
    return delta.years * 365.25 + delta.months * 30.44 + delta.days


@dataclass(frozen=True)
class PolicyProblem:
    level: str  # "error" or "warning"
    key: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{self.level}: {where}{self.key}: {self.message}"


@dataclass(frozen=True)
class Purpose:
    """One purpose of the policy: its lawful basis and what the policy says it may use and share."""

    key: str
    label: str
    basis: str
    medical: bool = False
    recipients: tuple[str, ...] = ()  # recipient types it may go to on the treatment contract
    categories: tuple[str, ...] = ()  # the categories of data it may use
    written_consent: bool = False
    specific: bool = False  # a consent must name its recipient and the categories it covers
    direct_marketing: bool = False  # an opt-out from it is kept on the suppression list
    keep_on_erasure: str | None = None  # why its records outlive an erasure request, if they do

    @property
    def rests_on_consent(self) -> bool:
        return self.basis == "consent"

    @property
    def on_contract(self) -> bool:
        """Medical purposes and those the policy puts on the treatment contract need no consent."""
        return self.medical or self.basis == "contract"


@dataclass(frozen=True)
class CategoryRule:
    """A category's own retention rule: its items go `after` their own last processing."""

    category: str
    after: str  # the policy's duration text, e.g. "30d"
    label: str

    @property
    def delta(self) -> relativedelta:
        return parse_duration(self.after)

    @property
    def name(self) -> str:
        """The rule's name as erasures record it, e.g. `cctv:30d`."""
        return f"{self.category}:{self.after}"


@dataclass(frozen=True)
class MinorsRule:
    """Children's records are kept until an age (NHS Records Management Code: 25, or 26 if 17)."""

    until_age: int
    until_age_if_17: int | None = None


@dataclass(frozen=True)
class Policy:
    """A validated policy. `data` is the parsed TOML; its accessors answer the questions commands
    ask, so the rest of pigment never reads `data` by hand."""

    data: dict[str, Any]
    source: str
    warnings: tuple[PolicyProblem, ...] = field(default=())

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    def keys(self, kind: str) -> list[str]:
        return list(self.data[kind])

    def entries(self, kind: str) -> dict[str, dict[str, Any]]:
        """A vocabulary table (`categories`, `sources`...): key -> its entry, in policy order."""
        return dict(self.data.get(kind) or {})

    def label(self, kind: str, key: str) -> str:
        return str(self.data[kind][key].get("label", key))

    def label_or_key(self, kind: str, key: str | None) -> str:
        """The label of `key`, or `key` itself where the policy no longer knows it (old records)."""
        if key is None:
            return ""
        entry = (self.data.get(kind) or {}).get(key)
        return str(entry.get("label", key)) if isinstance(entry, dict) else str(key)

    def knows(self, kind: str, value: str) -> bool:
        return value in self.data[kind]

    def require(self, kind: str, value: str) -> str:
        """Return `value` if the policy knows it as a `kind`, else BadInput listing what it knows."""
        if value not in self.data[kind]:
            what = _SINGULAR.get(kind, kind)
            allowed = ", ".join(self.data[kind])
            raise BadInput(f"unknown {what} {value!r}; the policy allows: {allowed}")
        return value

    # --- purposes ----------------------------------------------------------------------------

    @cached_property
    def _purposes(self) -> dict[str, Purpose]:
        return {
            key: Purpose(
                key=key, label=str(entry.get("label", key)), basis=str(entry["basis"]),
                medical=bool(entry.get("medical", False)),
                recipients=tuple(str(r) for r in entry.get("recipients", [])),
                categories=tuple(str(c) for c in entry.get("categories", [])),
                written_consent=bool(entry.get("written_consent", False)),
                specific=bool(entry.get("specific", False)),
                direct_marketing=bool(entry.get("direct_marketing", False)),
                keep_on_erasure=entry.get("keep_on_erasure") or None,
            )
            for key, entry in self.data["purposes"].items()
        }

    def purpose(self, key: str) -> Purpose:
        """The purpose `key`; BadInput listing the policy's purposes if it has no such purpose."""
        return self._purposes[self.require("purposes", key)]

    def find_purpose(self, key: str | None) -> Purpose | None:
        """The purpose `key`, or None where the policy does not know it (old records)."""
        return self._purposes.get(key) if key else None

    def purpose_basis(self, purpose: str) -> str:
        return self.purpose(purpose).basis

    def consent_purposes(self) -> list[str]:
        return [k for k, p in self._purposes.items() if p.rests_on_consent]

    def is_medical_purpose(self, purpose: str) -> bool:
        return self.purpose(purpose).medical

    def contract_recipients(self, purpose: str) -> list[str]:
        """The recipient types a purpose resting on the contract may go to on that basis."""
        return list(self.purpose(purpose).recipients)

    def needs_written_consent(self, purpose: str) -> bool:
        return self.purpose(purpose).written_consent

    # --- categories and sources --------------------------------------------------------------

    def is_special_category(self, category: str) -> bool:
        entry = (self.data["categories"].get(category)) or {}
        return bool(entry.get("special", False))

    def source_from_subject(self, source: str) -> bool:
        entry = (self.data["sources"].get(source)) or {}
        return bool(entry.get("from_subject", True))

    # --- retention ---------------------------------------------------------------------------

    @property
    def default_rule(self) -> str:
        """The default retention rule's duration text, e.g. `7y` (after the last processing)."""
        return str(self.data["retention"]["default"])

    @property
    def default_retention(self) -> relativedelta:
        return parse_duration(self.default_rule)

    @cached_property
    def minors(self) -> MinorsRule | None:
        rule = self.data["retention"].get("minors")
        if not rule:
            return None
        return MinorsRule(int(rule["until_age"]), (int(rule["until_age_if_17"])
                                                  if "until_age_if_17" in rule else None))

    @cached_property
    def _category_rules(self) -> dict[str, CategoryRule]:
        return {
            category: CategoryRule(category, str(rule["after"]),
                                   str(rule.get("label", f"{rule['after']} after last processing")))
            for category, rule in (self.data["retention"].get("categories") or {}).items()
        }

    def retention_for(self, category: str) -> CategoryRule | None:
        """The category's own retention rule, or None where the default rule alone applies."""
        return self._category_rules.get(category)

    def category_rules(self) -> list[CategoryRule]:
        return list(self._category_rules.values())

    def category_retention(self, category: str) -> relativedelta | None:
        rule = self.retention_for(category)
        return rule.delta if rule else None

    def retention_label(self, category: str | None = None) -> str:
        rule = self.retention_for(category) if category else None
        if rule:
            return rule.label
        retention = self.data["retention"]
        return str(retention.get("default_label", f"{retention['default']} after last processing"))

    # --- requests, reports and the words of documents ----------------------------------------

    def holiday_region(self) -> tuple[str, str | None]:
        """The `holidays` library country and subdivision for deadlines (default GB/ENG)."""
        requests = self.data.get("requests") or {}
        country = str(requests.get("holidays_country") or "GB")
        if "holidays_country" in requests:
            subdivision = requests.get("holidays_subdivision") or None
        else:
            subdivision = "ENG"
        return country, (str(subdivision) if subdivision else None)

    def internal_target_days(self, default: int) -> int:
        return int((self.data.get("requests") or {}).get("internal_target_days", default))

    def request_setting(self, key: str, default: Any) -> Any:
        """A `[requests]` setting (complaint_reply_days, keep_closed), or `default`."""
        return (self.data.get("requests") or {}).get(key, default)

    def report_control(self) -> tuple[int, int]:
        """(suppress_below, round_to) for aggregated reports (NHS England: 8 and 5)."""
        reports = self.data.get("reports") or {}
        return int(reports.get("suppress_below", 8)), int(reports.get("round_to", 5))

    def copies_keep(self) -> str:
        """How long backups, stores kept aside by a restore and rejects files are kept before
        `pigment copies prune` removes them: a duration such as 35d (`[copies] keep`)."""
        return str((self.data.get("copies") or {}).get("keep", DEFAULT_COPIES_KEEP))

    def register_keep(self, register: str) -> str:
        """How long a closed breach, an ended DPIA or an ended processor stays on its register
        before the retention sweep erases it: a duration such as 6y (`[registers] breaches_keep`,
        `dpias_keep`, `processors_keep`)."""
        keeps = self.data.get("registers") or {}
        return str(keeps.get(f"{register}_keep", DEFAULT_REGISTER_KEEP))

    def letters_folder(self) -> str | None:
        """The clinic's own letter templates (`[letters] folder`): a folder, absolute or relative
        to the store's directory, whose files override the built-in ones; None if not set."""
        folder = (self.data.get("letters") or {}).get("folder")
        return str(folder) if folder else None

    @property
    def controller(self) -> dict[str, Any]:
        return dict(self.data["controller"])

    @property
    def authority(self) -> dict[str, Any]:
        return dict(self.data["supervisory_authority"])

    @property
    def record_of_processing(self) -> dict[str, Any]:
        return dict(self.data.get("record_of_processing") or {})

    def text(self, key: str) -> str:
        return str(self.data["report_text"][key])
