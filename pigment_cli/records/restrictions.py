"""Restriction of processing (UK GDPR Art. 18) and the objections that stop a purpose (Art. 21):
the `restrictions` and `objections` tables, and the one rule every new processing asks
(`check_processing`): new items, item touches, imports, disclosures and consent audiences.

While a subject's data is restricted it may only be stored (Art. 18(2)): the record can be read
and the person still gets their own access package; new data, a new processing, a disclosure
(unless the law requires it) and a mailing are refused. A restriction of every purpose also keeps
the record from the retention sweep, as a hold does (erasing is processing too:
`records.holds.active_holds`); one of a single purpose does not keep the rest past its date. The
person must be told before a restriction is lifted (Art. 18(3)): lifting one records the day they
were told (`told_on`). Processing with the person's consent (Art. 18(2)) is not recorded here: the
way on is to restrict only the purposes concerned, or to lift the restriction. An objection to a
purpose resting on legitimate interests or a public task (Art. 21(1)), or to direct marketing on
any basis other than consent, stops that purpose for good; objections that need the consent
ledger are made in `records.objections`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from typing import Any

from pigment_cli.clock import parse_date
from pigment_cli.errors import BadInput
from pigment_cli.policy import Policy
from pigment_cli.records.answers import check_answerable, record_answer
from pigment_cli.records.notices import Notice, note_recipients
from pigment_cli.records.subjects import get_subject
from pigment_cli.records.validate import FieldRefused, clean_text
from pigment_cli.store.session import Session

# Bases an objection under Art. 21(1) can stop. Consent purposes are objected to by withdrawing
# the consent; contract, legal obligation and vital interests carry no right to object.
OBJECTABLE_BASES = frozenset({"legitimate_interests", "public_task"})
ALL_PURPOSES = "all purposes"
# Why an import row is refused (import reports never quote a value).
RESTRICTED_REASON = "the subject's data is restricted (UK GDPR Art. 18): it may only be stored"
OBJECTED_REASON = "the subject objected to this purpose (UK GDPR Art. 21)"
_RESTRICTION_COLUMNS = ("id, subject_id, purpose, request_id, reason, started_at, ended_at, "
                        "told_on")
# The purpose pigment's own aggregated reports (`pigment report`) are processing for: a subject
# restricted or objecting to it is left out of them (`stopped_subjects`).
REPORTING = "reporting"
_OBJECTION_COLUMNS = "id, subject_id, purpose, request_id, at, withdrawn_at"
STANDING = "withdrawn_at IS NULL"  # an objection stands until the person withdraws it


@dataclass(frozen=True)
class Restriction:
    """A restriction of a subject's data, for every purpose (`purpose` None) or one."""

    id: int
    subject_id: str
    purpose: str | None
    request_id: str | None
    reason: str | None
    started_at: str
    ended_at: str | None = None
    told_on: str | None = None  # Art. 18(3): the day the person was told it would be lifted

    @property
    def scope(self) -> str:
        return self.purpose or ALL_PURPOSES

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def covers(self, purpose: str) -> bool:
        return self.purpose is None or self.purpose == purpose

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "scope": self.scope, "active": self.active}


@dataclass(frozen=True)
class Objection:
    id: int
    subject_id: str
    purpose: str
    request_id: str | None
    at: str
    withdrawn_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RestrictResult:
    """What `restrict` did: the restriction, and the recipients to tell (Art. 19)."""

    restriction: Restriction
    notices: list[Notice] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"restriction": self.restriction.to_dict(),
                "recipients_to_tell": [n.to_dict() for n in self.notices]}


# --- reading (no audit: callers audit) ---------------------------------------------------------


def _restriction(row: sqlite3.Row) -> Restriction:
    return Restriction(row["id"], row["subject_id"], row["purpose"], row["request_id"],
                       row["reason"], row["started_at"], row["ended_at"], row["told_on"])


