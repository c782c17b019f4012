"""Everything held on a subject, in one view (`pigment subject show`): their details and retention
date, their items by category, consents, disclosures, requests, the holds that keep them, and the
restrictions and objections that limit what may be done with them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pigment_cli.policy.rules import subject_due
from pigment_cli.records.breaches import BreachLink, breaches_of
from pigment_cli.records.consents import ConsentState, current_states
from pigment_cli.records.disclosures import Disclosure, disclosures_of
from pigment_cli.records.holds import Hold, holds_of
from pigment_cli.records.items import items_with_due
from pigment_cli.records.models import Item, Subject
from pigment_cli.records.restrictions import (
    Objection,
    Restriction,
    objections_of,
    restrictions_of,
)
from pigment_cli.records.subjects import get_subject
from pigment_cli.rights.requests import RequestView, requests_of
from pigment_cli.store.session import Session


@dataclass(frozen=True)
class HoldingView:
    subject: Subject
    retention_rule: str
    erasure_due: str
    items: list[Item]  # by category, then collection date
    consents: list[ConsentState]
    disclosures: list[Disclosure]
    requests: list[RequestView]
    holds: list[Hold]  # active ones only
    # Every one (Art. 18): in force, or lifted with the day the person was told (Art. 18(3)).
    restrictions: list[Restriction] = field(default_factory=list)
    objections: list[Objection] = field(default_factory=list)  # every one (Art. 21)
    # Breaches that touched them (ids and dates: the register's text stays in `breach show`).
    # Not an Art. 15 item: the access package does not list them.
    breaches: list[BreachLink] = field(default_factory=list)

    def items_by_category(self) -> dict[str, list[Item]]:
        categories: dict[str, list[Item]] = {}
        for item in self.items:
            categories.setdefault(item.category, []).append(item)
        return categories

    def sections(self) -> dict[str, list[dict[str, Any]]]:
        """The short rows `subject show` lists under consents, disclosures, requests and holds."""
        return {
            "consents": [
                {"purpose": st.purpose, "state": st.state, "since": st.since, "via": st.channel,
                 "written": st.written, "notice": st.notice_version}
                for st in self.consents
            ],
            "disclosures": [
                {"id": d.id, "at": d.at, "to": d.recipient, "type": d.recipient_type,
                 "purpose": d.purpose, "basis": d.basis, "categories": ", ".join(d.categories)}
                for d in self.disclosures
            ],
            "requests": [
                {"request": r.id, "kind": r.kind, "status": r.outcome or r.status,
                 "received": r.received_on, "due": r.due, "days_left": r.days_left,
                 "closed": r.closed_on}
                for r in self.requests
            ],
            "holds": [
                {"hold": h.id, "reason": h.reason, "until": h.until or "until released",
                 "since": h.created_at[:10]}
                for h in self.holds
            ],
            "restrictions": [
                {"restriction": r.id, "purposes": r.scope, "since": r.started_at,
                 "request": r.request_id, "reason": r.reason, "lifted": r.ended_at,
                 "told_on": r.told_on}
                for r in self.restrictions
            ],
            "objections": [
                {"objection": o.id, "purpose": o.purpose, "at": o.at, "request": o.request_id}
                for o in self.objections
            ],
            "breaches": [b.to_dict() for b in self.breaches],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject.to_dict(),
            "retention": {"rule": self.retention_rule, "erasure_due": self.erasure_due},
            "items": {category: [i.to_dict() for i in items]
                      for category, items in self.items_by_category().items()},
            "item_count": len(self.items),
            **self.sections(),
        }


def holding(s: Session, subject_id: str) -> HoldingView:
    """Everything held on a subject (audited as `subject show`)."""
    policy = s.policy
    subject = get_subject(s.conn, subject_id)
    items = items_with_due(s, subject)
    s.audit("subject show", subject.id)
    return HoldingView(
        subject=subject,
        retention_rule=policy.retention_label(),
        erasure_due=subject_due(policy, subject.last_processed_at, subject.dob).isoformat(),
        items=items,
        consents=current_states(s.conn, policy, subject.id),
        # One voided as recorded by mistake is left out (`disclosure list` shows it as void).
        disclosures=[d for d in disclosures_of(s.conn, subject.id) if d.voided_at is None],
        requests=requests_of(s, subject.id),
        holds=holds_of(s.conn, subject.id, s.today),
        restrictions=restrictions_of(s.conn, subject.id),
        objections=objections_of(s.conn, subject.id),
        breaches=breaches_of(s.conn, subject.id),
    )
