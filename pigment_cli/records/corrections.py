"""Corrections (UK GDPR Art. 16): an item corrected in place, a wrong entry removed, a disclosure
recorded by mistake voided. Each may answer a rectification (or, for a removal, an erasure)
request, and a correction or removal lists the recipients to tell (Art. 19, `records.notices`).

A correction is record-keeping, not a new processing for a purpose: it never moves the retention
clock (`processed_at`, the subject's `last_processed_at`). The old value is left nowhere: the
store overwrites it (secure_delete), the write-ahead log is scrubbed after the commit
(`erasure.scrub_files`), and the audit trail, the request's actions and the rights journal name
ids and field names only, never a value or the reason given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pigment_cli.errors import BadInput, Refused
from pigment_cli.records.answers import check_answerable, record_answer
from pigment_cli.records.disclosures import Disclosure, get_disclosure
from pigment_cli.records.erasure import ItemRef, erase_items, item_fingerprint, scrub_files
from pigment_cli.records.items import get_item, require_consent
from pigment_cli.records.models import Item, Subject
from pigment_cli.records.notices import Notice, note_recipients
from pigment_cli.records.restrictions import check_processing, covering
from pigment_cli.records.subjects import get_subject, update_subject
from pigment_cli.records.validate import check_item, clean_text
from pigment_cli.store.session import Session

# The rule an item removed as a wrong entry is erased under (the erasure record and journal).
REMOVED_RULE = "removed:wrong-entry"
ERASED_ON_REQUEST_RULE = "request:item"  # an item removed to answer an erasure request
# The category of data each subject field is (for Art. 19: which recipients received it).
SUBJECT_FIELD_CATEGORIES = {"name": "identity", "title": "identity", "dob": "date_of_birth",
                            "email": "contact", "phone": "contact", "address": "contact",
                            "external_id": "identity"}


@dataclass
class Correction:
    """What `item correct` did: the item as it now is, the fields changed (names only), the
    request it answered and the recipients to tell."""

    item: Item
    changed: list[str]
    request_id: str | None = None
    notices: list[Notice] = field(default_factory=list)
    scrubbed: bool = True  # False: a reader kept the old value in the WAL (see scrub_files)

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item.to_dict(), "changed": self.changed,
                "request": self.request_id, "recipients": [n.to_dict() for n in self.notices],
                "scrubbed": self.scrubbed}


@dataclass
class SubjectRectification:
    """What `subject update` did: the subject as it now is, the fields changed (names only),
    the request it answered and the recipients to tell."""

    subject: Subject
    changed: list[str]
    request_id: str | None = None
    notices: list[Notice] = field(default_factory=list)
    scrubbed: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject.to_dict(), "changed": self.changed,
                "request": self.request_id, "recipients": [n.to_dict() for n in self.notices],
                "scrubbed": self.scrubbed}


@dataclass
class Removal:
    """What `item remove` did (the item is gone: only its id, subject and category remain)."""

    item_id: int
    subject_id: str
    category: str
    request_id: str | None = None
    notices: list[Notice] = field(default_factory=list)
    scrubbed: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item_id, "subject_id": self.subject_id, "category": self.category,
                "rule": REMOVED_RULE, "request": self.request_id,
                "recipients": [n.to_dict() for n in self.notices], "scrubbed": self.scrubbed}


@dataclass(frozen=True)
class Voiding:
    """What `disclosure void` did: the disclosure as it now is, and the notices dropped (a
    recipient is never told about a disclosure that did not happen)."""

    disclosure: Disclosure
    request_id: str | None
    notices_dropped: int

    def to_dict(self) -> dict[str, Any]:
        return {"disclosure": self.disclosure.to_dict(), "request": self.request_id,
                "notices_dropped": self.notices_dropped}


def _scrub_after_commit(s: Session,
                        outcome: Correction | Removal | SubjectRectification) -> None:
    conn = s.conn
    s.after_commit(lambda: setattr(outcome, "scrubbed", scrub_files(conn, s.stamp)))


def correct_item(s: Session, item_id: int, *, value: str | None = None,
                 category: str | None = None, source: str | None = None,
                 purpose: str | None = None, collected: str | None = None,
                 request_id: str | None = None) -> Correction:
    """Correct an item in place (None: leave the field as it is; `value=""` clears the value).
    The new fields are checked as `item add` checks them (the policy's vocabulary, the purpose's
    categories, a consent purpose's consent, dates, and a new purpose that is restricted or
    objected to); `processed_at` never moves. BadInput (exit 2) when no field is given; Refused
    (exit 3) as `item add` refuses."""
    conn = s.conn
    item = get_item(conn, item_id)
    if all(v is None for v in (value, category, source, purpose, collected)):
        raise BadInput("nothing to correct; give at least one of --value --category --source "
                       "--purpose --collected")
    if request_id is not None:  # before anything changes
        check_answerable(conn, request_id, item.subject_id, "correct")
    new = {"value": item.value, "category": item.category, "source": item.source,
           "purpose": item.purpose, "basis": item.basis, "collected_at": item.collected_at}
    if value is not None:
        new["value"] = clean_text(value, "--value", multiline=True)
    if any(v is not None for v in (category, source, purpose, collected)):
        # A new purpose brings its own basis; otherwise the item keeps the basis it had.
        checked = check_item(
            s.policy, s.today.isoformat(), s.stamp,
            category=category if category is not None else item.category,
            source=source if source is not None else item.source,
            purpose=purpose if purpose is not None else item.purpose,
            basis=None if purpose is not None and purpose != item.purpose else item.basis,
            collected=collected if collected is not None else item.collected_at,
            processed=item.processed_at)
        new["category"], new["source"], new["purpose"], new["basis"] = checked[:4]
        new["collected_at"] = checked[5]
    current = item.to_dict()
    changed = [k for k, v in new.items() if current[k] != v]
    if "purpose" in changed and covering(conn, item.subject_id, item.purpose) is not None:
        # Restricted data may only be stored (Art. 18(2)): moving it to another purpose would
        # free it for use. Refused, nothing changed.
        raise Refused(f"refused: {item.subject_id}'s data for {item.purpose!r} is restricted "
                      "(UK GDPR Art. 18): it may only be stored, so item "
                      f"{item.id} cannot be moved to another purpose until the restriction is "
                      "lifted (pigment unrestrict ... --told-on DATE). Nothing was changed.")
    if "purpose" in changed:  # held for a new purpose: checked as `item add` checks it
        if new["basis"] == "consent":
            require_consent(conn, item.subject_id, str(new["purpose"]))
        # Restricted (Art. 18) or objected to (Art. 21) for it: refused, nothing changed. A
        # correction that keeps the purpose (the value, say) stays allowed: a restriction while
        # accuracy is contested waits for exactly that.
        check_processing(conn, s.policy, item.subject_id, str(new["purpose"]))
    outcome = Correction(item, changed)
    if not changed:
        s.audit("item correct", item.subject_id, item=item.id, fields=[])
        return outcome  # nothing rectified: nothing to tell, no request answered
    created_at = conn.execute("SELECT created_at FROM items WHERE id = ?",
                              (item.id,)).fetchone()[0]
    assignments = ", ".join(f"{k} = ?" for k in changed)
    # processed_at is left alone: a correction is not a processing for a purpose.
    conn.execute(f"UPDATE items SET {assignments} WHERE id = ?",
                 (*(new[k] for k in changed), item.id))
    outcome.item = get_item(conn, item.id)
    outcome.request_id = record_answer(s, request_id, item.subject_id, "correct", item=item.id,
                                       fields=changed)
    outcome.notices = note_recipients(s, item.subject_id, "rectification",
                                      categories={item.category, outcome.item.category},
                                      request_id=outcome.request_id)
    s.audit("item correct", item.subject_id, item=item.id, fields=changed,
            request=outcome.request_id, notices=len(outcome.notices))
    # A restore of an older backup would bring the old item back. Its facts (keys and a date)
    # are journalled and redone, matched by the fingerprint the item had, so a later erasure of
    # it still finds it; its value never is: a restore lists it for a person to correct again.
    facts = {k: new[k] for k in changed if k != "value"}
    if facts:
        s.journal("item_facts", subject_id=item.subject_id, item=item.id,
                  fingerprint=item_fingerprint(item.id, item.subject_id, item.category,
                                               created_at, item.collected_at), **facts)
    if "value" in changed:
        s.journal("rectification", subject_id=item.subject_id, fields=[f"item {item.id} value"])
    _scrub_after_commit(s, outcome)
    return outcome


def rectify_subject(s: Session, subject_id: str, *, request_id: str | None = None,
                    **fields: str | None) -> SubjectRectification:
    """Rectify a subject's details (`records.subjects.update_subject`: None leaves a field, ""
    clears it), answering a rectification request when one is given (checked before anything
    changes), noting the recipients of the categories changed (Art. 19) and scrubbing the old
    values from the write-ahead log once committed. A rectification never moves the clock."""
    subject = get_subject(s.conn, subject_id)
    if request_id is not None:
        check_answerable(s.conn, request_id, subject.id, "update")
    updated, changed = update_subject(s, subject.id, **fields)
    outcome = SubjectRectification(updated, changed)
    if not changed:
        return outcome  # nothing rectified: nothing to tell, no request answered
    outcome.request_id = record_answer(s, request_id, subject.id, "update", fields=changed)
    outcome.notices = note_recipients(
        s, subject.id, "rectification", request_id=outcome.request_id,
        categories={SUBJECT_FIELD_CATEGORIES[k] for k in changed if k in SUBJECT_FIELD_CATEGORIES})
    if outcome.request_id:  # update_subject audited the fields; this, the answer
        s.audit("subject update: answer", subject.id, request=outcome.request_id,
                notices=len(outcome.notices))
    _scrub_after_commit(s, outcome)
    return outcome


def remove_item(s: Session, item_id: int, *, reason: str,
                request_id: str | None = None) -> Removal:
    """Erase a wrong entry through the one erasure path (rule `removed:wrong-entry`). The reason
    is required and checked, then kept nowhere: it may describe the very data being removed.
    A wrong entry goes whatever holds stand (a hold keeps data needed, never data that is wrong).
    BadInput (exit 2) for an unknown item, an empty reason, or a request it cannot answer."""
    conn = s.conn
    item = get_item(conn, item_id)
    if not clean_text(reason, "--reason"):
        raise BadInput("--reason is required: say why the entry is wrong (it is not stored)")
    event, rule = "rectification", REMOVED_RULE  # a wrong entry removed: Art. 16 ...
    if request_id is not None:  # before anything changes
        if check_answerable(conn, request_id, item.subject_id, "remove")["kind"] == "erasure":
            event, rule = "erasure", ERASED_ON_REQUEST_RULE  # ... or an item erased on request
    outcome = Removal(item.id, item.subject_id, item.category)
    outcome.request_id = record_answer(s, request_id, item.subject_id, "remove", item=item.id,
                                       items=1)
    # Before the erasure: the recipients of this category are told it is gone.
    outcome.notices = note_recipients(s, item.subject_id, event,
                                      categories=[item.category],
                                      request_id=outcome.request_id)
    erase_items(conn, [ItemRef(item.id, item.subject_id, item.category, rule)],
                stamp=s.stamp, actor=s.actor, command="item remove")
    s.audit("item remove", item.subject_id, item=item.id, request=outcome.request_id,
            notices=len(outcome.notices))
    _scrub_after_commit(s, outcome)
    return outcome


def void_disclosure(s: Session, disclosure_id: int, *, reason: str,
                    request_id: str | None = None) -> Voiding:
    """Void a disclosure recorded by mistake (twice): it is kept, marked void with the reason,
    and left out of the access package's recipients and of Art. 19 notices; notices not yet
    given for it are dropped. BadInput (exit 2) if it is already void or the reason is empty."""
    conn = s.conn
    disclosure = get_disclosure(conn, disclosure_id)
    if disclosure.voided_at is not None:
        raise BadInput(f"disclosure {disclosure.id} was already voided on "
                       f"{disclosure.voided_at[:10]}")
    text = clean_text(reason, "--reason")
    if not text:
        raise BadInput("--reason is required: say why the disclosure is void (e.g. recorded "
                       "twice)")
    if request_id is not None:
        check_answerable(conn, request_id, disclosure.subject_id, "void")
    answered = record_answer(s, request_id, disclosure.subject_id, "void",
                             disclosure=disclosure.id)
    conn.execute("UPDATE disclosures SET voided_at = ?, void_reason = ? WHERE id = ?",
                 (s.stamp, text, disclosure.id))
    dropped = conn.execute("DELETE FROM recipient_notices WHERE disclosure_id = ? AND "
                           "notified_on IS NULL", (disclosure.id,)).rowcount
    s.audit("disclosure void", disclosure.subject_id, disclosure=disclosure.id, request=answered,
            notices_dropped=dropped)
    s.journal("rectification", subject_id=disclosure.subject_id,
              fields=[f"disclosure {disclosure.id} void"])
    return Voiding(get_disclosure(conn, disclosure.id), answered, dropped)