def _objection(row: sqlite3.Row) -> Objection:
    return Objection(row["id"], row["subject_id"], row["purpose"], row["request_id"], row["at"],
                     row["withdrawn_at"])


def restrictions_of(conn: sqlite3.Connection, subject_id: str, *,
                    active_only: bool = False) -> list[Restriction]:
    """A subject's restrictions, oldest first (those in force only, with `active_only`)."""
    sql = f"SELECT {_RESTRICTION_COLUMNS} FROM restrictions WHERE subject_id = ?"
    if active_only:
        sql += " AND ended_at IS NULL"
    return [_restriction(r) for r in conn.execute(sql + " ORDER BY started_at, id", (subject_id,))]


def objections_of(conn: sqlite3.Connection, subject_id: str, *,
                  standing_only: bool = True) -> list[Objection]:
    """A subject's objections that stand (or all, withdrawn ones too), oldest first."""
    where = f" AND {STANDING}" if standing_only else ""
    return [_objection(r) for r in conn.execute(
        f"SELECT {_OBJECTION_COLUMNS} FROM objections WHERE subject_id = ?{where} "
        "ORDER BY at, id", (subject_id,))]


def latest_objection(conn: sqlite3.Connection, subject_id: str, purpose: str) -> Objection | None:
    row = conn.execute(f"SELECT {_OBJECTION_COLUMNS} FROM objections WHERE subject_id = ? AND "
                       f"purpose = ? AND {STANDING} ORDER BY at DESC, id DESC LIMIT 1",
                       (subject_id, purpose)).fetchone()
    return None if row is None else _objection(row)


def marketing_objection(conn: sqlite3.Connection, policy: Policy, subject_id: str,
                        purpose: str) -> Objection | None:
    """The subject's standing objection to `purpose` when it is direct marketing (Art. 21(3):
    absolute, by the person, whatever email they have now), or None. It stands until it is
    withdrawn (`records.objections.withdraw_objection`); a new consent does not end it."""
    found = policy.find_purpose(purpose)
    if found is None or not found.direct_marketing:
        return None
    return latest_objection(conn, subject_id, purpose)


def marketing_objectors(conn: sqlite3.Connection, policy: Policy, purpose: str) -> set[str]:
    """Subjects with a standing objection to `purpose` when it is direct marketing: never in its
    audience, whatever their email or consent."""
    found = policy.find_purpose(purpose)
    if found is None or not found.direct_marketing:
        return set()
    return {r[0] for r in conn.execute(
        f"SELECT DISTINCT subject_id FROM objections WHERE purpose = ? AND {STANDING}",
        (purpose,))}


def covering(conn: sqlite3.Connection, subject_id: str, purpose: str,
             at: str | None = None) -> Restriction | None:
    """The restriction in force (now, or at the time `at`) that covers `purpose` (one for all
    purposes first), or None."""
    found = [r for r in restrictions_of(conn, subject_id, active_only=at is None)
             if r.covers(purpose) and (at is None or r.started_at <= at and (
                 r.ended_at is None or r.ended_at > at))]
    found.sort(key=lambda r: (r.purpose is not None, r.started_at, r.id))
    return found[0] if found else None


def objection_stops(policy: Policy, purpose: str) -> bool:
    """Does a recorded objection stop `purpose` by itself? Yes on legitimate interests or a public
    task (Art. 21(1)), and for direct marketing on any basis but consent (Art. 21(3)); a consent
    purpose is stopped by the withdrawal the objection recorded (a later, freely given consent
    may start it again)."""
    found = policy.find_purpose(purpose)
    if found is None or found.rests_on_consent:
        return False
    return found.basis in OBJECTABLE_BASES or found.direct_marketing


@dataclass(frozen=True)
class Refusal:
    """Why new processing is refused: `message` for the command line, `column` and `reason` for
    an import report, `lift` the command that would lift a restriction (None for an objection),
    `narrow` the command that would restrict one purpose (a restriction of every purpose only).
    Ids, keys and dates only."""

    message: str
    column: str
    reason: str
    lift: str | None = None
    narrow: str | None = None


