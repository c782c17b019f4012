"""The record of processing activities (UK GDPR Art. 30(1)) and the Fides data map, both generated
from the policy in force: the policy is the single source of what the clinic does with data."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from pigment_cli import __version__
from pigment_cli.errors import BadInput
from pigment_cli.files import write_csv
from pigment_cli.policy import Policy
from pigment_cli.records.processors import (
    SAFEGUARD_LABELS,
    Processor,
    ropa_recipients,
    transfer_text,
)

# What pigment itself does to protect the store (Art. 30(1)(g), Art. 32).
TOOL_SECURITY_MEASURES = (
    "Hash-chained audit trail of every access and change, holding ids only (pigment audit verify)",
    "Secure deletion: erased values are overwritten in the database file and its write-ahead log",
    "Store, backups and exports readable by their owner only (file mode 0600, directories 0700)",
    "Retention rules applied nightly (pigment retention sweep), with holds for legal duties",
    "Marketing suppression list kept as keyed hashes (HMAC-SHA256), never as addresses",
    "Aggregated reports under NHS England disclosure control (small numbers suppressed)",
)
ROPA_FORMATS = ("md", "html", "csv")

# fideslang keys (the Fides privacy taxonomy) for the built-in vocabulary; a policy entry may set
# its own with `fides = [...]` (categories) or `fides = "..."` (purposes).
FIDES_CATEGORIES = {
    "identity": ["user.name"],
    "date_of_birth": ["user.demographic.date_of_birth"],
    "contact": ["user.contact.address", "user.contact.phone_number", "user.contact.email"],
    "medical_history": ["user.health_and_medical"],
    "marketing": ["user.profiling", "user.content.private"],
    "payment": ["user.financial"],
    "communications": ["user.content.private"],
    "web_activity": ["user.behavior.browsing_history", "user.device.cookie_id"],
    "social_media": ["user.social"],
    "cctv": ["user.content.self_image"],
}
FIDES_USES = {
    "care": "essential.service",
    "medical_records": "essential.service.operations",
    "medical_referral": "third_party_sharing",
    "payment": "essential.service.payment_processing",
    "debt_collection": "finance",
    "reporting": "analytics.reporting",
    "security": "essential.service.security",
    "newsletter": "marketing.communications.email",
    "satisfaction_survey": "functional.service.improve",
    "personalised_ads": "marketing.advertising.first_party.targeted",
    "cookies": "analytics.reporting",
    "third_party_non_medical": "third_party_sharing",
}
FIDES_BASES = {
    "contract": "Contract",
    "consent": "Consent",
    "legal_obligation": "Legal obligations",
    "legitimate_interests": "Legitimate interests",
    "vital_interests": "Vital interests",
}


def activities(policy: Policy) -> list[dict[str, Any]]:
    """One processing activity per purpose, with everything Art. 30(1) asks for."""
    record = policy.record_of_processing
    recipients = [policy.label("recipient_types", k) for k in policy.keys("recipient_types")]
    rows = []
    for key in policy.keys("purposes"):
        purpose = policy.purpose(key)
        categories = list(purpose.categories)
        special = [c for c in categories if policy.is_special_category(c)]
        if purpose.recipients:  # the recipient types the contract lets it go to
            to = [policy.label("recipient_types", k) for k in purpose.recipients]
        elif key == "third_party_non_medical":
            to = [policy.label("recipient_types", "other")]
        else:
            to = []
        rows.append({
            "purpose": key,
            "description": purpose.label,
            "lawful_basis": policy.label("bases", purpose.basis),
            "special_category_condition": record.get("special_category_condition", "")
            if special else "",
            "data_subjects": record.get("data_subjects", ["Patients"]),
            "data_categories": [policy.label("categories", c) for c in categories],
            "recipients": to,
            "transfers_abroad": "None",  # set from the processor register (processor_references)
            "retention": sorted({policy.retention_label(c) for c in categories})
            or [policy.retention_label()],
        })
    return [*rows] if rows else [{"recipients": recipients}]


def latest_encrypted_backup(conn: sqlite3.Connection) -> str | None:
    """The day of the store's latest backup if it was encrypted (as its audit entry records),
    else None: the record of processing claims encrypted backups only when they are."""
    row = conn.execute(
        "SELECT at, detail FROM audit WHERE command = 'backup' ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        return None
    try:
        encrypted = bool(json.loads(row[1]).get("encrypted"))
    except (ValueError, AttributeError):
        encrypted = False
    return str(row[0])[:10] if encrypted else None


def dpia_references(policy: Policy, activities: list[dict[str, Any]],
                    dpias: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The DPIAs in use (`records.dpias.dpias_for_ropa`) as the record references them (Art. 35):
    each activity gets the ids of the DPIAs of its purpose; the list gives id, processing,
    purposes, next review and prior consultation (never the risks or measures found)."""
    for activity in activities:
        if "purpose" in activity:
            activity["dpias"] = [d["id"] for d in dpias if activity["purpose"] in d["purposes"]]
    return [{**d, "purposes": [policy.label_or_key("purposes", p) for p in d["purposes"]]}
            for d in dpias]


