"""Objection (UK GDPR Art. 21): what objecting to one purpose does, by the purpose's basis.

- Direct marketing (a purpose the policy marks `direct_marketing`) is absolute (Art. 21(2)-(3)):
  its consent is withdrawn at once and the email goes on the suppression list for good. A later,
  freely given consent can still be recorded (the person changed their mind), but the purpose's
  audience leaves the person out (by subject, whatever their email) until the objection is
  withdrawn (`withdraw_objection`), and every audience leaves the email out until `consent
  unsuppress`; each needs a written consent given after the objection.
- Legitimate interests or a public task (Art. 21(1)): the objection is recorded and the purpose
  stops for the subject in pigment (no new data, no disclosure, no audience:
  `records.restrictions`; for `reporting`, the aggregated reports leave the subject out). Any
  other such processing is done outside pigment (CCTV recording, for `security`): pigment says
  it cannot stop it (`outside`); the clinic stops it, or refuses the objection on compelling
  legitimate grounds (the objection request closed as refused, with the reason).
- Any other consent purpose: objecting is withdrawing the consent, and the objection is recorded.
- Contract, legal obligation, vital interests: there is no right to object; Refused (the person
  may ask for erasure or restriction instead).

An objection stands until the person withdraws it (`withdraw_objection`: they changed their
mind). Its row then carries `withdrawn_at`, so nothing treats it as standing while the record of
it stays; the rights journal holds the withdrawal, so a restore never brings the objection back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pigment_cli.errors import BadInput, Refused
from pigment_cli.records.answers import record_answer
from pigment_cli.records.consents import (
    EventResult,
    events_of,
    require_channel,
    withdraw,
    written_grant_after,
)
from pigment_cli.records.notices import Notice
from pigment_cli.records.restrictions import (
    OBJECTABLE_BASES,
    REPORTING,
    Objection,
    check_request,
    insert_objection,
    latest_objection,
    objections_of,
)
from pigment_cli.records.subjects import get_subject
from pigment_cli.records.suppression import is_suppressed, suppress_email
from pigment_cli.store.session import Session

DIRECT_MARKETING, CONSENT = "direct_marketing", "consent"
_BASIS_NAMES = {"contract": "the treatment contract", "legal_obligation": "a legal obligation",
                "vital_interests": "vital interests"}


@dataclass(frozen=True)
class ObjectResult:
    """What an objection did. `ground`: direct_marketing, legitimate_interests, public_task or
    consent (see the module's docstring)."""

    objection: Objection
    ground: str
    withdrawal: EventResult | None = None
    suppressed: bool = False  # the email is on the suppression list (now, or already was)
    no_email: bool = False  # direct marketing to someone with no email: nothing to suppress
    outside: bool = False  # Art. 21(1): the processing happens outside pigment, which cannot stop it

    @property
    def notices(self) -> tuple[Notice, ...]:
        """Art. 19: the recipients of the data the withdrawal erased."""
        return self.withdrawal.notices if self.withdrawal else ()

    def to_dict(self) -> dict[str, Any]:
        return {"objection": self.objection.to_dict(), "ground": self.ground,
                "consent_withdrawn": bool(self.withdrawal and self.withdrawal.recorded),
                "erased_items": self.withdrawal.erased_items if self.withdrawal else 0,
                "kept_by": list(self.withdrawal.kept_by) if self.withdrawal else [],
                "recipients": [n.to_dict() for n in self.notices],
                "suppressed": self.suppressed, "pigment_cannot_stop_it": self.outside}


def ground_of(s: Session, purpose: str) -> str:
    """Which rule of Art. 21 an objection to `purpose` falls under; Refused if none does."""
    found = s.policy.purpose(purpose)  # BadInput listing the policy's purposes
    if found.direct_marketing:
        return DIRECT_MARKETING
    if found.basis in OBJECTABLE_BASES:
        return found.basis
    if found.rests_on_consent:
        return CONSENT
    on = _BASIS_NAMES.get(found.basis, f"the basis {found.basis!r}")
    raise Refused(
        f"refused: {purpose!r} rests on {on}, and UK GDPR Art. 21 gives a right to object only to "
        "processing on legitimate interests or a public task, and to direct marketing; the person "
        "may ask for erasure (pigment erase) or restriction (pigment restrict) instead. Nothing "
        "was recorded.")


def _already(s: Session, subject_id: str, email: str | None, purpose: str,
             ground: str) -> Objection | None:
    """The earlier objection that still has its full effect, if any (objecting again changes
    nothing): one to a legitimate-interests purpose always; one to a consent purpose while no
    consent was given after it and, for direct marketing, the email is still suppressed."""
    earlier = latest_objection(s.conn, subject_id, purpose)
    if earlier is None:
        return None
    if ground in OBJECTABLE_BASES:
        return earlier
    if s.policy.purpose(purpose).rests_on_consent and any(
            e.action == "grant" and e.at > earlier.at for e in events_of(s.conn, subject_id,
                                                                          purpose)):
        return None  # consented again since: this objection withdraws that consent
    if ground == DIRECT_MARKETING and email and not is_suppressed(s.conn, email):
        return None  # taken off the suppression list since
    return earlier


def object_to(s: Session, subject_id: str, purpose: str, *, via: str = "email",
              request_id: str | None = None) -> ObjectResult:
    """Record the subject's objection to `purpose` and do what it requires (module docstring).
    `via` is the channel recorded on the consent withdrawal it makes."""
    subject = get_subject(s.conn, subject_id)
    key = purpose.strip()
    ground = ground_of(s, key)
    require_channel(via)
    request = check_request(s, request_id, subject.id, "object", key)
    earlier = _already(s, subject.id, subject.email, key, ground)
    if earlier is not None:
        raise BadInput(f"{subject.id} already objected to {key!r} on {earlier.at[:10]} "
                       f"(objection {earlier.id}), and it still stands; nothing to do")
    withdrawal = None
    if s.policy.purpose(key).rests_on_consent:
        # Art. 7(3): data held for it goes (the request this answers never holds it back).
        withdrawal = withdraw(s, subject.id, key, via=via, answering=request)
    if ground == DIRECT_MARKETING:
        suppress_email(s.conn, subject.email, s.stamp)  # for good (Art. 21(3))
    objection = insert_objection(s, subject.id, key, request)
    record_answer(s, request, subject.id, "object", objection=objection.id, purpose=key)
    suppressed = ground == DIRECT_MARKETING and is_suppressed(s.conn, subject.email)
    notices = len(withdrawal.notices) if withdrawal else 0
    s.audit("object", subject.id, objection=objection.id, purpose=key, ground=ground,
            request=request, suppressed=suppressed, notices=notices)
    return ObjectResult(objection, ground, withdrawal, suppressed,
                        no_email=ground == DIRECT_MARKETING and not subject.email,
                        outside=ground in OBJECTABLE_BASES and key != REPORTING)


@dataclass(frozen=True)
class ObjectionWithdrawal:
    """What `object --withdraw` did: the objections to `purpose` it ended (ids), the written
    consent that shows the person changed their mind (direct marketing), and whether the email
    is still on the suppression list (`consent unsuppress` takes it off)."""

    subject_id: str
    purpose: str
    objections: tuple[int, ...]
    objected_on: str
    consent_event: int | None = None
    still_suppressed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"subject_id": self.subject_id, "purpose": self.purpose,
                "objections_withdrawn": list(self.objections), "objected_on": self.objected_on,
                "consent_event": self.consent_event, "still_suppressed": self.still_suppressed}


