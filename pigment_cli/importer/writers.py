"""The writers, one per kind of import: each checks a row (raising FieldError, which names the
column, never the value) and writes accepted rows in batches with the records' own INSERTs."""

from __future__ import annotations

import secrets
from array import array
from typing import Any

from pigment_cli.importer.sources import COLUMNS
from pigment_cli.importer.summary import ImportSummary, LikelyDuplicate
from pigment_cli.policy import CONSENT_CHANNELS, WRITTEN_CHANNELS
from pigment_cli.policy.history import policy_version_at
from pigment_cli.records.consents import (
    CONSENT_COLUMNS,
    erase_consent_only_data,
    events_of,
    recipient_key,
    scope_problem,
    state_from,
)
from pigment_cli.records.ids import ID_ALPHABET
from pigment_cli.records.items import ITEM_INSERT, ITEM_INSERT_COLUMNS
from pigment_cli.records.restrictions import blocked
from pigment_cli.records.subjects import SUBJECT_ID_TAKEN, SUBJECT_INSERT, duplicates_added_after
from pigment_cli.records.suppression import email_hmac, is_suppressed
from pigment_cli.records.validate import (
    FieldError,
    FieldRefused,
    check_item,
    check_when,
    clean_text,
    subject_field,
)
from pigment_cli.store.session import Session

BATCH_ROWS = 2000
LOOKUP_CACHE = 50_000  # external ids remembered at once (bounded: memory stays flat)
MAX_SHORT_TEXT = 200  # consent evidence and notice references, as `pigment consent grant`