def refusal(conn: sqlite3.Connection, policy: Policy, subject_id: str, purpose: str,
            at: str | None = None) -> Refusal | None:
    """Why `subject_id`'s data may not be processed anew for `purpose` (now, or at the time
    `at`), or None."""
    restriction = covering(conn, subject_id, purpose, at)
    if restriction is not None:
        scoped = f" --purpose {restriction.purpose}" if restriction.purpose else ""
        return Refusal(f"{subject_id}'s data is restricted for {restriction.scope} since "
                       f"{restriction.started_at[:10]} (UK GDPR Art. 18(2): it may only be "
                       "stored)", "external_id" if restriction.purpose is None else "purpose",
                       RESTRICTED_REASON,
                       f"pigment unrestrict {subject_id}{scoped} --told-on DATE",
                       None if restriction.purpose else f"pigment restrict {subject_id} "
                       "--purpose P")
    if objection_stops(policy, purpose):
        objection = latest_objection(conn, subject_id, purpose)
        if objection is not None and (at is None or objection.at <= at):
            return Refusal(f"{subject_id} objected to {purpose!r} on {objection.at[:10]} (UK GDPR "
                           "Art. 21): that processing has stopped", "purpose", OBJECTED_REASON)
    return None


def check_processing(conn: sqlite3.Connection, policy: Policy, subject_id: str, purpose: str,
                     *, at: str | None = None, otherwise: str | None = None) -> None:
    """FieldRefused (exit 3) if a restriction or an objection stops processing `subject_id`'s data
    for `purpose` (now, or at the time `at`). `otherwise` says what else the user may do (e.g.
    cite a law). For a restriction the message says how to go on: restrict only the purposes
    concerned, or lift it once the person has been told; processing with their consent
    (Art. 18(2)) is not something pigment records."""
    found = refusal(conn, policy, subject_id, purpose, at)
    if found is None:
        return
    ways = [w for w in (
        otherwise,
        found.narrow and f"restrict only the purposes concerned ({found.lift}, then "
                         f"{found.narrow})",
        found.lift and f"lift the restriction once the person has been told ({found.lift})",
    ) if w]
    tail = f"; {', or '.join(ways)}" if ways else ""
    consent = ("; pigment does not record processing with the person's consent (Art. 18(2))"
               if found.lift else "")
    raise FieldRefused(f"refused: {found.message}{tail}{consent}. Nothing was recorded.",
                       found.column, found.reason)


@dataclass(frozen=True)
class Blocked:
    """Every restriction in force and every objection that stops a purpose, read once (for a bulk
    import: the hot path asks `reason` only when something is blocked at all)."""

    everything: frozenset[str] = frozenset()  # subjects restricted for all purposes
    purposes: frozenset[tuple[str, str]] = frozenset()  # (subject, purpose) restricted
    objected: frozenset[tuple[str, str]] = frozenset()  # (subject, purpose) objected to

    def __bool__(self) -> bool:
        return bool(self.everything or self.purposes or self.objected)

    def reason(self, subject_id: str, purpose: str) -> tuple[str, str] | None:
        """(import column, reason) when the row must be refused, else None."""
        if subject_id in self.everything:
            return "external_id", RESTRICTED_REASON
        if (subject_id, purpose) in self.purposes:
            return "purpose", RESTRICTED_REASON
        if (subject_id, purpose) in self.objected:
            return "purpose", OBJECTED_REASON
        return None


def blocked(conn: sqlite3.Connection, policy: Policy) -> Blocked:
    everything: set[str] = set()
    purposes: set[tuple[str, str]] = set()
    for subject_id, purpose in conn.execute(
            "SELECT subject_id, purpose FROM restrictions WHERE ended_at IS NULL"):
        if purpose is None:
            everything.add(subject_id)
        else:
            purposes.add((subject_id, purpose))
    objected = {(subject_id, purpose) for subject_id, purpose in conn.execute(
        f"SELECT DISTINCT subject_id, purpose FROM objections WHERE {STANDING}")
        if objection_stops(policy, purpose)}
    return Blocked(frozenset(everything), frozenset(purposes), frozenset(objected))


