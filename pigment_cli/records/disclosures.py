"""Disclosures: records that a subject's data went to a recipient, and the rule that guards them.

A disclosure for a purpose resting on the treatment contract (care, medical records, referrals,
payment, debt collection) is allowed on that basis when the recipient type is one the policy lists
for the purpose (`recipients = [...]`: referrals to laboratories, specialists and hospitals, payment
to payment processors, debt collection to debt collectors). Any other disclosure is non-medical: it
is refused unless a legal requirement is cited (basis: legal obligation), or the subject's written
`third_party_non_medical` consent, in force at the time of the disclosure, names this recipient (or
its type) and every category sent, and the purpose's own consent stands where it rests on one.
Every disclosure names the categories of data sent, and only categories its purpose may use.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from pigment_cli.clock import london_today, parse_timestamp
from pigment_cli.errors import BadInput, NeedsConfirmation, NotFound, Refused
from pigment_cli.policy import WRITTEN_CHANNELS, Policy
from pigment_cli.records.consents import (
    event_time,
    events_of,
    parse_categories,
    standing_grants,
    state_from,
)
from pigment_cli.records.restrictions import check_processing
from pigment_cli.records.subjects import get_subject, name_key
from pigment_cli.records.validate import category_refused, clean_text
from pigment_cli.store.session import Session

THIRD_PARTY_CONSENT = "third_party_non_medical"
DISCLOSURE_INSERT = (
    "INSERT INTO disclosures (subject_id, recipient, recipient_type, purpose, basis, categories, "
    "legal_requirement, at, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_COLUMNS = (
    "id, subject_id, recipient, recipient_type, purpose, basis, categories, legal_requirement, "
    "at, recorded_by, recorded_at, voided_at, void_reason"
)


@dataclass(frozen=True)
class Disclosure:
    id: int
    subject_id: str
    recipient: str
    recipient_type: str
    purpose: str
    basis: str
    categories: list[str]
    legal_requirement: str | None
    at: str
    recorded_by: str
    recorded_at: str
    voided_at: str | None = None  # recorded by mistake (twice): kept, shown as void, never told
    void_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _disclosure(row: sqlite3.Row) -> Disclosure:
    return Disclosure(
        id=row["id"], subject_id=row["subject_id"], recipient=row["recipient"],
        recipient_type=row["recipient_type"], purpose=row["purpose"], basis=row["basis"],
        categories=[c for c in row["categories"].split(",") if c],
        legal_requirement=row["legal_requirement"], at=row["at"], recorded_by=row["recorded_by"],
        recorded_at=row["recorded_at"], voided_at=row["voided_at"], void_reason=row["void_reason"],
    )


def rests_on_contract(policy: Policy, purpose: str) -> bool:
    """Medical purposes and those the policy puts on the treatment contract need no consent."""
    return policy.purpose(purpose).on_contract


def contract_allows(policy: Policy, purpose: str, recipient_type: str) -> bool:
    """May data for `purpose` go to a `recipient_type` on the treatment contract?"""
    return rests_on_contract(policy, purpose) and (
        recipient_type in policy.contract_recipients(purpose))


def disclose(s: Session, subject_id: str, *, recipient: str, recipient_type: str, purpose: str,
             items: str | list[str] | None = None, at: str | None = None,
             legal_requirement: str | None = None, duplicate_ok: bool = False) -> Disclosure:
    """Record a disclosure, or raise Refused (exit 3) and record nothing. One identical to a
    disclosure already recorded on the same day (`same_day_disclosures`) is refused with
    NeedsConfirmation (exit 3, ids only) unless `duplicate_ok`."""
    conn, policy = s.conn, s.policy
    subject = get_subject(conn, subject_id)
    name = clean_text(recipient, "--to")
    if not name:
        raise BadInput("--to is required: the recipient's name (a laboratory, a clinic, ...)")
    policy.require("recipient_types", recipient_type)
    policy.require("purposes", purpose)
    categories = parse_categories(policy, items)
    if not categories:
        raise BadInput("--items is required: the categories of data sent, comma-separated, e.g. "
                       "identity,medical_history (see policy show)")
    law = clean_text(legal_requirement, "--legal-requirement")
    if legal_requirement is not None and not law:
        raise BadInput("--legal-requirement cannot be empty: cite the law that requires it")
    the_purpose = policy.purpose(purpose)
    outside = [c for c in categories if the_purpose.categories and c not in the_purpose.categories]
    if outside:
        raise category_refused(purpose, the_purpose.categories, "--items", outside)
    when = event_time(s, at)
    if not law:  # restricted data goes to no one unless the law requires it (Art. 18(2))
        check_processing(conn, policy, subject.id, purpose, at=when,
                         otherwise="give --legal-requirement citing the law or the legal claim")
    if law:
        basis = "legal_obligation"
    elif contract_allows(policy, purpose, recipient_type):
        basis = policy.purpose_basis(purpose)
    else:
        _require_specific_consent(s, subject.id, name, recipient_type, purpose, categories, when)
        basis = "consent"
    twins = [] if duplicate_ok else same_day_disclosures(
        conn, subject.id, name, recipient_type, purpose, categories, when)
    if twins:
        said = (f"{'disclosure' if len(twins) == 1 else 'disclosures'} "
                f"{', '.join(str(d) for d in twins)} of {subject.id}'s data to the same recipient "
                "(type, purpose and categories) on the same day")
        raise NeedsConfirmation(f"{said} is already recorded: nothing was recorded (see: pigment "
                                f"disclosure list {subject.id}; give --yes to record it again)",
                                f"{said} is already recorded; record it again?")
    cur = conn.execute(
        DISCLOSURE_INSERT,
        (subject.id, name, recipient_type, purpose, basis, ",".join(categories), law, when,
         s.actor, s.stamp),
    )
    disclosure_id = int(cur.lastrowid or 0)
    s.audit("disclose", subject.id, disclosure=disclosure_id, recipient_type=recipient_type,
            purpose=purpose, basis=basis, categories=categories)
    row = conn.execute(f"SELECT {_COLUMNS} FROM disclosures WHERE id = ?",
                       (disclosure_id,)).fetchone()
    return _disclosure(row)


def same_day_disclosures(conn: sqlite3.Connection, subject_id: str, recipient: str,
                         recipient_type: str, purpose: str, categories: list[str],
                         when: str) -> list[int]:
    """The ids of the subject's disclosures (not voided) to the same recipient (case and spacing
    ignored), of the same type and purpose, with the same categories, sent on the same day as
    `when` (the clinic's day, Europe/London): the same disclosure recorded twice."""
    day = london_today(parse_timestamp(when))
    rows = conn.execute(
        "SELECT id, recipient, categories, at FROM disclosures WHERE subject_id = ? AND at >= ? "
        "AND at < ? AND recipient_type = ? AND purpose = ? AND voided_at IS NULL ORDER BY id",
        (subject_id, (day - timedelta(days=1)).isoformat(), (day + timedelta(days=2)).isoformat(),
         recipient_type, purpose),
    ).fetchall()
    key, sent = name_key(recipient), sorted(set(categories))
    return [int(row["id"]) for row in rows
            if name_key(row["recipient"]) == key
            and sorted({c for c in row["categories"].split(",") if c}) == sent
            and london_today(parse_timestamp(row["at"])) == day]


def _require_specific_consent(s: Session, subject_id: str, recipient: str, recipient_type: str,
                              purpose: str, categories: list[str], when: str) -> None:
    """A non-medical disclosure needs a written, specific consent in force at `when` that names
    this recipient (or its type) and covers every category sent (UK GDPR Art. 4(11); health data:
    explicit consent, Art. 9(2)(a)), and the purpose's own consent where it rests on one.
    Refused (exit 3) otherwise; messages never repeat the recipient's name."""
    policy, written = s.policy, ", ".join(sorted(WRITTEN_CHANNELS))
    if rests_on_contract(policy, purpose):
        allowed = ", ".join(policy.contract_recipients(purpose)) or "no recipient type"
        why = (f"{purpose!r} rests on the treatment contract only for disclosures to "
               f"{allowed}, so to a recipient of type {recipient_type!r} it is non-medical")
    else:
        why = f"{purpose!r} is a non-medical purpose"
    end = "or --legal-requirement citing the law. Nothing was recorded."
    own = policy.purpose(purpose)
    if not own.rests_on_consent:  # data goes only for a purpose compatible with its collection
        raise Refused(
            f"refused: {why}, and a consent can cover a disclosure only for a purpose that rests "
            f"on consent (record it as {THIRD_PARTY_CONSENT}, or the consent purpose it serves), "
            f"{end}")
    events = events_of(s.conn, subject_id)
    types = set(policy.keys("recipient_types"))
    standing = [e for e in standing_grants(THIRD_PARTY_CONSENT, events, at=when)
                if e.names(recipient, recipient_type, types)]
    if not standing:
        state = state_from(THIRD_PARTY_CONSENT, events, at=when)
        raise Refused(
            f"refused: {why}, and {subject_id} has no {THIRD_PARTY_CONSENT} consent in force "
            f"that names this recipient or its type ({state.state} overall); it needs a written "
            f"consent ({written}) naming the recipient and the categories sent, {end}")
    grant = standing[-1]
    if not grant.written:
        raise Refused(
            f"refused: {why}, and {subject_id}'s {THIRD_PARTY_CONSENT} consent to this recipient "
            f"was given via {grant.channel}, which is not written; it needs a written consent "
            f"({written}), {end}")
    missing = [c for c in categories if c not in (grant.categories or [])]
    if missing:
        special = [c for c in missing if policy.is_special_category(c)]
        extra = (" (health data needs the person's explicit consent naming it: UK GDPR "
                 "Art. 9(2)(a))") if special else ""
        raise Refused(
            f"refused: {subject_id}'s consent to this recipient covers "
            f"{', '.join(grant.categories or []) or 'no category'}, not {', '.join(missing)}"
            f"{extra}; a disclosure goes only as far as the consent says (or give "
            "--legal-requirement citing the law). Nothing was recorded.")
    if purpose != THIRD_PARTY_CONSENT:
        state = state_from(purpose, events, at=when)
        if not state.granted:
            raise Refused(f"refused: {purpose!r} rests on consent and {subject_id}'s {purpose} "
                          f"consent is not in force ({state.state}), {end}")


def disclosures_of(conn: sqlite3.Connection, subject_id: str) -> list[Disclosure]:
    """A subject's disclosures, oldest first (no audit: callers audit)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM disclosures WHERE subject_id = ? ORDER BY at, id", (subject_id,)
    ).fetchall()
    return [_disclosure(r) for r in rows]


def list_disclosures(s: Session, subject_id: str) -> list[Disclosure]:
    subject = get_subject(s.conn, subject_id)
    found = disclosures_of(s.conn, subject.id)
    s.audit("disclosure list", subject.id, disclosures=len(found))
    return found


def get_disclosure(conn: sqlite3.Connection, disclosure_id: int) -> Disclosure:
    """The disclosure with this id, or NotFound (exit 2)."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM disclosures WHERE id = ?",
                       (disclosure_id,)).fetchone()
    if row is None:
        raise NotFound(f"no disclosure {disclosure_id} (see the ids with: pigment disclosure list "
                       "SUBJECT)")
    return _disclosure(row)