def withdraw_objection(s: Session, subject_id: str, purpose: str, *,
                       request_id: str | None = None) -> ObjectionWithdrawal:
    """The person withdraws their objection to `purpose`: every objection to it on record ends
    (deleted; audited with their ids; journalled, so a restore replays it), and the purpose may
    start again for them. For direct marketing resting on consent, only once a written consent
    to it given after the objection is in force (Refused, exit 3, otherwise: the objection is
    absolute, so its end must be as plain as a signed form). BadInput (exit 2) when there is no
    objection to withdraw, or with a request (a withdrawal answers none)."""
    subject = get_subject(s.conn, subject_id)
    key = purpose.strip()
    found = s.policy.purpose(key)  # BadInput listing the policy's purposes
    if request_id is not None:
        raise BadInput("--request goes with an objection, not with its withdrawal: a withdrawal "
                       "answers no request")
    standing = [o for o in objections_of(s.conn, subject.id) if o.purpose == key]
    if not standing:
        raise BadInput(f"{subject.id} has no objection to {key} on record; nothing to withdraw")
    latest = standing[-1]
    consent_event = None
    if found.direct_marketing and found.rests_on_consent:
        grant_event = written_grant_after(events_of(s.conn, subject.id, key), key, latest.at)
        if grant_event is None:
            raise Refused(
                f"refused: {subject.id} objected to {key} on {latest.at[:10]}, and an objection "
                "to direct marketing is absolute (UK GDPR Art. 21(3)); it is withdrawn only once "
                f"a written consent to {key} given after it is in force, and {subject.id} has "
                f"none. Record one first (pigment consent grant {subject.id} {key} --via "
                "paper_form --evidence ...). Nothing was changed.")
        consent_event = grant_event.id
    ids = tuple(o.id for o in standing)
    s.conn.execute("UPDATE objections SET withdrawn_at = ? WHERE subject_id = ? AND purpose = ? "
                   "AND withdrawn_at IS NULL", (s.stamp, subject.id, key))
    s.journal("objection_withdrawal", subject_id=subject.id, purpose=key)  # a restore replays it
    suppressed = found.direct_marketing and is_suppressed(s.conn, subject.email)
    s.audit("object withdraw", subject.id, objections=list(ids), purpose=key,
            event=consent_event, suppressed=suppressed)
    return ObjectionWithdrawal(subject.id, key, ids, latest.at[:10], consent_event, suppressed)