def processor_references(activities: list[dict[str, Any]],
                         processors: Sequence[Processor]) -> list[dict[str, Any]]:
    """The processors in use (`records.processors.processors`) as the record names them: each
    activity's recipients gain the processors of its purpose and its transfers abroad become
    theirs (Art. 30(1)(d)-(e)); the list gives the register's transfers, country and safeguard.
    Organisations only: a processor's note is never in the record."""
    for activity in activities:
        if "purpose" in activity:
            purpose = activity["purpose"]
            activity["recipients"] = [*activity["recipients"], *ropa_recipients(processors, purpose)]
            abroad = [transfer_text(p) for p in processors if p.transfer and purpose in p.purposes]
            activity["transfers_abroad"] = "; ".join(abroad) or "None"
    return [{"processor": p.id, "name": p.name, "country": p.country,
             "safeguard": SAFEGUARD_LABELS[p.safeguard or "none"], "purposes": list(p.purposes)}
            for p in processors if p.transfer]


def ropa(policy: Policy, *, encrypted_backup_on: str | None = None,
         dpias: Sequence[dict[str, Any]] = (),
         processors: Sequence[Processor] = ()) -> dict[str, Any]:
    """The record; `encrypted_backup_on` (`latest_encrypted_backup`) adds encrypted backups to the
    security measures, stated as the fact it is; `dpias` (`records.dpias.dpias_for_ropa`) the
    DPIAs in use; `processors` (`records.processors.processors`) the processors in use, whose
    transfers abroad are the record's."""
    record = policy.record_of_processing
    measures = list(TOOL_SECURITY_MEASURES)
    if encrypted_backup_on:
        measures.append("Backups encrypted with age to the clinic's public key (pigment backup "
                        f"--encrypt-to): the latest backup, on {encrypted_backup_on}, was encrypted")
    return {
        "title": f"Record of processing activities: {policy.controller['name']}",
        "policy_version": policy.version,
        "controller": policy.controller,
        "supervisory_authority": policy.authority,
        "activities": (rows := activities(policy)),
        "dpias": dpia_references(policy, rows, dpias),
        "transfers": processor_references(rows, processors),
        "categories_of_recipients": [*(policy.label("recipient_types", k)
                                       for k in policy.keys("recipient_types")),
                                     *(f"{p.name} (processor: {p.role})" for p in processors)],
        "retention": {"default": policy.retention_label(),
                      **{r.category: r.label for r in policy.category_rules()}},
        "appropriate_policy_document": record.get("appropriate_policy_document", ""),
        "security_measures": [*measures, *record.get("security_measures", [])],
        "generated_by": f"pigment {__version__}",
    }