def restricted_subjects(conn: sqlite3.Connection, purpose: str) -> set[str]:
    """Subjects whose data is restricted for `purpose` (or for every purpose): never in an
    audience."""
    return {r[0] for r in conn.execute(
        "SELECT DISTINCT subject_id FROM restrictions WHERE ended_at IS NULL AND "
        "(purpose IS NULL OR purpose = ?)", (purpose,))}


def stopped_subjects(conn: sqlite3.Connection, policy: Policy, purpose: str) -> set[str]:
    """Subjects whose data may not be processed for `purpose` at all now: restricted for it (or
    for every purpose), or with an objection that stops it (`objection_stops`). For processing
    pigment does itself, such as its aggregated reports (`REPORTING`)."""
    found = restricted_subjects(conn, purpose)
    if objection_stops(policy, purpose):
        found |= {r[0] for r in conn.execute(
            f"SELECT DISTINCT subject_id FROM objections WHERE purpose = ? AND {STANDING}",
            (purpose,))}
    return found


def count_restricted(conn: sqlite3.Connection) -> int:
    """Subjects with a restriction in force (for any purpose)."""
    return int(conn.execute("SELECT count(DISTINCT subject_id) FROM restrictions "
                            "WHERE ended_at IS NULL").fetchone()[0])


# --- acting ------------------------------------------------------------------------------------


def check_request(s: Session, request_id: str | None, subject_id: str, action: str,
                  purpose: str | None) -> str | None:
    """Before anything changes: the request `action` answers must be open, of its kind, about
    this subject and, when it names a purpose, about `purpose`; a restriction request for every
    purpose is answered only by restricting every purpose (BadInput otherwise). Returns the
    request's id."""
    if request_id is None:
        return None
    row = check_answerable(s.conn, request_id, subject_id, action)
    asked = s.conn.execute("SELECT purpose FROM requests WHERE id = ?", (row["id"],)).fetchone()[0]
    if action == "restrict" and asked is None and purpose is not None:
        # A request to restrict every purpose is not answered by restricting one of them.
        raise BadInput(f"request {row['id']} asks to restrict every purpose, but this command "
                       f"restricts {purpose} only; leave out --purpose to restrict every purpose")
    if asked is not None and asked != purpose:
        given = (f"this command is for {purpose} only" if purpose
                 else "without --purpose this command is for every purpose")
        raise BadInput(f"request {row['id']} is about {asked} only, but {given}; add "
                       f"--purpose {asked}")
    return str(row["id"])


def _purpose(s: Session, purpose: str | None) -> str | None:
    if purpose is None:
        return None
    key = purpose.strip()
    s.policy.purpose(key)  # BadInput listing the policy's purposes
    return key


def restrict(s: Session, subject_id: str, *, purpose: str | None = None,
             reason: str | None = None, request_id: str | None = None) -> RestrictResult:
    """Restrict the processing of a subject's data, for every purpose or one (Art. 18), and
    record a notice for each recipient of the data (Art. 19). BadInput if that scope is already
    restricted (for every purpose, or this one)."""
    subject = get_subject(s.conn, subject_id)
    key = _purpose(s, purpose)
    text = clean_text(reason, "--reason")
    request = check_request(s, request_id, subject.id, "restrict", key)
    for current in restrictions_of(s.conn, subject.id, active_only=True):
        if current.purpose is None or current.purpose == key:
            raise BadInput(f"{subject.id}'s data is already restricted for {current.scope} since "
                           f"{current.started_at[:10]} (restriction {current.id}); nothing to do")
    cur = s.conn.execute(
        "INSERT INTO restrictions (subject_id, purpose, request_id, reason, started_at) "
        "VALUES (?, ?, ?, ?, ?)", (subject.id, key, request, text, s.stamp))
    restriction = Restriction(int(cur.lastrowid or 0), subject.id, key, request, text, s.stamp)
    # Art. 19: the recipients of disclosures made for the restricted purpose (every one, for a
    # restriction of every purpose); one for another purpose is not restricted.
    notices = note_recipients(s, subject.id, "restriction",
                              purposes=None if key is None else [key], request_id=request)
    record_answer(s, request, subject.id, "restrict", restriction=restriction.id, purpose=key,
                  notices=len(notices))
    s.journal("restriction", subject_id=subject.id, purpose=key, started_at=s.stamp,
              request_id=request)  # a restore replays it
    s.audit("restrict", subject.id, restriction=restriction.id, purpose=key, request=request,
            notices=len(notices))
    return RestrictResult(restriction, notices)