class _Writer:
    """Checks one row at a time (raising FieldError) and writes accepted rows in batches."""

    line = 0  # the file line of the row being added (set by the importer before each `add`)

    def __init__(self, s: Session, summary: ImportSummary, present: set[str]) -> None:
        self.s, self.conn, self.summary, self.present = s, s.conn, summary, present
        self.today = s.today.isoformat()
        self.stamp = s.stamp
        self._ids: dict[str, Any] = {}

    def subject_of(self, external_id: str | None) -> Any:
        """The subject row for a practice-system id (cached, bounded), or FieldError."""
        if not external_id:
            raise FieldError("", "external_id", "is empty")
        found = self._ids.get(external_id)
        if found is None:
            found = self.lookup(external_id)
            if found is None:
                raise FieldError("", "external_id",
                                 "no subject has this external id (import subjects first)")
            if len(self._ids) >= LOOKUP_CACHE:
                self._ids.clear()
            self._ids[external_id] = found
        return found

    def lookup(self, external_id: str) -> Any:
        row = self.conn.execute(
            "SELECT id FROM subjects WHERE external_id = ?", (external_id,)
        ).fetchone()
        return row[0] if row else None

    def add(self, values: list[str | None]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """After the last row: anything that needs the whole file written first."""


class _SubjectWriter(_Writer):
    """New external ids become new subjects; known ones are updated where a present column
    differs (a blank cell clears the field; an absent column leaves it alone)."""

    FIELDS = ("name", "title", "dob", "email", "phone", "address")
    SLOTS = tuple(COLUMNS["subjects"].index(f) for f in FIELDS)

    def __init__(self, s: Session, summary: ImportSummary, present: set[str]) -> None:
        super().__init__(s, summary, present)
        self.pending: list[tuple[Any, ...]] = []
        self.pending_ext: set[str] = set()
        self.pending_ids: set[str] = set()
        # Likely duplicates are found once, at the end: new subjects are the rows above `base`,
        # and `lines` holds each one's file line in the order they were added (4 bytes a row).
        self.base = self.conn.execute("SELECT coalesce(max(rowid), 0) FROM subjects").fetchone()[0]
        self.lines = array("I")

    def add(self, values: list[str | None]) -> None:
        today = self.s.today
        external_id = clean_text(values[0], "external_id", column="external_id")
        if not external_id:
            raise FieldError("", "external_id", "is empty")
        fields = {k: subject_field(k, values[i], today)
                  for k, i in zip(self.FIELDS, self.SLOTS, strict=True) if values[i] is not None}
        if not fields.get("name"):
            raise FieldError("", "name", "is empty")
        processed = values[7] and check_when(values[7], "processed_at", "processed_at")
        if processed and processed[:10] > self.today:
            raise FieldError("", "processed_at", "is in the future")
        if external_id in self.pending_ext:
            self.flush()  # the same id twice in one batch: the second row updates the first
        current = self.conn.execute(
            "SELECT id, name, title, dob, email, phone, address FROM subjects WHERE external_id = ?",
            (external_id,),
        ).fetchone()
        if current is None:
            if not processed:
                self.summary.clock_today += 1
            self._insert(external_id, fields, processed or self.stamp)
            return
        changed = [k for k, v in fields.items() if current[k] != v]
        if changed:
            sets = ", ".join(f"{k} = ?" for k in changed)
            # A rectification is not processing for a purpose: only a processed_at given in the
            # file moves the retention clock (UK GDPR Art. 5(1)(e)).
            self.conn.execute(
                f"UPDATE subjects SET {sets}, updated_at = ?, "
                "last_processed_at = max(last_processed_at, ?) WHERE id = ?",
                (*(fields[k] for k in changed), self.stamp, processed or "", current["id"]),
            )
            self.s.journal("rectification", subject_id=current["id"], fields=changed)
            self.summary.updated += 1
            return
        if processed:
            self.conn.execute(
                "UPDATE subjects SET last_processed_at = max(last_processed_at, ?) WHERE id = ?",
                (processed, current["id"]),
            )
        self.summary.unchanged += 1

    def _insert(self, external_id: str, fields: dict[str, str | None], processed: str) -> None:
        while True:
            # As records.ids.new_id, from one draw of the OS's randomness (32 letters: no bias).
            subject_id = "S-" + "".join(ID_ALPHABET[b & 31] for b in secrets.token_bytes(5))
            if subject_id in self.pending_ids:
                continue
            if self.conn.execute(SUBJECT_ID_TAKEN, (subject_id,)).fetchone() is None:
                break
        self.pending.append((
            subject_id, external_id, fields["name"], fields.get("title"), fields.get("dob"),
            fields.get("email"), fields.get("phone"), fields.get("address"), self.stamp,
            self.stamp, processed,
        ))
        self.pending_ext.add(external_id)
        self.pending_ids.add(subject_id)
        self.lines.append(self.line)
        if len(self.pending) >= BATCH_ROWS:
            self.flush()

    def finish(self) -> None:
        """New subjects who look like someone held, or like each other (same name and date of
        birth, or same email), are imported all the same (an import is a script) and reported
        by line and id."""
        self.summary.likely_duplicates = [
            LikelyDuplicate(self.lines[found.rank - 1], found.subject_id, found.like)
            for found in duplicates_added_after(self.conn, self.base)]

    def flush(self) -> None:
        if self.pending:
            self.conn.executemany(SUBJECT_INSERT, self.pending)
            self.summary.inserted += len(self.pending)
            self.pending.clear()
            self.pending_ext.clear()
            self.pending_ids.clear()


# The same item (subject, category, source, purpose, value, collected_at) already held before this
# import began: processed again if the row says so later, never added twice.
_ITEM_SAME = (
    "subject_id = ?1 AND category = ?2 AND source = ?3 AND purpose = ?4 AND value IS ?6 "
    "AND collected_at = ?7 AND id <= ?10"
)
_ITEM_REPROCESS = f"UPDATE items SET processed_at = ?8 WHERE {_ITEM_SAME} AND processed_at < ?8"
_ITEM_INSERT_NEW = (
    f"INSERT INTO items ({ITEM_INSERT_COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 "
    f"WHERE NOT EXISTS (SELECT 1 FROM items WHERE {_ITEM_SAME})"
)


class _ItemWriter(_Writer):
    """Items of subjects that had none before the import go in with a plain INSERT; items of
    subjects that had some are matched against those first (so re-importing adds nothing)."""

    def __init__(self, s: Session, summary: ImportSummary, present: set[str]) -> None:
        super().__init__(s, summary, present)
        self.policy = s.policy
        self.before = self.conn.execute("SELECT coalesce(max(id), 0) FROM items").fetchone()[0]
        self.blocked = blocked(self.conn, self.policy)  # restrictions and objections, read once
        self.fresh: list[tuple[Any, ...]] = []
        self.known: list[tuple[Any, ...]] = []
        self.latest: dict[str, str] = {}
        self.pending = 0

    def lookup(self, external_id: str) -> Any:
        if not self.before:  # the store held no items when the import began
            found = super().lookup(external_id)
            return None if found is None else (found, False)
        row = self.conn.execute(
            "SELECT id, EXISTS (SELECT 1 FROM items WHERE subject_id = subjects.id AND id <= ?) "
            "FROM subjects WHERE external_id = ?", (self.before, external_id),
        ).fetchone()
        return (row[0], bool(row[1])) if row else None

    def add(self, values: list[str | None]) -> None:
        # The hot path of a bulk import: kept lean (a million rows pass through here).
        external_id, category, source, purpose, basis, value, collected, processed = values
        subject_id, had_items = (external_id and self._ids.get(external_id)
                                 or self.subject_of(external_id))
        if not category:
            raise FieldError("", "category", "is empty")
        if not source:
            raise FieldError("", "source", "is empty")
        if not purpose:
            raise FieldError("", "purpose", "is empty")
        if not (processed or collected):
            raise FieldError("", "processed_at", "is empty (give processed_at or collected_at)")
        row = check_item(self.policy, self.today, self.stamp, category=category, source=source,
                         purpose=purpose, basis=basis or None, value=value, collected=collected,
                         processed=processed or collected)
        if self.blocked:  # no new data while restricted or objected to (Art. 18(2), 21)
            refused = self.blocked.reason(subject_id, row[2])
            if refused is not None:
                raise FieldRefused(f"refused: {refused[1]}", *refused)
        if had_items:
            self.known.append((subject_id, *row, self.stamp, self.before))
        else:
            self.fresh.append((subject_id, *row, self.stamp))
        if row[6] > self.latest.get(subject_id, ""):
            self.latest[subject_id] = row[6]
        self.pending += 1
        if self.pending >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        conn = self.conn
        self.pending = 0
        if self.fresh:
            conn.executemany(ITEM_INSERT, self.fresh)
            self.summary.inserted += len(self.fresh)
            self.fresh.clear()
        if self.known:
            reprocessed = conn.executemany(_ITEM_REPROCESS, self.known).rowcount
            added = conn.executemany(_ITEM_INSERT_NEW, self.known).rowcount
            self.summary.updated += reprocessed
            self.summary.inserted += added
            self.summary.unchanged += len(self.known) - added - reprocessed
            self.known.clear()
        if self.latest:
            # The retention clock: a subject's last processing is their latest item's.
            conn.executemany(
                "UPDATE subjects SET last_processed_at = ?1 WHERE id = ?2 "
                "AND last_processed_at < ?1",
                [(when, sid) for sid, when in self.latest.items()],
            )
            self.latest.clear()


class _ConsentWriter(_Writer):
    """Consent events appended to the ledger (history may come in any order: the current state
    is the latest event by time). An identical event (subject, purpose, action, channel, at)
    already in the ledger is not recorded twice."""

    def __init__(self, s: Session, summary: ImportSummary, present: set[str]) -> None:
        super().__init__(s, summary, present)
        self.consent_purposes = set(s.policy.consent_purposes())
        self.specific = {p for p in self.consent_purposes if s.policy.purpose(p).specific}
        self.withdrawn: set[tuple[str, str]] = set()  # (subject, purpose) the file withdraws
        self.notices: dict[str, str | None] = {}  # time -> the policy version in force then
        self.pending: list[tuple[Any, ...]] = []
        self.suppressed = self.conn.execute("SELECT EXISTS (SELECT 1 FROM suppression)").fetchone()[0]

    def lookup(self, external_id: str) -> Any:
        row = self.conn.execute(
            "SELECT id, email FROM subjects WHERE external_id = ?", (external_id,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def add(self, values: list[str | None]) -> None:
        subject_id, email = self.subject_of(values[0])
        purpose, action, channel = values[1], values[2], values[3]
        if purpose not in self.consent_purposes:
            raise FieldError("", "purpose", "is empty" if not purpose else
                             "is not a consent purpose of the policy (see: pigment policy show)")
        action = (action or "").lower()
        if action not in ("grant", "withdraw"):
            raise FieldError("", "action", "is empty" if not action else
                             "must be grant or withdraw")
        if channel not in CONSENT_CHANNELS:
            raise FieldError("", "channel", "is empty" if not channel else
                             "must be one of: " + ", ".join(CONSENT_CHANNELS))
        if not values[4]:
            raise FieldError("", "at", "is empty")
        at = check_when(values[4], "at", "at")
        if len(at) == 10:
            at += "T00:00:00"  # a bare date is midnight UTC, as in `pigment consent grant --at`
        if at > self.stamp:
            raise FieldError("", "at", "is in the future")
        evidence = clean_text(values[5], "evidence", column="evidence")
        notice = clean_text(values[6], "notice", column="notice")
        for column, text in (("evidence", evidence), ("notice", notice)):
            if text is not None and len(text) > MAX_SHORT_TEXT:
                raise FieldError("", column, f"is longer than {MAX_SHORT_TEXT} characters")
        recipient, categories = self.scope(purpose, action, values[7], values[8])
        if notice is None:  # a grant's notice is required; a withdrawal's is informative
            notice = self.notice_on(at, required=action == "grant")
        if action == "grant" and self.suppressed and email:
            if is_suppressed(self.conn, email):
                self.summary.suppressed += 1
        # Recording consents is not processing for a purpose: the retention clock stays put.
        self.pending.append((subject_id, purpose, action, channel, int(channel in WRITTEN_CHANNELS),
                             evidence, notice, at, self.s.actor, self.stamp, recipient, categories))
        if action == "withdraw":  # a restore replays it (ids, keys and times only)
            self.s.journal("withdrawal", subject_id=subject_id, purpose=purpose, channel=channel,
                           at=at, recipient_key=email_hmac(self.conn, recipient.casefold()) if recipient else None)
        if action == "withdraw":
            self.withdrawn.add((subject_id, purpose))
        if len(self.pending) >= BATCH_ROWS:
            self.flush()

    def finish(self) -> None:
        """A withdrawal stops the processing it covered: data held only for a consent that the
        file leaves withdrawn is erased, as `consent withdraw` does (held subjects: by the sweep)."""
        for subject_id, purpose in sorted(self.withdrawn):
            if not state_from(purpose, events_of(self.conn, subject_id, purpose)).granted:
                self.summary.erased += erase_consent_only_data(self.s, subject_id, purpose)[0]

    def flush(self) -> None:
        if self.pending:
            added = self.conn.executemany(
                f"INSERT INTO consent_events ({CONSENT_COLUMNS}) "
                "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 WHERE NOT EXISTS ("
                "SELECT 1 FROM consent_events WHERE subject_id = ?1 AND purpose = ?2 "
                "AND at = ?8 AND action = ?3 AND channel = ?4 AND recipient IS ?11 "
                "AND categories IS ?12)",
                self.pending,
            ).rowcount
            self.summary.inserted += added
            self.summary.unchanged += len(self.pending) - added
            self.pending.clear()

    def scope(self, purpose: str, action: str, recipient: str | None,
              categories: str | None) -> tuple[str | None, str | None]:
        """A specific consent's recipient and categories (UK GDPR Art. 4(11)), checked."""
        name = clean_text(recipient, "recipient", column="recipient")
        if purpose not in self.specific:
            if name or categories:
                raise FieldError("", "recipient" if name else "categories",
                                 "applies only to a specific consent (e.g. third_party_non_medical)")
            return None, None
        if name is not None and len(name) > MAX_SHORT_TEXT:
            raise FieldError("", "recipient", f"is longer than {MAX_SHORT_TEXT} characters")
        name = recipient_key(self.s.policy, name)
        if action == "withdraw":
            return name, None
        keys = list(dict.fromkeys(c.strip() for c in (categories or "").split(",") if c.strip()))
        if any(not self.s.policy.knows("categories", c) for c in keys):
            raise FieldError("", "categories", "must list the policy's categories, e.g. "
                             "identity,contact")
        problem = scope_problem(self.s.policy, purpose, name, keys)
        if problem is not None:
            raise FieldError("", *problem)
        return name, ",".join(keys)

    def notice_on(self, at: str, *, required: bool) -> str | None:
        """The notice an event without one was given under: the policy in force at that time."""
        if at not in self.notices:
            if len(self.notices) >= LOOKUP_CACHE:
                self.notices.clear()
            self.notices[at] = policy_version_at(self.conn, at)
        version = self.notices[at]
        if version is None and required:
            raise FieldError("", "notice", "is empty, and no policy was in force in this store "
                             "at that time: give the notice version the person was shown")
        return version


WRITERS: dict[str, type[_Writer]] = {
    "subjects": _SubjectWriter, "items": _ItemWriter, "consents": _ConsentWriter,
}