def render_ropa(policy: Policy, fmt: str, *, encrypted_backup_on: str | None = None,
                dpias: Sequence[dict[str, Any]] = (),
                processors: Sequence[Processor] = ()) -> str:
    if fmt not in ROPA_FORMATS:
        raise BadInput(f"unknown --format {fmt!r}; use one of: {', '.join(ROPA_FORMATS)}")
    doc = ropa(policy, encrypted_backup_on=encrypted_backup_on, dpias=dpias,
               processors=processors)
    if fmt == "csv":
        return _ropa_csv(doc)
    from jinja2 import Environment, PackageLoader, select_autoescape  # lazy for start-up

    env = Environment(loader=PackageLoader("pigment_cli", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html", "j2"),
                                                   default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    if fmt == "md":
        env.autoescape = False  # Markdown is not HTML; values are escaped with the md filter
        env.filters["md"] = _md_escape
    return env.get_template(f"ropa.{fmt}.j2").render(doc=doc)


def _md_escape(value: Any) -> str:
    text = " ".join(str(value).split())
    for char in "\\`*_{}[]<>|#":
        text = text.replace(char, "\\" + char)
    return text


def _ropa_csv(doc: dict[str, Any]) -> str:

    header = ["purpose", "description", "lawful_basis", "special_category_condition",
              "data_subjects", "data_categories", "recipients", "transfers_abroad", "retention", "dpias"]
    stream = io.StringIO()
    write_csv(({k: "; ".join(v) if isinstance(v, list) else v for k, v in row.items()}
               for row in doc["activities"]), header, stream)
    return stream.getvalue()


def fides_manifest(policy: Policy) -> dict[str, Any]:
    """The policy's data map as a Fides manifest (a `system` with privacy declarations)."""
    record = policy.record_of_processing
    category_entries = policy.entries("categories")
    purpose_entries = policy.entries("purposes")

    def categories_of(keys: list[str]) -> list[str]:
        out: list[str] = []
        for key in keys:
            mapped = category_entries[key].get("fides") or FIDES_CATEGORIES.get(key, ["user"])
            for fides_key in [mapped] if isinstance(mapped, str) else mapped:
                if fides_key not in out:
                    out.append(fides_key)
        return out

    declarations = []
    for key in policy.keys("purposes"):
        purpose = policy.purpose(key)
        categories = list(purpose.categories)
        declaration: dict[str, Any] = {
            "name": purpose.label,
            "data_use": purpose_entries[key].get("fides") or FIDES_USES.get(key, "collect"),
            "data_categories": categories_of(categories),
            "data_subjects": ["patient"] if purpose.medical else ["customer"],
            "legal_basis_for_processing": FIDES_BASES[purpose.basis],
            "retention_period": policy.retention_label(),
        }
        if any(policy.is_special_category(c) for c in categories):
            declaration["special_category_legal_basis"] = "Provision of health or social care"
        if key in ("medical_referral", "third_party_non_medical"):
            declaration["data_shared_with_third_parties"] = True
        declarations.append(declaration)
    controller = policy.controller
    return {
        "system": [{
            "fides_key": "pigment_lab_clinic_records",
            "name": f"{controller['name']} clinic records",
            "description": "Patient records, consents and subject-access requests kept with pigment "
                           f"(policy version {policy.version}).",
            "system_type": "Service",
            "administrating_department": controller.get("dpo", controller["email"]),
            "data_responsibility_title": "Controller",
            "privacy_declarations": declarations,
        }],
        "data_subject": [
            {"fides_key": "patient", "name": "Patient",
             "description": "; ".join(record.get("data_subjects", ["Patients"]))},
        ],
    }


def render_fides(policy: Policy) -> str:
    try:
        import yaml  # lazy for start-up; and an optional extra (`fides`), needed only here
    except ImportError:
        raise BadInput("the Fides export needs the 'fides' extra (PyYAML): "
                       "pip install 'pigment-cli[fides]'") from None

    return yaml.safe_dump(fides_manifest(policy), sort_keys=False, allow_unicode=True, width=100)