def unrestrict(s: Session, subject_id: str, *, told_on: str | None,
               purpose: str | None = None, request_id: str | None = None) -> Restriction:
    """Lift the restriction in force for exactly this scope (every purpose, or one), recording
    `told_on` (YYYY-MM-DD), the day the person was told it would be lifted (Art. 18(3)).
    BadInput (exit 2) if there is none, if `told_on` is missing, in the future, or before the
    restriction began."""
    subject = get_subject(s.conn, subject_id)
    key = _purpose(s, purpose)
    request = check_request(s, request_id, subject.id, "unrestrict", key)
    active = restrictions_of(s.conn, subject.id, active_only=True)
    current = next((r for r in active if r.purpose == key), None)
    if current is None:
        scope = key or ALL_PURPOSES
        others = ", ".join(r.scope for r in active) or "none"
        raise BadInput(f"{subject.id}'s data is not restricted for {scope} (restrictions in "
                       f"force: {others}); nothing to lift")
    told = _told_on(s, told_on, current)
    s.conn.execute("UPDATE restrictions SET ended_at = ?, told_on = ? WHERE id = ?",
                   (s.stamp, told, current.id))
    record_answer(s, request, subject.id, "unrestrict", restriction=current.id, purpose=key)
    s.journal("unrestriction", subject_id=subject.id, purpose=key,
              started_at=current.started_at, told_on=told)
    s.audit("unrestrict", subject.id, restriction=current.id, purpose=key, request=request,
            told_on=told)
    return Restriction(current.id, current.subject_id, current.purpose, current.request_id,
                       current.reason, current.started_at, s.stamp, told)


def _told_on(s: Session, told_on: str | None, current: Restriction) -> str:
    """The day the person was told the restriction would be lifted: required (Art. 18(3)), not
    in the future, not before the restriction began."""
    if told_on is None or not told_on.strip():
        raise BadInput("refused: the person must be told before a restriction is lifted (UK "
                       "GDPR Art. 18(3)); tell them, then give --told-on DATE (the day they were "
                       "told). Nothing was changed.")
    day = parse_date(told_on, "--told-on")
    if day > s.today:
        raise BadInput(f"--told-on {day.isoformat()} is in the future (today is "
                       f"{s.today.isoformat()})")
    began = current.started_at[:10]
    if day.isoformat() < began:
        raise BadInput(f"--told-on {day.isoformat()} is before restriction {current.id} began "
                       f"({began})")
    return day.isoformat()


def insert_objection(s: Session, subject_id: str, purpose: str, request_id: str | None) -> Objection:
    """Record an objection (the caller has done what it requires; `records.objections`)."""
    cur = s.conn.execute("INSERT INTO objections (subject_id, purpose, request_id, at) "
                         "VALUES (?, ?, ?, ?)", (subject_id, purpose, request_id, s.stamp))
    s.journal("objection", subject_id=subject_id, purpose=purpose, request_id=request_id)
    return Objection(int(cur.lastrowid or 0), subject_id, purpose, request_id, s.stamp)
