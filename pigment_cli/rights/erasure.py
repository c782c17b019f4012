"""Erasure on the subject's request (UK GDPR Art. 17): erase what no legal duty keeps, say what
stays and why, withdraw consents and suppress the email, through the one erasure path."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pigment_cli.errors import BadInput
from pigment_cli.records.answers import check_answerable, record_answer
from pigment_cli.records.consents import current_states, require_channel, withdraw
from pigment_cli.records.erasure import ItemRef, erase_items, erase_subject, scrub_files
from pigment_cli.records.holds import active_holds
from pigment_cli.records.items import items_with_due
from pigment_cli.records.notices import Notice, note_recipients
from pigment_cli.records.subjects import get_subject
from pigment_cli.records.suppression import suppress_email
from pigment_cli.store.session import Session

# Art. 17(1) grounds a request may rest on (recorded in the audit trail; never free text).
ERASURE_GROUNDS = (
    "request", "no-longer-necessary", "consent-withdrawn", "objection", "unlawful",
    "legal-obligation", "child",
)


@dataclass
class ErasureOutcome:
    subject_id: str
    applied: bool
    ground: str
    whole_subject: bool = False
    erased: dict[str, int] = field(default_factory=dict)  # category -> items erased
    kept: list[dict[str, Any]] = field(default_factory=list)  # what stays, and why
    consents_withdrawn: list[str] = field(default_factory=list)
    held_by: list[str] = field(default_factory=list)  # holds and open requests standing
    scrubbed: bool = True  # False: a reader kept the old values in the WAL (see scrub_files)
    request_id: str | None = None  # the erasure request this answers
    notices: list[Notice] = field(default_factory=list)  # Art. 19: recipients to tell

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id, "applied": self.applied, "ground": self.ground,
            "whole_subject": self.whole_subject, "erased_items": self.erased,
            "kept": self.kept, "consents_withdrawn": self.consents_withdrawn,
            "held_by": self.held_by, "scrubbed": self.scrubbed, "request": self.request_id,
            "recipients": [n.to_dict() for n in self.notices],
        }


def erase_on_request(s: Session, subject_id: str, *, ground: str = "request",
                     via: str = "email", apply: bool = False,
                     request_id: str | None = None) -> ErasureOutcome:
    """Erase what no legal duty keeps. Items whose purpose the policy marks `keep_on_erasure`
    stay until their retention date: payment and debt records always, care and medical-record
    purposes when the subject has health records (an enquirer's contact details go). Consents are
    withdrawn; everything else goes now. Nothing is kept past its own retention date: once that
    has passed no Art. 17(3) exception applies. If nothing needs keeping and no hold or open
    request stands, the whole subject goes. The request never extends what is kept: recording it
    and the withdrawals does not move the retention clock.

    With `request_id`, the erasure answers that erasure request: it must be open and about this
    subject (checked before anything changes, BadInput otherwise), it does not itself hold the
    erasure back (other open requests and holds still do), and the answer is recorded on it
    (counts only). Recipients of the erased categories are noted for Art. 19 before anything is
    deleted (their disclosures go with the subject; the notices stay)."""
    if ground not in ERASURE_GROUNDS:
        raise BadInput(f"unknown --reason {ground!r}; use one of: {', '.join(ERASURE_GROUNDS)}")
    require_channel(via)
    conn, policy = s.conn, s.policy
    subject = get_subject(conn, subject_id)
    answering = None
    if request_id is not None:
        answering = str(check_answerable(conn, request_id, subject.id, "erase")["id"])
    outcome = ErasureOutcome(subject.id, apply, ground, request_id=answering)
    outcome.held_by = active_holds(conn, s.today, [subject.id],
                                   answering=answering).get(subject.id, [])
    items = items_with_due(s, subject)
    has_health = any(policy.is_special_category(item.category) for item in items)
    keep_ids: list[int] = []
    erase_entries: list[ItemRef] = []
    kept_by_reason: Counter[tuple[str, str, str]] = Counter()
    for item in items:
        purpose = policy.find_purpose(item.purpose)
        why = purpose.keep_on_erasure if purpose else None
        # Past its retention date no Art. 17(3) exception applies, unless a hold (a legal claim,
        # a regulator) or an open request keeps the subject's data: then it is kept for that.
        expired = (item.erasure_due or "") <= s.today.isoformat() and not outcome.held_by
        if why and purpose and (has_health or not purpose.medical) and not expired:
            keep_ids.append(item.id)
            past_due = (item.erasure_due or "") <= s.today.isoformat()
            until = "while the hold or request stands" if past_due else item.erasure_due or ""
            kept_by_reason[(item.category, why, until)] += 1
        else:
            erase_entries.append(ItemRef(item.id, subject.id, item.category, f"request:{ground}"))
            outcome.erased[item.category] = outcome.erased.get(item.category, 0) + 1
    outcome.kept = [{"category": c, "items": n, "why": why, "until": until}
                    for (c, why, until), n in sorted(kept_by_reason.items())]
    granted = [st.purpose for st in current_states(conn, policy, subject.id) if st.granted]
    outcome.consents_withdrawn = granted
    outcome.whole_subject = not keep_ids and not outcome.held_by
    if outcome.held_by and not keep_ids:
        outcome.kept.append({"category": "identity and contact (the subject record)", "items": 0,
                             "why": "; ".join(outcome.held_by), "until": "released / answered"})
    if not apply:
        return outcome
    suppress_email(conn, subject.email, s.stamp)  # they asked for erasure: never contact again
    s.after_commit(lambda: setattr(outcome, "scrubbed", scrub_files(conn, s.stamp)))  # and the WAL
    record_answer(s, answering, subject.id, "erase", erased_items=len(erase_entries),
                  kept_items=len(keep_ids), whole_subject=outcome.whole_subject,
                  kept_categories=sorted({k["category"] for k in outcome.kept if k["items"]}))
    # Art. 19, before the disclosures go with the subject: every recipient when the whole
    # subject goes, else those of the categories erased.
    outcome.notices = note_recipients(
        s, subject.id, "erasure", request_id=answering,
        categories=None if outcome.whole_subject else sorted(outcome.erased))
    if outcome.whole_subject:  # the consents go with the subject
        erase_subject(conn, subject.id, rule=f"request:{ground}", stamp=s.stamp, actor=s.actor,
                      command="erase")
        s.audit("erase", subject.id, ground=ground, whole_subject=True, request=answering,
                notices=len(outcome.notices))
        return outcome
    erase_items(conn, erase_entries, stamp=s.stamp, actor=s.actor, command="erase")
    for granted_purpose in granted:  # what stays is no longer used for any consent purpose
        withdraw(s, subject.id, granted_purpose, via=via)
    s.audit("erase", subject.id, ground=ground, kept_items=len(keep_ids),
            consents_withdrawn=len(granted), held=len(outcome.held_by), request=answering,
            notices=len(outcome.notices))
    return outcome
